"""Train the event extractor: python -m ie_event.train [--config PATH] [--resume] [key=value ...]

Keeps the weights scoring best on the dev set (argument-level F1) in <train.out_dir>/best.weights.h5.
"""
import json

from common import cli
from common.config import data_path, load_config


def main(argv=None):
    parser = cli.parser("ie_event.train", __doc__)
    parser.add_argument("--resume", action="store_true", help="continue after the last finished epoch")
    args = parser.parse_args(argv)
    return run(load_config(args.config, args.overrides), resume=args.resume)


def run(cfg, resume=False, progress=True):
    from common import backend
    backend.setup(seed=int(cfg.train.seed))
    from common.losses import from_config
    from common.model import vocab_path
    from common.pointer import sparse_pointer_loss
    from common.tokenize import OffsetTokenizer
    from common.training import Batches, best_record, train
    from ie_event import data, metric, model

    schema = data.load_schema(data_path(cfg.data, "schema"), cfg.model.links_per_event_type)
    train_records = data.load_records(data_path(cfg.data, "train"), schema, on_error=cfg.data.on_error)
    dev_records = data.load_records(data_path(cfg.data, "dev"), schema, on_error=cfg.data.on_error)
    tokenizer = OffsetTokenizer(vocab_path(cfg.model))
    maxlen, stride = int(cfg.model.maxlen), int(cfg.data.window_stride)
    windows = data.build_windows(tokenizer, train_records, schema, maxlen, stride)
    print(f"{len(train_records)} training sentences -> {len(windows)} windows, {schema.n_heads} heads", flush=True)

    batches = Batches(windows, cfg.train.batch_size,
                      lambda batch: data.collate(batch, schema.n_heads, tokenizer.pad_id), seed=int(cfg.train.seed))
    extractor = model.build_model(cfg.model, schema, seed=int(cfg.train.seed))
    loss = from_config(sparse_pointer_loss, cfg.train, offsets=data.head_log_odds(windows, schema.n_heads))
    gold = data.gold_arguments(dev_records)
    cells = model.positive_cells(extractor, float(cfg.predict.threshold))  # traced once, reused per epoch

    def evaluate(keras_model):
        events = model.extract(keras_model, tokenizer, schema, dev_records, maxlen, stride,
                               int(cfg.predict.batch_size), cells=cells,
                               max_arguments=int(cfg.predict.max_arguments))
        return metric.score(gold, data.predicted_arguments(events))

    history = train(extractor, loss, batches, cfg.train, evaluate=evaluate, resume=resume, progress=progress)
    if history:
        best = best_record(history)
        print(json.dumps({k: best[k] for k in ("epoch", "precision", "recall", "f1") if k in best}))
    return history


if __name__ == "__main__":
    cli.run(main)
