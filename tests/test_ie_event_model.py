"""ie_event end to end with a tiny random BERT: it learns a small training set, predict writes a
valid submission, and batched extraction equals one-by-one extraction."""
import json
import os
import shutil

import pytest

from common.config import data_path, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "ie_event")
CONFIG = os.path.join(ROOT, "ie_event", "config.toml")


def _lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tf):
    """Train on the 16 shortest sample training sentences (dev = the same sentences)."""
    from common.tiny_bert import write_tiny_checkpoint
    from ie_event import train
    root = tmp_path_factory.mktemp("ie_event_model")
    texts = [row["text"] for name in ("train.json", "dev.json", "test1.json")
             for row in _lines(os.path.join(SAMPLES, name))]
    write_tiny_checkpoint(str(root / "bert"), texts, seed=0)
    data_dir = root / "data"
    data_dir.mkdir()
    subset = sorted(_lines(os.path.join(SAMPLES, "train.json")), key=lambda r: len(r["text"]))[:16]
    for name in ("train.json", "dev.json"):
        (data_dir / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in subset),
                                     encoding="utf-8")
    for name in ("test1.json", "event_schema.json"):
        shutil.copy(os.path.join(SAMPLES, name), data_dir / name)
    cfg = load_config(CONFIG, [f"model.dir={root / 'bert'}", "model.maxlen=64", f"train.out_dir={root / 'run'}",
                               f"data.dir={data_dir}", "train.epochs=25", "train.learning_rate=4e-3",
                               "train.batch_size=2", "train.warmup_proportion=0", "model.dropout=0",
                               "model.attention_dropout=0", f"predict.out={root / 'pred.json'}"])
    history = train.run(cfg, progress=False)
    return cfg, history


def test_tiny_model_learns_the_training_set(trained, capsys):
    from ie_event import evaluate, predict
    cfg, history = trained
    assert max(row["f1"] for row in history) >= 0.9
    # the kept weights, through predict and the official metric, reproduce the training score
    dev = data_path(cfg.data, "dev")
    out = os.path.join(cfg.train.out_dir, "dev_pred.json")
    predict.run(cfg, dev, out)
    result = evaluate.main([dev, out])
    assert result["f1"] >= 0.9


def test_predict_writes_one_line_per_input_in_order(trained, tmp_path):
    from ie_event import predict
    cfg, _ = trained
    test = tmp_path / "test.json"
    rows = _lines(os.path.join(SAMPLES, "test1.json"))
    rows.insert(3, {"id": 12345, "text": ""})  # any id is copied as given; an empty text has no events
    test.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "sub" / "pred.json"
    predict.run(cfg, str(test), str(out))
    written = _lines(out)
    assert [r["id"] for r in written] == [r["id"] for r in rows]
    assert written[3] == {"id": 12345, "event_list": []}
    roles = {json.loads(line)["event_type"]: {r["role"] for r in json.loads(line)["role_list"]}
             for line in open(os.path.join(SAMPLES, "event_schema.json"), encoding="utf-8")}
    for row, source in zip(written, rows):
        assert set(row) == {"id", "event_list"}
        for event in row["event_list"]:
            assert event["arguments"] and set(event) == {"event_type", "arguments"}
            for arg in event["arguments"]:
                assert arg["role"] in roles[event["event_type"]] and arg["argument"] in source["text"]
    assert not [p for p in os.listdir(out.parent) if p != "pred.json"]  # no temp file left behind


def test_batched_extraction_equals_one_by_one(trained):
    from common.model import vocab_path
    from common.tokenize import OffsetTokenizer
    from common.training import load_best
    from ie_event import data, model
    cfg, _ = trained
    schema = data.load_schema(data_path(cfg.data, "schema"))
    records = data.load_records(data_path(cfg.data, "dev"), schema)
    tokenizer = OffsetTokenizer(vocab_path(cfg.model))
    extractor = load_best(model.build_model(cfg.model, schema, load_checkpoint=False), cfg.train.out_dir)
    cells = model.positive_cells(extractor, 0.0)
    batched = model.extract(extractor, tokenizer, schema, records, 32, 0, batch_size=8, cells=cells)
    single = model.extract(extractor, tokenizer, schema, records, 32, 0, batch_size=1, cells=cells)
    assert batched == single and any(batched)
