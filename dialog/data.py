"""DuRecDial files: sessions and test inputs with located errors, and the samples built from them.

Sessions (train/dev) are JSON Lines `{situation, goal, user_profile, knowledge, conversation}`;
test inputs are `{goal, situation, user_profile, knowledge, history}` (plus `response`, empty, in the
organisers' copy). Both accept a BOM and CRLF line ends.

Errors. A missing key, a field of the wrong kind (history/conversation not a list of strings, goal
unreadable) makes the record bad; a bad part of a good record (a knowledge triple that is not three
strings, a profile value that is neither a string nor a list of strings) is only that part.
With on_error="raise" the first of either stops with a DataError naming file, line and field; with
on_error="skip" a bad record is skipped and a bad part dropped, both counted in the report and
logged, and the rest of the record is kept. A bad test input is kept as an empty input even then, so
that predictions stay one per input line.

Real knowledge holds triples whose subject was cut at a space into the predicate
(["晴,", "北风, 最高气温:26℃ 适合吃", "麻辣小龙虾"], ["家人", "(Live) 评论", ...]); such a triple is
mended (subject += the predicate's head, predicate = its last word) and counted in `report.mended`;
a triple with an empty subject or object (real test inputs hold empty comments) is left out and
counted in `report.empty_triples`. Neither is an error.

Samples. Every bot turn of a session becomes one Sample holding exactly what a test input holds
- the visible goals (first and second-to-last goal, type and topic only), situation, profile,
knowledge, the utterances before the turn (with their "[k]" markers, as in test histories) - plus
the target: the goal active at the turn (type and the topic the turn is about) and the reply
without its "[k]" marker. A test input becomes the same Sample with no target.
"""
import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass

from common.io import DataError, SkipCounter
from dialog.goals import (Goal, GoalError, bot_speaks_first, parse_goal_list, parse_goal_string, strip_marker,
                          turn_goals, turn_topic, visible_goals)

log = logging.getLogger(__name__)

SESSION_KEYS = ("goal", "situation", "user_profile", "knowledge", "conversation")
TEST_KEYS = ("goal", "situation", "user_profile", "knowledge", "history")
REPLY_MARK = "|"           # between the goal and the reply in a target text
TOPIC_MARK = "："          # between the goal type and its topic


@dataclass
class Session:
    line: int
    goals: list            # [Goal], all of them, with descriptions
    situation: str
    user_profile: dict     # {key: str | [str]}
    knowledge: list        # [(subject, predicate, object)]
    conversation: list     # [str]
    bot_first: bool


@dataclass
class TestInput:
    __test__ = False       # not a pytest test class
    line: int
    goals: list            # the visible goals [Goal(type, topic)]
    situation: str
    user_profile: dict
    knowledge: list
    history: list
    response: str = ""     # the gold reply when the file carries one


@dataclass
class Sample:
    """One bot turn, as a test input shows it, and its target when known."""
    line: int              # line of the session / test input in its file
    turn: int              # position of the reply in the conversation (= len(history))
    goals: list            # visible goals [Goal(type, topic)]
    situation: str
    user_profile: dict
    knowledge: list
    history: list
    goal: Goal = None      # goal of the reply, Goal(type, topic); None for a test input
    response: str = ""     # the reply without its "[k]" marker; "" for a test input


class LoadReport(SkipCounter):
    """SkipCounter of bad records, plus counts of dropped parts and mended triples."""

    def __init__(self, on_error="raise"):
        super().__init__(on_error)
        self.dropped = Counter()     # field kind -> parts dropped
        self.mended = 0              # knowledge triples put back together
        self.empty_triples = 0       # triples with an empty subject or object, left out

    def drop(self, kind, error):
        if self.on_error == "raise":
            raise error
        self.dropped[kind] += 1
        log.warning("dropped: %s", error)

    def summary(self):
        parts = [super().summary()]
        parts += [f"{n} bad {kind} dropped" for kind, n in sorted(self.dropped.items())]
        if self.mended:
            parts.append(f"{self.mended} split knowledge triple(s) mended")
        if self.empty_triples:
            parts.append(f"{self.empty_triples} empty knowledge triple(s) left out")
        return ", ".join(p for p in parts if p)


