"""Error analysis of a DuReader_robust submission: P/R/F1 per answer length and the questions scored worst.

Counted as the official metric (mrc/metric.py) counts: answers normalised and split into tokens (a
CJK character each), a question's F1 is the best over its gold answers, from their longest common
run of tokens; a question without a prediction scores 0. Per question, P and R are those of the gold
answer giving that F1 (P < R: the prediction is too long; P > R: too short). A class is the length
of the first gold answer in tokens; its P, R and F1 are means over its questions, so the F1 of all
classes, weighted by their support, is the official F1 / 100. Pure Python.
"""
from common.text import longest_common_run
from common.track import ReportRows
from mrc import metric

# answer lengths in metric tokens: (first, last) of each bucket, the last one open
BUCKETS = ((0, 0), (1, 2), (3, 4), (5, 8), (9, 16), (17, None))


def bucket(n_tokens):
    for first, last in BUCKETS:
        if last is None or first <= n_tokens <= last:
            return first, last
    raise AssertionError("the last bucket is open")


def bucket_name(first, last):
    if last is None:
        return f"answer ≥ {first} tokens"
    return f"answer {first} tokens" if first == last else f"answer {first}-{last} tokens"


def question_scores(golds, prediction):
    """(precision, recall, F1) of one question: those of the gold answer with the best F1 (all 0
    without a prediction or without any overlap)."""
    if prediction is None:
        return 0.0, 0.0, 0.0
    pred = metric.tokenize(metric.normalize(prediction))
    best = (0.0, 0.0, 0.0)
    for gold in golds:
        ref = metric.tokenize(metric.normalize(gold))
        common = longest_common_run(ref, pred)
        if common:
            precision, recall = common / len(pred), common / len(ref)
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best[2]:
                best = (precision, recall, f1)
    return best


def rows(questions, predictions, texts=None):
    """ReportRows of gold questions (mrc.data.Question, placeholders left out) and {qid: answer};
    `texts`: {qid: (question, context)} shown beside them."""
    sums = {}
    examples = []
    gold = {q.qid: q for q in questions if not q.skipped}  # a later qid replaces an earlier one
    for qid, question in gold.items():
        prediction = predictions.get(qid)
        precision, recall, f1 = question_scores(question.gold, prediction)
        length = len(metric.tokenize(metric.normalize(question.gold[0]))) if question.gold else 0
        totals = sums.setdefault(bucket(length), [0.0, 0.0, 0.0, 0])
        for k, value in enumerate((precision, recall, f1, 1)):
            totals[k] += value
        asked, context = (texts or {}).get(qid, (question.question, question.context))
        examples.append((qid, f"{asked}\n{context}".strip(), list(question.gold),
                         prediction if prediction is not None else "", f1))
    classes = [(bucket_name(*key), p / n, r / n, f / n, n) for key, (p, r, f, n) in sorted(sums.items())]
    note = ("Per length of the first gold answer (official tokens: one per CJK character): means over the "
            "questions of P, R and F1, each question's P and R those of the gold answer that gives its F1 "
            "(P < R: predictions too long, P > R: too short); a question without a prediction scores 0. "
            "Examples: the question, then its context.")
    return ReportRows(classes, examples, note, class_title="answer length")


def report_rows(gold_path, pred_path):
    from mrc import data
    questions, _ = data.load(gold_path, locate=False)  # as the metric reads it: ids and gold answers
    predictions = metric.read_predictions(pred_path)
    shown, _ = data.load(gold_path, on_error="skip", with_answers=False)  # and the texts, where readable
    return rows(questions, predictions, {q.qid: (q.question, q.context) for q in shown})
