"""The whole pipeline learns: a tiny random BERT trained through the track interface fits sample
sentences (official F1 >= 0.9 on them), then `ie_relation.predict` writes a valid submission from the
run folder alone, with none of the training overrides repeated.

To stay fast on a CPU the model trains on the first twelve sample train sentences of at most
30 characters (maxlen 64, efficient link pointers with head size 16); the full sample set is the demo's.
"""
import os
import shutil
import zipfile

import pytest

from conftest import make_track, read_lines, sample, write_lines


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    from common import commands
    data_dir = tmp_path_factory.mktemp("ie_relation_data")
    short = [r for r in read_lines(sample("ie_relation", "train.json")) if len(r["text"]) <= 30][:12]
    for name in ("train.json", "dev.json"):
        write_lines(data_dir / name, short)
    for name in ("schema.json", "test.json"):
        shutil.copy(sample("ie_relation", name), data_dir / name)
    out_dir = tmp_path_factory.mktemp("run")
    track = make_track("ie_relation", f"model.dir={tiny_bert('ie_relation')}", "model.maxlen=64", "model.head_size=16",
                       "model.dropout=0.0", "model.attention_dropout=0.0", f"data.dir={data_dir}",
                       "data.test_file=test.json", f"train.out_dir={out_dir}", "train.epochs=3",
                       "train.epoch_repeats=60", "train.batch_size=4", "train.learning_rate=2e-3",
                       "train.warmup_proportion=0.02", "train.weight_decay=0.0")
    history = commands.train(track, progress=False, tensorboard=False)
    return track, history, data_dir


def test_tiny_model_fits_the_training_sentences(trained):
    _, history, _ = trained
    assert history[0]["f1"] < 0.9 <= max(record["f1"] for record in history)
    assert history[-1]["loss"] < history[0]["loss"]


def test_run_folder_describes_itself(trained):
    from common.config import load_config
    track, _, data_dir = trained
    run = track.cfg.train.out_dir
    assert {"config.toml", "bert_config.json", "vocab.txt", "schema.json", "best.weights.h5"} <= set(os.listdir(run))
    saved = load_config(type(track.cfg), base=os.path.join(run, "config.toml"))
    assert saved == track.cfg and saved.model.head_size == 16  # the training overrides are in the run


def test_predict_from_the_run_folder_alone(trained, tmp_path, capsys):
    from ie_relation import metric, predict
    from ie_relation.track import zip_path
    track, _, data_dir = trained
    out = tmp_path / "pred" / "duie_pred.json"
    # no model.* override: head size 16, maxlen 64, the tiny checkpoint, all come from the run
    predict.main(["--run", track.cfg.train.out_dir, "--input", str(data_dir / "test.json"), "--out", str(out)])
    inputs = [row["text"] for row in read_lines(data_dir / "test.json")]
    rows = read_lines(out)
    assert [row["text"] for row in rows] == inputs  # one line per input, in order, text copied exactly
    for row in rows:
        for spo in row["spo_list"]:
            assert spo["subject"] in row["text"] and all(v in row["text"] for v in spo["object"].values())
            assert set(spo["object_type"]) == set(spo["object"])
    with zipfile.ZipFile(zip_path(str(out))) as archive:
        assert archive.namelist() == ["duie_pred.json"]
    assert metric.load_submission(zip_path(str(out))) == metric.load_submission(str(out))
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp file left
    # the model also scores its own training sentences through the written files
    train_file = str(data_dir / "train.json")
    predict.main(["--run", track.cfg.train.out_dir, "--input", train_file, "--out", str(tmp_path / "train_pred.json")])
    assert metric.evaluate_files(train_file, str(tmp_path / "train_pred.json"))["f1"] >= 0.9


def test_predict_refuses_architecture_overrides_and_a_foreign_schema(trained, tmp_path):
    from common.config import ConfigError
    from common.run import load_trained, open_run
    from ie_relation import predict
    track, _, _ = trained
    run = track.cfg.train.out_dir
    with pytest.raises(ConfigError, match="model.head_size is fixed by the trained run"):
        predict.main(["--run", run, "model.head_size=32"])
    # weights trained on one schema, a run folder whose schema is another: one line naming both
    other = tmp_path / "other_run"
    shutil.copytree(run, other)
    schema = read_lines(other / "schema.json")
    write_lines(other / "schema.json", schema[:10])
    foreign, _ = open_run(type(track), str(other))
    with pytest.raises(ConfigError, match=r"best.weights.h5 does not fit .*config.toml and .*schema.json"):
        load_trained(foreign, str(other))
