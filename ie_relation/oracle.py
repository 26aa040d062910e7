"""Oracle: gold -> training targets -> the real decoder -> official metric. Shows what the target
representation (tokenisation, windows, links) loses before any model is involved.

    python -m ie_relation.oracle --gold dev.json --out runs/ie_relation/oracle.json [--vocab VOCAB]
        [--schema SCHEMA] [--config CONFIG] [key=value ...]

Targets are encoded exactly as in training (same maxlen, stride, tokenizer), turned into perfect
score matrices (+1 on target cells, -1 elsewhere) and decoded with the thresholds of [predict].
Prints what was lost, then the metrics JSON as the last line.
"""
import json
import os

import numpy as np

from common import cli


def perfect_scores(window, n_channels):
    size = len(window)
    scores = np.full((n_channels, size, size), -1.0, dtype="float32")
    for channel, head, tail in window.targets:
        scores[channel, head, tail] = 1.0
    return scores


def run_oracle(records, tokenizer, schema, maxlen, stride, entity_threshold=0.0, link_threshold=0.0,
               max_spans=64):
    """-> (submission lines, lost counts)."""
    from ie_relation.data import encode_record
    from ie_relation.decode import merge, window_cells
    lost, windows = {}, []
    for i, record in enumerate(records):
        windows += encode_record(i, record, tokenizer, schema, maxlen, stride, lost=lost)
    cells = [window_cells(perfect_scores(w, schema.n_channels), max_spans, entity_threshold, link_threshold)
             for w in windows]
    lost["windows"], lost["records"] = len(windows), len(records)
    return merge(records, windows, cells, schema), lost


def main(argv=None):
    parser = cli.oracle_parser("ie_relation.oracle", __doc__)
    parser.add_argument("--schema", help="schema.json (default: beside --gold, else the config's)")
    args = parser.parse_args(argv)

    from common.config import data_path, load_config
    from common.io import write_jsonl
    from common.model import vocab_path
    from ie_relation import metric
    from ie_relation.data import load_records, load_schema
    cfg = load_config(args.config, args.overrides)
    schema_path = args.schema or os.path.join(os.path.dirname(os.path.abspath(args.gold)), "schema.json")
    if not args.schema and not os.path.exists(schema_path):
        schema_path = data_path(cfg.data, "schema")
    schema = load_schema(schema_path)
    records, skipped = load_records(args.gold, schema, on_error=cfg.data.on_error)

    from common.tokenize import OffsetTokenizer
    tokenizer = OffsetTokenizer(args.vocab or vocab_path(cfg.model))
    predictions, lost = run_oracle(records, tokenizer, schema, int(cfg.model.maxlen),
                                   int(cfg.data.window_stride), float(cfg.predict.entity_threshold),
                                   float(cfg.predict.link_threshold), int(cfg.predict.max_spans))
    write_jsonl(args.out, predictions)
    if skipped.summary():
        print(f"gold: {skipped.summary()}")
    print(f"records {lost['records']}, windows {lost['windows']}, values without an exact token span "
          f"{lost.get('unaligned', 0)}, SPOs in no window whole {lost.get('no_window', 0)}")
    print(json.dumps(metric.score_records(records, predictions), ensure_ascii=False))


if __name__ == "__main__":
    cli.run(main)
