"""The official DuReader_robust metric (F1 / EM), pure Python.

Same algorithm as the organisers' evaluate.py: lower-case and delete a fixed list of punctuation,
split into tokens (each CJK character and "=" alone, every other run of characters one token),
F1 from the longest common *contiguous* run of tokens, best over the gold answers; EM on the
normalised strings. A question without a prediction scores 0 and counts as skipped.
"""
from common.text import longest_common_run

# Deleted by normalisation. Spaces, ASCII . ? ! and digits are kept, as in the official script.
# (The official list also holds the two-character string "……", which never equals one character.)
PUNCTUATION = frozenset(":_`，。：？！()“”；’《》·、,「」（）－～『』|")

CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def normalize(text):
    return "".join(ch for ch in text.lower() if ch not in PUNCTUATION)


def is_cjk(ch):
    code = ord(ch)
    return any(low <= code <= high for low, high in CJK_RANGES)


def tokenize(text):
    """Each CJK character and "=" is a token; each maximal run of other characters is one token."""
    tokens, run = [], ""
    for ch in text:
        if is_cjk(ch) or ch == "=":
            if run:
                tokens.append(run)
                run = ""
            tokens.append(ch)
        else:
            run += ch
    if run:
        tokens.append(run)
    return tokens


def f1_score(golds, prediction):
    pred = tokenize(normalize(prediction))
    scores = [0.0]
    for gold in golds:
        ref = tokenize(normalize(gold))
        common = longest_common_run(ref, pred)
        if common:
            precision, recall = common / len(pred), common / len(ref)
            scores.append(2 * precision * recall / (precision + recall))
    return max(scores)


def em_score(golds, prediction):
    pred = normalize(prediction)
    return float(any(normalize(gold) == pred for gold in golds))


def evaluate(golds, predictions):
    """golds: {qid: [answer texts]}, predictions: {qid: text} -> F1, EM (x100), TOTAL, SKIP as floats/ints."""
    f1 = em = 0.0
    skip = 0
    for qid, answers in golds.items():
        if qid not in predictions:
            skip += 1
            continue
        f1 += f1_score(answers, predictions[qid])
        em += em_score(answers, predictions[qid])
    total = len(golds)
    return {"F1": 100.0 * f1 / total if total else 0.0, "EM": 100.0 * em / total if total else 0.0,
            "TOTAL": total, "SKIP": skip}


def official_format(scores):
    """As the organisers' script prints it: F1 and EM as strings with 3 decimals."""
    return {"F1": f"{scores['F1']:.3f}", "EM": f"{scores['EM']:.3f}", "TOTAL": scores["TOTAL"],
            "SKIP": scores["SKIP"]}


def read_predictions(path):
    """A submission {qid: answer}, checked."""
    from common.io import DataError, read_json
    predictions = read_json(path)
    if not isinstance(predictions, dict):
        raise DataError(path, None, "expected one JSON object {qid: answer}")
    for qid, answer in predictions.items():
        if not isinstance(answer, str):
            raise DataError(path, None, f"answer of question {qid!r} is {type(answer).__name__}, not a string")
    return predictions


def evaluate_files(gold_path, pred_path):
    """The official metric of a submission file against a SQuAD-style gold file."""
    from mrc import data
    questions, _ = data.load(gold_path, locate=False)
    return evaluate(data.gold_answers(questions), read_predictions(pred_path))
