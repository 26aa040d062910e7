"""ie_event end to end with a tiny random BERT: it learns a small training set, predict writes a
valid submission from the run folder alone, and batched inference equals one window at a time."""
import os
import shutil

import pytest

from conftest import make_track, read_lines, sample, write_lines


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    """Train on the 16 shortest sample training sentences (dev = the same sentences)."""
    from common import commands
    root = tmp_path_factory.mktemp("ie_event_model")
    data_dir = root / "data"
    data_dir.mkdir()
    subset = sorted(read_lines(sample("ie_event", "train.json")), key=lambda r: len(r["text"]))[:16]
    for name in ("train.json", "dev.json"):
        write_lines(data_dir / name, subset)
    for name in ("test1.json", "event_schema.json"):
        shutil.copy(sample("ie_event", name), data_dir / name)
    track = make_track("ie_event", f"model.dir={tiny_bert('ie_event')}", "model.maxlen=64", f"train.out_dir={root / 'run'}",
                       f"data.dir={data_dir}", "train.epochs=25", "train.learning_rate=4e-3", "train.batch_size=2",
                       "train.warmup_proportion=0", "model.dropout=0", "model.attention_dropout=0")
    history = commands.train(track, progress=False, tensorboard=False)
    return track, history


def test_tiny_model_learns_the_training_set(trained, capsys):
    from ie_event import evaluate, predict
    track, history = trained
    assert history[0]["f1"] < 0.9 <= max(row["f1"] for row in history)
    # the kept weights, through predict and the official metric, reproduce the training score
    dev = track.data_file("dev")
    out = os.path.join(track.cfg.train.out_dir, "dev_pred.json")
    predict.main(["--run", track.cfg.train.out_dir, "--input", dev, "--out", out])
    assert evaluate.main([dev, out])["f1"] >= 0.9


def test_predict_writes_one_line_per_input_in_order(trained, tmp_path):
    from ie_event import predict
    track, _ = trained
    rows = read_lines(sample("ie_event", "test1.json"))
    rows.insert(3, {"id": 12345, "text": ""})  # any id is copied as given; an empty text has no events
    test = write_lines(tmp_path / "test.json", rows)
    out = tmp_path / "sub" / "pred.json"
    predict.main(["--run", track.cfg.train.out_dir, "--input", test, "--out", str(out)])
    written = read_lines(out)
    assert [r["id"] for r in written] == [r["id"] for r in rows]
    assert written[3] == {"id": 12345, "event_list": []}
    roles = {row["event_type"]: {r["role"] for r in row["role_list"]}
             for row in read_lines(sample("ie_event", "event_schema.json"))}
    for row, source in zip(written, rows):
        assert set(row) == {"id", "event_list"}
        for event in row["event_list"]:
            assert event["arguments"] and set(event) == {"event_type", "arguments"}
            for arg in event["arguments"]:
                assert arg["role"] in roles[event["event_type"]] and arg["argument"] in source["text"]
    assert os.listdir(out.parent) == ["pred.json"]  # no temp file left behind


def test_batched_inference_equals_one_window_at_a_time(trained):
    from common.config import replace
    from common.run import load_trained, open_run
    track, _ = trained
    run_track, run_dir = open_run(type(track), track.cfg.train.out_dir)
    model = load_trained(run_track, run_dir)
    records, _ = run_track.load_records(track.data_file("dev"))
    one_by_one = type(track)(replace(run_track.cfg, predict={"batch_size": 1}, model={"maxlen": 32}),
                             label_path=run_track.label_path())
    batched = type(track)(replace(one_by_one.cfg, predict={"batch_size": 8}), label_path=run_track.label_path())
    rows = batched.predict(model, records)
    assert rows == one_by_one.predict(model, records)
    assert any(row["event_list"] for row in rows)
