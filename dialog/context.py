"""The model's context for one sample: what is kept under a token budget, and its text.

A real sample carries ~23 knowledge triples (comments of 20-60 tokens each), a profile of ~120
tokens and a history of up to 400: ~790 tokens on average, 1,400 at the 90th percentile. Cutting
that text at `maxlen` would keep the first triples of the file and lose the history's end, the
part the reply answers. Instead, `select_context` keeps, in this order:

1. the visible goals and the situation (short, always);
2. the last history turn (cut, keeping its end, only if it alone is too long), then the newest
   turns within `history_share` of what is left;
3. knowledge triples and profile entries by relevance, whole, while they fit. A triple is about a
   goal topic or an entity the last two turns name (most relevant), a neighbour of a goal topic in
   the knowledge graph, or an entity named earlier. It gains when it links two entities (star 主演
   movie, weather 适合吃 food), when the last turn asks for its predicate (by name or by a cue:
   "多高" -> 身高), when it is a star's talking point (成就, 简介); it loses when it is an attribute
   nobody asked for, a comment on something that is not a goal topic, or a fact the history has
   already said. The weather of the day ranks first. Cheaper triples go first among equals. The
   user's name comes first among profile entries (greetings use it), entries naming goal topics or
   history entities next, the long accepted/refused lists last;
4. older history turns, newest first, whole, with what is left;
5. long comments cut last: the best relevant triple that did not fit whole is cut to the room left.

The text lists goals, situation, profile, knowledge (in file order) and history (oldest first, each
turn with its speaker), so the history's end sits next to the reply. `count_tokens(text) -> int` is
the only tokenizer interface; every section is checked against it, and the whole text never exceeds
`maxlen` tokens (a maxlen below the goals' own length is refused).
"""
import re
from dataclasses import dataclass, field, replace

from dialog.data import goal_text
from dialog.goals import compact

DEFAULT_MAXLEN = 384         # context tokens; 97% of the knowledge real replies name survives (bench/)
SECTION_SEP = " ｜ "
ITEM_SEP = " ； "
LABEL_GOALS, LABEL_SITUATION, LABEL_PROFILE, LABEL_KNOWLEDGE = "目标 ：", "场景 ：", "画像 ：", "知识 ："
SPEAKER_USER, SPEAKER_BOT = "用户 ：", "机器 ："
NAME_KEY = "姓名"
LIST_JOIN = " 、 "
MAX_ENTITY_CHARS = 20        # longer subjects/objects are texts (comments, news), not names
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_LONG_PROFILE_KEYS = ("接受", "没有接受")   # lists of dozens of titles: least useful per token
# Predicate classes (what replies use, measured on real sessions): a star's talking points; facts
# a reply states once; attributes only said when asked (the last-turn match covers those).
TALKING_POINTS = frozenset({"成就", "简介"})
FACTS = frozenset({"成就", "简介", "获奖", "评论", "新闻"})
ATTRIBUTES = frozenset({"生日", "身高", "星座", "血型", "体重", "出生地", "属相", "成分", "订单量", "获奖"})
COMMENT = "评论"
# How a question names an attribute when it does not use the predicate itself ("何炅 多高 啊 ？").
QUESTION_CUES = {
    "身高": ("多高", "个子"), "体重": ("多重", "体重"), "生日": ("哪天", "几月", "出生"),
    "出生地": ("哪里人", "哪儿人", "出生"), "国家地区": ("国家", "国产", "哪国", "地区"),
    "评分": ("几分", "多少分", "分数"), "口碑": ("评价",), "类型": ("什么片", "类型"),
    "主演": ("谁演", "演员"), "导演": ("谁拍", "导演"), "人均价格": ("人均", "消费", "多少钱", "价格"),
    "地址": ("在哪", "地址", "位置"), "演唱": ("谁唱",),
}
NEWS_SUFFIX = "的新闻"


@dataclass
class Context:
    goals: list                                  # [Goal]
    situation: str
    profile: list = field(default_factory=list)  # [(key, value text)]
    knowledge: list = field(default_factory=list)  # [(subject, predicate, object)], object maybe cut
    history: list = field(default_factory=list)    # [(speaker label, utterance)], oldest first

    def text(self):
        return serialise(self)


def profile_items(profile):
    """(key, value text) of every non-empty profile entry; a list becomes 'a 、 b'."""
    items = []
    for key, value in profile.items():
        text = LIST_JOIN.join(v.strip() for v in value if v.strip()) if isinstance(value, list) else value.strip()
        if text:
            items.append((key, text))
    return items


def profile_values(profile):
    """Every single value of the profile: list items, and strings split at ';'."""
    values = []
    for value in profile.values():
        for item in (value if isinstance(value, list) else value.split(";")):
            if item.strip():
                values.append(item.strip())
    return values


