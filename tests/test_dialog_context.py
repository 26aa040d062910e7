"""Context selection under a token budget: what is kept first, what is cut last, the text's shape."""
import os

import pytest

from dialog.context import (ITEM_SEP, SPEAKER_BOT, SPEAKER_USER, Context, cut_to_fit, profile_items,
                            select_context, serialise, speakers, truncated_context)
from dialog.data import Sample, build_samples, load_sessions
from dialog.goals import Goal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "dialog")


def count(text):
    """One token per non-space character: additive over joined pieces, like BERT on Chinese."""
    return len(text.replace(" ", ""))


FILLER = [(f"路人{i}", "评论", "这 是 一 段 很 长 很 长 的 评论 ， 说 了 很多 和 今天 的 对话 无关 的 事情 。") for i in range(8)]
SAMPLE = Sample(
    line=1, turn=5,
    goals=[Goal("问答", "周迅"), Goal("电影 推荐", "李米的猜想")],
    situation="聊天 时间 : 晚上 20 : 00",
    user_profile={"接受 的 电影": ["甲", "乙", "丙", "丁"], "姓名": "王芳", "喜欢 的 明星": ["周迅"]},
    knowledge=FILLER + [("周迅", "主演", "李米的猜想"), ("李米的猜想", "导演", "曹保平"),
                        ("李米的猜想", "评论", "故事 很 好 ， 配乐 也 很 好 。")],
    history=["[1] 周迅 的 星座 是 什么 ？", "天秤座 。", "谢谢 。", "[2] 她 很 有 灵气 。", "这部 电影 的 导演 是 谁 ？"],
)


def test_relevant_knowledge_survives_where_blind_truncation_loses_it():
    policy = select_context(SAMPLE, count, 150)
    blind = truncated_context(SAMPLE, count, 150)
    for context in (policy, blind):
        assert count(context.text()) <= 150
    # the asked attribute, the link to the goal topic and the topic's comment come before filler
    assert ("李米的猜想", "导演", "曹保平") in policy.knowledge
    assert ("周迅", "主演", "李米的猜想") in policy.knowledge
    assert not any(t[0].startswith("路人") for t in policy.knowledge)
    # blind truncation keeps the file order: filler first, the needed triples lost
    assert blind.knowledge and all(t[0].startswith("路人") for t in blind.knowledge)
    # the user's name comes before the long accepted-movies list
    assert policy.profile[0] == ("姓名", "王芳")


def test_newest_turns_are_kept_contiguous_and_labelled():
    context = select_context(SAMPLE, count, 90)
    kept = [u for _, u in context.history]
    assert kept == SAMPLE.history[-len(kept):] and 1 <= len(kept) < len(SAMPLE.history)
    assert context.history[-1][0] == SPEAKER_USER and speakers(["a", "b", "c"]) == [SPEAKER_USER, SPEAKER_BOT,
                                                                                  SPEAKER_USER]


def test_the_last_turn_is_whole_unless_it_alone_is_too_long():
    long_turn = "这部 电影 " * 20 + "的 导演 是 谁 ？"                        # 86 tokens, above the history share
    sample = Sample(**{**SAMPLE.__dict__, "history": SAMPLE.history[:-1] + [long_turn]})
    assert select_context(sample, count, 150).history[-1] == (SPEAKER_USER, long_turn)
    (speaker, cut), = select_context(sample, count, 60).history
    assert speaker == SPEAKER_USER and long_turn.endswith(cut) and cut.endswith("导演 是 谁 ？") and cut != long_turn


def test_everything_is_kept_when_it_fits_and_duplicates_once():
    doubled = Sample(**{**SAMPLE.__dict__, "knowledge": SAMPLE.knowledge + SAMPLE.knowledge[-2:]})
    context = select_context(doubled, count, 10_000)
    assert context.knowledge == SAMPLE.knowledge                  # file order, each triple once
    assert context.profile == profile_items(SAMPLE.user_profile)
    assert [u for _, u in context.history] == SAMPLE.history


