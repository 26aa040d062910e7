"""Train: python -m ie_relation.train [--config CONFIG] [--resume] [key=value ...]

Keeps the weights that score best on dev (official F1) in <train.out_dir>/best.weights.h5 and prints
the best dev metrics as the last line.
"""
import json

from common import cli


def run(cfg, resume=False, progress=True, tensorboard=True):
    """Train from a loaded config; returns the history (one record per epoch)."""
    from common import backend
    backend.setup(seed=int(cfg.train.seed))
    from common.model import vocab_path
    from common.tokenize import OffsetTokenizer
    from common.training import Batches, train
    from ie_relation import metric
    from common.config import data_path
    from common.tokenize import sentence_inputs
    from ie_relation.data import collate_targets, encode_all, load_records, load_schema
    from ie_relation.decode import predict_records
    from ie_relation.model import build_loss, build_model

    schema = load_schema(data_path(cfg.data, "schema"))
    train_records, train_skips = load_records(data_path(cfg.data, "train"), schema, on_error=cfg.data.on_error)
    dev_records, dev_skips = load_records(data_path(cfg.data, "dev"), schema, on_error=cfg.data.on_error)
    for name, skips in (("train", train_skips), ("dev", dev_skips)):
        if skips.summary():
            print(f"{name}: {skips.summary()}", flush=True)
    tokenizer = OffsetTokenizer(vocab_path(cfg.model))
    maxlen, stride = int(cfg.model.maxlen), int(cfg.data.window_stride)
    lost = {}
    train_windows = encode_all(train_records, tokenizer, schema, maxlen, stride, lost=lost)
    dev_windows = encode_all(dev_records, tokenizer, schema, maxlen, stride, with_targets=False)
    print(f"train: {len(train_records)} sentences, {len(train_windows)} windows "
          f"({lost.get('unaligned', 0)} values without an exact token span, "
          f"{lost.get('no_window', 0)} SPOs longer than a window); dev: {len(dev_records)} sentences",
          flush=True)

    model = build_model(cfg, schema)
    loss = build_loss(cfg.train, train_windows, schema.n_channels)

    def collate(windows):
        return sentence_inputs([w.token_ids for w in windows]), collate_targets(windows, schema.n_channels)

    def evaluate(model):
        predictions = predict_records(model, dev_records, dev_windows, schema, int(cfg.predict.batch_size),
                                      float(cfg.predict.entity_threshold), float(cfg.predict.link_threshold),
                                      int(cfg.predict.max_spans))
        return metric.score_records(dev_records, predictions)

    # a tiny training set (the bundled samples) can pass several times per epoch: fewer dev evaluations
    repeats = max(int(cfg.train.get("epoch_repeats", 1)), 1)
    batches = Batches(train_windows * repeats, int(cfg.train.batch_size), collate, seed=int(cfg.train.seed))
    # equal dev F1 keeps the later, longer-trained weights: early on, a small dev set scores 0 for
    # several epochs
    return train(model, loss, batches, cfg.train, evaluate, monitor="f1", mode="max", resume=resume,
                 progress=progress, tensorboard=tensorboard, keep_later_on_tie=True)


def main(argv=None):
    parser = cli.parser("ie_relation.train", __doc__)
    parser.add_argument("--resume", action="store_true", help="continue after the last finished epoch")
    args = parser.parse_args(argv)
    from common.config import load_config
    cfg = load_config(args.config, args.overrides)
    from common.training import best_record
    best = best_record(run(cfg, resume=args.resume))
    print(json.dumps({k: best.get(k) for k in ("epoch", "precision", "recall", "f1")}, ensure_ascii=False))


if __name__ == "__main__":
    cli.run(main)
