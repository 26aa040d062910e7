"""Reading input the same way everywhere: BOM, CRLF, blank lines, undecodable bytes, counted drops."""
import json

import pytest

from common.io import DataError, SkipCounter, read_json, read_jsonl

ROWS = [{"text": "北京"}, {"text": "上海"}]


def lines_bytes(rows, newline="\n"):
    return "".join(json.dumps(r, ensure_ascii=False) + newline for r in rows).encode("utf-8")


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbf" + lines_bytes(ROWS),                          # a BOM (Windows editors)
    lines_bytes(ROWS, "\r\n"),                                      # CRLF line ends
    b"\n \r\n" + lines_bytes(ROWS[:1], "\r\n\r\n") + b"\t\n" + lines_bytes(ROWS[1:]),  # blank lines
    b"\xef\xbb\xbf" + lines_bytes(ROWS[:1]) + b"\xef\xbb\xbf" + lines_bytes(ROWS[1:]),  # two files concatenated
])
def test_bom_crlf_and_blank_lines_read_like_a_plain_file(tmp_path, data):
    path = tmp_path / "in.json"
    path.write_bytes(data)
    assert [obj for _, obj in read_jsonl(path)] == ROWS


def test_read_json_accepts_a_bom_and_crlf(tmp_path):
    path = tmp_path / "in.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"data": ROWS}, ensure_ascii=False, indent=1).replace("\n", "\r\n").encode())
    assert read_json(path) == {"data": ROWS}


def test_an_undecodable_byte_names_file_line_and_column(tmp_path):
    path = tmp_path / "gbk.json"
    path.write_bytes(lines_bytes(ROWS) + '{"text": "中"}\n'.encode("gbk") + lines_bytes(ROWS))
    with pytest.raises(DataError) as error:
        list(read_jsonl(path))
    assert (error.value.path, error.value.line) == (str(path), 3)
    assert "not UTF-8: byte 0xd6 at column 11" in str(error.value) and str(path) in str(error.value)
    skips = SkipCounter("skip")
    assert [n for n, _ in read_jsonl(path, skip=skips)] == [1, 2, 4, 5] and skips.skipped[0].line == 3
    # with keep_skipped the bad line still yields, so that a caller can answer every line
    assert [(n, obj is None) for n, obj in read_jsonl(path, skip=SkipCounter("skip"), keep_skipped=True)][2] == (3, True)
    document = tmp_path / "doc.json"
    document.write_bytes(b'{"data": [\n  "a",\n  "\xa1"\n]}')
    with pytest.raises(DataError, match=r"doc\.json, line 3: not UTF-8: byte 0xa1 at column 4"):
        read_json(document)


def test_dropped_parts_make_one_summary_line_naming_the_first_few():
    skips = SkipCounter("raise")
    for line in range(1, 6):
        skips.drop("SPO", DataError("dev.json", line * 10, "empty", field=f"spo_list[{line}].object.@value"))
    skips.note("duplicate text", DataError("dev.json", 7, "same text as line 2", field="text"))
    skips.drop("answer", DataError("dev.json", None, "empty", field="data[0].answers[2].text"))
    assert skips.summary() == (
        "5 SPOs dropped (line 10, field spo_list[1].object.@value: empty; line 20, field spo_list[2].object.@value: "
        "empty; line 30, field spo_list[3].object.@value: empty; and 2 more), "
        "1 answer dropped (field data[0].answers[2].text: empty), "
        "1 duplicate text (line 7, field text: same text as line 2)")
    assert len(skips.dropped_parts("SPO")) == 5 and not skips.skipped  # a dropped part never raises
    assert SkipCounter("skip").summary() == ""
