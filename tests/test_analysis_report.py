"""`python -m <track>.evaluate GOLD PRED --report FILE` on hand-made gold and predictions: the page's
per-class rows count as the official metric counts, the worst example comes first, and the official
metric line stays the last line on stdout. Pure Python (no model)."""
import html
import json
import os
import re

import pytest

from conftest import sample, write_lines


def class_table(page):
    """{class name: [cell values as sorted on]} of a report page's per-class table."""
    table = re.search(r'<table class="sortable classes">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [html.unescape(value) for value in re.findall(r'data-sort="([^"]*)"', row)]
        rows[cells[0]] = [float(value) for value in cells[1:]]
    return rows


def example_ids(page):
    """Ids of the worst-example rows, in page order."""
    table = re.search(r'<table class="examples">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [html.unescape(found) for found in re.findall(r"<tr><td>(.*?)<br>", table)]


def evaluate_with_report(module, argv, report, capsys):
    """Run `module.main(argv + --report)`; returns (its result, the page, the stdout lines)."""
    capsys.readouterr()
    result = module.main([*argv, "--report", str(report)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1]) == result                  # the official metric line stays last
    assert lines[-2].startswith("report: ") and lines[-2].endswith(str(report))
    return result, report.read_text(encoding="utf-8"), lines


def spo(subject, predicate, obj, **slots):
    return {"subject": subject, "predicate": predicate, "object": {"@value": obj, **slots}}


def test_ie_relation_report_counts_spos_per_predicate(tmp_path, capsys):
    from ie_relation import evaluate
    gold = write_lines(tmp_path / "gold.json", [
        {"text": "《三体》的作者是刘慈欣", "spo_list": [spo("三体", "作者", "刘慈欣")]},
        {"text": "周杰伦的妻子是昆凌，周杰伦毕业于淡江中学",
         "spo_list": [spo("周杰伦", "妻子", "昆凌"), spo("周杰伦", "毕业院校", "淡江中学")]}])
    pred = write_lines(tmp_path / "pred.json", [
        {"text": "《三体》的作者是刘慈欣", "spo_list": [spo("《三体》", "作者", "刘慈欣"), spo("三体", "作者", "刘慈欣")]},
        {"text": "周杰伦的妻子是昆凌，周杰伦毕业于淡江中学",
         "spo_list": [spo("周杰伦", "妻子", "淡江中学"), spo("周杰伦", "毕业院校", "淡江中学")]}])
    result, page, _ = evaluate_with_report(evaluate, [gold, pred], tmp_path / "report.html", capsys)
    assert result == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667}
    rows = class_table(page)
    # 《三体》 normalises to 三体: one SPO after de-duplication; the wife is wrong: fp and fn of 妻子
    assert rows["作者"][3:] == [1, 1, 0, 0] and rows["毕业院校"][3:] == [1, 1, 0, 0]
    assert rows["妻子"] == [0, 0, 0, 1, 0, 1, 1]   # precision, recall, F1, support, tp, fp, fn
    assert example_ids(page) == ["2", "1"]          # the sentence with the wrong SPO first


def test_ie_event_report_scores_roles_by_character_f1_and_types_above_their_roles(tmp_path, capsys):
    from ie_event import evaluate

    def event(event_type, *arguments):
        return {"event_type": event_type, "arguments": [{"role": r, "argument": a} for r, a in arguments]}

    text = "雄鹿队击败湖人"
    gold = write_lines(tmp_path / "gold.json", [
        {"id": "a", "text": text, "event_list": [event("竞赛行为-胜负", ("胜者", "雄鹿队"), ("败者", "湖人"))]},
        {"id": "b", "text": "他去世了", "event_list": [event("人生-死亡", ("死者", "他"))]}])
    pred = write_lines(tmp_path / "pred.json", [
        {"id": "a", "event_list": [event("竞赛行为-胜负", ("胜者", "雄鹿"), ("败者", "湖人"), ("时间", "昨晚"))]},
        {"id": "b", "event_list": []}])
    result, page, _ = evaluate_with_report(evaluate, [gold, pred], tmp_path / "report.html", capsys)
    rows = class_table(page)
    assert list(rows) == ["人生-死亡", "人生-死亡 · 死者", "竞赛行为-胜负", "竞赛行为-胜负 · 时间",
                          "竞赛行为-胜负 · 胜者", "竞赛行为-胜负 · 败者"]
    assert rows["竞赛行为-胜负 · 胜者"] == pytest.approx([0.8, 0.8, 0.8, 1])   # charF1("雄鹿", "雄鹿队")
    assert rows["竞赛行为-胜负 · 时间"] == [0, 0, 0, 0]                         # predicted, not in gold
    assert rows["竞赛行为-胜负"] == pytest.approx([1.8 / 3, 1.8 / 2, 0.72, 2])
    assert rows["人生-死亡 · 死者"] == [0, 0, 0, 1]
    assert result["recall"] == pytest.approx(1.8 / 3, abs=1e-4)  # the classes add up to the metric
    assert example_ids(page) == ["b", "a"]


