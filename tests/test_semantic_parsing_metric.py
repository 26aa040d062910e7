"""The organisers' DuSQL exact match, one small hand-computed case per rule, and the file scorer."""
import json
import shutil
import os
import subprocess
import sys

import pytest

from common.io import DataError
from semantic_parsing import evaluate as evaluate_cli
from semantic_parsing.metric import evaluate_files, score
from semantic_parsing.schema import Column, Database
from semantic_parsing.sql import parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "semantic_parsing")


def school():
    """学生 (1 学号, 2 姓名, 3 班级id, 4 年龄, 5 入学日期), 班级 (6 词条id, 7 名称, 8 人数, 9 GDP),
    社团 (10 词条id, 11 名称, 12 班级id); foreign keys 学生.班级id -> 班级.词条id <- 社团.班级id."""
    tables = {0: ["学号", "姓名", "班级id", "年龄", "入学日期"], 1: ["词条id", "名称", "人数", "GDP"],
              2: ["词条id", "名称", "班级id"]}
    columns = [Column(0, -1, "*", "text")]
    for tid, names in tables.items():
        for name in names:
            columns.append(Column(len(columns), tid, name, "number" if name in ("年龄", "人数", "GDP") else "text"))
    return Database("学校", ["学生", "班级", "社团"], columns, [1, 6, 10], [(3, 6), (12, 6)])


DB = school()
JOIN = "from 学生 join 班级 on 学生.班级id == 班级.词条id"


def same(pred, gold, values=True):
    from semantic_parsing.metric import match
    return match(parse(pred, DB), parse(gold, DB), DB, values=values)


# each rule with its hand-computed verdict ------------------------------------------------------

def test_strings_compare_lower_cased_and_either_quote():
    assert same("select 姓名 from 学生 where 姓名 == 'TOM'", 'select 姓名 from 学生 where 姓名 == "tom"')
    assert not same("select 姓名 from 学生 where 姓名 == 'tim'", 'select 姓名 from 学生 where 姓名 == "tom"')


def test_bare_dates_are_quoted_strings():
    assert same("select 姓名 from 学生 where 入学日期 > 2019-09-01", 'select 姓名 from 学生 where 入学日期 > "2019-09-01"')


def test_numbers_compare_as_floats_and_percent_is_divided():
    assert same("select 姓名 from 学生 where 年龄 > 20", "select 姓名 from 学生 where 年龄 > 20.0")
    assert same("select 名称 from 班级 where 人数 > 60%", "select 名称 from 班级 where 人数 > 0.6")
    assert not same('select 姓名 from 学生 where 年龄 > "20"', "select 姓名 from 学生 where 年龄 > 20")


def test_select_is_a_multiset_of_aggregated_items():
    assert same("select 年龄 , 姓名 from 学生", "select 姓名 , 年龄 from 学生")
    assert not same("select 姓名 , 姓名 from 学生", "select 姓名 from 学生")
    assert not same("select max ( 年龄 ) from 学生", "select min ( 年龄 ) from 学生")


def test_plus_and_times_operands_are_order_free_minus_is_not():
    assert same("select 年龄 + 学号 from 学生", "select 学号 + 年龄 from 学生")
    assert same("select 年龄 * 学号 from 学生", "select 学号 * 年龄 from 学生")
    assert not same("select 年龄 - 学号 from 学生", "select 学号 - 年龄 from 学生")


def test_where_is_a_multiset_of_conditions_with_values_and_connectors_are_a_set():
    gold = "select 姓名 from 学生 where 年龄 > 18 and 姓名 == '张三'"
    assert same("select 姓名 from 学生 where 姓名 == '张三' and 年龄 > 18", gold)
    assert not same("select 姓名 from 学生 where 姓名 == '李四' and 年龄 > 18", gold)
    assert not same("select 姓名 from 学生 where 年龄 > 18 or 姓名 == '张三'", gold)
    # only the set {and, or} counts, not where the connectors stand
    assert same("select 姓名 from 学生 where 年龄 > 1 or 年龄 < 9 and 学号 == 'a'",
                "select 姓名 from 学生 where 年龄 > 1 and 年龄 < 9 or 学号 == 'a'")


def test_group_by_columns_count_in_order_because_the_having_check_compares_them():
    gold = f"select 班级.名称 , count ( * ) {JOIN} group by 学生.班级id , 班级.名称"
    assert same(f"select 班级.名称 , count ( * ) {JOIN} group by 学生.班级id , 班级.名称", gold)
    assert not same(f"select 班级.名称 , count ( * ) {JOIN} group by 班级.名称 , 学生.班级id", gold)


