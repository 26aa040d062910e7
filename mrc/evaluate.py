"""Official DuReader_robust score: python -m mrc.evaluate GOLD PRED

GOLD is a SQuAD-style file with answers, PRED the submission {qid: answer}. Prints the organisers'
result line {"F1": "x", "EM": "y", "TOTAL": n, "SKIP": k} last (F1/EM x100 as 3-decimal strings,
as their script prints them); a gold question missing from PRED scores 0 and counts in SKIP.
"""
import json

from common import cli
from common.io import DataError, read_json


def read_predictions(path):
    predictions = read_json(path)
    if not isinstance(predictions, dict):
        raise DataError(path, None, "expected one JSON object {qid: answer}")
    for qid, answer in predictions.items():
        if not isinstance(answer, str):
            raise DataError(path, None, f"answer of question {qid!r} is {type(answer).__name__}, not a string")
    return predictions


def score_files(gold_path, pred_path, on_error="raise"):
    from mrc import data, metric
    questions, _ = data.load(gold_path, on_error, locate=False)
    return metric.evaluate(data.gold_answers(questions), read_predictions(pred_path))


def main(argv=None):
    parser = cli.parser("mrc.evaluate", __doc__, config=False)
    parser.add_argument("gold")
    parser.add_argument("pred")
    args = parser.parse_args(argv)
    from mrc import metric
    result = metric.official_format(score_files(args.gold, args.pred))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    cli.run(main)
