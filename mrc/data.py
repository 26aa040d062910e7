"""DuReader_robust data: loading with located errors, sliding windows and span targets.

Loading. A question keeps every gold answer text as given (`gold`, the metric's side) and, for
training, the answers it can target (`answers`: located in the context). A bad answer - empty, not in
its context, not a string - is dropped from the targets and counted; the question stays, and one with
no usable answer left is still scored but gives no training target. An answer with surrounding spaces
targets its text without them (tokens never cover a space), where the context holds that; the metric
keeps the gold text as given. A wrong `answer_start` is dropped and the answer located by search. A
question that is not valid (no id, no question text, no answers list) raises, or with on_error =
"skip" is counted and, when its id is readable, kept as a placeholder that predict and the oracle
answer with "". A qid seen twice: the later question replaces the earlier one in the submission and the
score (the official scorer keys by qid), noted in the summary.

Windows. A question becomes one or more windows `[CLS] question [SEP] context-window [SEP]`; the
windows overlap so that every answer of up to `max_answer_len` tokens lies whole in one of them. The
training target of a window is the (start, end) position of the answer in that window's sequence, or
(0, 0) - the [CLS] position - when the window does not hold the whole answer. A window's token ids are
cut from the question's encoding when asked for, so the windows of a long context hold no copies.

No TensorFlow here: the tokenizer is passed in.
"""
from dataclasses import dataclass, field

import numpy as np

from common.io import DataError, SkipCounter, read_json
from common.tokenize import SpanIndex, find_all, pad, windows

NO_ANSWER = 0  # the [CLS] position: "the answer is not in this window"

ANSWER = "answer"                      # SkipCounter kinds of mrc's files
OFFSET = "answer_start"
SPACED = "spaced answer"
DUPLICATE = "duplicate qid"


@dataclass
class Question:
    qid: str
    question: str
    context: str
    answers: list = field(default_factory=list)  # [(text, starts)]: targetable answers, where they are in the context
    gold: list = field(default_factory=list)     # gold answer texts as given (the metric's)
    skipped: bool = False                        # a placeholder of a skipped question


@dataclass
class Encoded:
    """What the windows of one question share: its token ids and the context's encoding."""
    question_ids: list
    context: object        # common.tokenize.Encoding of the context
    wrap: object           # the tokenizer's wrap: (ids_a, ids_b) -> (token_ids, segment_ids)


@dataclass
class Window:
    record: int         # index of the question
    shared: Encoded = field(repr=False)
    first_token: int    # index, among the context tokens, of the window's first context token
    n_tokens: int       # context tokens in the window
    target: tuple       # (start, end) sequence positions of the answer, or (NO_ANSWER, NO_ANSWER)

    @property
    def token_ids(self):
        return self.sequence()[0]

    @property
    def segment_ids(self):
        return self.sequence()[1]

    def sequence(self):
        """(token_ids, segment_ids) of `[CLS] question [SEP] context-window [SEP]`."""
        ids = self.shared.context.ids[self.first_token:self.first_token + self.n_tokens]
        return self.shared.wrap(self.shared.question_ids, ids)

    @property
    def offsets(self):
        """(start, end) character span of every context token (shared by the question's windows)."""
        return self.shared.context.offsets

    @property
    def context_pos(self):
        """Position of the first context token in the sequence."""
        return len(self.shared.question_ids) + 2

    def __len__(self):
        return len(self.shared.question_ids) + self.n_tokens + 3


UNREACHABLE = "answers in no window whole"
TOO_LONG = "answers longer than max_answer_len tokens"
NO_TARGET = "questions without a usable answer (no training target)"


def _string(obj, key, path, where):
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str):
        raise DataError(path, None, "missing or not a string", field=f"{where}.{key}")
    return value


def _qid(qa, path, where):
    qid = qa.get("id") if isinstance(qa, dict) else None
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise DataError(path, None, "missing or not a string", field=f"{where}.id")
    return str(qid)


