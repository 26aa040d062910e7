"""The official DuIE 2.0 metric, rule by rule, on hand-computed cases."""
import json
import zipfile

import pytest

from common import cli
from common.io import DataError
from ie_relation import evaluate, metric


def spo(predicate, subject, **obj):
    return {"predicate": predicate, "subject": subject, "object": obj}


def line(text, *spos):
    return {"text": text, "spo_list": list(spos)}


def write(path, rows, raw=None):
    path.write_text(raw if raw is not None else "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return str(path)


def score(gold_rows, pred_rows):
    return metric.score_records(gold_rows, pred_rows)


def test_exact_match_and_hand_computed_counts():
    gold = [line("t1", spo("主演", "A", **{"@value": "x"}), spo("主演", "A", **{"@value": "y"})),
            line("t2", spo("导演", "B", **{"@value": "z"}))]
    pred = [line("t1", spo("主演", "A", **{"@value": "x"}), spo("主演", "A", **{"@value": "w"})),
            line("t2", spo("导演", "B", **{"@value": "z"}), spo("编剧", "B", **{"@value": "z"}))]
    # predicted 4, correct 2; gold 3, found 2 -> P = 0.5, R = 2/3, F1 = 4/7
    assert score(gold, pred) == {"precision": 0.5, "recall": 0.6667, "f1": 0.5714}


def test_book_title_marks_stripped_only_when_both_ends():
    gold = [line("t", spo("作者", "《三体》", **{"@value": "刘慈欣"}), spo("作者", "《半》本", **{"@value": "某"}))]
    pred = [line("t", spo("作者", "三体", **{"@value": "《刘慈欣》"}), spo("作者", "半》本", **{"@value": "某"}))]
    # 三体/《三体》 and 刘慈欣/《刘慈欣》 match; "《半》本" keeps its mark (does not end with 》)
    assert score(gold, pred) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    # only one pair of marks is removed
    assert metric.normalise("《《x》》") == "《x》"


def test_case_is_ignored_for_values_not_predicates():
    gold = [line("t", spo("国籍", "Kevin LIN", **{"@value": "USA"}))]
    assert score(gold, [line("t", spo("国籍", "kevin lin", **{"@value": "usa"}))])["f1"] == 1.0
    assert score(gold, [line("t", spo("国籍", "Kevin LIN", **{"@value": "USA "}))])["f1"] == 0.0


def test_duplicates_removed_on_both_sides():
    a = spo("主演", "A", **{"@value": "x"})
    gold = [line("t", a, a, spo("主演", "a", **{"@value": "X"}))]  # all three normalise to one SPO
    pred = [line("t", a, a, a)]
    assert score(gold, pred) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_complex_slots_must_all_match():
    full = spo("获奖", "周", **{"@value": "金鹿奖", "inWork": "白鹭", "onDate": "2019年"})
    gold = [line("t", full)]
    assert score(gold, [line("t", full)])["f1"] == 1.0
    missing_slot = spo("获奖", "周", **{"@value": "金鹿奖", "inWork": "白鹭"})
    extra_slot = spo("获奖", "周", **{"@value": "金鹿奖", "inWork": "白鹭", "onDate": "2019年", "period": "1"})
    wrong_slot = spo("获奖", "周", **{"@value": "金鹿奖", "inWork": "白鹭", "onDate": "2020年"})
    assert score(gold, [line("t", missing_slot, extra_slot, wrong_slot)]) == \
        {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # slot order does not matter
    reordered = spo("获奖", "周", **{"onDate": "2019年", "inWork": "白鹭", "@value": "金鹿奖"})
    assert score(gold, [line("t", reordered)])["f1"] == 1.0


def test_unknown_texts_ignored_and_missing_texts_count_as_empty():
    gold = [line("t1", spo("主演", "A", **{"@value": "x"})), line("t2", spo("主演", "B", **{"@value": "y"}))]
    pred = [line("t1", spo("主演", "A", **{"@value": "x"})),
            line("not in gold", spo("主演", "C", **{"@value": "z"}))]
    # t2 unpredicted: recall 1/2; the unknown text adds nothing to the predicted count
    assert score(gold, pred) == {"precision": 1.0, "recall": 0.5, "f1": 0.6667}
    # texts are keyed exactly: a trailing space is another text
    assert score(gold, [line("t1 ", spo("主演", "A", **{"@value": "x"}))])["f1"] == 0.0


def test_empty_prediction_scores_zero_not_error():
    gold = [line("t", spo("主演", "A", **{"@value": "x"}))]
    assert score(gold, [line("t")]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_later_line_with_same_text_replaces_earlier(tmp_path):
    gold = write(tmp_path / "gold.json", [line("t", spo("主演", "A", **{"@value": "x"}))])
    pred = write(tmp_path / "pred.json", [line("t", spo("主演", "A", **{"@value": "x"})), line("t")])
    assert metric.evaluate_files(gold, pred)["f1"] == 0.0


@pytest.mark.parametrize("raw, field, problem", [
    ('{"text": "t", "spo_list": []}\nnot json\n', None, "not valid JSON"),
    ('{"spo_list": []}\n', "text", "missing"),
    ('{"text": "t"}\n', "spo_list", "missing"),
    ('{"text": "t", "spo_list": [{"predicate": "p", "object": {"@value": "o"}}]}\n', "spo_list[0].subject",
     "missing"),
    ('{"text": "t", "spo_list": [{"subject": "s", "object": {"@value": "o"}}]}\n', "spo_list[0].predicate",
     "missing"),
    ('{"text": "t", "spo_list": [{"subject": 3, "predicate": "p", "object": {}}]}\n', "spo_list[0].subject",
     "must be a string"),
    ('{"text": "t", "spo_list": [{"subject": "s", "predicate": "p", "object": "o"}]}\n',
     "spo_list[0].object", "must be an object"),
    ('{"text": "t", "spo_list": ["s p o"]}\n', "spo_list[0]", "must be an object"),
])
def test_malformed_submission_rejected_with_line_and_problem(tmp_path, raw, field, problem):
    path = write(tmp_path / "pred.json", None, raw)
    with pytest.raises(DataError) as error:
        metric.load_submission(path)
    expected_line = 2 if field is None else 1  # the JSON errors sit on the second line
    assert error.value.line == expected_line
    assert error.value.field == field
    assert problem in str(error.value) and "pred.json" in str(error.value)


def test_files_are_read_as_every_input_is(tmp_path):
    """BOM, CRLF and blank lines accepted (as in every track); a byte that is not UTF-8 names file and line."""
    rows = [line("t1", spo("主演", "A", **{"@value": "x"})), line("t2")]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\r\n\r\n" for r in rows)
    gold = tmp_path / "gold.json"
    gold.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert metric.load_submission(str(gold)) == metric.load_submission(write(tmp_path / "plain.json", rows))
    archive = tmp_path / "pred.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pred.json", gold.read_bytes())
    assert metric.evaluate_files(str(gold), str(archive))["f1"] == 1.0
    bad = tmp_path / "bad.json"
    bad.write_bytes(text.encode("utf-8") + '{"text": "t3", "spo_list": []}\n'.encode("gbk")[:12] + b"\xa1\n")
    with pytest.raises(DataError, match=r"bad\.json, line 5: not UTF-8: byte 0xa1 at column 13"):
        metric.load_submission(str(bad))


def test_zip_submission_and_command_line(tmp_path, capsys):
    gold_rows = [line("t1", spo("主演", "A", **{"@value": "x"})), line("t2", spo("主演", "B", **{"@value": "y"}))]
    gold = write(tmp_path / "dev.json", gold_rows)
    archive = tmp_path / "pred.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("duie.json", json.dumps(gold_rows[0], ensure_ascii=False) + "\n")
    evaluate.main([gold, str(archive)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == {"precision": 1.0, "recall": 0.5, "f1": 0.6667}


def test_command_line_rejects_malformed_file(tmp_path):
    gold = write(tmp_path / "dev.json", [line("t")])
    bad = write(tmp_path / "bad.json", None, '{"text": "t", "spo_list": [1]}\n')
    with pytest.raises(SystemExit) as exit_:
        cli.run(evaluate.main, [gold, bad])
    assert str(exit_.value).startswith("error: ") and "bad.json, line 1" in str(exit_.value) and "spo_list[0]" in str(exit_.value)
