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


def test_duplicates_count_once_and_grouping_is_not_scored():
    gold = {1: [(W, "胜者", ["猛龙队"]), (W, "败者", ["雄鹿队"]), (W, "胜者", ["猛龙队"]), (W, "败者", ["雄鹿"])]}
    # the shared winner listed once, or twice (once per event), scores the same
    once = {1: [(W, "胜者", "猛龙队"), (W, "败者", "雄鹿队"), (W, "败者", "雄鹿")]}
    twice = {1: [(W, "胜者", "猛龙队"), (W, "败者", "雄鹿队"), (W, "胜者", "猛龙队"), (W, "败者", "雄鹿")]}
    assert metric.score(gold, once) == metric.score(gold, twice) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


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