def test_mrc_report_buckets_questions_by_answer_length(tmp_path, capsys):
    from mrc import evaluate
    context = "长江全长6300公里，是中国第一长河，发源于青藏高原的唐古拉山脉。"
    questions = [("q1", "长江有多长", ["6300公里"]), ("q2", "长江是第几长河", ["第一"]),
                 ("q3", "长江发源于哪里", ["青藏高原的唐古拉山脉", "唐古拉山脉"])]
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"data": [{"paragraphs": [{"context": context, "qas": [
        {"id": qid, "question": q, "answers": [{"text": a} for a in answers]} for qid, q, answers in questions]}]}]},
        ensure_ascii=False), encoding="utf-8")
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"q1": "6300公里", "q2": "中国第一长河", "q3": "唐古拉山脉"}, ensure_ascii=False),
                    encoding="utf-8")
    result, page, _ = evaluate_with_report(evaluate, [str(gold), str(pred)], tmp_path / "report.html", capsys)
    rows = class_table(page)
    # "6300公里" is 3 official tokens (6300, 公, 里); "第一" 2; the best gold of q3 is the second one
    assert rows["answer 1-2 tokens"] == pytest.approx([2 / 6, 1.0, 0.5, 1])   # too long: P < R
    assert rows["answer 3-4 tokens"] == [1, 1, 1, 1]
    assert rows["answer 9-16 tokens"] == [1, 1, 1, 1]
    support = sum(row[3] for row in rows.values())
    assert sum(row[2] * row[3] for row in rows.values()) / support == pytest.approx(float(result["F1"]) / 100, abs=1e-5)
    assert example_ids(page)[0] == "q2"
    assert "长江有多长\n长江全长" in html.unescape(page)  # the question above its context


def test_dialog_report_scores_per_goal_type_of_a_session_file(tmp_path, capsys):
    from dialog import evaluate
    from dialog.data import build_samples, load_sessions
    from dialog.goals import compact
    sessions = sample("dialog", "dev.json")
    samples = build_samples(load_sessions(sessions)[0])
    replies = [s.response for s in samples]
    replies[0] = "完全 不 相关"                           # one reply wrong, every other one right
    pred = tmp_path / "pred.txt"
    pred.write_text("\n".join(replies) + "\n", encoding="utf-8")
    _, page, lines = evaluate_with_report(evaluate, [sessions, str(pred)], tmp_path / "report.html", capsys)
    assert lines[0].startswith("unofficial: ")
    rows = class_table(page)
    wrong = compact(samples[0].goal.type)
    assert set(rows) == {compact(s.goal.type) for s in samples}
    assert rows[wrong][2] < 1 and all(row[:3] == [1, 1, 1] for name, row in rows.items() if name != wrong)
    assert sum(row[3] for row in rows.values()) == len(samples)
    assert example_ids(page)[0] == f"line {samples[0].line}, turn {samples[0].turn + 1}"


def test_semantic_parsing_report_counts_sql_components(tmp_path, capsys):
    from semantic_parsing import evaluate
    gold = tmp_path / "gold.sql"
    gold.write_text("q1\tselect 名称 from 城市 order by GDP(亿) desc limit 1\t城市经济\n"
                    "q2\tselect count ( * ) from 企业 where 员工数 > 50000\t城市经济\n", encoding="utf-8")
    pred = tmp_path / "pred.sql"
    pred.write_text("q1\tselect 名称 from 城市 order by GDP(亿) desc limit 1\n"
                    "q2\tselect count ( * ) from 企业 where 员工数 < 50000\n", encoding="utf-8")
    schema = os.path.join(os.path.dirname(sample("semantic_parsing", "dev.json")), "db_schema.json")
    result, page, _ = evaluate_with_report(evaluate, [str(gold), str(pred), "--table", schema],
                                           tmp_path / "report.html", capsys)
    assert result["exact_match"] == 0.5
    rows = class_table(page)
    assert rows["whole query"][3:] == [2, 1, 1, 1]       # support, tp, fp, fn: q2 parses but is wrong
    assert rows["where"][3:] == [1, 0, 1, 1] and rows["select"][3:] == [2, 2, 0, 0]
    assert rows["order by"][3:] == [1, 1, 0, 0] and rows["from"][3:] == [2, 2, 0, 0]
    assert example_ids(page) == ["q2", "q1"]


def test_report_of_a_bad_prediction_file_is_one_located_error_and_no_page(tmp_path):
    from common.io import DataError
    from ie_relation import evaluate
    gold = write_lines(tmp_path / "gold.json", [{"text": "甲", "spo_list": []}])
    pred = write_lines(tmp_path / "pred.json", ['{"text": "甲"}'])
    with pytest.raises(DataError, match=r"pred\.json, line 1: field 'spo_list': missing"):
        evaluate.main([gold, pred, "--report", str(tmp_path / "report.html")])
    assert not (tmp_path / "report.html").exists()
