"""Official DuRecDial scores: python -m dialog.evaluate GOLD PRED  |  python -m dialog.evaluate --sessions FILE PRED

GOLD and PRED are plain text, one space-segmented response per line, in test order; a GOLD that is
a session file (dev.json) stands for its bot turns, in order, as `dialog.data` builds its samples
(--sessions FILE says so explicitly). Prints an `unofficial:` line (pairs scored, pairs the organisers'
script skips because a side is empty, mean lengths), then the metrics as the organisers' script
rounds them, {"F1": x100 2 decimals, "BLEU1", "BLEU2", "DISTINCT1", "DISTINCT2": fractions, 3
decimals}, as the last line.

--run RUN adds an `unofficial similarity:` line before the last one: the mean Word Mover's and Word
Rotator's Distances between each reply and its reference (common.similarity; lower is closer), on
the context vectors of that run's fine-tuned encoder. Not part of the competition's metrics.
--report FILE writes an error-analysis page: the official F1 per goal type (with a session file)
and the worst replies beside their references.
"""
import json

from common import cli, commands


def main(argv=None):
    parser = cli.parser("dialog.evaluate", __doc__, config=False)
    parser.usage = "python -m dialog.evaluate GOLD PRED  |  python -m dialog.evaluate --sessions FILE PRED"
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="reference file and submission file (only PRED with --sessions)")
    parser.add_argument("--sessions", metavar="FILE", help="take the references from this session file")
    parser.add_argument("--run", metavar="DIR", help="a trained run: also an unofficial WMD / WRD line on its encoder")
    commands.add_report_option(parser)
    args = parser.parse_args(argv)
    if len(args.files) != (1 if args.sessions else 2):
        parser.error("give GOLD PRED, or --sessions FILE PRED")

    from common.io import DataError
    from dialog import metric
    pred_path = args.files[-1]
    pred = metric.read_lines(pred_path)
    if args.sessions:
        gold_path, gold = args.sessions, metric.references_from_sessions(args.sessions)
        for n, reference in enumerate(gold, 1):
            if "\t" in reference:
                raise DataError(gold_path, None, f"the reference of bot turn {n} holds a tab")
    else:
        gold_path, gold = args.files[0], metric.references(args.files[0])
    metric.check_aligned(gold_path, gold, pred_path, pred)
    if args.report:
        commands.check_writable(args.report)

    pairs = metric.scored_pairs(pred, gold)
    words = [(len(p), len(g)) for p, g in pairs]
    print("unofficial: " + json.dumps({
        "pairs_scored": len(pairs), "pairs_skipped_empty": len(gold) - len(pairs),
        "mean_pred_words": round(sum(p for p, _ in words) / len(words), 2) if words else 0.0,
        "mean_gold_words": round(sum(g for _, g in words) / len(words), 2) if words else 0.0}))
    if args.run:
        from common.similarity import TokenVectors, corpus_similarity
        similarity = corpus_similarity(pred, gold, TokenVectors.from_run(args.run).vectors)
        print("unofficial similarity: " + json.dumps({
            **{key: round(value, 4) if isinstance(value, float) else value for key, value in similarity.items()},
            "vectors": "last hidden layer of the run's encoder"}, ensure_ascii=False))
    result = metric.official_format(metric.score(pred, gold))
    if args.report:
        from dialog.track import Dialog
        commands.write_report(Dialog, args.report, result, Dialog.report_rows(gold_path, pred_path), gold_path,
                              pred_path)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    cli.run(main)
