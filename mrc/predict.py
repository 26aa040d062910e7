"""Answer every question of a file: python -m mrc.predict [--config C] [--input F] [--out F] [key=value ...]

Writes one JSON object {qid: answer} covering every question of the input (the official submission
format), atomically. Windows of all questions are run through the model in batches.
"""
import os
import time

from common import cli


def parse_args(argv):
    parser = cli.parser("mrc.predict", __doc__)
    parser.add_argument("--input", help="questions in the official format (default: predict.input, "
                                        "else <data.dir>/<data.test_file>)")
    parser.add_argument("--out", help="submission file (default: predict.out, "
                                      "else <train.out_dir>/test_predictions.json)")
    return parser.parse_args(argv)


def answer_questions(span_model, tokenizer, questions, cfg):
    """{qid: answer} for the questions, windows batched across questions."""
    from mrc import data, decode, model
    encoded = data.encode_all(tokenizer, questions, cfg.data, int(cfg.model.maxlen))
    windows = [w for e in encoded for w in e.windows]
    logits = model.predict_windows(span_model, windows, int(cfg.predict.batch_size))
    return decode.decode_all(encoded, logits, int(cfg.data.max_answer_len))


def main(argv=None):
    args = parse_args(argv)
    from common.config import data_path, load_config
    cfg = load_config(args.config, args.overrides)
    source = args.input or cfg.predict.get("input") or data_path(cfg.data, "test")
    out = args.out or cfg.predict.get("out") or os.path.join(cfg.train.out_dir, "test_predictions.json")

    from common import backend
    backend.setup()
    from common.io import write_json
    from common.model import vocab_path
    from common.tokenize import OffsetTokenizer
    from common.training import load_best
    from mrc import data, model

    questions, skips = data.load(source, cfg.data.get("on_error", "raise"), with_answers=False)
    tokenizer = OffsetTokenizer(vocab_path(cfg.model))
    span_model = load_best(model.build_model(cfg.model, tokenizer.sep_id, load_checkpoint=False),
                           cfg.train.out_dir)
    began = time.perf_counter()
    answers = answer_questions(span_model, tokenizer, questions, cfg)
    seconds = time.perf_counter() - began
    write_json(out, answers, indent=1)
    note = f"; {skips.summary()}" if skips.summary() else ""
    print(f"{len(answers)} answers -> {out} ({len(answers) / max(seconds, 1e-9):.1f} questions/s{note})")


if __name__ == "__main__":
    cli.run(main)