def test_having_conditions_count_in_order():
    gold = "select 年龄 from 学生 group by 年龄 having count ( * ) > 1 and avg ( 学号 ) > 2"
    assert same(gold, gold)
    assert not same("select 年龄 from 学生 group by 年龄 having avg ( 学号 ) > 2 and count ( * ) > 1", gold)


def test_order_by_with_direction_and_limit():
    gold = "select 姓名 from 学生 order by 年龄 desc limit 3"
    assert same("select 姓名 from 学生 order by 年龄 desc limit 3", gold)
    assert not same("select 姓名 from 学生 order by 年龄 desc limit 2", gold)
    assert not same("select 姓名 from 学生 order by 年龄 asc limit 3", gold)
    assert not same("select 姓名 from 学生", gold)


def test_keywords_must_agree():
    assert not same("select 姓名 from 学生 limit 3", "select 姓名 from 学生")
    assert not same("select 姓名 from 学生 where 姓名 like '%张%'", "select 姓名 from 学生 where 姓名 == '%张%'")


def test_from_tables_are_a_multiset_and_join_conditions_are_not_compared():
    gold = f"select 学生.姓名 {JOIN}"
    assert same("select 学生.姓名 from 班级 join 学生 on 学生.班级id == 班级.词条id", gold)
    assert same("select 学生.姓名 from 学生 join 班级 on 学生.年龄 == 班级.人数", gold)
    assert not same("select 学生.姓名 from 学生 join 社团 on 学生.班级id == 社团.班级id", gold)


def test_columns_of_a_foreign_key_class_are_one_column():
    gold = f"select 学生.班级id , count ( * ) {JOIN} group by 学生.班级id"
    assert same(f"select 班级.词条id , count ( * ) {JOIN} group by 班级.词条id", gold)
    # without 班级 in FROM, 班级's columns are not mapped: the unmapped 学生.班级id still matches itself
    assert same("select 班级id from 学生", "select 班级id from 学生")


def test_foreign_keys_are_not_mapped_inside_sub_queries():
    gold = f"select 姓名 from 学生 where 班级id in ( select 学生.班级id {JOIN} )"
    assert same(gold, gold)
    assert not same(f"select 姓名 from 学生 where 班级id in ( select 班级.词条id {JOIN} )", gold)


def test_a_sub_query_in_a_condition_must_be_identical_even_in_order():
    gold = "select 姓名 from 学生 where 年龄 > ( select avg ( 年龄 ) from 学生 where 姓名 == 'a' and 学号 == 'b' )"
    assert not same("select 姓名 from 学生 where 年龄 > ( select avg ( 年龄 ) from 学生 where 学号 == 'b' and 姓名 == 'a' )", gold)


def test_union_and_intersect_sides_may_swap_except_may_not():
    a, b = "select 姓名 from 学生 where 年龄 > 20", "select 姓名 from 学生 where 学号 == 'x'"
    for op in ("union", "intersect"):
        assert same(f"{b} {op} {a}", f"{a} {op} {b}")
    assert not same(f"{b} except {a}", f"{a} except {b}")
    assert not same(f"{a} union {b}", f"{a} intersect {b}")


def test_between_is_scored_with_both_values():
    gold = "select 姓名 from 学生 where 年龄 between 18 and 22"
    assert same("select 姓名 from 学生 where 年龄 between 18 and 22.0", gold)
    assert not same("select 姓名 from 学生 where 年龄 between 18 and 23", gold)


def test_no_value_variant_ignores_literals_and_limit_numbers_only():
    gold = "select 姓名 from 学生 where 姓名 == '张三' and 年龄 > 18 order by 年龄 desc limit 3"
    pred = "select 姓名 from 学生 where 姓名 == '李四' and 年龄 > 30 order by 年龄 desc limit 1"
    assert not same(pred, gold) and same(pred, gold, values=False)
    assert not same("select 姓名 from 学生 where 姓名 == '李四' and 年龄 < 30 order by 年龄 desc limit 1", gold, values=False)
    assert not same("select 姓名 from 学生 where 姓名 == '李四' and 年龄 > 30 order by 年龄 desc", gold, values=False)


def test_score_counts_missing_and_unparsable_predictions_as_wrong():
    gold = {"q1": ("select 姓名 from 学生", "学校"), "q2": ("select 年龄 from 学生", "学校"),
            "q3": ("select 学号 from 学生", "学校"), "q4": ("select 名称 from 班级", "学校")}
    pred = {"q1": "select 姓名 from 学生", "q2": "select 年龄 from 学生 where", "q3": "select 年龄 from 学生",
            "extra": "select 1"}
    result = score(gold, pred, {"学校": DB})
    assert result == {"exact_match": 0.25, "exact_match_no_value": 0.25, "execution": None, "parsed": 0.5}


