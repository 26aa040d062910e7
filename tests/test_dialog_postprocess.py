"""Generated reply -> submission line: jieba words, session names whole, never empty, one line."""
import os

import pytest

from dialog.data import Sample, build_samples, load_sessions
from dialog.goals import Goal
from dialog.postprocess import FALLBACK_REPLY, Segmenter, names_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "dialog")


@pytest.fixture(scope="module")
def segment():
    return Segmenter()


def test_session_names_stay_whole_as_the_data_writes_them(segment):
    names = ["太平 轮 · 彼岸", "娜娜的玫瑰战争"]
    line = segment("推荐你看太平轮·彼岸，还有娜娜的玫瑰战争。", names)
    assert " 太平 轮 · 彼岸 " in f" {line} " and " 娜娜的玫瑰战争 " in f" {line} "
    without = segment("推荐你看太平轮·彼岸，还有娜娜的玫瑰战争。")
    assert " 娜娜的玫瑰战争 " not in f" {without} "          # jieba alone cuts the title


def test_names_do_not_carry_over_to_the_next_session(segment):
    before = segment("我喜欢娜娜的玫瑰战争")
    segment("我喜欢娜娜的玫瑰战争", ["娜娜的玫瑰战争"])
    assert segment("我喜欢娜娜的玫瑰战争") == before
    assert Segmenter()("我喜欢娜娜的玫瑰战争") == before         # same as a fresh segmenter


@pytest.mark.parametrize("reply", ["", "   ", "\t\n\u3000", "[3]", "[电影1]", "电影 推荐 ： 画皮 |  "])
def test_never_an_empty_line(segment, reply):
    assert segment(reply) == FALLBACK_REPLY


def test_fallback_is_configurable_but_not_empty():
    assert Segmenter(fallback="嗯 嗯")("") == "嗯 嗯"
    with pytest.raises(ValueError, match="fallback"):
        Segmenter(fallback=" ")


def test_one_line_single_spaces_no_marker_no_goal_prefix(segment):
    line = segment("电影 推荐 ： 画皮 | [3] 推荐\t你\n看  画皮\u3000吧 [电影2]", ["画皮"])
    assert line == "推荐 你 看 画皮 吧"
    assert "\n" not in line and "\t" not in line and "  " not in line


def test_latin_words_and_years(segment):
    assert segment("hello   world，2018年") == "hello world ， 20 18 年"
    assert segment("1985年上映") == "1985 年 上映"


def test_names_of_a_sample():
    sample = Sample(1, 1, [Goal("寒暄", "寒暄"), Goal("电影 推荐", "太平 轮 · 彼岸")], "",
                    {"姓名": "王芳", "喜欢 的 明星": ["杨幂", "x"], "同意 的 新闻": " 杨幂 的新闻; 黄渤 的新闻"},
                    [("杨幂", "主演", "太平   轮 · 彼岸"), ("杨幂", "评分", "7")], [], Goal("电影 推荐", "春娇与志明"), "")
    assert names_of(sample) == sorted(["寒暄", "太平 轮 · 彼岸", "王芳", "杨幂", "杨幂 的新闻", "黄渤 的新闻", "春娇与志明"])


def test_references_of_the_sample_files_come_back(segment):
    sessions, _ = load_sessions(os.path.join(SAMPLES, "dev.json"))
    samples = build_samples(sessions)
    same = sum(segment("".join(s.response.split()), names_of(s)) == " ".join(s.response.split()) for s in samples)
    assert same >= 0.9 * len(samples)
