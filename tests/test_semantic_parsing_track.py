"""The DuSQL track without a model: config, encoding, the oracle, decoding, submission, scoring,
the databases of data.dir, `make db`, evaluate's defaults and clear errors on bad input."""
import json
import os

import pytest

from common import cli
from common.config import ConfigError, load_config
from common.io import DataError
from conftest import make_track, sample
from semantic_parsing.config import SemanticParsingConfig
from semantic_parsing.sql import parse

SAMPLES = os.path.dirname(sample("semantic_parsing", "train.json"))


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    from common.tiny_bert import sample_texts, write_vocab
    path = tmp_path_factory.mktemp("sql_track_vocab") / "vocab.txt"
    write_vocab(path, sample_texts(SAMPLES))
    return str(path)


def track(vocab, *overrides, tmp=None):
    settings = [f"data.dir={SAMPLES}", "model.maxlen=256", "data.max_sql_len=96"]
    if tmp is not None:
        settings.append(f"data.sqlite_dir={tmp}")
    return make_track("semantic_parsing", *settings, *overrides, vocab_path=vocab)


def write_json(path, value):
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_the_config_sets_every_key_and_the_demo_settings_load():
    cfg = load_config(SemanticParsingConfig)
    assert cfg.data.schema_file == "db_schema.json" and cfg.model.maxlen - cfg.data.max_sql_len >= 256
    demo = load_config(SemanticParsingConfig, None, cfg.demo.overrides)
    assert demo.model.maxlen == 256 and demo.predict.strategy == "greedy"


def test_maxlen_must_leave_room_for_the_question_after_the_sql(vocab):
    with pytest.raises(ConfigError, match="data.max_sql_len = 96"):
        track(vocab, "model.maxlen=100")


def test_encoded_sources_fit_and_targets_read_back_as_the_gold_query(vocab):
    sp = track(vocab)
    records, _ = sp.load_records(sample("semantic_parsing", "train.json"))
    samples = sp.encode(records, with_targets=True)
    assert len(samples) == len(records) and not sp.lost
    cls_id, sep_id = sp.tokenizer.cls_id, sp.tokenizer.sep_id
    for s in samples:
        assert s.source[0] == cls_id and s.source[-1] == sep_id and s.source.count(sep_id) == 2
        assert len(s.source) <= 256 - 96 and s.target[-1] == sep_id and len(s.target) <= 96
    rows = sp.decode(records, samples, [sp.perfect_output(s) for s in samples])
    assert [qid for qid, _ in rows] == [r.question_id for r in records]
    assert sp.score(records, rows)["exact_match"] == 1.0


def test_the_oracle_command_scores_one_on_every_sample(vocab, tmp_path, capsys):
    from semantic_parsing import oracle
    for split in ("train", "dev"):
        out = tmp_path / f"{split}.sql"
        result = oracle.main(["--gold", sample("semantic_parsing", f"{split}.json"), "--out", str(out), "--vocab", vocab,
                              f"data.dir={SAMPLES}"])
        # execution too: the samples' db_content.json lies beside their schema
        assert result == {"exact_match": 1.0, "exact_match_no_value": 1.0, "execution": 1.0, "parsed": 1.0}
        assert "not representable: nothing" in capsys.readouterr().out
        records = json.load(open(sample("semantic_parsing", f"{split}.json"), encoding="utf-8"))
        assert [line.split("\t")[0] for line in out.read_text(encoding="utf-8").splitlines()] == \
            [r["question_id"] for r in records]


def test_what_targets_cannot_express_is_counted_and_still_parses(vocab, tmp_path):
    records = [
        {"db_id": "城市经济", "question": "广东省有哪些城市", "question_id": "q1",   # the gold value is not in the question
         "sql_query": "select 名称 from 城市 where 所属省份 == \"湖南\""},
        {"db_id": "城市经济", "question": "人口比广东平均人口多的城市中最多的是哪个", "question_id": "q2",
         "sql_query": "select 名称 from 城市 where 人口(万) > ( select avg ( 人口(万) ) from 城市 where 所属省份 == "
                      "\"广东\" ) order by 人口(万) desc limit 1"},
    ]
    sp = track(vocab, "data.max_sql_len=40", "model.maxlen=200")
    loaded, _ = sp.load_records(write_json(tmp_path / "dev.json", records))
    samples = sp.encode(loaded, with_targets=True)
    assert [s.question_id for s in samples] == ["q1"]
    assert sp.lost == {"gold value not among the question's candidates": 1, "SQL longer than data.max_sql_len": 1}
    rows = sp.oracle(loaded)
    assert [qid for qid, _ in rows] == ["q1", "q2"]
    db = sp.databases["城市经济"]
    assert all(parse(sql, db) for _, sql in rows)
    assert sp.score(loaded, rows)["exact_match"] == 0.0


