"""The DuEE argument metric on hand-computed cases, and the evaluate command line."""
import json

import pytest

from common import cli
from common.io import DataError
from ie_event import evaluate, metric

W = "竞赛行为-胜负"


def test_char_f1_by_hand():
    assert metric.char_f1("雄鹿队", "雄鹿队") == 1.0
    # common 2 chars: P = 2/3, R = 2/2 -> F1 = 0.8
    assert metric.char_f1("雄鹿队", "雄鹿") == pytest.approx(0.8)
    # multiset overlap: "aab" vs "ab" -> common 2, P = 2/3, R = 1
    assert metric.char_f1("aab", "ab") == pytest.approx(0.8)
    assert metric.char_f1("NBA", "nba") == 1.0          # case-insensitive
    assert metric.char_f1("勇士", "火箭") == 0.0


def test_type_and_role_must_match():
    gold = {1: [(W, "胜者", ["湖人"])]}
    assert metric.score(gold, {1: [(W, "败者", "湖人")]})["f1"] == 0.0
    assert metric.score(gold, {1: [("竞赛行为-夺冠", "胜者", "湖人")]})["f1"] == 0.0
    assert metric.score(gold, {1: [(W, "胜者", "湖人")]}) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_partial_match_precision_over_predicted_recall_over_gold():
    gold = {1: [(W, "胜者", ["雄鹿"]), (W, "败者", ["猛龙队"])]}
    pred = {1: [(W, "胜者", "雄鹿队")]}
    # one predicted argument scoring 0.8: P = 0.8 / 1, R = 0.8 / 2, F1 = 2 * 0.8 * 0.4 / 1.2
    assert metric.score(gold, pred) == {"precision": 0.8, "recall": 0.4, "f1": 0.5333}


def test_best_alias_counts():
    gold = {1: [(W, "胜者", ["洛杉矶湖人队", "湖人"])]}
    assert metric.score(gold, {1: [(W, "胜者", "湖人")]})["f1"] == 1.0


def test_each_gold_argument_is_used_once_best_pairs_first():
    gold = {1: [(W, "败者", ["勇士"]), (W, "败者", ["勇士队"])]}
    # pairs: 勇士队-勇士队 1.0 taken first, then 勇士-勇士 1.0; the third prediction finds no free gold
    pred = {1: [(W, "败者", "勇士队"), (W, "败者", "勇士"), (W, "败者", "勇士们")]}
    result = metric.score(gold, pred)
    assert result["precision"] == pytest.approx(2 / 3, abs=1e-4) and result["recall"] == 1.0
    # a lone prediction takes its best gold argument; the other gold argument stays unmatched
    assert metric.score(gold, {1: [(W, "败者", "勇士队")]}) == {"precision": 1.0, "recall": 0.5, "f1": 0.6667}
    # best pairs first: 勇士们 (0.8 with 勇士, 0.6667 with 勇士队) loses 勇士 to the exact 勇士
    pred = {1: [(W, "败者", "勇士们"), (W, "败者", "勇士")]}
    assert metric.score(gold, pred)["precision"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-4)


def test_ties_go_to_the_earlier_predicted_then_the_earlier_gold_argument():
    # 雄鹿队 scores 0.8 with 雄鹿 and with 鹿队; 鹿队员 scores 0.8 with 鹿队 but 0.4 with 雄鹿
    pred = {1: [(W, "败者", "雄鹿队"), (W, "败者", "鹿队员")]}
    gold = {1: [(W, "败者", ["雄鹿"]), (W, "败者", ["鹿队"])]}
    assert metric.score(gold, pred) == {"precision": 0.8, "recall": 0.8, "f1": 0.8}
    gold = {1: [(W, "败者", ["鹿队"]), (W, "败者", ["雄鹿"])]}  # 雄鹿队 now takes 鹿队 first
    assert metric.score(gold, pred) == {"precision": 0.6, "recall": 0.6, "f1": 0.6}


SHARED_GOLD = {1: [(W, "胜者", ["猛龙队"]), (W, "败者", ["雄鹿队"]), (W, "胜者", ["猛龙队"]), (W, "败者", ["雄鹿"])]}


@pytest.mark.parametrize("winners, expected", [
    # written once: 3 predicted arguments score 3 of 4 gold: P = 3/3, R = 3/4, F1 = 2 x 0.75 / 1.75
    (1, {"precision": 1.0, "recall": 0.75, "f1": 0.8571}),
    (2, {"precision": 1.0, "recall": 1.0, "f1": 1.0}),
    # written three times: the third finds no gold left: P = 4/5, R = 4/4, F1 = 1.6 / 1.8
    (3, {"precision": 0.8, "recall": 1.0, "f1": 0.8889}),
])
def test_an_argument_shared_by_two_events_counts_twice(winners, expected):
    pred = {1: [(W, "胜者", "猛龙队")] * winners + [(W, "败者", "雄鹿队"), (W, "败者", "雄鹿")]}
    assert metric.score(SHARED_GOLD, pred) == expected


