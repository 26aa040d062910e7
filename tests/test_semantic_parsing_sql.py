"""DuSQL SQL: the scorer's tokenisation, parsing into the dataset's structure, canonical SQL."""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semantic_parsing.sql import (AGG_OPS, COND_OPS, NotExpressible, SQLParseError, format_number, parse,
                                  read_number, to_sql, to_tokens, tokenize)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "semantic_parsing")


def raw(sql):
    return [t.raw for t in tokenize(sql)]


def col(db, table, name):
    return db.column_id(db.table_id(table), name)


# tokenisation ------------------------------------------------------------------------------------

def test_quotes_become_double_and_strings_keep_spaces_and_case():
    assert raw("where 名称 == 'Galaxy S20'") == ["where", "名称", "==", '"Galaxy S20"']
    tokens = tokenize('a=="x y"')
    assert [t.raw for t in tokens] == ["a", "==", '"x y"'] and tokens[2].string and tokens[2].pos == 3


def test_bare_dates_are_strings_as_a_whole_piece():
    assert raw("d > 2019-01-01 and d < 2019-12") == ["d", ">", '"2019-01-01"', "and", "d", "<", '"2019-12"']
    assert raw("d>=2019-01-01") == ["d", ">=", '"2019-01-01"']   # after splitting "=="-like operators
    assert raw("d>2019-01-01") == ["d", ">", "2019", "-", "01", "-", "01"]  # ">" splits later: no date


def test_operators_split_and_names_keep_their_brackets():
    assert raw("max(人口(万))-min(GDP(亿))") == ["max", "(", "人口(万)", ")", "-", "min", "(", "GDP(亿)", ")"]
    assert raw("select 人口 ( 万 ) , T1.速度(千米/时) from t") == ["select", "人口(万)", ",", "T1.速度(千米/时)", "from", "t"]
    assert raw("a!=1;") == ["a", "!=", "1", ";"]


def test_a_sign_after_a_comparison_joins_the_number_but_not_after_a_column():
    assert raw("x > - 5") == ["x", ">", "-5"]
    assert raw("TIME_NOW - 上线时间 > 8") == ["TIME_NOW", "-", "上线时间", ">", "8"]


def test_a_bracket_after_and_is_read_as_part_of_a_name_like_the_scorer():
    assert raw("a > 1 and ( b < 2 )") == ["a", ">", "1", "and(b<2)"]


def test_odd_number_of_quotes_is_an_error_with_position():
    with pytest.raises(SQLParseError) as error:
        tokenize('select a from t where b == "x')
    assert error.value.position == 27


@pytest.mark.parametrize("text, value", [("400", 400), ("-5", -5), ("5.4", 5.4), ("60%", 0.6), ("200万", 200.0),
                                         ("1星占比", 1.0), (".5", 0.5), ("1e3", 1000.0), ("abc", None)])
def test_bare_values_are_read_like_the_scorer(text, value):
    assert read_number(text) == value


# parsing ----------------------------------------------------------------------------------------

def test_the_three_dusql_examples(dbs):
    db = dbs["图书出版"]
    s = parse('( select 书名 from 书籍 where 页数 > 400 ) intersect ( select 书名 from 书籍 where 出版时间 > "1981-03-24" )', db)
    book = ["table_unit", db.table_id("书籍")]
    assert s["from"]["table_units"] == [book] and s["select"] == [[0, [0, [0, col(db, "书籍", "书名"), False], None]]]
    assert s["where"] == [[0, COND_OPS.index(">"), [0, [0, col(db, "书籍", "页数"), False], None], 400, None]]
    assert s["intersect"]["where"][0][3] == "1981-03-24" and s["intersect"]["intersect"] is None
    s = parse("select 类型 from 书籍 group by 类型 order by avg ( 页数 ) desc limit 1", db)
    assert s["groupBy"] == [[0, col(db, "书籍", "类型"), False]]
    assert s["orderBy"] == ["desc", [[AGG_OPS.index("avg"), [0, [0, col(db, "书籍", "页数"), False], None]]]]
    assert s["limit"] == 1
    s = parse("select 书名, 类型 from 书籍 where 评分 == ( select max ( 评分 ) from 书籍 )", db)
    nested = s["where"][0][3]
    assert s["where"][0][1] == COND_OPS.index("==") and nested["select"][0][0] == AGG_OPS.index("max")


