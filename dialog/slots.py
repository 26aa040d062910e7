"""Slot tags: knowledge and profile names replaced by typed tags for training, filled back after decoding.

The 2nd-placed team's trick: a bot reply that names 《 娜娜的玫瑰战争 》 becomes 《 [电影1] 》 in the
target and in the context alike, so the model learns to copy a tag instead of spelling a title it may
never have seen; after decoding, `fill` puts the sample's own value back.

Values. Every knowledge subject and object and every profile value (list items; strings split at
';') of 2 to MAX_SLOT_CHARS characters (spaces aside) gets a tag: names, short facts (成就, 简介),
attributes (评分, 导演). Longer texts (comments, news, weather reports) stay words: the model has to
read them. Domain words (明星, 电影, 音乐 ... as in 拒绝 / 喜好) and the 性别 / 年龄区间 / 职业状态
/ 拒绝 entries are not names and keep no tag.

Types. A value's tag type comes from what the knowledge says about it, first rule first:
姓名 (the user's name), 城市 and 天气 (subject and object of a dated weather triple), 电影 (subject of
导演 / 口碑 / 国家地区, object of a star's 主演), 歌曲 (object of 演唱 / 适合听), 餐厅 (subject of
人均价格 / 地址 / 订单量 / 特色菜), 美食 (object of 特色菜 / 适合吃, subject of 成分), 明星 (subject
of 演唱 or of a star's attributes), then the object's predicate (评分, 成就, 导演 ...), and for profile
values the entity the key names (喜欢 的 电影 -> 电影). Tags are numbered per type in order of first
appearance: [电影1], [电影2], [明星1].

Replacement is word-aligned on the space-segmented text (a value whose words appear as consecutive
words of the text, longest value first), so `fill(replace(text)) == text` exactly; a text that already
holds something shaped like a tag cannot be replaced (SlotCollision). `fill` also reads tags from
unsegmented decoder output ("推荐你看[电影2]", "[ 电 影 2 ]"); a tag the sample does not have becomes
the first value of its type, or disappears when the sample has no value of that type.
"""
import re
from dataclasses import replace as dataclass_replace

from dialog.goals import Goal, compact

MAX_SLOT_CHARS = 20
GENERIC_VALUES = frozenset({"明星", "电影", "音乐", "新闻", "美食", "poi", "兴趣点", "天气", "动物", "动漫", "儿歌"})
UNSLOTTED_PROFILE_KEYS = frozenset({"性别", "年龄区间", "职业状态", "拒绝"})
NAME_KEY = "姓名"
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_TYPE_WORD = re.compile(r"^[\u4e00-\u9fff]+$")
TAG = re.compile(r"\[\s*((?:[\u4e00-\u9fff]\s*)+?)(\d+)\s*\]")

MOVIE_SUBJECT = frozenset({"导演", "口碑", "国家地区"})
RESTAURANT_SUBJECT = frozenset({"人均价格", "地址", "订单量", "特色菜"})
STAR_SUBJECT = frozenset({"生日", "星座", "血型", "身高", "体重", "出生地", "成就", "获奖", "简介", "新闻", "属相", "演唱"})
PROFILE_ENTITY = (("明星", "明星"), ("电影", "电影"), ("音乐", "歌曲"), ("新闻", "新闻"), ("美食", "美食"),
                  ("poi", "餐厅"), ("兴趣点", "餐厅"), ("居住地", "城市"))


class SlotCollision(ValueError):
    """The text already holds a tag-shaped string: replacing would not be reversible."""


def _slottable(value):
    return 2 <= len(compact(value)) <= MAX_SLOT_CHARS and compact(value).lower() not in GENERIC_VALUES


def _knowledge_rules(knowledge):
    """(rank, value, type) of every role a value plays in the triples; the lowest rank wins."""
    norm = [(" ".join(s.split()), compact(p), " ".join(o.split())) for s, p, o in knowledge]
    stars = {s for s, p, _ in norm if p in STAR_SUBJECT}
    rules = []
    for s, p, o in norm:
        if _DATE.match(p):
            rules += [(1, s, "城市"), (1, o, "天气")]
        if p in MOVIE_SUBJECT:
            rules.append((2, s, "电影"))
        if p == "主演" and s in stars:
            rules.append((2, o, "电影"))
        if p in ("演唱", "适合听"):
            rules.append((3, o, "歌曲"))
        if p in RESTAURANT_SUBJECT:
            rules.append((4, s, "餐厅"))
        if p in ("特色菜", "适合吃"):
            rules.append((5, o, "美食"))
        if p == "成分":
            rules.append((5, s, "美食"))
        if p in STAR_SUBJECT:
            rules.append((6, s, "明星"))
        rules.append((9, o, p if _TYPE_WORD.match(p) else "属性"))
    return rules


