"""DuSQL schema and content loading: lookups, foreign-key classes, located errors."""
import json

import pytest

from common.io import DataError
from semantic_parsing.schema import UnknownDatabase, load_databases


def schema_entry(**changes):
    entry = {
        "db_id": "学校",
        "table_names": ["学生", "班级", "社团"],
        "column_names": [[-1, "*"], [0, "学号"], [0, "姓名"], [0, "班级id"], [1, "词条id"], [1, "名称"],
                         [2, "词条id"], [2, "班级id"], [2, "人数(人)"]],
        "column_types": ["text", "text", "text", "text", "text", "text", "text", "text", "number"],
        "primary_keys": [1, 4, 6],
        "foreign_keys": [[3, 4], [7, 4]],
    }
    entry.update(changes)
    return entry


def content_entry():
    return {"db_id": "学校", "tables": {
        "学生": {"table_name": "学生", "header": ["学号", "姓名", "班级id"], "type": ["text"] * 3,
                 "cell": [["1", "张三", "c1"], ["2", "李四", "c2"], ["3", "王五"]]},
        "班级": {"table_name": "班级", "header": ["词条id", "名称"], "type": ["text"] * 2,
                 "cell": [["c1", "一班"], ["c2", "二班"]]}}}


def write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def test_lookups_are_case_insensitive_and_by_table(tmp_path):
    entry = schema_entry(table_names=["Students", "班级", "社团"])
    db = load_databases(write(tmp_path, "s.json", [entry]))["学校"]
    assert db.table_id("students") == 0 and db.table_id("社团") == 2 and db.table_id("老师") is None
    assert db.column_id(0, "姓名") == 2
    assert db.column_id(2, "词条id") == 6 and db.column_id(1, "词条id") == 4
    assert db.column_id(1, "姓名") is None
    assert db.table_columns(2) == [6, 7, 8]
    assert db.qualified_name(8) == "社团.人数(人)"


def test_foreign_key_class_maps_to_its_smallest_column(tmp_path):
    db = load_databases(write(tmp_path, "s.json", [schema_entry()]))["学校"]
    # 3 -> 4 and 7 -> 4 make one class {3, 4, 7}
    assert db.fk_canonical == {3: 3, 4: 3, 7: 3}


def test_foreign_key_classes_follow_the_scorers_first_match_rule(tmp_path):
    # (1,2) and (3,4) make two classes; (2,3) only joins the first: {1,2,3}, {3,4}
    entry = schema_entry(foreign_keys=[[1, 2], [3, 4], [2, 3]])
    db = load_databases(write(tmp_path, "s.json", [entry]))["学校"]
    assert db.fk_canonical[2] == 1 and db.fk_canonical[4] == 3
    assert db.fk_canonical[3] == 3  # the later class {3,4} has the last word on column 3


def test_cells_per_column_and_bad_rows_are_dropped_and_counted(tmp_path):
    dbs = load_databases(write(tmp_path, "s.json", [schema_entry()]), write(tmp_path, "c.json", [content_entry()]))
    db = dbs["学校"]
    assert db.column_values(2) == ["张三", "李四"]
    assert db.column_values(5) == ["一班", "二班"]
    assert db.column_values(8) == []  # a table without content
    assert db.skipped_rows == 1


def test_unknown_db_id_is_a_clear_error(tmp_path):
    dbs = load_databases(write(tmp_path, "s.json", [schema_entry()]))
    with pytest.raises(UnknownDatabase, match="unknown db_id '医院'"):
        dbs["医院"]
    with pytest.raises(ValueError):  # also a ValueError, for the command lines
        dbs["医院"]


@pytest.mark.parametrize("change, field", [
    ({"column_types": ["text"]}, "[0] (学校).column_types"),
    ({"foreign_keys": [[3, 99]]}, "[0] (学校).foreign_keys[0]"),
    ({"column_names": [[-1, "*"], [5, "x"]], "column_types": ["text", "text"]}, "[0] (学校).column_names[1]"),
    ({"primary_keys": "1"}, "[0] (学校).primary_keys"),
])
def test_malformed_schema_fields_are_located(tmp_path, change, field):
    with pytest.raises(DataError) as error:
        load_databases(write(tmp_path, "s.json", [schema_entry(**change)]))
    assert error.value.field == field and "s.json" in str(error.value)


def test_missing_schema_field_names_index_db_and_field(tmp_path):
    entry = schema_entry()
    del entry["foreign_keys"]
    with pytest.raises(DataError) as error:
        load_databases(write(tmp_path, "s.json", [schema_entry(db_id="甲"), entry]))
    assert error.value.field == "[1] (学校).foreign_keys" and "missing" in str(error.value)


def test_content_errors_are_located(tmp_path):
    schema = write(tmp_path, "s.json", [schema_entry()])
    bad_header = content_entry()
    bad_header["tables"]["班级"]["header"] = ["名称", "词条id"]
    with pytest.raises(DataError) as error:
        load_databases(schema, write(tmp_path, "c.json", [bad_header]))
    assert error.value.field == "[0] (学校).tables['班级'].header"
    unknown = dict(content_entry(), db_id="医院")
    with pytest.raises(DataError, match="'医院' is not in"):
        load_databases(schema, write(tmp_path, "c2.json", [unknown]))
    with pytest.raises(DataError, match="duplicate db_id"):
        load_databases(write(tmp_path, "s2.json", [schema_entry(), schema_entry()]))
