"""Official DuRecDial scores: python -m dialog.evaluate GOLD PRED  |  python -m dialog.evaluate --sessions FILE PRED

GOLD and PRED are plain text, one space-segmented response per line, in test order. With
--sessions FILE the references are the bot turns of a session file (dev.json), in order, as
`dialog.data` builds its samples. Prints an `unofficial:` line (pairs scored, pairs the organisers'
script skips because a side is empty, mean lengths), then the metrics as the organisers' script
rounds them, {"F1": x100 2 decimals, "BLEU1", "BLEU2", "DISTINCT1", "DISTINCT2": fractions, 3
decimals}, as the last line.
"""
import json

from common import cli


def main(argv=None):
    parser = cli.parser("dialog.evaluate", __doc__, config=False)
    parser.usage = "python -m dialog.evaluate GOLD PRED  |  python -m dialog.evaluate --sessions FILE PRED"
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="reference file and submission file (only PRED with --sessions)")
    parser.add_argument("--sessions", metavar="FILE", help="take the references from this session file")
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
        gold_path, gold = args.files[0], metric.read_lines(args.files[0])
    metric.check_aligned(gold_path, gold, pred_path, pred)

    pairs = metric.scored_pairs(pred, gold)
    words = [(len(p), len(g)) for p, g in pairs]
    print("unofficial: " + json.dumps({
        "pairs_scored": len(pairs), "pairs_skipped_empty": len(gold) - len(pairs),
        "mean_pred_words": round(sum(p for p, _ in words) / len(words), 2) if words else 0.0,
        "mean_gold_words": round(sum(g for _, g in words) / len(words), 2) if words else 0.0}))
    result = metric.official_format(metric.score(pred, gold))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    cli.run(main)
