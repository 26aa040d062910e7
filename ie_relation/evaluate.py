"""Official DuIE 2.0 score: python -m ie_relation.evaluate GOLD PRED

PRED is a JSON Lines file or a zip of one (as submitted). Prints {"precision", "recall", "f1"} as the
last line; a malformed file is rejected with the file, line and problem (exit status 1).
"""
import json

from common import cli


def main(argv=None):
    parser = cli.parser("ie_relation.evaluate", __doc__, config=False)
    parser.add_argument("gold", help="labelled JSON Lines file")
    parser.add_argument("pred", help="predictions: JSON Lines file or zip")
    args = parser.parse_args(argv)
    from ie_relation import metric
    result = metric.score(metric.load_submission(args.gold), metric.load_submission(args.pred))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    cli.run(main)
