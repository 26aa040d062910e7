"""Dialogue goals: parsing the raw goal string, the test list form, and the goal of every turn.

A session's goal is one string of 3-6 goals:

    [1] 问答 ( User 主动 问 电影 『 导火线 』 主演 是 谁 ? Bot 回答 『 范冰冰 』 ... ) --> [2] ... --> [4] 再见

Each goal is `[k] type ( description )`; the description can hold parentheses of its own
(`『 爱你 一万年 ( 国 ) 』`, `（ 科学城 店 ）`), so a goal runs from its `[k]` to the next
`--> [k']` and its description from the first "(" after the type to the goal's last ")".
A test input gives only two goals, as `[[type, "", topic], ...]`.

The topic of a goal (what the test list form shows) comes from the 『...』 spans of its
description, leaving out the spans that name a slot of the instructions instead of an entity
(『 聊天 主题 』, 『 参考 知识 』, 『 姓名 』, attribute lists such as 『 国家 地区 、 导演 、 ... 』) and
quoted texts longer than MAX_TOPIC_CHARS (news items). The topic is the first remaining span; a goal
without one is its own topic (寒暄 -> "寒暄", as the test form writes it); 新闻 推荐 of 『 X 』 has the
topic "X 的 新闻", again as the test form writes it. A goal that recommends two items (one refused,
one accepted) keeps both in `topics`; `turn_topic` says which one a given turn is about.
"""
import re
from dataclasses import dataclass, field

# 『...』 spans that name a slot of the instructions, not an entity (compared with single spaces).
META_SPANS = frozenset({
    "聊天 主题", "聊天 时间", "聊天 日期", "参考 知识", "姓名", "性别", "年龄",
    "人均 价格", "地址", "评分", "就餐 时间", "就餐 人数",
})
MAX_TOPIC_CHARS = 40      # a 『』 span longer than this (spaces aside) is a quoted text, not a topic
NEWS_RECOMMENDATION = "新闻 推荐"

_GOAL_START = re.compile(r"(?:^|-->)\s*\[\s*(\d+)\s*\]")
_TURN_MARKER = re.compile(r"^\s*\[\s*(\d+)\s*\]\s*")
_SPAN = re.compile(r"『(.*?)』", re.S)
_INITIATIVE = re.compile(r"(User|Bot)\s*主动")


class GoalError(ValueError):
    """A goal that cannot be read; the loader adds file, line and field."""


@dataclass(frozen=True)
class Goal:
    type: str                   # "电影 推荐" (single spaces)
    topic: str                  # what the test list form shows: "李米的猜想", "寒暄", "周杰伦 的 新闻"
    index: int = 0              # k of "[k]"; 0 when unknown (the test list form)
    description: str = ""       # text inside the parentheses; "" in the test list form
    topics: tuple = field(default=())   # every topic span of the description, in order

    def visible(self):
        """The goal as a test input shows it: type and topic only."""
        return Goal(self.type, self.topic)


def squeeze(text):
    """Runs of whitespace -> one space, ends stripped."""
    return " ".join(text.split())


def compact(text):
    """Text without any whitespace: how a name is compared across segmentations."""
    return "".join(text.split())


def _description_spans(description):
    spans = []
    for raw in _SPAN.findall(description):
        span = raw.strip()
        if not span or squeeze(span) in META_SPANS or "、" in span:
            continue
        if len(compact(span)) > MAX_TOPIC_CHARS:
            continue
        if span not in spans:
            spans.append(span)
    return spans


def _split_type_description(text):
    """'电影 推荐 ( ... ( 国 ) ... )' -> ('电影 推荐', '... ( 国 ) ...'); '再见' -> ('再见', '')."""
    opening = min((i for i in (text.find("("), text.find("（")) if i != -1), default=-1)
    if opening == -1:
        return squeeze(text), ""
    goal_type, description = squeeze(text[:opening]), text[opening + 1:].rstrip()
    if description.endswith((")", "）")):
        description = description[:-1]
    return goal_type, description.strip()


