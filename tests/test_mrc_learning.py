"""End to end with a tiny random BERT: train overfits the sample train set, predict writes a valid
submission (batched = one question at a time), evaluate scores it."""
import json
import os

import pytest

from mrc import data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "mrc")
CONFIG = os.path.join(ROOT, "mrc", "config.toml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tf):
    """Train on the sample train set, with the train set as dev (best weights = best train F1)."""
    from common.tiny_bert import write_tiny_checkpoint
    from mrc import train
    texts = [t for name in ("train", "dev", "test") for t in data.texts(os.path.join(SAMPLES, f"{name}.json"))]
    checkpoint = write_tiny_checkpoint(str(tmp_path_factory.mktemp("mrc_tiny_bert")), texts, seed=1)
    out_dir = str(tmp_path_factory.mktemp("mrc_run"))
    overrides = [f"model.dir={os.path.dirname(checkpoint['vocab_path'])}", "model.maxlen=64",
                 "model.dropout=0", "model.attention_dropout=0", f"data.dir={SAMPLES}",
                 "data.dev_file=train.json", "data.max_answer_len=20", f"train.out_dir={out_dir}",
                 "train.epochs=16", "train.batch_size=8", "train.learning_rate=2e-3",
                 "train.warmup_proportion=0.05"]
    train.main(["--config", CONFIG, *overrides])
    return overrides, out_dir


def predict_file(overrides, source, out):
    from mrc import predict
    predict.main(["--config", CONFIG, "--input", source, "--out", str(out), *overrides])
    return json.loads(out.read_text(encoding="utf-8"))


def test_tiny_model_overfits_the_sample_train_set(trained, tmp_path, capsys):
    from mrc import evaluate
    overrides, out_dir = trained
    assert os.path.exists(os.path.join(out_dir, "best.weights.h5"))
    source = os.path.join(SAMPLES, "train.json")
    predict_file(overrides, source, tmp_path / "train_pred.json")
    capsys.readouterr()
    result = evaluate.main([source, str(tmp_path / "train_pred.json")])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == result and result["TOTAL"] >= 60 and result["SKIP"] == 0
    assert float(result["F1"]) >= 90.0, result


def test_predict_writes_a_submission_covering_every_question(trained, tmp_path):
    overrides, _ = trained
    source = os.path.join(SAMPLES, "test.json")
    answers = predict_file(overrides, source, tmp_path / "test_pred.json")
    questions, _ = data.load(source, with_answers=False)
    assert set(answers) == {q.qid for q in questions}
    contexts = {q.qid: q.context for q in questions}
    assert all(isinstance(a, str) and a and a in contexts[qid] for qid, a in answers.items())


def test_batched_prediction_equals_one_question_at_a_time(trained):
    from common.config import load_config
    from common.model import vocab_path
    from common.tokenize import OffsetTokenizer
    from common.training import load_best
    from mrc import model, predict
    overrides, out_dir = trained
    cfg = load_config(CONFIG, overrides)
    tokenizer = OffsetTokenizer(vocab_path(cfg.model))
    span_model = load_best(model.build_model(cfg.model, tokenizer.sep_id, load_checkpoint=False), out_dir)
    questions, _ = data.load(os.path.join(SAMPLES, "dev.json"))
    batched = predict.answer_questions(span_model, tokenizer, questions, cfg)
    single = {}
    for q in questions:
        single.update(predict.answer_questions(span_model, tokenizer, [q], cfg))
    assert batched == single and len(batched) == len(questions)


def test_failed_predict_leaves_the_old_output_alone(trained, tmp_path):
    from common.io import DataError
    overrides, _ = trained
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [{"title": "", "paragraphs": [
        {"context": "长江", "qas": [{"question": "问", "id": "q1"}]},
        {"context": "黄河", "qas": [{"question": "问", "id": "q1"}]}]}]}, ensure_ascii=False))
    out = tmp_path / "pred.json"
    out.write_text("{}")
    with pytest.raises(DataError, match="duplicate"):
        predict_file(overrides, str(bad), out)
    assert out.read_text() == "{}"
    assert sorted(os.listdir(tmp_path)) == ["bad.json", "pred.json"]