# --- reading ----------------------------------------------------------------------------------

def _json_lines(path):
    """(line number, object or DataError) for every non-blank line; BOM and CRLF accepted."""
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield number, DataError(path, number, f"not valid JSON ({e.msg} at column {e.colno})")
                continue
            if not isinstance(obj, dict):
                obj = DataError(path, number, f"expected a JSON object, got {type(obj).__name__}")
            yield number, obj


def _require(obj, keys, path, line):
    for key in keys:
        if key not in obj:
            raise DataError(path, line, "missing", field=key)


def _string(obj, key, path, line):
    value = obj[key]
    if not isinstance(value, str):
        raise DataError(path, line, f"expected a string, got {type(value).__name__}", field=key)
    return value


def _utterances(obj, key, path, line):
    value = obj[key]
    if not isinstance(value, list):
        raise DataError(path, line, f"expected a list of utterances, got {type(value).__name__}", field=key)
    for n, utterance in enumerate(value):
        if not isinstance(utterance, str):
            raise DataError(path, line, f"expected a string, got {type(utterance).__name__}", field=f"{key}[{n}]")
    return list(value)


_MENDABLE_HEAD = re.compile(r"[^\u4e00-\u9fff\s]")   # a real predicate is a CJK word or a date


def _mend(triple):
    """A triple whose subject spilled into the predicate at a space -> the triple put back, or None."""
    subject, predicate, obj = triple
    parts = predicate.rsplit(None, 1)
    if len(parts) == 2 and _MENDABLE_HEAD.search(parts[0]):
        return f"{subject} {parts[0]}", parts[1], obj
    return None


def _knowledge(obj, path, line, report):
    value = obj["knowledge"]
    if not isinstance(value, list):
        report.drop("knowledge", DataError(path, line, f"expected a list of triples, got {type(value).__name__}",
                                           field="knowledge"))
        return []
    triples = []
    for n, triple in enumerate(value):
        if not (isinstance(triple, list) and len(triple) == 3 and all(isinstance(x, str) for x in triple)):
            what = (f"{len(triple)} items" if isinstance(triple, list) else type(triple).__name__)
            report.drop("knowledge triple", DataError(
                path, line, f"expected [subject, predicate, object] strings, got {what}", field=f"knowledge[{n}]"))
            continue
        if not triple[0].strip() or not triple[2].strip():
            report.empty_triples += 1     # real files hold empty comments: nothing to say, not an error
            continue
        mended = _mend(triple)
        if mended:
            report.mended += 1
        triples.append(mended or tuple(triple))
    return triples


def _profile(obj, path, line, report):
    value = obj["user_profile"]
    if not isinstance(value, dict):
        report.drop("user_profile", DataError(path, line, f"expected an object, got {type(value).__name__}",
                                              field="user_profile"))
        return {}
    profile = {}
    for key, item in value.items():
        where = f"user_profile.{key}"
        if isinstance(item, str):
            profile[key] = item
        elif isinstance(item, list):
            strings = [x for x in item if isinstance(x, str)]
            if len(strings) < len(item):
                report.drop("profile value", DataError(path, line, "list items must be strings", field=where))
            profile[key] = strings
        else:
            report.drop("profile value", DataError(
                path, line, f"expected a string or a list of strings, got {type(item).__name__}", field=where))
    return profile


def _situation(obj, path, line, report):
    value = obj["situation"]
    if isinstance(value, str):
        return value
    report.drop("situation", DataError(path, line, f"expected a string, got {type(value).__name__}",
                                       field="situation"))
    return ""


def _goals(value, path, line, allow_list):
    try:
        if allow_list and isinstance(value, list):
            return parse_goal_list(value)
        return parse_goal_string(value)
    except GoalError as error:
        raise DataError(path, line, str(error), field="goal") from None


def _parse_session(path, line, obj, report):
    _require(obj, SESSION_KEYS, path, line)
    goals = _goals(obj["goal"], path, line, allow_list=False)
    bot_first = bot_speaks_first(goals)
    if bot_first is None:
        raise DataError(path, line, "goal 1 says neither 'User 主动' nor 'Bot 主动': who speaks first?",
                        field="goal")
    conversation = _utterances(obj, "conversation", path, line)
    return Session(line, goals, _situation(obj, path, line, report), _profile(obj, path, line, report),
                   _knowledge(obj, path, line, report), conversation, bot_first)


