"""Canonical target tokens and the decoding constraint."""
import os
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from semantic_parsing.grammar import Constraint, Vocabulary, detokenize, force_decode, target_tokens
from semantic_parsing.metric import match
from semantic_parsing.sql import COND_OPS, parse, to_sql, to_tokens
from semantic_parsing.values import gold_values
from test_semantic_parsing_sql import random_sql

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "semantic_parsing")


def walk(db, tokens, values=()):
    c = Constraint(db, values)
    for token in tokens.split():
        c.advance(token)
    return c


def test_target_tokens_keep_values_whole_and_detokenize_reads_back(dbs):
    db = dbs["手机市场"]
    sql = "select 型号 from 手机型号 where 型号 == 'Galaxy S20' or 上市时间 > 2020-01-01 limit 2"
    tokens = target_tokens(sql, db)
    assert tokens == ["select", "型号", "from", "手机型号", "where", "型号", "==", '"Galaxy S20"', "or",
                      "上市时间", ">", '"2020-01-01"', "limit", "2"]
    assert match(parse(detokenize(tokens), db), parse(sql, db), db)


def test_the_start_and_the_first_column_fix_the_form_of_the_query(dbs):
    db = dbs["城市经济"]
    c = Constraint(db)
    assert c.allowed() == {"select"} and not c.complete()
    c.advance("select")
    allowed = c.allowed()
    assert {"名称", "人口(万)", "城市.名称", "企业.员工数", "a.名称", "count", "(", "TIME_NOW"} <= allowed
    assert "城市" not in allowed and "*" not in allowed and "b.名称" not in allowed


def test_bare_columns_make_a_single_table_query_of_a_table_that_has_them(dbs):
    db = dbs["城市经济"]
    c = walk(db, "select 名称 ,")
    assert "所属省份" in c.allowed() and "员工数" in c.allowed() and "城市.名称" not in c.allowed()
    c.advance("员工数")  # only 企业 has both
    assert "所属省份" not in c.allowed()
    c.advance("from")
    assert c.allowed() == {"企业"}
    c.advance("企业")
    assert "join" not in c.allowed() and {"where", "order", "limit", "union"} <= c.allowed() and c.complete()
    c.advance("where")
    assert "员工数" in c.allowed() and "人口(万)" not in c.allowed() and "企业.员工数" not in c.allowed()


def test_qualified_columns_need_their_tables_joined(dbs):
    db = dbs["城市经济"]
    c = walk(db, "select 城市.名称 , 企业.员工数 from 企业")
    assert c.allowed() == {"join"} and not c.complete()
    c.advance("join")
    assert c.allowed() == {"城市", "城市年份数据"}
    c.advance("城市")
    assert {"on", "where", "join"} <= c.allowed() and c.complete()
    c.advance("on")
    assert "城市.名称" in c.allowed() and "城市年份数据.年份" not in c.allowed() and "名称" not in c.allowed()
    for token in "企业.城市id == 城市.词条id where".split():
        c.advance(token)
    assert "城市.人口(万)" in c.allowed() and "城市年份数据.年份" not in c.allowed()


def test_values_limits_like_and_between_come_from_the_given_literals(dbs):
    db = dbs["城市经济"]
    c = walk(db, "select 名称 from 城市 where 名称 ==", ['"北京"', "3", "-2"])
    assert c.allowed() == {'"北京"', "3", "-2", "("}
    c.advance('"北京"')
    c.advance("limit")
    assert c.allowed() == {"3", "1"}  # positive integers of the values, and the default 1
    c = walk(db, "select 名称 from 城市 where 人口(万)", ["3", "-2"])
    assert "like" not in c.allowed()  # no string to match
    c.advance("between")
    c.advance("-2")
    c.advance("and")
    assert c.allowed() == {"3"}  # the scorer cannot read a negative bound after "and"
    assert "between" not in walk(db, "select 名称 from 城市 where 人口(万)", ["-2"]).allowed()


def test_a_like_pattern_is_a_value_of_like_only(dbs):
    db = dbs["城市经济"]
    literals = ['"北京"', '"%京%"', '"京%"', "3"]
    assert walk(db, "select 名称 from 城市 where 名称 ==", literals).allowed() == {'"北京"', "3", "("}
    assert walk(db, "select 名称 from 城市 where 名称 like", literals).allowed() == {'"北京"', '"%京%"', '"京%"'}
    assert walk(db, "select 名称 from 城市 where 名称 between", literals).allowed() == {'"北京"', "3"}


