"""JSON / JSON Lines input with located errors, counted skips, and atomic output."""
import json
import os

import pytest

from common.io import DataError, SkipCounter, atomic_write, read_json, read_jsonl, write_jsonl


def test_read_jsonl_names_file_line_and_field(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('{"text": "a"}\n\n{"text": \n')
    with pytest.raises(DataError, match=r"d\.json, line 3: not valid JSON"):
        list(read_jsonl(path))
    path.write_text('{"text": "a"}\n{"x": 1}\n')
    with pytest.raises(DataError, match=r"line 2: field 'text': missing"):
        list(read_jsonl(path, required=["text"]))
    path.write_text('[1, 2]\n')
    with pytest.raises(DataError, match="expected a JSON object"):
        list(read_jsonl(path))
    path.write_text('{"a": \n 1,, }')
    with pytest.raises(DataError, match="line 2"):
        read_json(path)


def test_skip_counter(tmp_path):
    skip = SkipCounter("skip")
    skip(DataError("f", 3, "bad"))
    assert len(skip.skipped) == 1 and "1 record" in skip.summary()
    with pytest.raises(DataError):
        SkipCounter("raise")(DataError("f", 3, "bad"))
    with pytest.raises(ValueError):
        SkipCounter("ignore")


def test_read_jsonl_skips_bad_lines_into_a_counter(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('{"text": "a"}\n{"text": \n[1]\n{"x": 1}\n{"text": "b"}\n')
    skip = SkipCounter("skip")
    assert [line for line, _ in read_jsonl(path, required=["text"], skip=skip)] == [1, 5]
    assert [e.line for e in skip.skipped] == [2, 3, 4]


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [{"a": "中"}])
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write("half")
            raise RuntimeError("crash")
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": "中"}
    assert os.listdir(tmp_path) == ["out.jsonl"]
