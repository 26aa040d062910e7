"""End to end with a tiny random BERT: train overfits the sample sessions, predict writes one
non-empty line per input from the run folder, evaluate scores it; bad input is named."""
import json
import os

import pytest

from conftest import make_track, sample

SAMPLES = os.path.dirname(sample("dialog", "train.json"))
SETTINGS = ["model.maxlen=128", "model.max_target_len=64", "model.dropout=0", "model.attention_dropout=0",
            "train.batch_size=16", "train.learning_rate=1e-2", "train.warmup_proportion=0.05",
            "predict.strategy=greedy", "predict.min_len=1", "predict.no_repeat_ngram=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    """Train on the sample sessions, with the train file as dev (best weights = best train F1)."""
    from common import commands
    out_dir = str(tmp_path_factory.mktemp("dialog_run"))
    track = make_track("dialog", f"model.dir={tiny_bert('dialog')}", f"data.dir={SAMPLES}", "data.train_file=train.json",
                       "data.dev_file=train.json",
                       f"train.out_dir={out_dir}", "train.epochs=2", "train.epoch_repeats=25", *SETTINGS)
    commands.train(track, progress=False, tensorboard=False)
    return out_dir


def predict_file(run, source, out, *overrides):
    from dialog import predict
    predict.main(["--run", run, "--input", source, "--out", str(out), *overrides])
    with open(out, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def test_tiny_model_overfits_the_sample_sessions(trained, tmp_path, capsys):
    from dialog import evaluate
    source = sample("dialog", "train.json")
    lines = predict_file(trained, source, tmp_path / "train_pred.txt")
    assert len(lines) == 63 and all(line.strip() for line in lines)
    capsys.readouterr()
    result = evaluate.main([source, str(tmp_path / "train_pred.txt")])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result
    assert result["F1"] >= 90.0, result


@pytest.fixture(scope="module")
def loaded(trained):
    """(track, model) of the run, decoding with beam search."""
    from common.run import load_trained, open_run
    from dialog.track import Dialog
    track, run_dir = open_run(Dialog, trained, overrides=["predict.strategy=beam", "predict.beam_size=3",
                                                          "predict.no_repeat_ngram=3"])
    return track, load_trained(track, run_dir)


def test_one_non_empty_line_per_test_input(loaded, tmp_path):
    track, model = loaded
    records, _ = track.load_records(sample("dialog", "test.json"), labelled=False)
    track.write_submission(tmp_path / "test_pred.txt", track.predict(model, records))
    lines = (tmp_path / "test_pred.txt").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines[:-1]) == len(records) == 7
    assert all(line.strip() and line == " ".join(line.split()) for line in lines[:-1])


def test_batched_prediction_equals_one_input_at_a_time(loaded):
    track, model = loaded
    records = track.load_records(sample("dialog", "dev.json"), labelled=False)[0][::3]
    batched = [row.line for row in track.predict(model, records)]
    assert batched == [track.predict(model, [r])[0].line for r in records]


def test_bad_input_is_named_by_file_line_and_field_and_leaves_the_old_output(trained, tmp_path):
    from common.io import DataError
    with open(sample("dialog", "test.json"), encoding="utf-8") as f:
        good = json.loads(f.readline())
    bad = tmp_path / "bad.json"
    bad.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [good, dict(good, history="你好")]) + "\n",
                   encoding="utf-8")
    out = tmp_path / "pred.txt"
    out.write_text("old\n")
    with pytest.raises(DataError, match=r"bad\.json, line 2: field 'history': expected a list"):
        predict_file(trained, str(bad), out)
    assert out.read_text() == "old\n"
