"""Train the span model: python -m mrc.train [--config mrc/config.toml] [--resume] [key=value ...]

Every window of every training question is one example; after each epoch the dev set is decoded
and scored with the official metric, and the weights with the best dev F1 are kept in
<train.out_dir>/best.weights.h5.
"""
import json
import os

from common import cli


def parse_args(argv):
    parser = cli.parser("mrc.train", __doc__)
    parser.add_argument("--resume", action="store_true", help="continue after the last finished epoch")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from common.config import load_config
    cfg = load_config(args.config, args.overrides)

    from common import backend
    backend.setup(seed=int(cfg.train.seed))
    from common import losses, training
    from common.config import data_path
    from common.model import vocab_path
    from common.tokenize import OffsetTokenizer
    from mrc import data, decode, metric, model

    tokenizer = OffsetTokenizer(vocab_path(cfg.model))
    on_error = cfg.data.get("on_error", "raise")
    train_questions, train_skips = data.load(data_path(cfg.data, "train"), on_error)
    dev_questions, dev_skips = data.load(data_path(cfg.data, "dev"), on_error, locate=False)
    for name, skips in (("train", train_skips), ("dev", dev_skips)):
        if skips.summary():
            print(f"{name}: {skips.summary()}", flush=True)
    maxlen = int(cfg.model.maxlen)
    train_encoded = data.encode_all(tokenizer, train_questions, cfg.data, maxlen)
    dev_encoded = data.encode_all(tokenizer, dev_questions, cfg.data, maxlen)
    examples = [w for e in train_encoded for w in e.windows]
    print(f"train: {len(train_questions)} questions, {len(examples)} windows; "
          f"dev: {len(dev_questions)} questions", flush=True)

    span_model = model.build_model(cfg.model, tokenizer.sep_id)
    dev_windows = [w for e in dev_encoded for w in e.windows]
    dev_gold = data.gold_answers(dev_questions)

    def evaluate(trained):
        logits = model.predict_windows(trained, dev_windows, int(cfg.predict.batch_size))
        answers = decode.decode_all(dev_encoded, logits, int(cfg.data.max_answer_len))
        scores = metric.evaluate(dev_gold, answers)
        return {"f1": scores["F1"], "em": scores["EM"]}

    batches = training.Batches(examples, cfg.train.batch_size, data.collate, seed=int(cfg.train.seed))
    history = training.train(span_model, losses.from_config(model.span_loss, cfg.train), batches, cfg.train,
                             evaluate=evaluate, monitor="f1", mode="max", resume=args.resume)
    best = training.best_record(history)
    print(json.dumps({"best_epoch": best.get("epoch"), "dev_f1": best.get("f1"), "dev_em": best.get("em"),
                      "weights": os.path.join(cfg.train.out_dir, training.BEST)}, ensure_ascii=False))


if __name__ == "__main__":
    cli.run(main)