def _parse_test_input(path, line, obj, report):
    _require(obj, TEST_KEYS, path, line)
    goals = visible_goals(_goals(obj["goal"], path, line, allow_list=True))
    history = _utterances(obj, "history", path, line)
    response = obj.get("response", "")
    return TestInput(line, goals, _situation(obj, path, line, report), _profile(obj, path, line, report),
                     _knowledge(obj, path, line, report), history, response if isinstance(response, str) else "")


def _report_done(path, report):
    if report.summary():
        print(f"{os.path.basename(path)}: {report.summary()}", flush=True)


def load_sessions(path, on_error="raise"):
    """Sessions of a train/dev file -> (sessions, report)."""
    report, sessions = LoadReport(on_error), []
    for line, obj in _json_lines(path):
        try:
            if isinstance(obj, DataError):
                raise obj
            sessions.append(_parse_session(path, line, obj, report))
        except DataError as error:
            report(error)
    _report_done(path, report)
    return sessions, report


def load_test_inputs(path, on_error="raise"):
    """Test inputs -> (inputs, report); a bad input is kept empty (skip mode) so outputs stay aligned."""
    report, inputs = LoadReport(on_error), []
    for line, obj in _json_lines(path):
        try:
            if isinstance(obj, DataError):
                raise obj
            inputs.append(_parse_test_input(path, line, obj, report))
        except DataError as error:
            report(error)
            inputs.append(TestInput(line, [], "", {}, [], []))
    _report_done(path, report)
    return inputs, report


def load_records(path, labelled=True, on_error="raise"):
    """Sessions (labelled=True) or test inputs -> (records, report)."""
    return (load_sessions if labelled else load_test_inputs)(path, on_error)


# --- samples ----------------------------------------------------------------------------------

def is_bot_turn(turn, bot_first):
    return (turn % 2 == 0) == bool(bot_first)


def session_samples(session):
    """One Sample per bot turn of the session, in order."""
    positions = turn_goals(session.conversation, len(session.goals))
    visible = visible_goals(session.goals)
    samples, span_start = [], 0
    for turn, utterance in enumerate(session.conversation):
        if turn and positions[turn] != positions[turn - 1]:
            span_start = turn
        if not is_bot_turn(turn, session.bot_first):
            continue
        goal = session.goals[positions[turn]]
        topic = turn_topic(goal, session.conversation, span_start, turn + 1)
        samples.append(Sample(session.line, turn, visible, session.situation, session.user_profile,
                              session.knowledge, session.conversation[:turn], Goal(goal.type, topic),
                              strip_marker(utterance)))
    return samples


def input_sample(test_input):
    """The Sample of a test input (no target goal; the response only if the file had one)."""
    return Sample(test_input.line, len(test_input.history), test_input.goals, test_input.situation,
                  test_input.user_profile, test_input.knowledge, test_input.history, None, test_input.response)


def build_samples(records):
    """Samples of loaded sessions (every bot turn) or test inputs (one each)."""
    samples = []
    for record in records:
        if isinstance(record, Session):
            samples.extend(session_samples(record))
        else:
            samples.append(input_sample(record))
    return samples


# --- target text ------------------------------------------------------------------------------

def goal_text(goal):
    return f"{goal.type} {TOPIC_MARK} {goal.topic}"


def target_text(sample):
    """'type ： topic | reply': what the model learns to write after the context."""
    return f"{goal_text(sample.goal)} {REPLY_MARK} {sample.response}"


def split_target(text):
    """(type, topic, reply) of a generated target; a part that is missing comes back empty.
    Spaces may be missing or extra (a decoder joins characters)."""
    head, mark, reply = text.partition(REPLY_MARK)
    if not mark:
        head, reply = "", text
    goal_type, _, topic = head.partition(TOPIC_MARK)
    return " ".join(goal_type.split()), topic.strip(), reply.strip()
