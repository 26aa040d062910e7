"""Typed slot tags: which values get which tag, word-aligned replacement, exact round trip, filling back."""
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialog.data import Sample, build_samples, load_sessions
from dialog.goals import Goal
from dialog.slots import SlotCollision, SlotMap, slot_sample

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "dialog")

KNOWLEDGE = [
    ("王芳", "喜欢", "周迅"),
    ("周迅", "主演", "李米的猜想"), ("周迅", "主演", "画皮"), ("周迅", "演唱", "飘摇"),
    ("周迅", "成就", "金马奖 最佳 女主角"), ("周迅", "评论", "她 的 电影 都 很 好看 ， 每 一部 都 值得 看 ， 真 的 很 喜欢"),
    ("李米的猜想", "导演", "曹保平"), ("李米的猜想", "评分", "7.3"),
    ("北京", "2018-10-18", "晴 ,   北风 ,   最高 气温 : 20 ℃ ,   最低气温 : 10 ℃"),
    ("晴, 北风, 最高气温:20℃, 最低气温:10℃", "适合吃", "烤鱼"),
    ("川味小馆", "特色菜", "烤鱼"), ("川味小馆", "地址", "北京 朝阳区"),
]
PROFILE = {"姓名": "王芳", "性别": "女", "职业状态": "学生", "居住地": "上海", "拒绝": ["新闻"],
           "喜欢 的 电影": ["疯狂的赛车", "画皮"], "同意 的 新闻": " 周迅 的新闻; 黄渤 的新闻"}
GOALS = [Goal("问答", "周迅"), Goal("电影 推荐", "李米的猜想"), Goal("寒暄", "寒暄"), Goal("新闻 推荐", "周迅 的 新闻")]


def slots():
    return SlotMap.build(KNOWLEDGE, PROFILE, GOALS)


def test_types_and_numbering():
    tags = slots().tag_of
    assert tags["王芳"] == "[姓名1]"                         # the profile's name, though a knowledge subject first
    assert tags["周迅"] == "[明星1]"
    assert (tags["李米的猜想"], tags["画皮"], tags["疯狂的赛车"]) == ("[电影1]", "[电影2]", "[电影3]")
    assert tags["飘摇"] == "[歌曲1]"
    assert tags["金马奖 最佳 女主角"] == "[成就1]" and tags["曹保平"] == "[导演1]" and tags["7.3"] == "[评分1]"
    assert (tags["北京"], tags["上海"]) == ("[城市1]", "[城市2]")
    assert (tags["烤鱼"], tags["川味小馆"], tags["北京 朝阳区"]) == ("[美食1]", "[餐厅1]", "[地址1]")
    assert tags["周迅 的新闻"] == "[新闻1]" and tags["周迅 的 新闻"] == "[话题1]"
    # long texts, generic words, and the unslotted profile entries keep no tag
    for value in ("她 的 电影 都 很 好看 ， 每 一部 都 值得 看 ， 真 的 很 喜欢", "晴, 北风, 最高气温:20℃, 最低气温:10℃",
                  "晴 , 北风 , 最高 气温 : 20 ℃ , 最低气温 : 10 ℃", "新闻", "学生", "女", "寒暄"):
        assert value not in tags


def test_replacement_is_word_aligned_longest_first():
    m = slots()
    assert m.replace("推荐 你 看 《 李米的猜想 》 ， 导演 是 曹保平") == "推荐 你 看 《 [电影1] 》 ， 导演 是 [导演1]"
    assert m.replace("她 是 金马奖 最佳 女主角") == "她 是 [成就1]"      # the longer value, not a part of it
    assert m.replace("周迅的 电影") == "周迅的 电影"                     # not a whole word: left alone
    assert m.replace("在 北京 朝阳区") == "在 [地址1]" and m.replace("在 北京") == "在 [城市1]"
    assert m.replace("北京   朝阳区") == "[城市1]   朝阳区"                 # other spacing: not 北京 朝阳区


def test_round_trip_on_the_sample_sessions():
    sessions, _ = load_sessions(os.path.join(SAMPLES, "train.json"))
    replaced = 0
    for sample in build_samples(sessions):
        m = SlotMap.build(sample.knowledge, sample.user_profile, sample.goals)
        tagged = slot_sample(sample, m)
        for original, text in [(sample.response, tagged.response), *zip(sample.history, tagged.history),
                               *[(a, b) for s, t in zip(sample.knowledge, tagged.knowledge) for a, b in zip(s, t)]]:
            assert m.fill(text) == original
        replaced += tagged.response != sample.response
    assert replaced >= 10


WORDS = ["周迅", "李米的猜想", "金马奖", "最佳", "女主角", "北京", "朝阳区", "好", "，", "", "[1]", "的"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12))
def test_fill_undoes_replace(words):
    text = " ".join(words)
    m = slots()
    assert m.fill(m.replace(text)) == text


def test_a_tag_shaped_text_cannot_be_replaced():
    with pytest.raises(SlotCollision, match=r"\[电影1\]"):
        slots().replace("我 写 了 [电影1] 这个 词")


def test_fill_reads_decoder_output_and_unknown_tags():
    m = slots()
    assert m.fill("推荐你看[电影2]，导演是[导演1]") == "推荐你看画皮，导演是曹保平"
    assert m.fill("推荐 你 看 [ 电 影 1 ]") == "推荐 你 看 李米的猜想"
    assert m.fill("看 看 [电影9] 吧") == "看 看 李米的猜想 吧"        # unknown number: the type's first value
    assert m.fill("听 [专辑1] 吧") == "听  吧"                          # unknown type: dropped
    assert SlotMap().fill("听 [歌曲1]") == "听 "


def test_slot_sample_tags_context_and_target_alike():
    sample = Sample(3, 1, GOALS[:2], "聊天 时间 : 晚上", PROFILE, KNOWLEDGE, ["[1] 周迅 的 电影 有 哪些 ？"],
                    Goal("电影 推荐", "李米的猜想"), "推荐 你 看 《 李米的猜想 》")
    tagged = slot_sample(sample, slots())
    assert tagged.goals == [Goal("问答", "[明星1]"), Goal("电影 推荐", "[电影1]")]
    assert tagged.goal == Goal("电影 推荐", "[电影1]") and tagged.response == "推荐 你 看 《 [电影1] 》"
    assert tagged.history == ["[1] [明星1] 的 电影 有 哪些 ？"]
    assert tagged.knowledge[1] == ("[明星1]", "主演", "[电影1]")
    assert tagged.user_profile["喜欢 的 电影"] == ["[电影3]", "[电影2]"] and tagged.user_profile["姓名"] == "[姓名1]"
    assert slot_sample(Sample(**{**sample.__dict__, "goal": None}), slots()).goal is None   # a test input
