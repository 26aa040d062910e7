"""The organisers' DuRecDial metrics against hand-computed cases, and the evaluate command."""
import json
import math
import os
import subprocess
import sys

import pytest

from common.io import DataError
from dialog import evaluate as evaluate_cli
from dialog.metric import evaluate_files, official_format, parse_pair, references_from_sessions, score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "dialog")
E = 1e-4


def test_one_pair_by_hand():
    s = score(["我 喜欢 你"], ["我 也 喜欢 你"])
    # chars 我喜欢你 (4) vs 我也喜欢你 (5): hit 4, P = 1, R = 4/5, F1 = 2*0.8/1.8
    assert s["F1"] == pytest.approx(100 * 1.6 / 1.8)
    # words: c = 3 < r = 4, BP = exp(1 - 4/3); unigrams 3/3 match; bigrams 我喜欢, 喜欢你: 1 of 2 match
    bp = math.exp(1 - 4 / 3)
    assert s["BLEU1"] == pytest.approx(bp * (3 + E) / (3 + E))
    assert s["BLEU2"] == pytest.approx(bp * math.sqrt(1.0 * (1 + E) / (2 + E)))
    # all 3 unigrams and both bigrams of the prediction are distinct
    assert s["DISTINCT1"] == pytest.approx(1.0) and s["DISTINCT2"] == pytest.approx(1.0)


def test_corpus_sums_clipping_and_pooled_distinct():
    s = score(["的 的 的", "好 的"], ["的 好", "好 的 的"])
    # F1: pair 1 的的的 vs 的好: hit min(3,1) = 1; pair 2 好的 vs 好的的: hit 2 -> 3 hits, 5 pred and
    # 5 gold chars: P = R = 3/5, F1 = 0.6
    assert s["F1"] == pytest.approx(60.0)
    # unigrams: pair 1 的 x3 clipped to 1; pair 2 好, 的 both match -> 3 of 5
    p1 = (3 + E) / (5 + E)
    # bigrams: pair 1 的的 x2 vs {的好}: 0; pair 2 好的 vs {好的, 的的}: 1 -> 1 of 3
    p2 = (1 + E) / (3 + E)
    # c = 3 + 2 = 5, r = 2 + 3 = 5: BP = 1
    assert s["BLEU1"] == pytest.approx(p1)
    assert s["BLEU2"] == pytest.approx(math.sqrt(p1 * p2))
    # pooled over predictions: unigrams 的 x4, 好 x1 -> 2 distinct of 5; bigrams 的的 x2, 好的 -> 2 of 3
    assert s["DISTINCT1"] == pytest.approx((2 + E) / (5 + E))
    assert s["DISTINCT2"] == pytest.approx((2 + E) / (3 + E))


def test_brevity_penalty_uses_corpus_totals():
    s = score(["好", "好 的 呢 吗"], ["好 的 呢", "好"])
    # pair 1 is short but c = 1 + 4 = 5 >= r = 3 + 1 = 4: BP = 1
    # unigram matches: pair 1 好 (1 of 1), pair 2 好 (1 of 4) -> (2 + E) / (5 + E)
    assert s["BLEU1"] == pytest.approx((2 + E) / (5 + E))


def test_pairs_with_an_empty_side_are_skipped_as_the_script_does():
    alone = score(["我 喜欢 你"], ["我 也 喜欢 你"])
    assert score(["", "我 喜欢 你"], ["随便 什么", "我 也 喜欢 你"]) == pytest.approx(alone)
    assert score(["   ", "我 喜欢 你", "多余"], ["随便", "我 也 喜欢 你", " "]) == pytest.approx(alone)
    assert parse_pair("", "x") is None and parse_pair("x", "  ") is None
    assert score([""], ["好"]) == {"F1": 0.0, "BLEU1": 0.0, "BLEU2": 0.0, "DISTINCT1": 0.0, "DISTINCT2": 0.0}