def make_goal(goal_type, description="", index=0):
    spans = _description_spans(description)
    if not spans:
        topics = (goal_type,)
    elif goal_type == NEWS_RECOMMENDATION:
        topics = (f"{spans[0]} 的 新闻",)
    else:
        topics = tuple(spans)
    return Goal(goal_type, topics[0], index, description, topics)


def parse_goal_string(text):
    """All goals of a raw goal string, in order. Raises GoalError when no `[k] type` is found or a
    goal has no type."""
    if not isinstance(text, str):
        raise GoalError(f"expected a string, got {type(text).__name__}")
    starts = list(_GOAL_START.finditer(text))
    if not starts:
        raise GoalError("no '[k] type' goal found")
    goals = []
    for n, match in enumerate(starts):
        end = starts[n + 1].start() if n + 1 < len(starts) else len(text)
        body = text[match.end():end].strip()
        goal_type, description = _split_type_description(body)
        if not goal_type:
            raise GoalError(f"goal [{match.group(1)}] has no type")
        goals.append(make_goal(goal_type, description, int(match.group(1))))
    return goals


def parse_goal_list(entries):
    """The test list form `[[type, "", topic], ...]` (or `[type, topic]`) -> visible goals."""
    if not isinstance(entries, list) or not entries:
        raise GoalError("expected a non-empty list of [type, \"\", topic]")
    goals = []
    for n, entry in enumerate(entries):
        if (not isinstance(entry, list) or len(entry) not in (2, 3)
                or not all(isinstance(x, str) for x in entry)):
            raise GoalError(f"goal[{n}] is not a list [type, \"\", topic] of strings: {entry!r}")
        goal_type, topic = squeeze(entry[0]), entry[-1].strip()
        if not goal_type:
            raise GoalError(f"goal[{n}] has an empty type")
        goals.append(Goal(goal_type, topic or goal_type, 0, "", (topic or goal_type,)))
    return goals


def visible_goals(goals):
    """What a test input shows of a goal sequence: the first and the second-to-last goal, type and
    topic only. Two goals are taken to be that pair already; one goal is shown alone."""
    if len(goals) >= 3:
        return [goals[0].visible(), goals[-2].visible()]
    return [goal.visible() for goal in goals]


def bot_speaks_first(goals):
    """True when goal 1 says `Bot 主动`, False for `User 主动`, None when it says neither."""
    if not goals:
        return None
    match = _INITIATIVE.search(goals[0].description)
    return None if match is None else match.group(1) == "Bot"


def turn_marker(utterance):
    """k of an utterance that opens goal k ("[k] ..."), else None."""
    match = _TURN_MARKER.match(utterance)
    return int(match.group(1)) if match else None


def strip_marker(utterance):
    """The utterance without its leading "[k]" marker."""
    return _TURN_MARKER.sub("", utterance, count=1)


def turn_goals(conversation, n_goals):
    """Position (0-based, into the goal list) of the goal active at every utterance.

    A "[k]" marker opens goal k and it stays active until the next marker; utterances before the
    first marker belong to goal 1. Real sessions skip a marker ([1] [2] [3] [5]) or repeat one
    ([2] [2]): the marker that is there is believed. A marker beyond the last goal is clipped to it.
    """
    current, positions = 0, []
    for utterance in conversation:
        k = turn_marker(utterance)
        if k is not None and k >= 1:
            current = min(k, n_goals) - 1
        positions.append(current)
    return positions


def turn_topic(goal, conversation, start, end):
    """Which of the goal's topics utterances conversation[start:end] are about: the one mentioned
    last (spaces ignored), or the goal's topic when none is mentioned. A goal recommending a refused
    movie and then an accepted one is about the second from the turn that names it."""
    if len(goal.topics) < 2:
        return goal.topic
    text = compact("".join(conversation[start:end]))
    best, best_at = goal.topic, -1
    for topic in goal.topics:
        at = text.rfind(compact(topic))
        if at > best_at or (at == best_at and at >= 0 and len(topic) > len(best)):
            best, best_at = topic, at
    return best
