"""Predict: python -m ie_relation.predict [--config CONFIG] [--input FILE] [--out FILE] [key=value ...]

Reads DuIE JSON Lines (only `text` is used), writes one line per input line, in input order, with the
text copied exactly, to --out (default <train.out_dir>/duie_pred.json) and the zip the organisers'
scorer takes beside it (same name, .zip). Both are written atomically.
"""
import os
import time
import zipfile

from common import cli


def zip_path(out):
    return os.path.splitext(out)[0] + ".zip"


def write_outputs(out, rows):
    """JSON Lines at `out` and a zip holding it, each appearing only when complete."""
    import json
    from common.io import atomic_write
    payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)  # serialised once
    with atomic_write(out) as f:
        f.write(payload)
    with atomic_write(zip_path(out), "wb") as f:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(os.path.basename(out), payload.encode("utf-8"))


def load_predictor(cfg, schema):
    """(model with the trained weights, tokenizer) from a config."""
    from common import backend
    backend.setup()
    from common.model import vocab_path
    from common.tokenize import OffsetTokenizer
    from common.training import load_best
    from ie_relation.model import build_model
    model = build_model(cfg, schema, load_checkpoint=False)
    load_best(model, cfg.train.out_dir)
    return model, OffsetTokenizer(vocab_path(cfg.model))


def predict(cfg, records, model, schema, tokenizer, batch_size=None):
    from ie_relation.data import encode_all
    from ie_relation.decode import predict_records
    windows = encode_all(records, tokenizer, schema, int(cfg.model.maxlen), int(cfg.data.window_stride),
                         with_targets=False)
    return predict_records(model, records, windows, schema, int(batch_size or cfg.predict.batch_size),
                           float(cfg.predict.entity_threshold), float(cfg.predict.link_threshold),
                           int(cfg.predict.max_spans))


def main(argv=None):
    parser = cli.parser("ie_relation.predict", __doc__)
    parser.add_argument("--input", help="default: predict.input, else <data.dir>/<data.test_file>")
    parser.add_argument("--out", help="default: predict.out, else <train.out_dir>/duie_pred.json")
    args = parser.parse_args(argv)
    from common.config import data_path, load_config
    from ie_relation.data import load_records, load_schema
    cfg = load_config(args.config, args.overrides)
    source = args.input or cfg.predict.get("input") or data_path(cfg.data, "test")
    out = args.out or cfg.predict.get("out") or os.path.join(cfg.train.out_dir, "duie_pred.json")
    schema = load_schema(data_path(cfg.data, "schema"))
    # every input line gets an output line: a bad line is an error here, never a skip
    records, _ = load_records(source, schema, labelled=False, on_error="raise")
    model, tokenizer = load_predictor(cfg, schema)
    started = time.perf_counter()
    rows = predict(cfg, records, model, schema, tokenizer)
    seconds = time.perf_counter() - started
    write_outputs(out, rows)
    n_spo = sum(len(r["spo_list"]) for r in rows)
    print(f"{len(rows)} sentences, {n_spo} SPOs, {len(rows) / max(seconds, 1e-9):.1f} sentences/s -> "
          f"{out} and {zip_path(out)}")


if __name__ == "__main__":
    cli.run(main)