def _profile_values(profile):
    """(value, type) of the profile entries that name things."""
    pairs = []
    for key, value in profile.items():
        k = compact(key)
        if k in UNSLOTTED_PROFILE_KEYS:
            continue
        kind = "姓名" if k == NAME_KEY else next((t for word, t in PROFILE_ENTITY if word in k.lower()), None)
        if kind is None:
            continue
        for item in (value if isinstance(value, list) else value.split(";")):
            if item.strip():
                pairs.append((" ".join(item.split()), kind))
    return pairs


class SlotMap:
    """Tags of one sample's values: `replace` text -> tagged text, `fill` tagged text -> text."""

    def __init__(self, pairs=()):
        self.tag_of, self.value_of, counts = {}, {}, {}
        for value, kind in pairs:
            value = " ".join(value.split())
            if value in self.tag_of or not _slottable(value):
                continue
            counts[kind] = counts.get(kind, 0) + 1
            tag = f"[{kind}{counts[kind]}]"
            self.tag_of[value], self.value_of[tag] = tag, value
        self._by_words = {tuple(v.split(" ")): t for v, t in self.tag_of.items()}
        self._longest = max((len(w) for w in self._by_words), default=0)

    @classmethod
    def build(cls, knowledge, profile, goals=()):
        """Tags for the values of a sample's knowledge, profile and goal topics, numbered in order of
        first appearance (knowledge, profile, goals)."""
        profile_pairs = _profile_values(profile)
        rules = _knowledge_rules(knowledge)
        rules += [(0 if kind == "姓名" else 7, value, kind) for value, kind in profile_pairs]
        types = {}
        for _, value, kind in sorted(rules, key=lambda rule: rule[0]):
            types.setdefault(value, kind)
        order = [x for s, _, o in knowledge for x in (s, o)] + [value for value, _ in profile_pairs]
        order += [g.topic for g in goals if g.topic != g.type]
        return cls((value, types.get(" ".join(value.split()), "话题")) for value in order)

    def __len__(self):
        return len(self.tag_of)

    def replace(self, text):
        """Word-aligned: consecutive words equal to a value's words -> its tag, longest value first."""
        if TAG.search(text):
            raise SlotCollision(f"text already holds a tag-shaped string: {TAG.search(text).group(0)!r}")
        if not self._by_words:
            return text
        words, out, i = text.split(" "), [], 0
        while i < len(words):
            for n in range(min(self._longest, len(words) - i), 0, -1):
                tag = self._by_words.get(tuple(words[i:i + n]))
                if tag:
                    out.append(tag)
                    i += n
                    break
            else:
                out.append(words[i])
                i += 1
        return " ".join(out)

    def fill(self, text):
        """Tags -> values, in segmented or unsegmented text; unknown tags as described above."""
        def value(match):
            tag = f"[{compact(match.group(1))}{int(match.group(2))}]"
            if tag in self.value_of:
                return self.value_of[tag]
            kind = compact(match.group(1))
            same = [v for t, v in self.value_of.items() if t.startswith(f"[{kind}") and t[len(kind) + 1:-1].isdigit()]
            return same[0] if same else ""
        return TAG.sub(value, text)


def slot_sample(sample, slots):
    """The sample with every text field's values replaced by their tags (context and target alike)."""
    def goal(g):
        return None if g is None else Goal(g.type, slots.replace(g.topic) if g.topic != g.type else g.topic)

    profile = {key: ([slots.replace(v) for v in value] if isinstance(value, list) else slots.replace(value))
               for key, value in sample.user_profile.items()}
    return dataclass_replace(
        sample,
        goals=[goal(g) for g in sample.goals],
        situation=slots.replace(sample.situation),
        user_profile=profile,
        knowledge=[tuple(slots.replace(x) for x in triple) for triple in sample.knowledge],
        history=[slots.replace(u) for u in sample.history],
        goal=goal(sample.goal),
        response=slots.replace(sample.response),
    )
