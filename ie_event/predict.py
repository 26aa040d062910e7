"""Write a DuEE submission: python -m ie_event.predict [--config PATH] [--input FILE] [--out FILE] [key=value ...]

One JSON line {"id", "event_list"} per input line, in input order, `id` copied as given; the file
appears only when complete. Uses the weights in <train.out_dir>/best.weights.h5. With
data.on_error = "skip", a bad line that has an id is answered with an empty event_list; a line that
is not JSON has no id to answer with and is only counted.
"""
import os
import time

from common import cli
from common.config import data_path, load_config


def main(argv=None):
    parser = cli.parser("ie_event.predict", __doc__)
    parser.add_argument("--input", help="JSON Lines with id and text (default: <data.dir>/<data.test_file>)")
    parser.add_argument("--out", help="submission path (default: predict.out, else <train.out_dir>/duee_pred.json)")
    args = parser.parse_args(argv)
    return run(load_config(args.config, args.overrides), args.input, args.out)


def run(cfg, input_path=None, out_path=None):
    from common import backend
    backend.setup()
    from common.io import write_jsonl
    from common.model import vocab_path
    from common.tokenize import OffsetTokenizer
    from common.training import load_best
    from ie_event import data, model

    input_path = input_path or data_path(cfg.data, "test")
    out_path = out_path or cfg.predict.get("out") or os.path.join(cfg.train.out_dir, "duee_pred.json")
    schema = data.load_schema(data_path(cfg.data, "schema"), cfg.model.links_per_event_type)
    records = data.load_records(input_path, schema, labelled=False, on_error=cfg.data.on_error)
    tokenizer = OffsetTokenizer(vocab_path(cfg.model))
    extractor = load_best(model.build_model(cfg.model, schema, load_checkpoint=False), cfg.train.out_dir)
    started = time.perf_counter()
    event_lists = model.extract(extractor, tokenizer, schema, records, int(cfg.model.maxlen),
                                int(cfg.data.window_stride), int(cfg.predict.batch_size),
                                float(cfg.predict.threshold), max_arguments=int(cfg.predict.max_arguments))
    seconds = time.perf_counter() - started
    write_jsonl(out_path, data.submission_rows(records, event_lists))
    print(f"{len(records)} sentences in {seconds:.1f} s ({len(records) / max(seconds, 1e-9):.1f}/s) -> {out_path}")
    return event_lists


if __name__ == "__main__":
    cli.run(main)