def test_the_submission_has_one_line_per_question_in_order(tmp_path):
    from semantic_parsing.track import write_submission
    out = tmp_path / "pred.sql"
    write_submission(str(out), [("q2", 'select 名称 from 城市 where 名称 == "a\tb"'), ("q1", "select 名称\nfrom 城市")])
    assert out.read_text(encoding="utf-8") == 'q2\tselect 名称 from 城市 where 名称 == "a b"\nq1\tselect 名称 from 城市\n'
    assert os.listdir(tmp_path) == ["pred.sql"]


def test_score_has_execution_with_content_and_bad_predictions_score_zero(vocab, tmp_path):
    sp = track(vocab, tmp=tmp_path / "sqlite")
    records, _ = sp.load_records(sample("semantic_parsing", "dev.json"))
    rows = [(r.question_id, r.query) for r in records]
    assert sp.score(records, rows) == {"exact_match": 1.0, "exact_match_no_value": 1.0, "execution": 1.0, "parsed": 1.0}
    rows[0] = (rows[0][0], "select from where")                       # does not parse
    rows[1] = (rows[1][0], "select 名称 from 城市 where 名称 like 'a'")  # parses, runs, differs
    rows = rows[:-1]                                                   # missing
    result = sp.score(records, rows)
    n = len(records)
    assert result["parsed"] == pytest.approx((n - 2) / n) and result["exact_match"] == pytest.approx((n - 3) / n)


def test_records_naming_an_unknown_database_are_a_clear_error(vocab, tmp_path):
    path = write_json(tmp_path / "test.json", [{"db_id": "村庄", "question": "有几户", "question_id": "q1"}])
    with pytest.raises(DataError, match=r"test.json: field '\[0\].db_id': unknown db_id '村庄'"):
        track(vocab).load_records(path, labelled=False)
    skipped, skips = track(vocab, "data.on_error=skip").load_records(path, labelled=False)
    assert skipped == [] and "1 record(s) skipped" in skips.summary()


def test_a_schema_file_missing_a_field_is_one_error_line(vocab, tmp_path):
    from semantic_parsing import oracle
    schemas = json.load(open(os.path.join(SAMPLES, "db_schema.json"), encoding="utf-8"))
    del schemas[1]["column_types"]
    write_json(tmp_path / "db_schema.json", schemas)
    with pytest.raises(SystemExit, match=r"error: .*db_schema.json: field '\[1\] \(图书出版\).column_types': missing"):
        cli.run(oracle.main, ["--gold", sample("semantic_parsing", "dev.json"), "--out", str(tmp_path / "o.sql"),
                              "--vocab", vocab, f"data.dir={tmp_path}", "data.content_file="])


def test_make_db_builds_one_sqlite_file_per_database_once(tmp_path, capsys):
    from semantic_parsing import db
    settings = [f"data.dir={SAMPLES}", f"data.sqlite_dir={tmp_path}"]
    paths = db.main(settings)
    assert len(paths) == 4 and all(os.path.isfile(p) for p in paths.values())
    assert "4 SQLite databases in" in capsys.readouterr().out
    stamps = {p: os.stat(p).st_mtime_ns for p in paths.values()}
    assert db.main(settings) == paths and {p: os.stat(p).st_mtime_ns for p in paths.values()} == stamps
    with pytest.raises(ConfigError, match="content_file is empty"):
        db.main(settings + ["data.content_file="])


def test_evaluate_finds_the_schema_beside_gold_else_in_data_dir(tmp_path, monkeypatch, capsys):
    from semantic_parsing import evaluate
    from semantic_parsing.track import evaluate_files
    gold = tmp_path / "gold.sql"
    gold.write_text("q1\tselect 名称 from 城市\t城市经济\nq2\tselect count ( * ) from 企业\t城市经济\n", encoding="utf-8")
    pred = tmp_path / "pred.sql"
    pred.write_text("q1\tselect 名称 from 城市\nq2\tselect count ( * from\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="db_schema.json"):   # the default data.dir has no databases here
        evaluate_files(str(gold), str(pred), cfg=load_config(SemanticParsingConfig, None, [f"data.dir={tmp_path}/none"]))
    cfg = load_config(SemanticParsingConfig, None, [f"data.dir={SAMPLES}"])
    assert evaluate_files(str(gold), str(pred), cfg=cfg)["exact_match"] == 0.5
    monkeypatch.chdir(tmp_path)   # the SQLite copies go to the relative data.sqlite_dir
    result = evaluate.main([str(gold), str(pred), "--table", os.path.join(SAMPLES, "db_schema.json"),
                            "--content", os.path.join(SAMPLES, "db_content.json")])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result
    assert result == {"exact_match": 0.5, "exact_match_no_value": 0.5, "execution": 0.5, "parsed": 0.5}
    assert os.listdir(tmp_path / "runs" / "sqlite")
    write_json(tmp_path / "db_schema.json", json.load(open(os.path.join(SAMPLES, "db_schema.json"), encoding="utf-8")))
    assert evaluate.main([str(gold), str(pred)])["exact_match"] == 0.5   # the schema beside gold
