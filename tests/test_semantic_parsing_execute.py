"""SQLite copies of DuSQL databases: storage rules, cache, the read-only sandbox, execution match."""
import hashlib
import json
import os
import shutil

import pytest

from semantic_parsing.execute import ExecutionError, Executor, build, cell_value, run_readonly, to_sqlite
from semantic_parsing.schema import load_databases
from semantic_parsing.sql import parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "semantic_parsing")
CONTENT = os.path.join(SAMPLES, "db_content.json")


@pytest.fixture(scope="module")
def executor(dbs, tmp_path_factory):
    return Executor(dbs, CONTENT, str(tmp_path_factory.mktemp("sqlite")), time_limit=1.0, max_rows=100)


@pytest.mark.parametrize("text, kind, stored", [
    ("2154", "number", 2154), ("8.6%", "number", 0.086), ("200万", "number", 2000000), ("2.4亿", "number", 240000000),
    ("1.8万平方米", "number", 18000), ("1899年", "number", 1899), ("1,234.5", "number", 1234.5),
    ("国内132条", "number", "国内132条"), ("", "number", None), ("2013", "time", 2013),
    ("2019-01-01", "time", "2019-01-01"), ("2154", "text", "2154"), ("是", "binary", "是"),
])
def test_cells_are_stored_by_column_type(text, kind, stored):
    value = cell_value(text, kind)
    assert value == pytest.approx(stored) if isinstance(stored, float) else value == stored
    assert type(value) is type(stored)


def test_build_reuses_files_while_the_content_is_unchanged(dbs, tmp_path):
    content = tmp_path / "db_content.json"
    shutil.copy(CONTENT, content)
    paths = build(dbs, str(content), str(tmp_path / "cache"))
    assert set(paths) == set(dbs) and all(os.path.exists(p) for p in paths.values())
    assert not [f for f in os.listdir(tmp_path / "cache") if f.endswith(".tmp")]
    first = {p: os.stat(p).st_mtime_ns for p in paths.values()}
    build(dbs, str(content), str(tmp_path / "cache"))
    assert {p: os.stat(p).st_mtime_ns for p in paths.values()} == first
    records = json.loads(content.read_text(encoding="utf-8"))
    records[0]["tables"]["城市"]["cell"][0][1] = "北平"
    content.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    changed = load_databases(os.path.join(SAMPLES, "db_schema.json"), str(content))
    build(changed, str(content), str(tmp_path / "cache"))
    assert run_readonly(paths["城市经济"], "SELECT c2 FROM t0 WHERE c1 = 'item_city_1'") == [("北平",)]


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("query", [
    "DROP TABLE t0",
    "INSERT INTO t0 VALUES (1, 2, 3, 4, 5, 6)",
    "UPDATE t0 SET c2 = 'x'",
    "DELETE FROM t0",
    "CREATE TABLE x (a)",
    "ATTACH DATABASE ':memory:' AS other",
    "PRAGMA user_version = 7",
    "PRAGMA journal_mode = WAL",
    "SELECT load_extension('x')",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
])
def test_malicious_queries_are_refused_and_change_nothing(executor, query):
    path = executor.paths["城市经济"]
    before = digest(path)
    with pytest.raises(ExecutionError):
        run_readonly(path, query, time_limit=1.0)
    assert digest(path) == before
    assert run_readonly(path, "SELECT count(*) FROM t0") == [(5,)]


def test_a_runaway_query_is_stopped_by_the_time_limit(executor):
    joins = ", ".join(f"t0 AS x{i}" for i in range(12))  # 5 ** 12 rows
    with pytest.raises(ExecutionError, match="stopped after"):
        run_readonly(executor.paths["城市经济"], f"SELECT count(*) FROM {joins}", time_limit=0.2)


def test_too_many_rows_is_an_error(executor):
    with pytest.raises(ExecutionError, match="more than 100 rows"):
        run_readonly(executor.paths["城市经济"], "SELECT * FROM t0, t0 AS b, t0 AS c", max_rows=100)


def test_dusql_queries_run_with_units_percent_and_time_now(dbs, executor):
    books = dbs["图书出版"]
    run = executor.run
    rows = run("图书出版", parse("select T1.书名 from 书籍 as T1 join 书籍出版 as T2 on 书籍.词条id == 书籍出版.书籍id "
                              "where T2.印数 > 1000000", books))
    assert sorted(rows) == [("呐喊",), ("挪威的森林",), ("骆驼祥子",)]
    assert run("手机市场", parse("select 名称 from 手机品牌 where 市场份额 > 15%", dbs["手机市场"])) == [("华为",), ("三星",)]
    assert run("体育赛事", parse("select 名称 , TIME_NOW - 成立年份 from 球队 where 夺冠次数 == 11", dbs["体育赛事"])) == [("广东宏远", 27)]
    rows = run("图书出版", parse('select a.页数 - b.页数 from ( select 页数 from 书籍 where 书名 == "骆驼祥子" ) a , '
                              '( select 页数 from 书籍 where 书名 == "呐喊" ) b', books))
    assert rows == [(66,)]
    assert run("城市经济", parse("( select 名称 from 城市 where 所属省份 == '广东' ) intersect "
                              "( select 名称 from 城市 where 人口(万) > 1400 )", dbs["城市经济"])) == [("广州",)]


def test_strings_are_inlined_safely(dbs):
    sql = parse("select 名称 from 城市 where 名称 == 'x'", dbs["城市经济"])
    sql["where"][0][3] = "a'; DROP TABLE t0; --"
    assert "'a''; DROP TABLE t0; --'" in to_sqlite(sql, dbs["城市经济"])


def test_execution_match_orders_only_with_order_by_and_allows_column_order(dbs, executor):
    db = dbs["城市经济"]
    same = executor.same_result
    gold = parse("select 名称 , 所属省份 from 城市 where 人口(万) > 1400", db)
    assert same("城市经济", parse("select 所属省份 , 名称 from 城市 where 人口(万) > 1400", db), gold)
    assert same("城市经济", parse("select 名称 , 所属省份 from 城市 where 人口(万) >= 1490", db), gold)
    assert not same("城市经济", parse("select 名称 , 所属省份 from 城市", db), gold)
    ordered = parse("select 名称 from 城市 order by 人口(万) desc", db)
    assert not same("城市经济", parse("select 名称 from 城市 order by 人口(万) asc", db), ordered)
    assert same("城市经济", parse("select 名称 from 城市 order by GDP(亿) desc", db), parse("select 名称 from 城市", db))