def test_star_only_inside_count_and_sub_queries_close_with_a_bracket(dbs):
    db = dbs["城市经济"]
    assert "*" in walk(db, "select count (").allowed()
    assert "*" not in walk(db, "select max (").allowed()
    c = walk(db, "select 名称 from 城市 where 人口(万) > ( select avg ( 人口(万) ) from 城市")
    assert ")" in c.allowed() and not c.complete()
    c.advance(")")
    assert c.complete() and "and" in c.allowed()


def test_a_row_calculation_reads_its_columns_from_the_sub_queries(dbs):
    db = dbs["图书出版"]
    c = walk(db, "select a.页数 - b.价格 from (")
    c.advance("select")
    c.advance("count")
    c.advance("(")
    c.advance("*")
    c.advance(")")
    c.advance("from")
    assert c.allowed() == {"书籍"}  # the first table of sub-query a must have 页数
    for token in "书籍 ) a ,".split():
        c.advance(token)
    assert c.allowed() == {"("}  # b is needed: 价格 is b's
    c = walk(db, "select a.页数 - b.价格 from ( select 页数 from 书籍 ) a , ( select 价格 from 书籍出版 ) b")
    assert c.complete() and "where" not in c.allowed()
    assert "a.页数" not in walk(db, "select 书名 ,").allowed()  # a bare column fixed a one-table query


def test_a_refused_token_raises_and_a_copy_is_independent(dbs):
    db = dbs["城市经济"]
    c = walk(db, "select 名称 from 城市")
    with pytest.raises(ValueError, match="'员工数' not allowed"):
        c.advance("员工数")
    other = c.copy()
    other.advance("where")
    assert c.complete() and not other.complete() and c.tokens == ["select", "名称", "from", "城市"]


def test_unreadable_names_and_values_are_left_out():
    from semantic_parsing.schema import Column, Database
    db = Database("x", ["表", "a-b表"], [Column(0, -1, "*", "text"), Column(1, 0, "甲", "text"),
                                        Column(2, 0, "乙-丙", "text"), Column(3, 1, "丁", "text")])
    vocab = Vocabulary(db)
    assert vocab.all_bare == {"甲"} and vocab.table_tokens == {"表": 0}
    c = Constraint(db, ['"北京"', '"a"b"', "1e-5", "12", "abc"], vocabulary=vocab)
    assert c.values == {'"北京"', "12"}


def test_force_decode_reports_the_first_refused_token(dbs):
    db = dbs["城市经济"]
    assert force_decode("select 名称 from 城市".split(), Constraint(db)) is None
    assert force_decode("select 名称 from 企业 where 人口(万) > 3".split(), Constraint(db, ["3"])) == 5
    assert force_decode("select 名称 from".split(), Constraint(db)) == 3  # incomplete


def pattern_outside_like(sql):
    """Does a like pattern ("%x%") stand as the value of another operator, at any depth?"""
    for cond in sql["from"]["conds"][::2] + sql["where"][::2] + sql["having"][::2]:
        for value in cond[3:]:
            if isinstance(value, dict) and pattern_outside_like(value):
                return True
            if isinstance(value, str) and cond[1] != COND_OPS.index("like") and "%" in (value[:1] + value[-1:]):
                return True
    return any(sql[op] and pattern_outside_like(sql[op]) for op in ("intersect", "union", "except"))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_canonical_tokens_of_random_queries_pass_the_constraint(dbs, data):
    db = dbs[data.draw(st.sampled_from(sorted(dbs)))]
    sql = data.draw(random_sql(db))
    assume(not pattern_outside_like(sql))  # the constraint writes a like pattern after like only
    tokens = to_tokens(sql, db)
    assert force_decode(tokens, Constraint(db, gold_values(sql))) is None, detokenize(tokens)


@pytest.mark.parametrize("seed", range(6))
def test_random_walks_never_dead_end_and_always_parse(dbs, seed):
    rng = random.Random(seed)
    values = ['"北京"', "400", "0.6", '"%州%"', "3", "-5"]
    finished = 0
    for db_id in sorted(dbs) * 10:
        db = dbs[db_id]
        c = Constraint(db, values)
        while len(c.tokens) < 80 and not (c.complete() and rng.random() < 0.4):
            allowed = sorted(c.allowed())
            assert allowed, f"dead end after {detokenize(c.tokens)}"
            closing = [t for t in allowed if t in (")", "from", "asc", "desc")]
            c.advance(rng.choice(closing if closing and rng.random() < 0.4 else allowed))
        if c.complete():
            sql = parse(detokenize(c.tokens), db)
            assert parse(to_sql(sql, db), db) == sql
            finished += 1
    assert finished > 20