def test_joins_with_aliases_and_foreign_key_conditions(dbs):
    db = dbs["图书出版"]
    s = parse("select T2.姓名 , count ( * ) from 书籍 as T1 join 作者 as T2 on 书籍.作者id == 作者.词条id "
              "where T1.评分 >= 8.5 or T2.国籍 != '中国' group by T1.作者id having count ( * ) > 1", db)
    assert s["from"]["table_units"] == [["table_unit", 1], ["table_unit", 0]]
    assert s["from"]["conds"] == [[0, 2, [0, [0, col(db, "书籍", "作者id"), False], None],
                                   [0, col(db, "作者", "词条id"), False], None]]
    assert s["select"][0][1][1][1] == col(db, "作者", "姓名") and s["select"][1] == [3, [0, [0, 0, False], None]]
    assert s["where"][1] == "or" and s["where"][2][3] == "中国" and s["where"][0][3] == 8.5
    assert s["having"] == [[3, 3, [0, [0, 0, False], None], 1, None]]


def test_unqualified_columns_resolve_in_the_first_from_table_that_has_them(dbs):
    db = dbs["城市经济"]
    s = parse("select 名称 from 企业 join 城市 on 企业.城市id == 城市.词条id", db)
    assert s["select"][0][1][1][1] == col(db, "企业", "名称")


def test_calculations_time_now_and_select_items_without_commas(dbs):
    db = dbs["图书出版"]
    s = parse("select 姓名 逝世日期 - 出生日期 from 作者 where TIME_NOW - 出生日期 > 100", db)
    assert len(s["select"]) == 2 and s["select"][1][1][0] == 1  # "-"
    assert s["where"][0][2] == [1, [0, "TIME_NOW", False], [0, col(db, "作者", "出生日期"), False]]
    s = parse("select 书名 评价人数 * 1星占比 from 书籍", dbs["图书出版"])
    assert s["select"][1][1] == [3, [0, col(db, "书籍", "评价人数"), False], [0, col(db, "书籍", "1星占比"), False]]


def test_row_calculation_aliases_a_and_b(dbs):
    db = dbs["手机市场"]
    s = parse('select a.价格 / b.价格 from ( select 价格 from 手机型号 where 型号 == "小米10" ) a , '
              '( select 价格 from 手机型号 where 型号 == "Mate30" ) b', db)
    price = col(db, "手机型号", "价格")
    assert s["select"] == [[0, [4, [0, price, False], [0, price, False]]]]
    assert [kind for kind, _ in s["from"]["table_units"]] == ["sql", "sql"]


def test_between_not_in_like_and_bare_special_values(dbs):
    db = dbs["城市经济"]
    s = parse("select 名称 from 城市 where 人口(万) between 1000 and 2200 and 词条id not in "
              "( select 城市id from 企业 ) or 名称 like '%州%'", db)
    assert [c[1] for c in s["where"][::2]] == [COND_OPS.index("between"), COND_OPS.index("not_in"), COND_OPS.index("like")]
    assert s["where"][0][3:] == [1000, 2200]
    s = parse("select 名称 from 城市 where 人口(万) > 60% and GDP(亿) < 200万 and 建城时间 > 1999-01-01", db)
    assert [c[3] for c in s["where"][::2]] == [0.6, 200.0, "1999-01-01"]


def test_iue_chains_nest_to_the_right_with_or_without_brackets(dbs):
    db = dbs["城市经济"]
    a = parse("( select 名称 from 城市 ) union ( select 名称 from 企业 ) except ( select 名称 from 城市 where 人口(万) > 1 )", db)
    b = parse("select 名称 from 城市 union select 名称 from 企业 except select 名称 from 城市 where 人口(万) > 1", db)
    assert a == b and a["union"]["except"]["where"][0][3] == 1 and a["except"] is None


@pytest.mark.parametrize("sql, message, near", [
    ("select 名称 from 城市 where 名称 = '北京'", "==", "= '"),
    ("select 名字 from 城市", "unknown column '名字'", "名字"),
    ("select 名称 from 村庄", "unknown table '村庄'", "村庄"),
    ("select 名称 from 城市 limit 1 2", "after the end", "2"),
    ("select from 城市", "at least one item", "from"),
    ("select 名称 城市", "expected 'from'", None),
    ("select 名称 from 城市 limit 1.5", "integer", "1.5"),
    ("select 名称 from 城市 where 名称 == '北京' and", "expected a column", None),
    ("select T9.名称 from 城市", "unknown table or alias 'T9'", "T9"),
    ("select 名称 from 城市 as 企业", "also a table name", "企业"),
])
def test_parse_errors_say_what_and_where(dbs, sql, message, near):
    with pytest.raises(SQLParseError) as error:
        parse(sql, dbs["城市经济"])
    assert message in str(error.value)
    assert error.value.position == (len(sql) if near is None else sql.index(near))