def test_a_long_comment_is_cut_last_not_dropped():
    comment = " ".join(["很 好看 的 电影"] * 30)
    sample = Sample(**{**SAMPLE.__dict__, "knowledge": [("李米的猜想", "评论", comment)], "user_profile": {},
                       "history": ["推荐 一部 电影 吧"]})
    context = select_context(sample, count, 80)
    assert count(context.text()) <= 80
    (subject, predicate, cut), = context.knowledge
    assert (subject, predicate) == ("李米的猜想", "评论") and comment.startswith(cut) and 0 < len(cut) < len(comment)


def _exact_budget(sample, knowledge):
    """The length of a context holding the sample's goals, last turn and exactly `knowledge`."""
    return count(serialise(Context(sample.goals, sample.situation, [], knowledge,
                                   [(SPEAKER_USER, sample.history[-1])])))


def test_a_question_ranks_the_attribute_it_asks_for():
    weight, height = ("何炅", "体重", "60kg"), ("何炅", "身高", "172cm")
    asked = Sample(1, 1, [Goal("问答", "何炅"), Goal("电影 推荐", "画皮")], "", {}, FILLER + [weight, height],
                   ["[1] 何炅 多高 啊 ？"])
    assert select_context(asked, count, _exact_budget(asked, [height])).knowledge == [height]   # "多高" -> 身高
    # not asked: equal rank, the cheaper triple first
    other = Sample(**{**asked.__dict__, "history": ["[1] 何炅 怎么样 啊 ？"]})
    assert select_context(other, count, _exact_budget(other, [height])).knowledge == [weight]


def test_the_weather_of_the_day_ranks_first():
    weather = ("北京", "2018-10-18", "晴 ， 北风 ， 最高 气温 : 20 ℃")
    sample = Sample(1, 1, [Goal("问 天气", "问 天气"), Goal("美食 推荐", "烤鱼")], "", {}, FILLER + [weather],
                    ["[1] 今天 天气 怎么样 ？"])
    assert select_context(sample, count, _exact_budget(sample, [weather])).knowledge == [weather]


def test_budget_is_never_exceeded_and_the_last_turn_stays():
    sessions, _ = load_sessions(os.path.join(SAMPLES, "train.json"))
    samples = build_samples(sessions)
    for maxlen in (30, 40, 64, 100, 160, 256):
        for sample in samples:
            for select in (select_context, truncated_context):
                context = select(sample, count, maxlen)
                assert count(context.text()) <= maxlen
                if maxlen >= 100 and sample.history:
                    assert context.history and context.history[-1][1] == sample.history[-1]


def test_a_budget_below_the_goals_is_refused():
    with pytest.raises(ValueError, match="maxlen 8 is too small: the goals alone take 19 tokens"):
        select_context(SAMPLE, count, 8)


def test_text_shape():
    context = Context([Goal("寒暄", "寒暄"), Goal("电影 推荐", "画皮")], "聊天 时间 : 晚上",
                      [("姓名", "王芳")], [("周迅", "主演", "画皮"), ("画皮", "评分", "6.6")],
                      [(SPEAKER_BOT, "[1] 晚上 好"), (SPEAKER_USER, "晚上 好")])
    assert serialise(context) == ("目标 ： 寒暄 ： 寒暄 ； 电影 推荐 ： 画皮 ｜ 场景 ： 聊天 时间 : 晚上 ｜ 画像 ： 姓名 ： 王芳"
                                  " ｜ 知识 ： 周迅 主演 画皮" + ITEM_SEP + "画皮 评分 6.6 ｜ 机器 ： [1] 晚上 好 ｜ 用户 ： 晚上 好")
    assert profile_items({"a": [" x ", ""], "b": " ", "c": "y"}) == [("a", "x"), ("c", "y")]


def test_cut_to_fit():
    assert cut_to_fit("一 二 三 四", count, 10) == "一 二 三 四"
    assert cut_to_fit("一 二 三 四", count, 2) == "一 二"
    assert cut_to_fit("一 二 三 四", count, 2, keep_end=True) == "三 四"
    assert cut_to_fit("一二三四", count, 3) == "一二三"              # no space: cut by characters
    assert cut_to_fit("一 二", count, 0) == ""


def test_unknown_order_is_refused():
    with pytest.raises(ValueError, match="order"):
        select_context(SAMPLE, count, 100, order="random")
