"""DuSQL exact match: python -m semantic_parsing.evaluate GOLD PRED [--table SCHEMA] [--content FILE]

GOLD is `question_id<TAB>SQL<TAB>db_id` lines or a DuSQL JSON list file, PRED the submission
(`question_id<TAB>SQL` lines). SCHEMA (db_schema.json) defaults to the one beside GOLD, else the one
of data.dir (semantic_parsing/config.toml). With --content (db_content.json; default: the one beside
SCHEMA, when there) the unofficial execution accuracy is computed too, on SQLite copies in data.sqlite_dir, each query run read-only
under data.query_time_limit and data.query_max_rows. A missing or unparsable prediction scores 0. Prints
{"exact_match", "exact_match_no_value", "execution", "parsed"} as the last line. --report FILE writes
an error-analysis page: P/R/F1 per SQL component and the worst questions, gold beside prediction.
"""
import json

from common import cli, commands


def main(argv=None):
    parser = cli.parser("semantic_parsing.evaluate", __doc__, config=False)
    parser.add_argument("gold", help="gold file: question_id<TAB>SQL<TAB>db_id lines, or a DuSQL JSON list")
    parser.add_argument("pred", help="submission: question_id<TAB>SQL lines")
    parser.add_argument("--table", help="db_schema.json (default: beside GOLD, else data.dir's)")
    parser.add_argument("--content", help="db_content.json: also execution accuracy (default: beside SCHEMA)")
    commands.add_report_option(parser)
    args = parser.parse_args(argv)
    from semantic_parsing.track import SemanticParsing, evaluate_files
    if args.report:
        commands.check_writable(args.report)
    result = evaluate_files(args.gold, args.pred, table=args.table, content=args.content)
    if args.report:
        commands.write_report(SemanticParsing, args.report, result,
                              SemanticParsing.report_rows(args.gold, args.pred, table=args.table), args.gold, args.pred)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    cli.run(main)
