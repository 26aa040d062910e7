"""Oracle: gold -> training targets -> the real span decoder -> submission, scored officially.

    python -m mrc.oracle --gold FILE --out FILE [--vocab VOCAB] [--config CONFIG] [key=value ...]

Each window gets the logits a perfect model would output for its training target, so the score
measures what windows, targets and decoding lose (answers cut by windows, spans that do not fall
on token boundaries) with the configured maxlen / doc_stride / max_answer_len. The score line
(the official format) is printed last.
"""
import json

from common import cli


def oracle_answers(tokenizer, questions, cfg):
    from mrc import data, decode
    encoded = data.encode_all(tokenizer, questions, cfg.data, int(cfg.model.maxlen))
    logits = [decode.perfect_logits(w) for e in encoded for w in e.windows]
    unreachable = sum(all(w.target == (data.NO_ANSWER, data.NO_ANSWER) for w in e.windows) for e in encoded)
    return decode.decode_all(encoded, logits, int(cfg.data.max_answer_len)), unreachable


def main(argv=None):
    parser = cli.oracle_parser("mrc.oracle", __doc__)
    args = parser.parse_args(argv)
    from common.config import load_config
    from common.io import write_json
    from common.model import vocab_path
    from common.tokenize import OffsetTokenizer
    from mrc import data, metric

    cfg = load_config(args.config, args.overrides)
    questions, skips = data.load(args.gold, cfg.data.get("on_error", "raise"))
    tokenizer = OffsetTokenizer(args.vocab or vocab_path(cfg.model))
    answers, unreachable = oracle_answers(tokenizer, questions, cfg)
    write_json(args.out, answers, indent=1)
    print(f"{len(questions)} questions, {unreachable} with no window holding the whole answer"
          + (f", {skips.summary()}" if skips.summary() else ""))
    result = metric.official_format(metric.evaluate(data.gold_answers(questions), answers))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    cli.run(main)
