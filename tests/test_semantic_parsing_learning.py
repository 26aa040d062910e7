"""End to end with a tiny random BERT: train overfits the sample train set, predict writes one parsing
query per question from the run folder (batched = one question at a time), evaluate scores it."""
import json
import os

import pytest

from conftest import make_track, sample
from semantic_parsing.schema import load_databases
from semantic_parsing.sql import parse

SAMPLES = os.path.dirname(sample("semantic_parsing", "train.json"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    """Train on the sample train set with the [demo] settings, the train set as dev (best weights =
    best train exact match)."""
    from common import commands
    from common.config import load_config
    from semantic_parsing.config import SemanticParsingConfig
    out_dir = str(tmp_path_factory.mktemp("sql_run"))
    demo = load_config(SemanticParsingConfig).demo.overrides
    track = make_track("semantic_parsing", f"model.dir={tiny_bert('semantic_parsing')}", *demo,
                       f"data.dir={SAMPLES}", "data.dev_file=train.json", f"train.out_dir={out_dir}",
                       f"data.sqlite_dir={tmp_path_factory.mktemp('sqlite')}")
    commands.train(track, progress=False, tensorboard=False)
    return out_dir


def predict_file(run, source, out, *overrides):
    from semantic_parsing import predict
    predict.main(["--run", run, "--input", source, "--out", str(out), *overrides])
    return [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]


def test_tiny_model_overfits_the_sample_train_set(trained, tmp_path, capsys):
    from semantic_parsing import evaluate
    source = sample("semantic_parsing", "train.json")
    predict_file(trained, source, tmp_path / "train_pred.sql")
    capsys.readouterr()
    result = evaluate.main([source, str(tmp_path / "train_pred.sql")])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == result and result["parsed"] == 1.0
    assert result["exact_match"] >= 0.9, result


def test_beam_search_writes_one_parsing_query_per_test_question_in_order(trained, tmp_path):
    source = sample("semantic_parsing", "test.json")
    rows = predict_file(trained, source, tmp_path / "test_pred.sql", "predict.strategy=beam", "predict.beam_size=3")
    questions = json.load(open(source, encoding="utf-8"))
    assert [row[0] for row in rows] == [q["question_id"] for q in questions] and all(len(r) == 2 for r in rows)
    dbs = load_databases(os.path.join(SAMPLES, "db_schema.json"))
    for (_, sql), question in zip(rows, questions):
        parse(sql, dbs[question["db_id"]])


def test_batched_prediction_equals_one_question_at_a_time(trained):
    from common.run import load_trained, open_run
    from semantic_parsing.track import SemanticParsing
    track, run_dir = open_run(SemanticParsing, trained)
    model = load_trained(track, run_dir)
    questions, _ = track.load_records(sample("semantic_parsing", "dev.json"), labelled=False)
    questions = questions[:6]
    batched = track.predict(model, questions)
    single = [row for q in questions for row in track.predict(model, [q])]
    assert batched == single and len(batched) == len(questions)


def test_failed_predict_leaves_the_old_output_alone(trained, tmp_path):
    from common.io import DataError
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"db_id": "城市经济", "question": "有哪些城市", "question_id": "q1"},
                               {"db_id": "村庄", "question": "有几户", "question_id": "q2"}], ensure_ascii=False))
    out = tmp_path / "pred.sql"
    out.write_text("old")
    with pytest.raises(DataError, match="unknown db_id"):
        predict_file(trained, str(bad), out)
    assert out.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["bad.json", "pred.sql"]
