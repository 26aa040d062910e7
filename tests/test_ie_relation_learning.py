"""The whole pipeline learns: a tiny random BERT trained by ie_relation.train fits sample sentences
(official F1 >= 0.9 on them), then ie_relation.predict writes a valid submission for the sample test set.

To stay fast on a CPU the model trains on the first twelve sample train sentences of at most
30 characters (maxlen 64, efficient link pointers with head size 16); the full sample set is the demo's.
"""
import json
import os
import shutil
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "ie_relation")
CONFIG = os.path.join(ROOT, "ie_relation", "config.toml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tf):
    from common.config import load_config
    from common.tiny_bert import write_tiny_checkpoint
    from ie_relation import train

    data_dir = tmp_path_factory.mktemp("ie_relation_data")
    with open(os.path.join(SAMPLES, "train.json"), encoding="utf-8") as f:
        short = [line for line in f if len(json.loads(line)["text"]) <= 30][:12]
    for name in ("train.json", "dev.json"):
        (data_dir / name).write_text("".join(short), encoding="utf-8")
    for name in ("schema.json", "test.json"):
        shutil.copy(os.path.join(SAMPLES, name), data_dir / name)
    texts = [json.loads(line)["text"] for name in ("train.json", "test.json")
             for line in open(data_dir / name, encoding="utf-8")]
    checkpoint = write_tiny_checkpoint(str(tmp_path_factory.mktemp("tiny_bert")), texts, seed=0)
    out_dir = tmp_path_factory.mktemp("run")
    cfg = load_config(CONFIG, [
        f"model.dir={os.path.dirname(checkpoint['vocab_path'])}", "model.maxlen=64", "model.head_size=16",
        "model.dropout=0.0", "model.attention_dropout=0.0", f"data.dir={data_dir}", "data.test_file=test.json",
        f"train.out_dir={out_dir}", "train.epochs=3", "train.epoch_repeats=60", "train.batch_size=4",
        "train.learning_rate=2e-3", "train.warmup_proportion=0.02", "train.weight_decay=0.0"])
    history = train.run(cfg, progress=False, tensorboard=False)
    return cfg, history, data_dir


def test_tiny_model_fits_the_training_sentences(trained):
    _, history, _ = trained
    assert max(record["f1"] for record in history) >= 0.9
    assert history[-1]["loss"] < history[0]["loss"]


def test_predict_writes_a_valid_submission(trained, tmp_path, capsys):
    from ie_relation import metric, predict
    cfg, _, data_dir = trained
    out = tmp_path / "pred" / "duie_pred.json"
    overrides = [f"{key}={value}" for key, value in (
        ("model.dir", cfg.model.dir), ("model.maxlen", 64), ("model.head_size", 16),
        ("data.dir", data_dir), ("train.out_dir", cfg.train.out_dir))]
    predict.main(["--input", str(data_dir / "test.json"), "--out", str(out), *overrides])
    inputs = [json.loads(line)["text"] for line in open(data_dir / "test.json", encoding="utf-8")]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows] == inputs  # one line per input, in order, text copied exactly
    for row in rows:
        for spo in row["spo_list"]:
            assert spo["subject"] in row["text"] and all(v in row["text"] for v in spo["object"].values())
            assert set(spo["object_type"]) == set(spo["object"])
    with zipfile.ZipFile(predict.zip_path(str(out))) as archive:
        assert archive.namelist() == ["duie_pred.json"]
    assert metric.load_submission(predict.zip_path(str(out))) == metric.load_submission(str(out))
    assert [p.name for p in out.parent.iterdir()] and not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    # the model must also score its own training sentences through the written files
    train_file = str(data_dir / "train.json")
    predict.main(["--input", train_file, "--out", str(tmp_path / "train_pred.json"), *overrides])
    assert metric.score_files(train_file, str(tmp_path / "train_pred.json"))["f1"] >= 0.9
