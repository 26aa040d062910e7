"""Upper bound of the representation: gold -> training targets -> decoder -> submission -> metric.

    python -m ie_event.oracle --gold FILE --out FILE [--vocab VOCAB] [--config CONFIG] [--schema FILE] [key=value ...]

Uses the same windows, targets and decoder as training and prediction (model.maxlen, data.window_stride
from the config). Prints what the token spans cannot reproduce, then the metric as the last line.
"""
import json
from collections import Counter

from common import cli
from common.config import data_path, load_config
from common.io import write_jsonl
from ie_event import data, decode, metric


def main(argv=None):
    parser = cli.oracle_parser("ie_event.oracle", __doc__)
    parser.add_argument("--schema", help="event_schema.json (default: <data.dir>/<data.schema_file>)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    from common.model import vocab_path
    from common.tokenize import OffsetTokenizer, char_to_token_span, is_exact
    schema = data.load_schema(args.schema or data_path(cfg.data, "schema"), cfg.model.links_per_event_type)
    records = data.load_records(args.gold, schema, on_error=cfg.data.on_error)
    tokenizer = OffsetTokenizer(args.vocab or vocab_path(cfg.model))
    windows = data.build_windows(tokenizer, records, schema, int(cfg.model.maxlen), int(cfg.data.window_stride))
    event_lists = decode.decode_windows(records, windows, [w.targets for w in windows], schema)
    write_jsonl(args.out, data.submission_rows(records, event_lists))

    inexact = total = 0
    for record in records:
        offsets = tokenizer.encode_cached(record.text).offsets
        for event in record.events:
            for arg in event.arguments:
                total += 1
                span = char_to_token_span(offsets, arg.start, arg.end)
                inexact += span is None or not is_exact(offsets, *span, arg.start, arg.end)
    print(f"{len(records)} sentences, {total} gold arguments, {inexact} without an exact token span, "
          f"{sum(n > 1 for n in Counter(w.record for w in windows).values())} texts in several windows",
          flush=True)
    result = metric.evaluate_files(args.gold, args.out)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    cli.run(main)
