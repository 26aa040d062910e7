"""The DuEE 1.0 argument-level metric, as the organisers publish it (their scorer is not public).

Each predicted argument scores [event_type right] x [role right] x charF1(predicted, gold), where
charF1 counts the characters the two strings share (multiset overlap, case-insensitive, spaces
included): P_c = common / len(pred), R_c = common / len(gold), charF1 = 2 P_c R_c / (P_c + R_c);
with aliases, the best gold expression counts. P = sum of scores / number of predicted arguments,
R = sum of scores / number of gold arguments, F1 = 2PR / (P + R), each rounded to 4 decimals.

Every argument counts, on both sides, as often as it is written: an argument shared by two events
is two gold arguments, and a prediction must list it in two events to recall both (how arguments
are grouped into events is otherwise not scored: only (event_type, role, argument) triples are
paired).

Pairing (unspecified by the organisers; our choice, as ../docs/tracks.md states it): within one
sentence, a predicted (event_type, role, argument) is compared only with gold arguments of the same
type and role; all such pairs with a score > 0 are ranked by charF1 and taken greedily, best first,
each predicted and each gold argument used at most once. Greedy is not an optimal assignment: where two pairs
tie, which goes first can change the sum ("雄鹿队" scores 0.8 with both "雄鹿" and "鹿队"; if it takes
"鹿队", "鹿队员" is left with "雄鹿" at 0.4 instead of "鹿队" at 0.8). Ties go to the earlier predicted
argument, then to the earlier gold argument (file order: events, then arguments), so the result is
deterministic.

Sentences are keyed by `id`; predictions for ids not in gold are ignored, gold ids without a
prediction count as predicting nothing. Ids follow the rule of ie_event/data.py: an id names one
sentence. A submission that repeats an id is refused, naming both lines (predict never writes one);
a gold line that repeats an earlier id with the same text is that sentence again and is not scored
twice (logged); with a different text it is an error naming both lines.
"""
import logging
from collections import Counter

from common.io import DataError, read_jsonl

log = logging.getLogger(__name__)


def char_f1(pred, gold):
    common = sum((Counter(pred.lower()) & Counter(gold.lower())).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def sentence_pairs(pred, gold):
    """The pairs the metric takes in one sentence, [(score, index in pred, index in gold)], best
    first. pred: [(type, role, argument)]; gold: [(type, role, [argument, *aliases])]; every item
    counts (no de-duplication)."""
    pairs = []
    for p, (p_type, p_role, p_arg) in enumerate(pred):
        for g, (g_type, g_role, expressions) in enumerate(gold):
            if p_type == g_type and p_role == g_role:
                score = max(char_f1(p_arg, e) for e in expressions)
                if score > 0:
                    pairs.append((-score, p, g))
    pairs.sort()
    used_pred, used_gold, taken = set(), set(), []
    for negative, p, g in pairs:
        if p not in used_pred and g not in used_gold:
            used_pred.add(p)
            used_gold.add(g)
            taken.append((-negative, p, g))
    return taken


def sentence_score(pred, gold):
    """Sum of pair scores for one sentence (sentence_pairs)."""
    return sum(score for score, _, _ in sentence_pairs(pred, gold))


def score(gold, pred):
    """gold: {id: [(type, role, [argument, *aliases])]}, pred: {id: [(type, role, argument)]}."""
    total = n_pred = n_gold = 0
    for key, gold_args in gold.items():
        pred_args = pred.get(key, [])
        total += sentence_score(pred_args, gold_args)
        n_pred += len(pred_args)
        n_gold += len(gold_args)
    precision = total / n_pred if n_pred else 0.0
    recall = total / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _hashable(path, line, value):
    if isinstance(value, (dict, list)) or value is None:
        raise DataError(path, line, "must be a string or number", field="id")
    return value


def _events(path, line, obj):
    event_list = obj["event_list"]
    if not isinstance(event_list, list):
        raise DataError(path, line, "must be a list", field="event_list")
    for e, event in enumerate(event_list):
        where = f"event_list[{e}]"
        if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
            raise DataError(path, line, "needs a string event_type", field=where)
        if not isinstance(event.get("arguments"), list):
            raise DataError(path, line, "missing or not a list", field=f"{where}.arguments")
        for a, arg in enumerate(event["arguments"]):
            at = f"{where}.arguments[{a}]"
            if not isinstance(arg, dict) or not isinstance(arg.get("role"), str) \
                    or not isinstance(arg.get("argument"), str):
                raise DataError(path, line, "needs string role and argument", field=at)
            yield event["event_type"], arg, at


def _keyed_lines(path, repeats_allowed):
    """(line, id, object) of each line whose id is new. A repeated id is an error naming both lines,
    unless `repeats_allowed` and the line has the same text as the first (then it is skipped, logged)."""
    first = {}  # id -> (line, text)
    for line, obj in read_jsonl(path, required=("id", "event_list")):
        key = _hashable(path, line, obj["id"])
        if key in first:
            first_line, first_text = first[key]
            if repeats_allowed and obj.get("text") == first_text:
                log.warning("%s, line %d: id %r repeats line %d with the same text: scored once", path, line,
                            key, first_line)
                continue
            why = "with a different text" if repeats_allowed else "(a submission answers each id once)"
            raise DataError(path, line, f"id {key!r} already used at line {first_line} {why}", field="id")
        first[key] = (line, obj.get("text"))
        yield line, key, obj


def load_gold(path):
    gold = {}
    for line, key, obj in _keyed_lines(path, repeats_allowed=True):
        args = []
        for event_type, arg, at in _events(path, line, obj):
            alias = arg.get("alias") or []
            if not isinstance(alias, list) or not all(isinstance(x, str) for x in alias):
                raise DataError(path, line, "must be a list of strings", field=f"{at}.alias")
            args.append((event_type, arg["role"], [arg["argument"], *alias]))
        gold[key] = args
    return gold


def load_submission(path):
    return {key: [(event_type, arg["role"], arg["argument"]) for event_type, arg, _ in _events(path, line, obj)]
            for line, key, obj in _keyed_lines(path, repeats_allowed=False)}


def evaluate_files(gold_path, pred_path):
    return score(load_gold(gold_path), load_submission(pred_path))