# canonical SQL and the round trip ---------------------------------------------------------------

def test_canonical_form(dbs):
    db = dbs["图书出版"]
    s = parse("select T2.姓名, count(*) from 书籍 as T1 join 作者 as T2 on 书籍.作者id == 作者.词条id "
              "group by T1.作者id order by count(*) desc limit 3", db)
    assert to_sql(s, db) == ("select 作者.姓名 , count ( * ) from 书籍 join 作者 on 书籍.作者id == 作者.词条id "
                             "group by 书籍.作者id order by count ( * ) desc limit 3")
    s = parse("( select 姓名 from 作者 ) intersect ( select 姓名 from 作者 where 出生日期 < 1900-01-01 )", db)
    assert to_tokens(s, db)[-3:] == ["出生日期", "<", '"1900-01-01"']
    assert "intersect select" in to_sql(s, db)


def test_numbers_are_written_without_exponent_or_trailing_zero():
    assert [format_number(x) for x in (400, 200.0, 0.6, 1e-05, 1e20, -5)] == \
        ["400", "200", "0.6", "0.00001", "100000000000000000000", "-5"]


def test_structures_the_scorer_cannot_read_are_refused(dbs):
    db = dbs["城市经济"]
    s = parse("select 名称 from 城市 where 名称 == 'x'", db)
    s["where"][0][3] = 'say "hi"'
    with pytest.raises(NotExpressible):
        to_sql(s, db)
    s = parse("select 名称 from 城市 order by 人口(万) asc", db)
    s["orderBy"][1][0][1] = [1, [1, col(db, "城市", "人口(万)"), False], [0, col(db, "城市", "GDP(亿)"), False]]
    with pytest.raises(NotExpressible):  # "max ( a ) - b" after "order by" would lose "- b"
        to_sql(s, db)
    s = parse("select 名称 from 城市 where 人口(万) between 1 and 2", db)
    s["where"][0][4] = -2
    with pytest.raises(NotExpressible):  # "and -2": the scorer joins a sign only after a comparison
        to_sql(s, db)


ROUND_TRIP = [
    ("城市经济", "select 名称 from 城市 order by 人口(万) desc limit 1"),
    ("城市经济", "select ( max ( 人口(万) ) - GDP(亿) ) , ( min ( 人口(万) ) ) from 城市"),
    ("城市经济", "select 名称 from 城市 where 人口(万) > ( select avg ( 人口(万) ) from 城市 where 所属省份 != '广东' )"),
    ("城市经济", "select T2.名称 , sum ( T1.员工数 ) from 企业 as T1 join 城市 as T2 on 企业.城市id == 城市.词条id "
                 "where T2.人口(万) >= 1000 group by T1.城市id having sum ( T1.员工数 ) > 20000 order by T2.名称 asc"),
    ("城市经济", "select 城市.名称 from 城市年份数据 join 城市 join 企业 on 城市年份数据.城市id == 城市.词条id "
                 "and 企业.城市id == 城市.词条id"),
    ("城市经济", "select 名称 from 城市 where 人口(万) between 1000 and 2200 or 名称 like '%州%'"),
    ("城市经济", "select 名称 from 企业 where TIME_NOW - 成立时间 > 30 and 员工数 * 年营业额(亿) < 5"),
    ("城市经济", "select max ( 人口(万) + GDP(亿) ) from 城市 where 词条id in ( select 城市id from 企业 union select 城市id from 城市年份数据 )"),
    ("图书出版", "select a.页数 - b.页数 from ( select 页数 from 书籍 where 书名 == '呐喊' ) a , ( select 页数 from 书籍 where 书名 == '家' ) b"),
    ("图书出版", "select 书名 from 书籍 where 1星占比 > 2% intersect select 书名 from 书籍 where 评分 < 8.5"),
    ("体育赛事", "select 名称 from 球队 where 夺冠次数 == 0 except select 名称 from 球队 where 所在城市 == '上海'"),
    ("手机市场", "select 型号 , 价格 from 手机型号 where 上市时间 >= 2020-01-01 order by 价格 desc , 屏幕尺寸 desc limit 2"),
]


