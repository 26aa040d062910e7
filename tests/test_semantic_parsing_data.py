"""DuSQL question files and the encoder input with its budget policy."""
import json
import os

import pytest

from common.io import DataError
from semantic_parsing.data import load_records, serialise

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "semantic_parsing")


def write(tmp_path, records):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


RECORD = {"db_id": "城市经济", "question": "有哪些城市", "question_id": "q1", "sql_query": "select 名称 from 城市"}


def test_sample_files_load(dbs):
    train, _ = load_records(os.path.join(SAMPLES, "train.json"), databases=dbs)
    test, _ = load_records(os.path.join(SAMPLES, "test.json"), labelled=False, databases=dbs)
    assert len(train) == 67 and train[0].query.startswith("select") and isinstance(train[0].sql, dict)
    assert len(test) == 10 and test[0].query is None and test[0].sql is None


def test_later_releases_name_the_sql_query(tmp_path):
    record = {k: v for k, v in RECORD.items() if k != "sql_query"}
    examples, _ = load_records(write(tmp_path, [dict(record, query="select 名称 from 城市", question_id=7)]))
    assert examples[0].query == "select 名称 from 城市" and examples[0].question_id == "7"


@pytest.mark.parametrize("records, field", [
    ([dict(RECORD, question="")], "[0].question"),
    ([RECORD, {k: v for k, v in RECORD.items() if k != "db_id"}], "[1].db_id"),
    ([{k: v for k, v in RECORD.items() if k != "sql_query"}], "[0].query"),
    ([RECORD, RECORD], "[1].question_id"),
    (["select"], "[0]"),
])
def test_bad_records_name_file_index_and_field(tmp_path, records, field):
    with pytest.raises(DataError) as error:
        load_records(write(tmp_path, records))
    assert error.value.field == field and "train.json" in str(error.value)


def test_with_databases_unknown_db_and_bad_sql_are_errors_or_counted_skips(tmp_path, dbs):
    records = [RECORD, dict(RECORD, question_id="q2", db_id="村庄"), dict(RECORD, question_id="q3", sql_query="select 名字 from 城市")]
    path = write(tmp_path, records)
    with pytest.raises(DataError, match="unknown db_id '村庄'"):
        load_records(path, databases=dbs)
    examples, skips = load_records(path, on_error="skip", databases=dbs)
    assert [e.question_id for e in examples] == ["q1"] and len(skips.skipped) == 2
    assert skips.skipped[1].field == "[2].sql_query" and "unknown column" in str(skips.skipped[1])


def test_not_a_list_is_an_error(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="JSON list"):
        load_records(path)


def chars(text):
    """A tokenizer stand-in: one token per non-space character."""
    return len(text.replace(" ", ""))


def test_serialise_whole_when_it_fits(dbs):
    db = dbs["城市经济"]
    out = serialise("北京有哪些企业", db, {2: ["北京"]}, chars, 512)
    assert out.whole and out.question == "北京有哪些企业"
    assert out.schema.startswith("城市 : 词条id text , 名称 text = 北京 , 所属省份 text")
    assert " ; 企业 : 词条id text" in out.schema and out.columns == list(range(1, len(db.columns)))
    assert out.n_tokens == chars(out.question) + chars(out.schema) + 3


def test_the_budget_drops_types_then_unlinked_columns_then_unlinked_tables(dbs):
    db = dbs["城市经济"]
    question, values = "北京的企业员工数", {2: ["北京"]}
    full = serialise(question, db, values, chars, 1000).n_tokens
    untyped = serialise(question, db, values, chars, full - 1)
    assert untyped.dropped == ["types"] and "text" not in untyped.schema and untyped.n_tokens <= full - 1
    tight = serialise(question, db, values, chars, untyped.n_tokens - 10)
    assert tight.dropped[0] == "types" and tight.dropped[1].startswith("column 城市年份数据.")  # unlinked table first
    assert tight.n_tokens <= untyped.n_tokens - 10
    names = {db.qualified_name(c) for c in tight.columns}
    assert {"城市.名称", "企业.员工数", "企业.城市id", "城市.词条id"} <= names  # linked and key columns stay
    tiny = serialise(question, db, values, chars, 40)
    assert tiny.n_tokens <= 40 and "城市.名称" in {db.qualified_name(c) for c in tiny.columns}
    assert any(d.startswith("table ") for d in tiny.dropped) and tiny.question == question


def test_the_question_is_cut_last(dbs):
    out = serialise("很长的问题" * 10, dbs["手机市场"], {}, chars, 30)
    assert out.n_tokens <= 30 and out.dropped[-1] == "question end" and out.question.startswith("很长的问题")
