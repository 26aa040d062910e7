"""Error analysis of a DuIE submission: per predicate P/R/F1 and the sentences scored worst.

Counted exactly as the official metric (ie_relation/metric.py) counts: SPOs normalised, keyed by
text, duplicates removed per sentence; an SPO is right when predicate, subject and the whole object
match. Per predicate, tp + fp is the number of predicted SPOs with that predicate, tp + fn the gold
ones; the tp of all predicates add up to the metric's `correct`. Pure Python.
"""
from collections import Counter

from common.track import ReportRows
from ie_relation import metric


def spo_text(key):
    """How a normalised SPO key reads: (subject, predicate, object[, slot = value ...])."""
    predicate, subject, obj = key
    values = dict(obj)
    main = values.pop("@value", "")
    extra = "".join(f", {slot} = {value}" for slot, value in sorted(values.items()))
    return f"({subject}, {predicate}, {main}{extra})"


def sentence_f1(gold, pred):
    """F1 of one sentence's SPO sets (1.0 when both are empty)."""
    if not gold and not pred:
        return 1.0
    right = len(gold & pred)
    return 2 * right / (len(gold) + len(pred))


def rows(gold, pred):
    """ReportRows of {text: [spo keys]} gold and predictions (metric.load_submission's form)."""
    tp, fp, fn = Counter(), Counter(), Counter()
    examples = []
    for number, (text, gold_keys) in enumerate(gold.items(), 1):
        gold_set, pred_set = set(gold_keys), set(pred.get(text, ()))
        for key in gold_set & pred_set:
            tp[key[0]] += 1
        for key in pred_set - gold_set:
            fp[key[0]] += 1
        for key in gold_set - pred_set:
            fn[key[0]] += 1
        examples.append((number, text, sorted(spo_text(k) for k in gold_set),
                         sorted(spo_text(k) for k in pred_set), sentence_f1(gold_set, pred_set)))
    predicates = sorted(set(tp) | set(fp) | set(fn))
    classes = [(predicate, tp[predicate], fp[predicate], fn[predicate]) for predicate in predicates]
    note = ("Per predicate: tp = predicted SPOs of the predicate that are in the gold of their sentence, "
            "fp = the other predicted ones, fn = gold SPOs not predicted (normalised and de-duplicated as the "
            "official metric does). Examples: one per distinct gold text (id = its position among them), "
            "scored by the sentence's SPO F1.")
    return ReportRows(classes, examples, note, class_title="predicate")


def report_rows(gold_path, pred_path):
    return rows(metric.load_submission(gold_path), metric.load_submission(pred_path))
