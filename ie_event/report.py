"""Error analysis of a DuEE submission: P/R/F1 per event type and per (event type, role), and the
sentences scored worst.

Counted exactly as the official metric (ie_event/metric.py) counts: within a sentence, predicted and
gold arguments of one type and role are paired greedily by character F1, and a pair scores that F1.
Per class, P = the scores of its pairs / its predicted arguments, R = the same / its gold arguments
(support); the scores of all classes add up to the metric's. Pure Python.
"""
from collections import Counter

from common.io import read_jsonl
from common.track import ReportRows
from ie_event import metric

SEPARATOR = " · "


def f1(precision, recall):
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def class_rows(scores, predicted, gold):
    """(name, P, R, F1, support) per event type and per (type, role), sorted by name (each type right
    above its roles); the counters are keyed by (type, role)."""
    rows = []
    for level in ("type", "role"):
        def key(pair):
            return pair[0] if level == "type" else SEPARATOR.join(pair)
        total, n_pred, n_gold = Counter(), Counter(), Counter()
        for pair in set(predicted) | set(gold):
            total[key(pair)] += scores[pair]
            n_pred[key(pair)] += predicted[pair]
            n_gold[key(pair)] += gold[pair]
        for name in sorted(n_pred | n_gold):
            precision = total[name] / n_pred[name] if n_pred[name] else 0.0
            recall = total[name] / n_gold[name] if n_gold[name] else 0.0
            rows.append((name, precision, recall, f1(precision, recall), n_gold[name]))
    return sorted(rows)


def rows(gold, pred, texts=None):
    """ReportRows of metric.load_gold / metric.load_submission forms; `texts`: {id: sentence}."""
    scores, predicted, counted = Counter(), Counter(), Counter()
    examples = []
    for key, gold_args in gold.items():
        pred_args = pred.get(key, [])
        pairs = metric.sentence_pairs(pred_args, gold_args)
        for score, p, _ in pairs:
            scores[pred_args[p][:2]] += score
        predicted.update(arg[:2] for arg in pred_args)
        counted.update(arg[:2] for arg in gold_args)
        total = sum(score for score, _, _ in pairs)
        precision = total / len(pred_args) if pred_args else 0.0
        recall = total / len(gold_args) if gold_args else 0.0
        examples.append((key, (texts or {}).get(key, ""),
                         [SEPARATOR.join((t, r, expressions[0])) for t, r, expressions in gold_args],
                         [SEPARATOR.join(arg) for arg in pred_args],
                         1.0 if not gold_args and not pred_args else f1(precision, recall)))
    note = ("Per event type and per event type · role: P = sum of the pair scores (character F1 of a predicted "
            "argument and the gold one it is paired with, as the official metric pairs them) / predicted "
            "arguments, R = the same / gold arguments (support). Examples: one per gold sentence, scored by its "
            "own F1; an argument that is only partly right shows as missing and spurious but scores its "
            "character F1.")
    return ReportRows(class_rows(scores, predicted, counted), examples, note, class_title="event type · role")


def report_rows(gold_path, pred_path):
    gold, pred = metric.load_gold(gold_path), metric.load_submission(pred_path)  # checked here
    texts = {}
    for _, obj in read_jsonl(gold_path):
        texts.setdefault(obj["id"], obj.get("text", ""))
    return rows(gold, pred, texts)
