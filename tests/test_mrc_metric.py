"""The official DuReader_robust metric, against hand-computed cases."""
import json
import os
import subprocess
import sys

import pytest

from mrc import evaluate as evaluate_cli
from mrc.metric import em_score, evaluate, f1_score, normalize, official_format, tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_normalisation_deletes_exactly_the_official_characters():
    assert normalize(":_`，。：？！()“”；’《》·、,「」（）－～『』|") == ""
    # kept: spaces, ASCII . ? ! and -, digits, the left single quote, the em dash, the ellipsis
    assert normalize("A. b?c! 6-12 ‘—…") == "a. b?c! 6-12 ‘—…"
    assert normalize("《三体》：刘慈欣") == "三体刘慈欣"
    assert normalize("iPhone") == "iphone"


def test_tokenisation_of_mixed_text():
    assert tokenize("6-12周") == ["6-12", "周"]
    assert tokenize("约6300公里") == ["约", "6300", "公", "里"]
    assert tokenize("a=b中文 x y") == ["a", "=", "b", "中", "文", " x y"]
    assert tokenize("Guido van Rossum") == ["Guido van Rossum"]
    assert tokenize("𠀀abc") == ["𠀀", "abc"]          # U+20000, CJK extension B
    assert tokenize("２０２０年") == ["２０２０", "年"]   # full-width digits are not CJK
    assert tokenize("") == []


def test_f1_uses_the_longest_contiguous_run():
    assert f1_score(["北京大学"], "北京") == pytest.approx(2 / 3)       # P 1, R 1/2
    # 甲丙丁 shares the subsequence 甲丙丁 (3) but the contiguous run 丙丁 (2): P 2/3, R 2/4
    assert f1_score(["甲乙丙丁"], "甲丙丁") == pytest.approx(4 / 7)
    assert f1_score(["约6300公里"], "6300公里") == pytest.approx(6 / 7)  # P 1, R 3/4
    assert f1_score(["6300"], "63") == 0.0  # a run of digits is one token
    assert f1_score(["绿茶"], "") == 0.0


def test_several_gold_answers_take_the_best():
    golds = ["影响胎儿的发育", "先天性贫血"]
    assert f1_score(golds, "先天性贫血") == 1.0
    assert em_score(golds, "先天性贫血") == 1.0
    assert em_score(golds, "贫血") == 0.0
    assert f1_score(golds, "贫血") == pytest.approx(2 * (1 * 0.4) / 1.4)


def test_exact_match_after_normalisation():
    assert em_score(["《狂人日记》"], "狂人日记") == 1.0
    assert em_score(["IPHONE 15"], "iphone 15") == 1.0
    assert em_score(["iphone 15"], "iphone15") == 0.0  # spaces are kept


def test_missing_question_scores_zero_and_counts_as_skipped():
    scores = evaluate({"a": ["绿茶"], "b": ["红茶"], "c": ["花茶"], "d": ["乌龙"]},
                      {"a": "绿茶", "b": "红", "zzz": "extra predictions are ignored"})
    assert scores["TOTAL"] == 4 and scores["SKIP"] == 2
    assert scores["EM"] == pytest.approx(25.0)
    assert scores["F1"] == pytest.approx(100 * (1 + 2 / 3) / 4)
    assert official_format(scores) == {"F1": "41.667", "EM": "25.000", "TOTAL": 4, "SKIP": 2}


def _squad(questions):
    return {"data": [{"title": "", "paragraphs": [
        {"context": context, "qas": [{"question": "问", "id": qid,
                                      "answers": [{"text": a, "answer_start": -1} for a in answers]}]}
        for qid, context, answers in questions]}]}


def test_evaluate_command_prints_the_official_line_last(tmp_path, capsys):
    gold, pred = tmp_path / "gold.json", tmp_path / "pred.json"
    gold.write_text(json.dumps(_squad([("q1", "长江全长约6300公里", ["约6300公里", "6300公里"]),
                                       ("q2", "黄河在东营入海", ["东营"])]), ensure_ascii=False))
    pred.write_text(json.dumps({"q1": "6300公里"}, ensure_ascii=False))
    evaluate_cli.main([str(gold), str(pred)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == {"F1": "50.000", "EM": "50.000", "TOTAL": 2, "SKIP": 1}


def test_evaluate_command_rejects_a_bad_submission_without_traceback(tmp_path):
    gold, pred = tmp_path / "gold.json", tmp_path / "pred.json"
    gold.write_text(json.dumps(_squad([("q1", "长江", ["长江"])]), ensure_ascii=False))
    pred.write_text('{"q1": ["长江"]}')
    run = subprocess.run([sys.executable, "-m", "mrc.evaluate", str(gold), str(pred)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode != 0
    assert "pred.json" in run.stderr and "q1" in run.stderr and "Traceback" not in run.stderr
    pred.write_text('{"q1": "长江",')
    run = subprocess.run([sys.executable, "-m", "mrc.evaluate", str(gold), str(pred)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode != 0 and "not valid JSON" in run.stderr and "Traceback" not in run.stderr


def test_track_modules_import_without_tensorflow():
    code = ("import sys, mrc.data, mrc.decode, mrc.metric, mrc.model, mrc.train, mrc.predict, "
            "mrc.evaluate, mrc.oracle; assert 'tensorflow' not in sys.modules, 'TF imported'")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
