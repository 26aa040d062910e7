"""Error analysis of a DuRecDial submission: the official character F1 per goal type of the reply,
and the replies scored worst.

Counted as the official F1 (dialog/metric.py) counts: a pair is read as the organisers' script reads
it (one with an empty side is skipped), its words joined, hit = the characters prediction and
reference share (multiset). Per class, P = hits / predicted characters, R = hits / reference
characters (micro, as the corpus F1), support = pairs scored. A class is the goal type of the reply
when the gold is a session file (its bot turns say their goal), else the length of the reference in
words (a file of references says nothing else). Pure Python.
"""
from collections import Counter

from common.track import ReportRows
from dialog import metric
from dialog.goals import compact

WORD_BUCKETS = ((1, 5), (6, 10), (11, 20), (21, 40), (41, None))


def length_class(n_words):
    for first, last in WORD_BUCKETS:
        if last is None or n_words <= last:
            return f"reference ≥ {first} words" if last is None else f"reference {first}-{last} words"
    raise AssertionError("the last bucket is open")


def pair_counts(prediction, reference):
    """(hits, predicted characters, reference characters) of one pair, or None when the script skips it."""
    pair = metric.parse_pair(prediction, reference)
    if pair is None:
        return None
    pred, gold = "".join(pair[0]), "".join(pair[1])
    return sum((Counter(pred) & Counter(gold)).values()), len(pred), len(gold)


def f1_of(hits, predicted, gold):
    precision = hits / predicted if predicted else 0.0
    recall = hits / gold if gold else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def rows(references, predictions, samples=None):
    """ReportRows of aligned references and predictions; `samples` (dialog.data.Sample of a session
    file, aligned with the references) give the goal types and the user's turn shown beside each pair."""
    sums, examples = {}, []
    for n, (reference, prediction) in enumerate(zip(references, predictions)):
        sample = samples[n] if samples is not None else None
        counts = pair_counts(prediction, reference)
        if sample is not None:
            name = compact(sample.goal.type) if sample.goal is not None else "(no goal)"
            where, text = f"line {sample.line}, turn {sample.turn + 1}", sample.history[-1] if sample.history else ""
        else:
            name, where, text = length_class(len(reference.split())), f"line {n + 1}", ""
        if counts is None:
            examples.append((where, text, reference, prediction, 0.0))
            continue
        totals = sums.setdefault(name, [0, 0, 0, 0])
        for k, value in enumerate((*counts, 1)):
            totals[k] += value
        examples.append((where, text, reference, prediction, f1_of(*counts)[2]))
    classes = [(name, *f1_of(hits, predicted, gold), pairs) for name, (hits, predicted, gold, pairs) in sorted(sums.items())]
    kind = "goal type of the reply" if samples is not None else "reference length (the gold holds no goals)"
    note = (f"Per {kind}: the official character F1, micro over the class's pairs (P = shared characters / "
            "predicted characters, R = shared / reference characters); support = pairs scored (a pair with an "
            "empty side is skipped, as the organisers' script skips it, and shown with score 0). Examples: "
            + ("the user's last turn, then reference and reply." if samples is not None else "reference and reply."))
    return ReportRows(classes, examples, note, class_title="goal type" if samples is not None else "reference length")


def report_rows(gold_path, pred_path):
    from dialog.data import build_samples, holds_sessions, load_sessions
    predictions = metric.read_lines(pred_path)
    samples = build_samples(load_sessions(gold_path)[0]) if holds_sessions(gold_path) else None
    references = [s.response for s in samples] if samples is not None else metric.read_lines(gold_path)
    metric.check_aligned(gold_path, references, pred_path, predictions)
    return rows(references, predictions, samples)
