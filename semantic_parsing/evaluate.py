"""DuSQL exact match: python -m semantic_parsing.evaluate GOLD PRED [--table SCHEMA] [--content FILE]

GOLD is `question_id<TAB>SQL<TAB>db_id` lines or a DuSQL JSON list file, PRED the submission
(`question_id<TAB>SQL` lines). SCHEMA defaults to db_schema.json beside GOLD. With --content
(db_content.json) the unofficial execution accuracy is computed too. Prints
{"exact_match", "exact_match_no_value", "execution", "parsed"} as the last line.
"""
import json
import os

from common import cli


def main(argv=None):
    parser = cli.parser("semantic_parsing.evaluate", __doc__, config=False)
    parser.add_argument("gold", help="gold file: qid<TAB>SQL<TAB>db_id lines, or a DuSQL JSON list")
    parser.add_argument("pred", help="predictions: qid<TAB>SQL lines")
    parser.add_argument("--table", help="db_schema.json (default: beside GOLD)")
    parser.add_argument("--content", help="db_content.json: also compute execution accuracy")
    args = parser.parse_args(argv)
    from semantic_parsing import metric
    table = args.table or os.path.join(os.path.dirname(os.path.abspath(args.gold)), "db_schema.json")
    result = metric.evaluate_files(args.gold, args.pred, table, args.content)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    cli.run(main)