def test_missing_and_extra_sentences():
    gold = {"a": [(W, "胜者", ["湖人"])], "b": [(W, "胜者", ["快船"])]}
    pred = {"a": [(W, "胜者", "湖人")], "zzz": [(W, "胜者", "勇士")]}
    assert metric.score(gold, pred) == {"precision": 1.0, "recall": 0.5, "f1": 0.6667}
    assert metric.score(gold, {}) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_evaluate_prints_metrics_as_last_line(tmp_path, capsys):
    gold = _write(tmp_path / "gold.json", [
        {"id": "x1", "text": "湖人击败勇士", "event_list": [{"event_type": W, "trigger": "击败", "arguments": [
            {"role": "胜者", "argument": "湖人", "argument_start_index": 0, "alias": []},
            {"role": "败者", "argument": "勇士", "argument_start_index": 4, "alias": []}]}]}])
    pred = _write(tmp_path / "pred.json", [
        {"id": "x1", "event_list": [{"event_type": W, "arguments": [{"role": "胜者", "argument": "湖人"}]}]}])
    evaluate.main([gold, pred])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == {"precision": 1.0, "recall": 0.5, "f1": 0.6667}


def test_bad_submission_names_file_line_and_field(tmp_path):
    gold = _write(tmp_path / "gold.json", [{"id": 1, "event_list": []}])
    pred = tmp_path / "pred.json"
    pred.write_text('{"id": 1, "event_list": []}\n{"id": 2, "event_list": [{"event_type": "x"}]}\n')
    with pytest.raises(DataError, match=r"pred.json, line 2: field 'event_list\[0\].arguments'"):
        metric.evaluate_files(gold, str(pred))
    pred.write_text('{"id": 1, "event_list": []}\nnot json\n')
    with pytest.raises(SystemExit, match="^error: .*pred.json, line 2"):
        cli.run(evaluate.main, [gold, str(pred)])


def _gold_line(id, text="猛龙击败雄鹿，随后击败76人", events=None):
    if events is None:
        events = [{"event_type": W, "arguments": [
            {"role": "胜者", "argument": "猛龙", "argument_start_index": 0, "alias": []},
            {"role": "败者", "argument": "雄鹿", "argument_start_index": 4, "alias": []}]},
            {"event_type": W, "arguments": [
            {"role": "胜者", "argument": "猛龙", "argument_start_index": 0, "alias": []},
            {"role": "败者", "argument": "76人", "argument_start_index": 11, "alias": []}]}]
    return {"id": id, "text": text, "event_list": events}


def test_files_count_a_shared_argument_per_event_and_ignore_grouping(tmp_path):
    gold = _write(tmp_path / "gold.json", [_gold_line("g1")])
    args = [("胜者", "猛龙"), ("败者", "雄鹿"), ("胜者", "猛龙"), ("败者", "76人")]
    as_two = [{"event_type": W, "arguments": [{"role": r, "argument": a} for r, a in args[:2]]},
              {"event_type": W, "arguments": [{"role": r, "argument": a} for r, a in args[2:]]}]
    as_one = [{"event_type": W, "arguments": [{"role": r, "argument": a} for r, a in args]}]
    once = [{"event_type": W, "arguments": [{"role": r, "argument": a} for r, a in args[1:]]}]
    scores = [metric.evaluate_files(gold, _write(tmp_path / f"p{k}.json", [{"id": "g1", "event_list": events}]))
              for k, events in enumerate([as_two, as_one, once])]
    assert scores[0] == scores[1] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert scores[2] == {"precision": 1.0, "recall": 0.75, "f1": 0.8571}


def test_a_submission_answers_each_id_once(tmp_path):
    gold = _write(tmp_path / "gold.json", [_gold_line("g1"), _gold_line("g2", text="x", events=[])])
    pred = _write(tmp_path / "pred.json", [{"id": "g1", "event_list": []}, {"id": "g2", "event_list": []},
                                           {"id": "g1", "event_list": []}])
    with pytest.raises(DataError, match=r"pred.json, line 3: field 'id': id 'g1' already used at line 1"):
        metric.evaluate_files(gold, pred)


def test_gold_repeating_an_id_and_text_is_scored_once_another_text_is_an_error(tmp_path):
    pred = _write(tmp_path / "pred.json", [{"id": "g1", "event_list": _gold_line("g1")["event_list"][:1]}])
    gold = _write(tmp_path / "gold.json", [_gold_line("g1"), _gold_line("g1")])
    assert metric.evaluate_files(gold, pred) == {"precision": 1.0, "recall": 0.5, "f1": 0.6667}
    gold = _write(tmp_path / "gold.json", [_gold_line("g1"), _gold_line("g1", text="猛龙击败雄鹿")])
    with pytest.raises(DataError, match="gold.json, line 2: field 'id': id 'g1' already used at line 1 with a diff"):
        metric.evaluate_files(gold, pred)
