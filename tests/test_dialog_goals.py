"""Goal strings, the test list form, who speaks first, and the goal of every turn."""
import pytest

from dialog.goals import (Goal, GoalError, bot_speaks_first, parse_goal_list, parse_goal_string, strip_marker,
                          turn_goals, turn_marker, turn_topic, visible_goals)

# Shapes taken from real sessions: spaced 『 』 spans, meta spans, nested ASCII and full-width
# parentheses inside descriptions, a goal without description, a recommendation of two items.
REAL_LIKE = (
    "[1] 问答 ( User 主动 问 电影   『 导火线 』   主演 是 谁 ?   Bot 回答 『 范冰冰 』 ， User 满足 并 好评 ) --> "
    "[2] 关于 明星 的 聊天 ( Bot 主动 ， 根据 给定 的 明星 信息 聊   『 范冰冰 』   相关 内容 ) --> "
    "[3] 电影 推荐 ( Bot 主动 ， Bot 使用   『 娜娜的战争 』   的 某个 评论 来 推荐   『 娜娜的战争 』 ， User 拒绝 ， "
    "拒绝 原因 可以 是 『   看过 、 暂时 不想 看   或   其他 原因 』 ；   Bot 推荐   『 当初应该爱你 』 ， User 先问 电影 "
    "『 国家 地区 、 导演 、 类型 』 中 的 一个 ) --> "
    "[4] 播放 音乐 ( Bot 主动 询问 是否 播放 ， User 同意 后 ， Bot 播放   『 爱你 一万年 ( 国 ) 』 ) --> "
    "[5] 兴趣点 推荐 ( Bot 主动 ， Bot 推荐 在   『 品 蜀国 精品 川菜 （ 科学城 店 ） 』   订   『 麻辣小龙虾 』 ) --> "
    "[6] 再见"
)


def test_real_shaped_goal_string():
    goals = parse_goal_string(REAL_LIKE)
    assert [g.index for g in goals] == [1, 2, 3, 4, 5, 6]
    assert [g.type for g in goals] == ["问答", "关于 明星 的 聊天", "电影 推荐", "播放 音乐", "兴趣点 推荐", "再见"]
    assert [g.topic for g in goals] == ["导火线", "范冰冰", "娜娜的战争", "爱你 一万年 ( 国 )",
                                        "品 蜀国 精品 川菜 （ 科学城 店 ）", "再见"]
    # the two recommended movies are both topics; the option lists in 『 』 are not
    assert goals[2].topics == ("娜娜的战争", "当初应该爱你")
    # the description runs to the goal's last parenthesis, nested ones included
    assert goals[3].description.endswith("『 爱你 一万年 ( 国 ) 』")
    assert goals[5].description == ""


def test_topic_rules_follow_the_test_list_form():
    goals = parse_goal_string(
        "[1] 寒暄 ( Bot 主动 ， 根据 给定 的 『 聊天 主题 』 寒暄 ， 不要 与 『 聊天 时间 』 矛盾 ) --> "
        "[2] 问 User 姓名 ( Bot 主动 ， 问 User 姓名 ， 一句 只能 问 『 姓名 』 ) --> "
        "[3] 问 日期 ( User 主动 问 日期 ， Bot 根据 『 参考 知识 』 的 『 聊天   日期 』 回答 ) --> "
        "[4] 新闻 推荐 ( Bot 主动 ， 推荐   『 周杰伦 』   的 其他 新闻   『 18 日 ， 周杰伦 发布 了 新歌 』 ) --> "
        "[5] 新闻 点播 ( User 主动 ， User 问   『 黄晓明 』   的 新闻 ，   Bot 回答   『 " + "很 长 的 新闻 " * 10 + "』 )")
    # a goal with no entity span is its own topic (as the test writes ["寒暄", "", "寒暄"])
    assert [g.topic for g in goals] == ["寒暄", "问 User 姓名", "问 日期", "周杰伦 的 新闻", "黄晓明"]
    assert goals[4].topics == ("黄晓明",)        # the long quoted news is no topic


def test_goal_string_tolerates_spacing_variations():
    goals = parse_goal_string("[ 1 ]问答(User 主动 问 『周迅』 的 星座)-->[2]  再见 ")
    assert [(g.index, g.type, g.topic) for g in goals] == [(1, "问答", "周迅"), (2, "再见", "再见")]
    assert parse_goal_string("[1] 电影 推荐 （ Bot 主动 推荐 『 手机 』 ）")[0].topic == "手机"


