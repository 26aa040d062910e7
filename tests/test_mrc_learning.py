"""End to end with a tiny random BERT: train overfits the sample train set, predict writes a valid
submission from the run folder (batched = one question at a time), evaluate scores it."""
import json
import os

import pytest

from conftest import make_track, sample
from mrc import data


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    """Train on the sample train set, with the train set as dev (best weights = best train F1)."""
    from common import commands
    out_dir = str(tmp_path_factory.mktemp("mrc_run"))
    track = make_track("mrc", f"model.dir={tiny_bert('mrc')}", "model.maxlen=64", "model.dropout=0",
                       "model.attention_dropout=0", f"data.dir={os.path.dirname(sample('mrc', 'train.json'))}",
                       "data.dev_file=train.json", "data.max_answer_len=20", f"train.out_dir={out_dir}",
                       "train.epochs=16", "train.batch_size=8", "train.learning_rate=2e-3",
                       "train.warmup_proportion=0.05")
    commands.train(track, progress=False, tensorboard=False)
    return out_dir


def predict_file(run, source, out):
    from mrc import predict
    predict.main(["--run", run, "--input", source, "--out", str(out)])
    return json.loads(out.read_text(encoding="utf-8"))


def test_tiny_model_overfits_the_sample_train_set(trained, tmp_path, capsys):
    from mrc import evaluate
    source = sample("mrc", "train.json")
    predict_file(trained, source, tmp_path / "train_pred.json")
    capsys.readouterr()
    result = evaluate.main([source, str(tmp_path / "train_pred.json")])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == result and result["TOTAL"] >= 60 and result["SKIP"] == 0
    assert float(result["F1"]) >= 90.0, result


def test_predict_writes_a_submission_covering_every_question(trained, tmp_path):
    source = sample("mrc", "test.json")
    answers = predict_file(trained, source, tmp_path / "test_pred.json")
    questions, _ = data.load(source, with_answers=False)
    assert set(answers) == {q.qid for q in questions}
    contexts = {q.qid: q.context for q in questions}
    assert all(isinstance(a, str) and a and a in contexts[qid] for qid, a in answers.items())


def test_batched_prediction_equals_one_question_at_a_time(trained):
    from common.run import load_trained, open_run
    from mrc.track import MRC
    track, run_dir = open_run(MRC, trained)
    model = load_trained(track, run_dir)
    questions, _ = track.load_records(sample("mrc", "dev.json"), labelled=False)
    batched = track.predict(model, questions)
    single = [row for q in questions for row in track.predict(model, [q])]
    assert batched == single and len(batched) == len(questions)


def test_failed_predict_leaves_the_old_output_alone(trained, tmp_path):
    from common.io import DataError
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [{"title": "", "paragraphs": [
        {"context": "长江", "qas": [{"question": "问", "id": "q1"}]},
        {"context": "黄河", "qas": [{"question": ["问"], "id": "q2"}]}]}]}, ensure_ascii=False))
    out = tmp_path / "pred.json"
    out.write_text("{}")
    with pytest.raises(DataError, match=r"qas\[0\]\.question': missing or not a string"):
        predict_file(trained, str(bad), out)
    assert out.read_text() == "{}"
    assert sorted(os.listdir(tmp_path)) == ["bad.json", "pred.json"]
