"""Score a submission: python -m ie_event.evaluate GOLD PRED

Prints {"precision", "recall", "f1"} (4 decimals) as the last line; the rule and our pairing of
predicted and gold arguments are documented in ie_event/metric.py.
"""
import json

from common import cli
from ie_event import metric


def main(argv=None):
    parser = cli.parser("ie_event.evaluate", __doc__, config=False)
    parser.add_argument("gold", help="labelled DuEE JSON Lines (id, event_list)")
    parser.add_argument("pred", help="submission JSON Lines (id, event_list)")
    args = parser.parse_args(argv)
    result = metric.evaluate_files(args.gold, args.pred)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    cli.run(main)
