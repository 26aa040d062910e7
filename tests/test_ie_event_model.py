"""ie_event end to end with a tiny random BERT: it learns a small training set, predict writes a
valid submission from the run folder alone, and batched inference equals one window at a time."""
import os
import shutil
import time

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


def test_predict_answers_a_repeated_id_once_and_its_evaluate_accepts_it(trained, tmp_path, capsys):
    """One rule for ids in predict and evaluate: an id names one sentence. A line repeating an id with
    the same text is answered once (counted in the summary line); with another text it is an error
    naming both lines; evaluate refuses a submission that repeats an id."""
    from common import cli
    from ie_event import evaluate, predict
    track, _ = trained
    rows = read_lines(sample("ie_event", "test1.json"))[:3]
    test = write_lines(tmp_path / "test.json", rows + [rows[1]])
    out = tmp_path / "pred.json"
    predict.main(["--run", track.cfg.train.out_dir, "--input", test, "--out", str(out)])
    printed = capsys.readouterr().out
    assert "test.json: 1 line(s) repeating an earlier id and text, read once (line 4 = line 2)" in printed
    assert [r["id"] for r in read_lines(out)] == [r["id"] for r in rows]
    gold = write_lines(tmp_path / "gold.json", [{**r, "event_list": []} for r in rows + [rows[1]]])
    assert evaluate.main([gold, str(out)]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    test = write_lines(tmp_path / "test.json", rows + [{**rows[1], "text": "另一句话"}])
    with pytest.raises(SystemExit, match=r"^error: .*test.json, line 4: field 'id': id .* already used at line 2"):
        cli.run(predict.main, ["--run", track.cfg.train.out_dir, "--input", test, "--out", str(out)])


def test_a_model_firing_everywhere_on_a_long_text_stays_fast_and_small(trained, tmp_path, caplog):
    """An untrained or adversarial model (every logit positive) on a 3,000-character text: each window
    passes at most predict.max_cells cells (the best), decoding stays within its per-record bounds, and
    predict finishes in seconds with a logged note instead of running away in time or memory."""
    import tensorflow as tf
    from common.config import replace
    from ie_event.data import Record
    track, _ = trained
    fired = replace(track.cfg, predict={"max_cells": 500, "max_arguments": 8, "max_events": 16, "batch_size": 8})
    fired_track = type(track)(fired, label_path=track.label_path())
    n_heads = fired_track.schema.n_heads

    def everywhere(inputs, training=False):  # logits (batch, heads, L, L), every one positive
        shape = tf.concat([tf.shape(inputs[0])[:1], [n_heads], tf.shape(inputs[0])[1:], tf.shape(inputs[0])[1:]], 0)
        return tf.random.stateless_uniform(shape, seed=[1, 2], minval=1.0, maxval=2.0)

    text = "湖人击败勇士，随后输给快船。" * 215
    records = [Record("long", text, [])]
    windows = fired_track.encode(records, with_targets=False)
    started = time.perf_counter()
    outputs = fired_track.infer(everywhere, windows)
    rows = fired_track.decode(records, windows, outputs)
    assert time.perf_counter() - started < 30
    assert len(windows) > 90 and all(len(cells) == len(scores) == 500 for cells, scores in outputs)
    assert all(cells.dtype.itemsize == 4 for cells, _ in outputs)  # compact: ~6 KB per window
    assert 0 < len(rows[0]["event_list"]) <= 16
    notes = " ".join(r.getMessage() for r in caplog.records)
    assert f"{len(windows)} window(s) had more than predict.max_cells = 500 positive cells" in notes
    assert "1 record(s) over max_arguments" in notes


def test_oracle_reads_the_schema_beside_gold_and_the_vocab_of_the_model(tiny_bert, tmp_path, capsys):
    """As the README shows it: --gold and --out only; the vocab is the config's [model] one."""
    from ie_event import oracle
    for name in ("dev.json", "event_schema.json"):
        shutil.copy(sample("ie_event", name), tmp_path / name)
    result = oracle.main(["--gold", str(tmp_path / "dev.json"), "--out", str(tmp_path / "oracle.json"),
                          f"model.dir={tiny_bert('ie_event')}"])
    assert result == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
