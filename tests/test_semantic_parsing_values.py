"""Candidate value literals of a question."""
import os

import pytest

from semantic_parsing.sql import parse
from semantic_parsing.values import candidates, cells_in_question, chinese_number, gold_values, literals

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "semantic_parsing")


@pytest.mark.parametrize("text, value", [("三", 3), ("十五", 15), ("两千", 2000), ("两千零五", 2005), ("三万五千", 35000),
                                         ("一百", 100), ("十", 10), ("一二", None), ("万", None), ("零", 0)])
def test_chinese_numerals(text, value):
    assert chinese_number(text) == value


def by_literal(found):
    return {c.literal: c for c in found}


def test_cells_in_the_question_come_first_with_their_columns(dbs):
    db = dbs["城市经济"]
    found = by_literal(candidates("北京有哪些企业", db))
    city = found['"北京"']
    assert city.kind == "cell" and city.span == (0, 2)
    assert {db.qualified_name(c) for c in city.columns} == {"城市.名称", "城市.所属省份"}
    assert cells_in_question("北京有哪些企业", db) == {2: ["北京"], 3: ["北京"]}


def test_a_cell_sharing_most_of_itself_with_the_question_is_snapped(dbs):
    db = dbs["图书出版"]
    assert by_literal(candidates("驼祥子写了多少页", db))['"骆驼祥子"'].kind == "snapped"  # 3 of 4 characters
    assert '"骆驼祥子"' not in by_literal(candidates("骆驼写了多少页", db))  # 2 of 4: not enough ...
    assert '"骆驼祥子"' in by_literal(candidates("书名是骆驼的书", db))  # ... unless the question names 书名


def test_numbers_units_percent_and_dates(dbs):
    found = by_literal(candidates("2019年12月24号之后市场份额超过15%、销量1.5万、前三名的", dbs["手机市场"]))
    assert found['"2019-12-24"'].kind == "date"
    assert {"15", "0.15", "1.5", "15000", "3", "2019", "12", "24"} <= set(found)
    assert found["15"].span == (19, 21) and found["0.15"].span == (19, 22)


def test_binary_values_and_zero_and_one_are_always_candidates(dbs):
    found = by_literal(candidates("首发球员有几个", dbs["体育赛事"]))
    assert {'"是"', '"否"', "0", "1"} <= set(found)


def test_spans_and_like_forms_on_request(dbs):
    db = dbs["城市经济"]
    plain = literals(candidates("名字里有州的城市", db))
    assert '"州"' not in plain and '"%州%"' not in plain
    rich = literals(candidates("名字里有州的城市", db, spans=True, likes=True, max_span=4))
    assert {'"州"', '"%州%"', '"名字里有"'} <= rich and '"名字里有州"' not in rich


def test_quoted_cells_cannot_be_written_and_are_dropped(dbs):
    db = dbs["城市经济"]
    db.cells[0].append(["item_city_9", '石"家"庄', "河北", "1", "1", "1"])
    try:
        assert not [c for c in candidates('石"家"庄有多少人', db) if '"家' in c.literal]
    finally:
        db.cells[0].pop()


def test_gold_values_walk_every_depth(dbs):
    db = dbs["城市经济"]
    sql = parse("select 名称 from 城市 where 人口(万) > ( select avg ( 人口(万) ) from 城市 where 所属省份 == '广东' ) "
                "order by GDP(亿) desc limit 2 union select 名称 from 企业 where 员工数 between 1 and 2.5", db)
    assert gold_values(sql) == {'"广东"', "2", "1", "2.5"}


def test_cells_of_number_columns_are_numbers_not_strings(dbs):
    found = by_literal(candidates("人口2154万的城市", dbs["城市经济"]))
    assert "2154" in found and '"2154"' not in found and found["21540000"].kind == "number"