def test_words_are_split_at_single_spaces_and_ngrams_keyed_by_joined_words():
    # "好  的" -> 好, "", 的 (3 words); reference 好, 的. Unigrams 好, 的 match, "" does not: 2 of 3.
    # Bigrams keyed "好" (好+"") and "的" (""+的) vs 好的: none match. c = 3 >= r = 2: BP = 1.
    s = score(["好  的"], ["好 的"])
    assert s["BLEU1"] == pytest.approx((2 + E) / (3 + E))
    assert s["BLEU2"] == pytest.approx(math.sqrt((2 + E) / (3 + E) * (0 + E) / (2 + E)))
    assert s["F1"] == pytest.approx(100.0)            # characters ignore the split
    # "a bc" vs "ab c": no unigram matches, but both bigrams are keyed "abc"
    s = score(["a bc"], ["ab c"])
    assert s["BLEU1"] == pytest.approx(E / (2 + E))
    assert s["BLEU2"] == pytest.approx(math.sqrt(E / (2 + E) * (1 + E) / (1 + E)))
    # the ends of each side are stripped first
    assert parse_pair(" 你 好 ", "你") == (["你", "好"], ["你"])


def test_official_rounding():
    assert official_format({"F1": 88.88888, "BLEU1": 0.716531, "BLEU2": 0.50049, "DISTINCT1": 1.0,
                            "DISTINCT2": 0.0564}) == {"F1": 88.89, "BLEU1": 0.717, "BLEU2": 0.5,
                                                       "DISTINCT1": 1.0, "DISTINCT2": 0.056}


def test_unequal_lengths_and_tabs_are_refused_in_memory():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        score(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="tab"):
        score(["a\tb"], ["a"])


def _write(path, text, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)
    return str(path)


def test_evaluate_files_accepts_bom_and_crlf(tmp_path):
    gold = _write(tmp_path / "gold.txt", "\ufeff我 也 喜欢 你\r\n好 的\r\n")
    pred = _write(tmp_path / "pred.txt", "我 喜欢 你\n\n")        # the second prediction is empty
    assert evaluate_files(gold, pred) == pytest.approx(score(["我 喜欢 你"], ["我 也 喜欢 你"]))


@pytest.mark.parametrize("gold_text, pred_text, where, message", [
    ("a\nb\n", "a\n", "pred.txt", "1 responses, but .*gold.txt has 2"),
    ("a\nb\n", "a\nb\tc\n", "pred.txt, line 2", "tab"),
    ("", "a\n", "gold.txt", "empty file"),
])
def test_evaluate_files_errors_name_file_and_line(tmp_path, gold_text, pred_text, where, message):
    gold = _write(tmp_path / "gold.txt", gold_text)
    pred = _write(tmp_path / "pred.txt", pred_text)
    with pytest.raises(DataError, match=message) as error:
        evaluate_files(gold, pred)
    assert where in str(error.value)


def test_references_from_sessions_are_the_bot_turns_in_order():
    refs = references_from_sessions(os.path.join(SAMPLES, "dev.json"))
    # dev session 1 is User-first: bot turns 1, 3, 5, 7; markers are removed
    assert refs[:4] == ["周迅 是 天秤座 。", "不 客气 ， 周迅 还是 金马奖 最佳 女主角 呢 。",
                        "推荐 你 看 她 的 《 画皮 》 ， 画面 很 美 ， 故事 也 好看 。", "再见 ！"]
    # dev session 3 is Bot-first: its first reference is the opening greeting
    assert "晚上 好 ， 学习 怎么样 ？" in refs


def test_evaluate_command_prints_the_metrics_last(tmp_path, capsys):
    refs = references_from_sessions(os.path.join(SAMPLES, "dev.json"))
    pred = _write(tmp_path / "pred.txt", "\n".join(refs) + "\n")
    result = evaluate_cli.main(["--sessions", os.path.join(SAMPLES, "dev.json"), pred])
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1]) == result
    assert result["F1"] == 100.0 and result["BLEU1"] == 1.0 and result["BLEU2"] == 1.0
    assert lines[-2].startswith("unofficial: ") and json.loads(lines[-2][12:])["pairs_scored"] == len(refs)
    gold = _write(tmp_path / "gold.txt", "\n".join(refs) + "\n")
    assert evaluate_cli.main([gold, pred]) == result


def test_evaluate_command_bad_input_is_one_error_line(tmp_path):
    gold = _write(tmp_path / "gold.txt", "a\nb\n")
    pred = _write(tmp_path / "pred.txt", "a\n")
    run = subprocess.run([sys.executable, "-m", "dialog.evaluate", gold, pred], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"error: {pred}: 1 responses, but {gold} has 2 references: "
                                               "one response per line, in test order"]