@pytest.mark.parametrize("bad, message", [
    ("问答 ( 没有 编号 )", "no '\\[k\\] type'"),
    ("[1] ( Bot 主动 ) --> [2] 再见", "goal \\[1\\] has no type"),
    (None, "expected a string"),
])
def test_unreadable_goal_strings(bad, message):
    with pytest.raises(GoalError, match=message):
        parse_goal_string(bad)


def test_list_form():
    goals = parse_goal_list([["问 天气", "", "问 天气"], ["兴趣点 推荐", "", "品 蜀国 精品 川菜 （ 科学城 店 ）"]])
    assert goals == [Goal("问 天气", "问 天气", 0, "", ("问 天气",)),
                     Goal("兴趣点 推荐", "品 蜀国 精品 川菜 （ 科学城 店 ）", 0, "", ("品 蜀国 精品 川菜 （ 科学城 店 ）",))]
    assert parse_goal_list([["寒暄", ""]])[0].topic == "寒暄"     # [type, topic] with an empty topic
    for bad in ([], [["问答"]], [["问答", "", 3]], ["问答 周迅"], [["", "", "x"]]):
        with pytest.raises(GoalError):
            parse_goal_list(bad)


def test_visible_goals_are_the_first_and_second_to_last_without_descriptions():
    goals = parse_goal_string(REAL_LIKE)
    assert visible_goals(goals) == [Goal("问答", "导火线"), Goal("兴趣点 推荐", "品 蜀国 精品 川菜 （ 科学城 店 ）")]
    two = parse_goal_list([["问答", "", "周迅"], ["电影 推荐", "", "李米的猜想"]])
    assert visible_goals(two) == [Goal("问答", "周迅"), Goal("电影 推荐", "李米的猜想")]
    # a session's visible goals and the same goals in the list form are equal
    assert visible_goals(parse_goal_string("[1] 问答 ( User 主动 问 『 周迅 』 ) --> [2] 电影 推荐 ( 推荐 『 李米的猜想 』 )"
                                           " --> [3] 再见")) == visible_goals(two)


def test_who_speaks_first():
    assert bot_speaks_first(parse_goal_string("[1] 寒暄 ( Bot 主动 ， ... User 主动 ) --> [2] 再见")) is True
    assert bot_speaks_first(parse_goal_string("[1] 问答 ( User  主动 问 ... Bot 主动 ) --> [2] 再见")) is False
    assert bot_speaks_first(parse_goal_string("[1] 问答 ( 没有 说 ) --> [2] 再见")) is None
    assert bot_speaks_first(parse_goal_list([["寒暄", "", "寒暄"]])) is None


def test_markers_and_turn_goals_with_skipped_and_repeated_markers():
    assert turn_marker("[12] 你好") == 12 and turn_marker("你好 [1]") is None
    assert strip_marker("[3] 那 推荐 你") == "那 推荐 你" and strip_marker("没有 标记") == "没有 标记"
    # real sessions: [1] [2] [3] [5] (goal 4 never marked) and [1] [2] [2] [3] [5] [6]
    conversation = ["x", "[1] a", "b", "[2] c", "d", "[2] e", "[5] f", "g", "[9] h"]
    assert turn_goals(conversation, 6) == [0, 0, 0, 1, 1, 1, 4, 4, 5]


def test_turn_topic_follows_the_item_being_discussed():
    goal = parse_goal_string(REAL_LIKE)[2]
    conversation = ["[3] 推荐 你 看 《 娜娜的战争 》", "看过 了", "那 《 当初应该爱你 》 呢 ？", "导演 是 谁", "导演 是 沈涛"]
    assert turn_topic(goal, conversation, 0, 1) == "娜娜的战争"
    assert turn_topic(goal, conversation, 0, 3) == "当初应该爱你"
    assert turn_topic(goal, conversation, 0, 5) == "当初应该爱你"     # named earlier in the goal's turns
    assert turn_topic(goal, ["随便 聊聊"], 0, 1) == "娜娜的战争"        # none named: the goal's topic
    spaced = parse_goal_string("[1] 问答 ( 『 太平 轮 · 彼岸 』 『 杨幂 』 )")[0]
    assert turn_topic(spaced, ["杨幂 演 的 太平轮·彼岸"], 0, 1) == "太平 轮 · 彼岸"   # spaces ignored