@pytest.mark.parametrize("db_id, sql", ROUND_TRIP)
def test_round_trip_is_stable(dbs, db_id, sql):
    db = dbs[db_id]
    first = parse(sql, db)
    text = to_sql(first, db)
    assert parse(text, db) == first
    assert to_sql(parse(text, db), db) == text


# random structures ------------------------------------------------------------------------------

STRINGS = ["北京", "Galaxy S20", "%州%", "item_city_1", "长篇 小说", ""]
NUMBERS = [0, 3, 400, 2019, 8.5, 0.02, 1.25, -5, 200000000000]


@st.composite
def random_sql(draw, db, depth=0, need_table=None):
    """A random structured sql in the canonical subset the constraint also accepts."""
    tables = list(range(len(db.table_names)))
    joins = {}
    for a, b in db.foreign_keys:
        ta, tb = db.columns[a].table, db.columns[b].table
        joins.setdefault(ta, []).append((tb, a, b))
        joins.setdefault(tb, []).append((ta, b, a))
    first = need_table if need_table is not None else draw(st.sampled_from(tables))
    from_tables, conds = [first], []
    if need_table is None and joins.get(first) and draw(st.booleans()):
        other, a, b = draw(st.sampled_from(joins[first]))
        if other != first:
            from_tables.append(other)
            conds = [[0, 2, [0, [0, a, False], None], [0, b, False], None]]
    columns = [c for t in from_tables for c in db.table_columns(t)]
    column = st.sampled_from(columns)
    agg = st.sampled_from(range(6))

    def unit(allow_agg):
        return st.tuples(agg if allow_agg else st.just(0), column).map(lambda x: [x[0], x[1], False])

    def val_unit(first_agg):
        return st.one_of(unit(first_agg).map(lambda u: [0, u, None]),
                         st.tuples(st.sampled_from([1, 2, 3, 4]), unit(False), unit(True)).map(lambda x: [x[0], x[1], x[2]]))

    def value():
        literal = st.sampled_from(STRINGS + NUMBERS)
        if depth >= 1:
            return literal
        return st.one_of(literal, random_sql(db, depth + 1).map(lambda s: s))

    def condition():
        c = []
        for i in range(draw(st.integers(1, 2))):
            if i:
                c.append(draw(st.sampled_from(["and", "or"])))
            left = draw(val_unit(False))
            op = draw(st.sampled_from([2, 3, 4, 5, 6, 7, 9, 1]))
            if op == 1:
                c.append([draw(agg), 1, left, draw(st.sampled_from(NUMBERS)), draw(st.sampled_from([n for n in NUMBERS if n >= 0]))])
            elif op == 9:
                c.append([0, 9, left, draw(st.sampled_from(STRINGS)), None])
            else:
                c.append([draw(agg) if left[0] == 0 else 0, op, left, draw(value()), None])
        return c

    sql = {"select": [], "from": {"table_units": [["table_unit", t] for t in from_tables], "conds": conds},
           "where": [], "groupBy": [], "having": [], "orderBy": [], "limit": None,
           "intersect": None, "union": None, "except": None}
    for _ in range(draw(st.integers(1, 3))):
        item_agg = draw(agg)
        sql["select"].append([item_agg, draw(val_unit(True))])
    if draw(st.booleans()):
        sql["where"] = condition()
    if draw(st.booleans()):
        sql["groupBy"] = [draw(unit(False))]
        if draw(st.booleans()):
            sql["having"] = condition()
    if draw(st.booleans()):
        sql["orderBy"] = [draw(st.sampled_from(["asc", "desc"])), [[draw(agg), draw(val_unit(False))]]]
        if draw(st.booleans()):
            sql["limit"] = draw(st.integers(1, 5))
    if depth == 0 and draw(st.integers(0, 3)) == 0:
        sql[draw(st.sampled_from(["intersect", "union", "except"]))] = draw(random_sql(db, 1))
    return sql


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_structures_survive_sql_and_back(dbs, data):
    db = dbs[data.draw(st.sampled_from(sorted(dbs)))]
    sql = data.draw(random_sql(db))
    text = to_sql(sql, db)
    assert parse(text, db) == sql, text
