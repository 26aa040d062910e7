"""DuReader_robust data: loading with located errors, sliding windows and span targets.

A question becomes one or more windows `[CLS] question [SEP] context-window [SEP]`; the windows
overlap so that every answer of up to `max_answer_len` tokens lies whole in one of them. The
training target of a window is the (start, end) position of the answer in that window's sequence,
or (0, 0) - the [CLS] position - when the window does not hold the whole answer.

No TensorFlow here: the tokenizer is passed in.
"""
from dataclasses import dataclass, field

import numpy as np

from common.io import DataError, SkipCounter, read_json
from common.tokenize import char_to_token_span, find_all, is_exact, pad, windows

NO_ANSWER = 0  # the [CLS] position: "the answer is not in this window"


@dataclass
class Question:
    qid: str
    question: str
    context: str
    answers: list = field(default_factory=list)  # [(text, starts)]: where the text is in the context


@dataclass
class Window:
    record: int         # index of the question
    token_ids: list
    segment_ids: list
    offsets: list       # (start, end) character span of every context token (shared by the question's windows)
    first_token: int    # index, among the context tokens, of the window's first context token
    n_tokens: int       # context tokens in the window
    context_pos: int    # position of the first context token in the sequence
    target: tuple       # (start, end) sequence positions of the answer, or (NO_ANSWER, NO_ANSWER)

UNREACHABLE = "answers in no window whole"


def _string(obj, key, path, where):
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str):
        raise DataError(path, None, "missing or not a string", field=f"{where}.{key}")
    return value


def _locate(answer, context, path, where):
    """(text, starts) of one gold answer: [answer_start] when given, else every occurrence."""
    text = _string(answer, "text", path, where)
    start = answer.get("answer_start", -1)
    if not isinstance(start, int) or isinstance(start, bool):
        raise DataError(path, None, f"not an integer: {start!r}", field=f"{where}.answer_start")
    if not text.strip():
        raise DataError(path, None, "empty answer", field=f"{where}.text")
    if start < 0:
        starts = find_all(context, text)
        if not starts:
            raise DataError(path, None, f"answer {text!r} does not occur in its context", field=f"{where}.text")
        return text, starts
    if context[start:start + len(text)] != text:
        raise DataError(path, None, f"answer_start {start} does not point at the answer {text!r} "
                        f"(the context there reads {context[start:start + len(text)]!r})",
                        field=f"{where}.answer_start")
    return text, [start]


def load(path, on_error="raise", with_answers=True, locate=True):
    """Questions of one SQuAD-style file.

    with_answers: every question needs at least one gold answer (train/dev); test files have none.
    locate: gold answers must occur in the context (training); evaluation only needs their text.
    Bad records raise a DataError naming file and field, or are counted and skipped
    (on_error = "skip"); returns (questions, skips).
    """
    skips = SkipCounter(on_error)
    document = read_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise DataError(path, None, "expected {\"data\": [...]} (SQuAD format)", field="data")
    questions, seen = [], set()
    for d, article in enumerate(document["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            skips(DataError(path, None, "missing or not a list", field=f"data[{d}].paragraphs"))
            continue
        for p, paragraph in enumerate(paragraphs):
            where_p = f"data[{d}].paragraphs[{p}]"
            try:
                context = _string(paragraph, "context", path, where_p)
                qas = paragraph.get("qas")
                if not isinstance(qas, list):
                    raise DataError(path, None, "missing or not a list", field=f"{where_p}.qas")
            except DataError as e:
                skips(e)
                continue
            for q, qa in enumerate(qas):
                where = f"{where_p}.qas[{q}]"
                try:
                    questions.append(_question(qa, context, path, where, seen, with_answers, locate))
                except DataError as e:
                    skips(e)
    return questions, skips


def _question(qa, context, path, where, seen, with_answers, locate):
    qid = qa.get("id") if isinstance(qa, dict) else None
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise DataError(path, None, "missing or not a string", field=f"{where}.id")
    qid = str(qid)
    if qid in seen:
        raise DataError(path, None, f"duplicate question id {qid!r}", field=f"{where}.id")
    question = _string(qa, "question", path, where)
    answers = []
    if with_answers:
        raw = qa.get("answers")
        if not isinstance(raw, list) or not raw:
            raise DataError(path, None, "a question needs at least one gold answer", field=f"{where}.answers")
        for a, answer in enumerate(raw):
            here = f"{where}.answers[{a}]"
            if locate:
                answers.append(_locate(answer, context, path, here))
            else:
                answers.append((_string(answer, "text", path, here), []))
    seen.add(qid)
    return Question(qid, question, context, answers)


def gold_answers(questions):
    """{qid: [gold answer texts]}: the gold side of the metric."""
    return {q.qid: [text for text, _ in q.answers] for q in questions}


# Windows and targets -------------------------------------------------------------------------------

def window_step(window_size, step, max_answer_len):
    """Step between window starts: the configured step, but small enough that any answer of up to
    max_answer_len tokens lies whole in some window (windows overlap by >= max_answer_len - 1)."""
    return max(1, min(step, window_size - max_answer_len + 1))


def answer_span(offsets, text, starts):
    """Tokens (first, last) of a gold answer: its first occurrence whose characters are exactly
    whole tokens ("6月03日" also occurs inside "06月03日"), else its first occurrence."""
    spans = [char_to_token_span(offsets, start, start + len(text)) for start in starts]
    for start, span in zip(starts, spans):
        if span and is_exact(offsets, *span, start, start + len(text)):
            return span
    return spans[0] if spans else None


def encode_question(index, question, tokenizer, maxlen, step, max_question_len, max_answer_len,
                    with_targets=True, lost=None):
    """One question -> its windows, with the training target of its first gold answer."""
    question_ids = tokenizer.encode_cached(question.question).ids
    # a question keeps at most half the sequence, so a window always has room
    question_ids = question_ids[:max(1, min(max_question_len, maxlen // 2))]
    context = tokenizer.encode_cached(question.context)
    window_size = maxlen - len(question_ids) - 3
    answer_tokens = None
    if with_targets and question.answers:
        answer_tokens = answer_span(context.offsets, *question.answers[0])
    out = []
    for first, last in windows(max(len(context), 1), window_size, window_step(window_size, step, max_answer_len)):
        last = min(last, len(context))
        token_ids, segment_ids = tokenizer.wrap(question_ids, context.ids[first:last])
        context_pos = len(question_ids) + 2
        target = (NO_ANSWER, NO_ANSWER)
        if answer_tokens and first <= answer_tokens[0] and answer_tokens[1] < last:
            target = (context_pos + answer_tokens[0] - first, context_pos + answer_tokens[1] - first)
        out.append(Window(index, token_ids, segment_ids, context.offsets, first, last - first, context_pos, target))
    if with_targets and lost is not None:
        lost[UNREACHABLE] += all(w.target == (NO_ANSWER, NO_ANSWER) for w in out)
    return out


def encode_records(questions, tokenizer, maxlen, step, max_question_len, max_answer_len, with_targets=True,
                   lost=None):
    """Windows of every question, in question order."""
    return [window for index, question in enumerate(questions)
            for window in encode_question(index, question, tokenizer, maxlen, step, max_question_len,
                                          max_answer_len, with_targets, lost)]


def collate(batch):
    """Windows -> ([token_ids, segment_ids], targets (batch, 2) of start/end positions)."""
    inputs = [pad([w.token_ids for w in batch]), pad([w.segment_ids for w in batch])]
    return inputs, np.array([w.target for w in batch], dtype="int32")