def _sections(goals, situation, profile, knowledge, history):
    sections = [LABEL_GOALS + " " + ITEM_SEP.join(goal_text(g) for g in goals)]
    if situation.strip():
        sections.append(f"{LABEL_SITUATION} {situation.strip()}")
    if profile:
        sections.append(LABEL_PROFILE + " " + ITEM_SEP.join(f"{k} ： {v}" for k, v in profile))
    if knowledge:
        sections.append(LABEL_KNOWLEDGE + " " + ITEM_SEP.join(" ".join(t) for t in knowledge))
    sections += [f"{speaker} {utterance}" for speaker, utterance in history]
    return sections


def serialise(context):
    return SECTION_SEP.join(_sections(context.goals, context.situation, context.profile,
                                      context.knowledge, context.history))


def speakers(history):
    """Speaker label of every history turn: the last turn is the user's (the bot answers it)."""
    n = len(history)
    return [SPEAKER_USER if (n - 1 - i) % 2 == 0 else SPEAKER_BOT for i in range(n)]


def cut_to_fit(text, count_tokens, budget, keep_end=False):
    """The longest start (or end) of `text`, at a space where there is one, within `budget` tokens."""
    if count_tokens(text) <= budget:
        return text
    if budget <= 0:
        return ""
    words = text.split(" ")
    pieces, joiner = (words, " ") if len(words) > 1 else (list(text), "")

    def part(k):
        return joiner.join(pieces[len(pieces) - k:] if keep_end else pieces[:k])

    low, high = 0, len(pieces)          # part(low) fits, part(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        if count_tokens(part(middle)) <= budget:
            low = middle
        else:
            high = middle
    return part(low).strip()


# --- relevance ---------------------------------------------------------------------------------

def _entities(sample):
    """Names a turn can mention: short knowledge subjects/objects and profile values."""
    names = set()
    for subject, _, obj in sample.knowledge:
        for value in (subject, obj):
            if 2 <= len(compact(value)) <= MAX_ENTITY_CHARS:
                names.add(compact(value))
    names.update(compact(v) for v in profile_values(sample.user_profile) if len(compact(v)) >= 2)
    return names


def _mentioned(names, texts):
    joined = compact("".join(texts))
    return {name for name in names if name in joined}


def _relevance(sample):
    """Entity -> weight: goal topics and the last two turns' names 3, neighbours of goal topics 2,
    names of older turns 1."""
    names = _entities(sample)
    topics = {compact(g.topic) for g in sample.goals}
    topics |= {t[:-len(NEWS_SUFFIX)] for t in topics if t.endswith(NEWS_SUFFIX)}   # "X 的 新闻" is about X
    weight = {name: 1.0 for name in _mentioned(names, sample.history)}
    for subject, _, obj in sample.knowledge:
        s, o = compact(subject), compact(obj)
        if s in topics and o in names:
            weight[o] = max(weight.get(o, 0), 2.0)
        if o in topics and s in names:
            weight[s] = max(weight.get(s, 0), 2.0)
    for name in topics | _mentioned(names, sample.history[-2:]):
        weight[name] = 3.0
    return weight


def _knowledge_scores(sample, weight):
    last_turn = compact(sample.history[-1]) if sample.history else ""
    said = compact("".join(sample.history))
    topics = {compact(g.topic) for g in sample.goals}
    subjects = {compact(s) for s, _, _ in sample.knowledge}
    scores = []
    for subject, predicate, obj in sample.knowledge:
        s, p, o = compact(subject), compact(predicate), compact(obj)
        score = max(weight.get(s, 0.0), weight.get(o, 0.0))
        if _DATE.match(p):
            score = max(score, 5.0)        # the weather of the day: asked for, or the reason to recommend
        elif o in subjects or o in topics:
            score += 1.5                   # a link (star 主演 movie, weather 适合吃 food): how topics connect
        elif p and (p in last_turn or any(cue in last_turn for cue in QUESTION_CUES.get(p, ()))):
            score += 2.0                   # the last turn asks for this attribute
        elif p in TALKING_POINTS:
            score += 1.0
        elif p in ATTRIBUTES:
            score -= 0.5
        if p == COMMENT:
            score += 0.5 if s in topics else -1.0   # a recommended item's comments are its reasons
        if p in FACTS and o in said:
            score -= 1.5                   # said already: the reply moves on
        scores.append(score)
    return scores


def _profile_score(key, value, weight):
    if compact(key) == NAME_KEY:
        return 4.0
    values = [compact(v) for v in value.split(LIST_JOIN)]
    score = max((weight.get(v, 0.0) for v in values), default=0.0)
    if any(compact(key).startswith(k) for k in _LONG_PROFILE_KEYS):
        return score * 0.5
    return max(score, 0.5)


# --- selection ---------------------------------------------------------------------------------

