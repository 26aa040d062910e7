"""The organisers' automatic metrics of the DuRecDial track: F1, BLEU-1/2, DISTINCT-1/2. Pure Python.

As the organisers' script reads a file of `prediction \\t reference` lines:
- a line is stripped and split at tabs; a line with fewer than two fields is skipped, so a pair
  whose prediction or reference is empty (or only spaces) counts nowhere. `score` does the same and
  `scored_pairs` says how many pairs were left;
- each side is stripped and split at single spaces (" ".split(" "): two spaces make an empty word,
  which counts as a word);
- an n-gram is keyed by its words joined without spaces (so "ab c" and "a bc" are one bigram).

F1 (character level, corpus micro, x100): per pair, the words joined; hit += |Counter(pred) &
Counter(gold)|; P = sum hit / sum len(pred), R = sum hit / sum len(gold), F1 = 2PR/(P+R).
BLEU-n (word level, corpus): p_n = (sum of clipped n-gram matches + 1e-4) / (sum of predicted n-grams
+ 1e-4); BP = exp(1 - r/c) when c < r, else 1, with c and r the total predicted and reference word
counts; BLEU1 = BP * p1, BLEU2 = BP * sqrt(p1 * p2), as fractions.
DISTINCT-n: (distinct n-grams + 1e-4) / (n-grams + 1e-4) over all predictions pooled.
The script prints F1 with 2 decimals (x100) and the others with 3 (fractions): `official_format`.
Where the script would divide by zero (no pair left, or no hit at all), the score is 0.
"""
import math
from collections import Counter

SMOOTH = 1e-4


def parse_pair(prediction, reference):
    """(prediction words, reference words) as the organisers' script reads the line, or None when
    it skips the line."""
    fields = f"{prediction}\t{reference}".strip().split("\t")
    if len(fields) < 2:
        return None
    return fields[0].strip().split(" "), fields[1].strip().split(" ")


def scored_pairs(predictions, references):
    """The pairs the script scores (a tab inside a text would split it: refused)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    pairs = []
    for n, (prediction, reference) in enumerate(zip(predictions, references)):
        if "\t" in prediction or "\t" in reference:
            raise ValueError(f"pair {n}: a tab inside a response")
        pair = parse_pair(prediction, reference)
        if pair is not None:
            pairs.append(pair)
    return pairs


def _ngrams(words, n):
    return Counter("".join(words[i:i + n]) for i in range(len(words) - n + 1))


def char_f1(pairs):
    hit = pred_chars = gold_chars = 0
    for pred, gold in pairs:
        pred, gold = "".join(pred), "".join(gold)
        hit += sum((Counter(pred) & Counter(gold)).values())
        pred_chars += len(pred)
        gold_chars += len(gold)
    p = hit / pred_chars if pred_chars else 0.0
    r = hit / gold_chars if gold_chars else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def ngram_precision(pairs, n):
    matches = total = 0
    for pred, gold in pairs:
        pred_grams, gold_grams = _ngrams(pred, n), _ngrams(gold, n)
        matches += sum(min(count, gold_grams[gram]) for gram, count in pred_grams.items())
        total += sum(pred_grams.values())
    return (matches + SMOOTH) / (total + SMOOTH)


def brevity_penalty(pairs):
    c = sum(len(pred) for pred, _ in pairs)
    r = sum(len(gold) for _, gold in pairs)
    if not c:
        return 0.0
    return math.exp(1 - r / c) if c < r else 1.0


def bleu(pairs):
    """(BLEU1, BLEU2)."""
    bp, p1, p2 = brevity_penalty(pairs), ngram_precision(pairs, 1), ngram_precision(pairs, 2)
    return bp * p1, bp * math.sqrt(p1 * p2)


def distinct(pairs, n):
    grams = Counter()
    for pred, _ in pairs:
        grams.update(_ngrams(pred, n))
    return (len(grams) + SMOOTH) / (sum(grams.values()) + SMOOTH)


def score(predictions, references):
    """predictions, references: space-segmented responses, one per test sample, in order."""
    pairs = scored_pairs(predictions, references)
    if not pairs:
        return {"F1": 0.0, "BLEU1": 0.0, "BLEU2": 0.0, "DISTINCT1": 0.0, "DISTINCT2": 0.0}
    bleu1, bleu2 = bleu(pairs)
    return {"F1": 100.0 * char_f1(pairs), "BLEU1": bleu1, "BLEU2": bleu2,
            "DISTINCT1": distinct(pairs, 1), "DISTINCT2": distinct(pairs, 2)}


def official_format(scores):
    """Rounded as the organisers' script prints them: F1 to 2 decimals, the others to 3."""
    return {key: round(value, 2 if key == "F1" else 3) for key, value in scores.items()}


# --- files --------------------------------------------------------------------------------------

def read_lines(path):
    """The lines of a plain text file of responses (BOM and CRLF accepted); located errors for an
    empty file and for a tab inside a line."""
    from common.io import DataError
    with open(path, encoding="utf-8-sig", newline="") as f:
        text = f.read()
    if not text:
        raise DataError(path, None, "empty file: expected one response per line")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    for number, line in enumerate(lines, 1):
        if "\t" in line:
            raise DataError(path, number, "a tab inside a response (one response per line, words "
                                          "separated by spaces)")
    return lines


def check_aligned(gold_path, gold, pred_path, pred):
    from common.io import DataError
    if len(gold) != len(pred):
        raise DataError(pred_path, None, f"{len(pred)} responses, but {gold_path} has {len(gold)} "
                                         "references: one response per line, in test order")


def evaluate_files(gold_path, pred_path):
    """Scores of a submission file against a reference file (both one response per line)."""
    gold, pred = read_lines(gold_path), read_lines(pred_path)
    check_aligned(gold_path, gold, pred_path, pred)
    return score(pred, gold)


def references_from_sessions(path, on_error="raise"):
    """The reference of every bot turn of a session file, in order (its "[k]" marker removed)."""
    from dialog.data import build_samples, load_sessions
    sessions, _ = load_sessions(path, on_error)
    return [sample.response for sample in build_samples(sessions)]