def test_score_refuses_bad_gold():
    with pytest.raises(ValueError, match="q1"):
        score({"q1": ("select 名字 from 学生", "学校")}, {}, {"学校": DB})


# files -------------------------------------------------------------------------------------------

def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def sample(name):
    return os.path.join(SAMPLES, name)


def test_files_with_tab_separated_gold_and_execution(tmp_path):
    gold = write(tmp_path / "gold.sql", "\ufeffq1\tselect 名称 from 城市 where 所属省份 == '广东'\t城市经济\n\n"
                                        "q2\tselect count ( * ) from 企业\t城市经济\n"
                                        "q3\tselect 名称 from 城市 order by 人口(万) desc limit 1\t城市经济\n")
    pred = write(tmp_path / "pred.sql", "q1\tselect 名称 from 城市 where 所属省份 == '广东'\n"
                                        "q2\tselect count ( 名称 ) from 企业\n"
                                        "q3\tselect 名称 from 城市 order by 人口(万) desc limit 1 ) (\n")
    result = evaluate_files(gold, pred, sample("db_schema.json"), sample("db_content.json"), str(tmp_path / "cache"))
    # q2: another column inside count is another select item, but the same count of rows
    assert result["exact_match"] == pytest.approx(1 / 3) and result["execution"] == pytest.approx(2 / 3)
    assert result["parsed"] == pytest.approx(2 / 3)


def test_dusql_json_list_is_accepted_as_gold(tmp_path):
    records = json.load(open(sample("dev.json"), encoding="utf-8"))[:3]
    gold = write(tmp_path / "dev.json", json.dumps(records, ensure_ascii=False))
    pred = write(tmp_path / "pred.sql", "".join(f"{r['question_id']}\t{r['sql_query']}\n" for r in records))
    assert evaluate_files(gold, pred, sample("db_schema.json"))["exact_match"] == 1.0


@pytest.mark.parametrize("gold_text, pred_text, message", [
    ("q1\tselect 名称 from 城市\t城市经济\n", "q1 select 名称 from 城市\n", "pred.sql, line 1"),
    ("q1\tselect 名称 from 城市\n", "q1\tselect 名称 from 城市\n", "gold.sql, line 1"),
    ("q1\tselect 名称 from 城市\t城市经济\nq2\tselect 名字 from 城市\t城市经济\n", "", "gold.sql, line 2: field 'SQL'"),
    ("q1\tselect 名称 from 城市\t村庄\n", "", "unknown db_id '村庄'"),
    ("q1\tselect 名称 from 城市\t城市经济\nq1\tselect 名称 from 城市\t城市经济\n", "", "duplicate question id"),
    ("q1\tselect 名称 from 城市\t城市经济\n", "q1\ta\nq1\tb\n", "pred.sql, line 2"),
])
def test_bad_lines_are_data_errors_with_file_and_line(tmp_path, gold_text, pred_text, message):
    gold, pred = write(tmp_path / "gold.sql", gold_text), write(tmp_path / "pred.sql", pred_text)
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        evaluate_files(gold, pred, sample("db_schema.json"))


def test_command_prints_the_metrics_last_and_errors_in_one_line(tmp_path, capsys):
    gold = write(tmp_path / "gold.sql", "q1\tselect 名称 from 城市\t城市经济\n")
    pred = write(tmp_path / "pred.sql", "q1\tselect 名称 from 城市\n")
    evaluate_cli.main([gold, pred, "--table", sample("db_schema.json")])  # the content beside it: execution too
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == {"exact_match": 1.0, "exact_match_no_value": 1.0, "execution": 1.0, "parsed": 1.0}
    alone = tmp_path / "schema_only"
    alone.mkdir()
    shutil.copy(sample("db_schema.json"), alone / "db_schema.json")
    evaluate_cli.main([gold, pred, "--table", str(alone / "db_schema.json")])  # no content at hand: null
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["execution"] is None
    bad = write(tmp_path / "bad.sql", "q1\tselect 名称 from 城市\n")
    run = subprocess.run([sys.executable, "-m", "semantic_parsing.evaluate", bad, pred, "--table", sample("db_schema.json")],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1 and run.stderr.strip().startswith("error: ") and "bad.sql, line 1" in run.stderr