def _starts(answer, text, context, path, where, skips):
    """Where the target of one answer (`text` without surrounding spaces) is in the context: at
    answer_start when that points at it, else at every occurrence ([] if none)."""
    start = answer.get("answer_start", -1)
    if isinstance(start, bool) or not isinstance(start, int):
        skips.drop(OFFSET, DataError(path, None, f"not an integer: {start!r}; the answer is located by search",
                                     field=f"{where}.answer_start"))
    elif start >= 0:
        given = answer["text"]
        lead = len(given) - len(given.lstrip())
        for at in (start + lead, start):  # the offset of the spaced answer, or of the stripped one
            if context[at:at + len(text)] == text:
                return [at]
        skips.drop(OFFSET, DataError(path, None, f"{start} does not point at the answer {given!r} (the context "
                                     f"there reads {context[start:start + len(given)]!r}); the answer is "
                                     "located by search", field=f"{where}.answer_start"))
    return find_all(context, text)


def load(path, on_error="raise", with_answers=True, locate=True):
    """Questions of one SQuAD-style file -> (questions, skips).

    with_answers: every question needs a list of gold answers (train/dev); test files have none.
    locate: gold answers are located in the context for training targets; evaluation (with_answers
    and not locate) only needs ids and gold texts, so it reads neither context nor question. See the
    module docstring for what is dropped, skipped, kept and noted.
    """
    skips = SkipCounter(on_error)
    document = read_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise DataError(path, None, "expected {\"data\": [...]} (SQuAD format)", field="data")
    questions, seen = [], {}
    for d, article in enumerate(document["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            skips(DataError(path, None, "missing or not a list", field=f"data[{d}].paragraphs"))
            continue
        for p, paragraph in enumerate(paragraphs):
            where_p = f"data[{d}].paragraphs[{p}]"
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            try:
                context = _string(paragraph, "context", path, where_p) if locate or not with_answers else ""
                if not isinstance(qas, list):
                    raise DataError(path, None, "missing or not a list", field=f"{where_p}.qas")
            except DataError as e:
                skips(e)
                for q, qa in enumerate(qas if isinstance(qas, list) else []):
                    _keep_placeholder(questions, qa, path, f"{where_p}.qas[{q}]")
                continue
            for q, qa in enumerate(qas):
                where = f"{where_p}.qas[{q}]"
                try:
                    question = _question(qa, context, path, where, with_answers, locate, skips)
                except DataError as e:
                    skips(e)
                    _keep_placeholder(questions, qa, path, where)
                    continue
                if question.qid in seen:
                    skips.note(DUPLICATE, DataError(path, None, f"{question.qid!r} also at {seen[question.qid]}: "
                                                    "the later question counts in the submission and the score",
                                                    field=f"{where}.id"))
                seen.setdefault(question.qid, f"{where}.id")
                questions.append(question)
    return questions, skips


def _keep_placeholder(questions, qa, path, where):
    """A skipped question whose id is readable stays as a placeholder, answered with ""."""
    try:
        questions.append(Question(_qid(qa, path, where), "", "", skipped=True))
    except DataError:
        pass  # no id: nothing can answer it


def _question(qa, context, path, where, with_answers, locate, skips):
    qid = _qid(qa, path, where)
    scoring = with_answers and not locate  # the metric needs only ids and gold texts
    question = "" if scoring else _string(qa, "question", path, where)
    if not with_answers:
        return Question(qid, question, context)
    raw = qa.get("answers")
    if not isinstance(raw, list) or not raw:
        raise DataError(path, None, "a question needs at least one gold answer", field=f"{where}.answers")
    gold, answers = [], []
    for a, answer in enumerate(raw):
        here = f"{where}.answers[{a}]"
        given = answer.get("text") if isinstance(answer, dict) else None
        if not isinstance(given, str):
            skips.drop(ANSWER, DataError(path, None, "missing or not a string", field=f"{here}.text"))
            continue
        gold.append(given)
        if not locate:
            continue
        text = given.strip()
        if not text:
            skips.drop(ANSWER, DataError(path, None, "empty", field=f"{here}.text"))
            continue
        starts = _starts(answer, text, context, path, here, skips)
        if not starts:
            skips.drop(ANSWER, DataError(path, None, f"{given!r} does not occur in its context", field=f"{here}.text"))
            continue
        if text != given:
            skips.note(SPACED, DataError(path, None, f"{given!r}: the target is {text!r}", field=f"{here}.text"))
        answers.append((text, starts))
    return Question(qid, question, context, answers, gold)


def gold_answers(questions):
    """{qid: [gold answer texts as given]}: the gold side of the metric (a later qid replaces an earlier
    one; placeholders have no gold)."""
    return {q.qid: q.gold for q in questions if not q.skipped}


# Windows and targets -------------------------------------------------------------------------------

def window_step(window_size, step, max_answer_len):
    """Step between window starts: the configured step, but small enough that any answer of up to
    max_answer_len tokens lies whole in some window (windows overlap by >= max_answer_len - 1)."""
    return max(1, min(step, window_size - max_answer_len + 1))


def answer_span(offsets, text, starts):
    """Tokens (first, last) of a gold answer: its first occurrence whose characters are exactly
    whole tokens ("6月03日" also occurs inside "06月03日"), else its first occurrence."""
    index = SpanIndex(offsets)
    exact = index.exact(starts, len(text))
    if exact:
        return exact[0]
    return index.overlapping(starts[0], starts[0] + len(text)) if starts else None


def encode_question(index, question, tokenizer, maxlen, step, max_question_len, max_answer_len,
                    with_targets=True, lost=None):
    """One question -> its windows, with the training target of its first usable answer. With targets,
    a question without a usable answer has no window (counted in `lost`: it cannot teach where an answer
    is, and a window marked "not here" would teach that it is nowhere); a placeholder never has one."""
    if question.skipped:
        return []
    if with_targets and not question.answers:
        if lost is not None:
            lost[NO_TARGET] += 1
        return []
    question_ids = tokenizer.encode_cached(question.question).ids
    # a question keeps at most half the sequence, so a window always has room
    question_ids = question_ids[:max(1, min(max_question_len, maxlen // 2))]
    context = tokenizer.encode_cached(question.context)
    shared = Encoded(question_ids, context, tokenizer.wrap)
    window_size = maxlen - len(question_ids) - 3
    context_pos = len(question_ids) + 2
    answer_tokens = answer_span(context.offsets, *question.answers[0]) if with_targets else None
    out = []
    for first, last in windows(max(len(context), 1), window_size, window_step(window_size, step, max_answer_len)):
        last = min(last, len(context))
        target = (NO_ANSWER, NO_ANSWER)
        if answer_tokens and first <= answer_tokens[0] and answer_tokens[1] < last:
            target = (context_pos + answer_tokens[0] - first, context_pos + answer_tokens[1] - first)
        out.append(Window(index, shared, first, last - first, target))
    if with_targets and lost is not None:
        lost[UNREACHABLE] += all(w.target == (NO_ANSWER, NO_ANSWER) for w in out)
        lost[TOO_LONG] += bool(answer_tokens) and answer_tokens[1] - answer_tokens[0] >= max_answer_len
    return out


def encode_records(questions, tokenizer, maxlen, step, max_question_len, max_answer_len, with_targets=True,
                   lost=None):
    """Windows of every question, in question order."""
    return [window for index, question in enumerate(questions)
            for window in encode_question(index, question, tokenizer, maxlen, step, max_question_len,
                                          max_answer_len, with_targets, lost)]


def collate(batch):
    """Windows -> ([token_ids, segment_ids], targets (batch, 2) of start/end positions)."""
    sequences = [w.sequence() for w in batch]
    inputs = [pad([token_ids for token_ids, _ in sequences]), pad([segments for _, segments in sequences])]
    return inputs, np.array([w.target for w in batch], dtype="int32")