def select_context(sample, count_tokens, maxlen, history_share=0.4, order="relevance"):
    """The Context of `sample` within `maxlen` tokens.

    order="relevance" is the policy above; order="file" is blind truncation for comparison: the same
    goals, situation and history share, then profile and knowledge in file order up to the first
    item that does not fit, which is cut.
    """
    if order not in ("relevance", "file"):
        raise ValueError(f"order must be 'relevance' or 'file', got {order!r}")
    # a history turn is a section of its own; an item is joined to its section by ITEM_SEP, the first
    # item of a section comes after the section's separator and label instead
    sep = count_tokens(SECTION_SEP.strip())
    item_sep = count_tokens(ITEM_SEP.strip())
    context = Context(list(sample.goals), sample.situation)
    goals_cost = count_tokens(Context(context.goals, "").text())
    if goals_cost > maxlen:
        raise ValueError(f"maxlen {maxlen} is too small: the goals alone take {goals_cost} tokens")
    if count_tokens(context.text()) > maxlen:       # goals and situation alone are too long
        context.situation = cut_to_fit(context.situation, count_tokens, maxlen - goals_cost - 2)
    left = maxlen - count_tokens(context.text())

    # 2. the last turn (cut to fit only if it alone is too long), then newer turns within the share
    history = list(zip(speakers(sample.history), sample.history))
    turn_costs = [count_tokens(f"{s} {u}") + sep for s, u in history]
    kept_turns, share = set(), int(left * history_share)
    if history:
        last = len(history) - 1
        if turn_costs[last] > left:
            speaker, utterance = history[last]
            history[last] = (speaker, cut_to_fit(utterance, count_tokens, left - count_tokens(speaker) - sep,
                                                 keep_end=True))
            turn_costs[last] = count_tokens(f"{speaker} {history[last][1]}") + sep
        kept_turns.add(last)
        left, share = left - turn_costs[last], share - turn_costs[last]
        for i in range(last - 1, -1, -1):
            if turn_costs[i] > share:
                break
            kept_turns.add(i)
            left, share = left - turn_costs[i], share - turn_costs[i]

    # 3. profile entries and knowledge triples, whole, by relevance (or in file order)
    knowledge = list(dict.fromkeys(sample.knowledge))            # a duplicate costs twice, says nothing new
    profile = profile_items(sample.user_profile)
    candidates = [("p", i, count_tokens(f"{k} ： {v}")) for i, (k, v) in enumerate(profile)]
    candidates += [("k", i, count_tokens(" ".join(t))) for i, t in enumerate(knowledge)]
    if order == "relevance":
        weight = _relevance(sample)
        scores = {("k", i): score for i, score in enumerate(_knowledge_scores(replace(sample, knowledge=knowledge),
                                                                              weight))}
        scores.update({("p", i): _profile_score(k, v, weight) for i, (k, v) in enumerate(profile)})
        candidates.sort(key=lambda c: (-scores[c[:2]], c[2]))
    section_cost = {"k": count_tokens(LABEL_KNOWLEDGE) + sep, "p": count_tokens(LABEL_PROFILE) + sep}
    chosen, first_misfit = {"k": set(), "p": set()}, None
    for kind, i, cost in candidates:
        extra = cost + (section_cost[kind] if not chosen[kind] else item_sep)
        if extra <= left:
            chosen[kind].add(i)
            left -= extra
        else:
            if first_misfit is None and kind == "k" and (order == "file" or scores[(kind, i)] > 0):
                first_misfit = i                           # worth cutting: relevant (or blind truncation)
            if order == "file":
                break

    # 4. older turns with what is left, newest first, keeping the history contiguous
    if order == "relevance":
        for i in range(min(kept_turns, default=len(history)) - 1, -1, -1):
            if turn_costs[i] > left:
                break
            kept_turns.add(i)
            left -= turn_costs[i]

    # 5. long comments cut last: the best triple that did not fit whole, cut to the room left
    cut = None
    if first_misfit is not None:
        subject, predicate, obj = knowledge[first_misfit]
        head = count_tokens(f"{subject} {predicate}") + (section_cost["k"] if not chosen["k"] else item_sep)
        if left - head > 4:
            obj = cut_to_fit(obj, count_tokens, left - head - 1)
            if obj:
                cut = (first_misfit, (subject, predicate, obj))

    context.profile = [profile[i] for i in sorted(chosen["p"])]
    context.knowledge = [cut[1] if cut and cut[0] == i else knowledge[i]
                         for i in sorted(chosen["k"] | ({cut[0]} if cut else set()))]
    context.history = [history[i] for i in sorted(kept_turns)]
    _shrink(context, count_tokens, maxlen)
    return context


def truncated_context(sample, count_tokens, maxlen, history_share=0.4):
    """Blind truncation (for comparison): select_context(..., order="file")."""
    return select_context(sample, count_tokens, maxlen, history_share, order="file")


def _shrink(context, count_tokens, maxlen):
    """Safety net for a count_tokens that is not additive over pieces: drop the least needed parts
    (oldest turns, then knowledge, then profile) until the text fits."""
    while count_tokens(context.text()) > maxlen:
        if len(context.history) > 1:
            context.history.pop(0)
        elif context.knowledge:
            context.knowledge.pop()
        elif context.profile:
            context.profile.pop()
        elif context.history:
            speaker, utterance = context.history[0]
            words = utterance.split(" ")
            rest = " ".join(words[1:]) if len(words) > 1 else utterance[1:]
            context.history[0] = (speaker, rest)
            if not rest:
                context.history.pop(0)
        elif context.situation:
            context.situation = context.situation[:-1]
        else:
            break
