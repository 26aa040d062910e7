"""The official DuIE 2.0 metric: SPO-level micro precision / recall / F1.

Rules (docs: the organisers' scorer, section 1 of tracks.md):
- A submission is rejected as a whole if a line is not JSON, lacks `text` or `spo_list`, or an SPO is
  not an object, lacks `subject` / `predicate` / `object`, has a non-string subject or a non-dict object.
  (Object values must be strings: the scorer lower-cases them and would fail on anything else; we
  reject with a message instead.) Files are read as every file of this project is (common.io): a BOM,
  CRLF line ends and blank lines are accepted, where the organisers' scorer rejects a blank line or a
  BOM; the scores are the same. Our predict writes neither.
- Subject and every object value are normalised: lower-cased, and one leading 《 plus one trailing 》
  removed when the string both starts with 《 and ends with 》.
- Gold and predictions are keyed by the exact `text`; a later line with the same text replaces an
  earlier one (the scorer builds a dict). Predictions for texts not in gold are ignored; a gold text
  without a prediction counts as an empty prediction.
- Per sentence, duplicate SPOs are removed from both sides, then
  predicted += |pred|, gold += |gold|, correct += |{p in pred: p in gold}|,
  recall_correct += |{g in gold: g in pred}|.
- An SPO matches when predicate, subject and the whole object dict (same slot keys, equal values) are
  equal. The organisers' alias list is private and treated as empty, so both match counts coincide.
- P, R, F1 (computed from the unrounded P and R) are each rounded to 4 decimals; 0 when undefined.

Pure Python, no TensorFlow.
"""
import os
import zipfile

from common.io import DataError, iter_jsonl


def normalise(value):
    value = value.lower()
    if value.startswith("《") and value.endswith("》"):
        value = value[1:-1]
    return value


def spo_key(spo):
    """The hashable, normalised identity of one SPO: (predicate, subject, sorted object items)."""
    return (spo["predicate"], normalise(spo["subject"]),
            tuple(sorted((slot, normalise(value)) for slot, value in spo["object"].items())))


def check_line(obj, path, line):
    """Raise a DataError naming the problem if `obj` is not a valid submission line."""
    if not isinstance(obj, dict):
        raise DataError(path, line, f"expected a JSON object, got {type(obj).__name__}")
    for field in ("text", "spo_list"):
        if field not in obj:
            raise DataError(path, line, "missing", field=field)
    if not isinstance(obj["spo_list"], list):
        raise DataError(path, line, "must be a list", field="spo_list")
    for i, spo in enumerate(obj["spo_list"]):
        where = f"spo_list[{i}]"
        if not isinstance(spo, dict):
            raise DataError(path, line, "must be an object", field=where)
        for field in ("subject", "predicate", "object"):
            if field not in spo:
                raise DataError(path, line, "missing", field=f"{where}.{field}")
        if not isinstance(spo["subject"], str):
            raise DataError(path, line, "must be a string", field=f"{where}.subject")
        if not isinstance(spo["object"], dict):
            raise DataError(path, line, "must be an object", field=f"{where}.object")
        try:
            hash(spo["predicate"])
        except TypeError:
            raise DataError(path, line, "must be a string", field=f"{where}.predicate") from None
        for slot, value in spo["object"].items():
            if not isinstance(value, str):
                raise DataError(path, line, "must be a string", field=f"{where}.object.{slot}")


def parse_lines(stream, path):
    """The lines of a submission (a binary stream) -> {text: [spo keys]} (later lines with the same text win)."""
    by_text = {}
    for number, obj in iter_jsonl(stream, path):
        check_line(obj, path, number)
        if not isinstance(obj["text"], str):
            raise DataError(path, number, "must be a string", field="text")
        by_text[obj["text"]] = [spo_key(spo) for spo in obj["spo_list"]]
    return by_text


def load_submission(path):
    """A JSON Lines file, or a zip of one or more: {text: [spo keys]}. Every member of a zip is read."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(path, None, "no such file")
    if zipfile.is_zipfile(path):
        by_text = {}
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith("/"):
                    continue
                with archive.open(name) as member:
                    by_text.update(parse_lines(member, f"{path}:{name}"))
        return by_text
    with open(path, "rb") as f:
        return parse_lines(f, path)


def score(gold, pred):
    """gold, pred: {text: [spo keys]} -> {"precision", "recall", "f1"} as the organisers compute them."""
    predicted = total_gold = correct = recall_correct = 0
    for text, gold_keys in gold.items():
        gold_set = set(gold_keys)
        pred_set = set(pred.get(text, ()))
        predicted += len(pred_set)
        total_gold += len(gold_set)
        correct += len(pred_set & gold_set)
        recall_correct += len(gold_set & pred_set)
    precision = correct / predicted if predicted else 0.0
    recall = recall_correct / total_gold if total_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def score_records(gold_records, pred_records):
    """Score in-memory records ({"text", "spo_list"} dicts), e.g. the dev evaluation during training."""
    gold = {r["text"]: [spo_key(s) for s in r["spo_list"]] for r in gold_records}
    pred = {r["text"]: [spo_key(s) for s in r["spo_list"]] for r in pred_records}
    return score(gold, pred)


def evaluate_files(gold_path, pred_path):
    return score(load_submission(gold_path), load_submission(pred_path))

