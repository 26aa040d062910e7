"""Span decoding: start/end logits of every window of a question -> the answer text.

In each window the logits are turned into log-probabilities over its candidates ([CLS] plus the
context tokens), so scores of different windows are comparable: a window that does not hold the
answer puts its mass on [CLS] and its spans score low. The answer is the span (start <= end, at most
max_answer_len tokens) with the highest log p(start) + log p(end) over all windows, cut from the
context by the character offsets of its tokens - exact characters, spaces and case as in the context.
"""
import numpy as np

from mrc.data import NO_ANSWER

PERFECT_LOGIT = 20.0  # an oracle's logit at the target; 0 elsewhere


def log_softmax(x):
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


def best_span(start_logp, end_logp, max_answer_len):
    """(score, first, last) of the best span with first <= last < first + max_answer_len."""
    n = len(start_logp)
    best = (-np.inf, 0, 0)
    for length in range(min(max_answer_len, n)):
        scores = start_logp[:n - length] + end_logp[length:]
        first = int(np.argmax(scores))
        if scores[first] > best[0]:
            best = (float(scores[first]), first, first + length)
    return best


def window_scores(window, logits):
    """Log-probabilities (start, end) of the window's context tokens; logits is (sequence, 2)."""
    context = slice(window.context_pos, window.context_pos + window.n_tokens)
    start = log_softmax(np.concatenate([logits[NO_ANSWER:NO_ANSWER + 1, 0], logits[context, 0]]))
    end = log_softmax(np.concatenate([logits[NO_ANSWER:NO_ANSWER + 1, 1], logits[context, 1]]))
    return start[1:], end[1:]


def decode(questions, windows, window_logits, max_answer_len):
    """[(qid, answer text)] of every question, in order, from the logits of each window."""
    best = [(-np.inf, None, None, None) for _ in questions]
    for window, logits in zip(windows, window_logits):
        if window.n_tokens == 0:
            continue
        score, first, last = best_span(*window_scores(window, logits), max_answer_len)
        if score > best[window.record][0]:
            best[window.record] = (score, window, window.first_token + first, window.first_token + last)
    rows = []
    for question, found in zip(questions, best):
        answer = ""  # an empty context has no span
        if found[1] is not None:
            _, window, first, last = found
            answer = question.context[window.offsets[first][0]:window.offsets[last][1]]
        rows.append((question.qid, answer))
    return rows


def perfect_logits(window):
    """What a perfect model outputs for a window: a peak at the training target ([CLS] if none)."""
    logits = np.zeros((len(window), 2), dtype="float32")
    logits[window.target[0], 0] = PERFECT_LOGIT
    logits[window.target[1], 1] = PERFECT_LOGIT
    return logits
