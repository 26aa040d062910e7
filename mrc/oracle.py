"""Decoding ceiling of DuReader_robust: python -m mrc.oracle --gold FILE --out FILE [--vocab FILE] [...]

Each window gets the logits a perfect model would output for its training target, so the score
measures what windows, targets and decoding lose (answers cut by windows, spans that do not fall on
token boundaries) with the configured maxlen / window_step / max_answer_len. Every question of --gold
is answered (one skipped with data.on_error=skip with ""), scored against the gold file as it is; the
score line (the official format) is printed last. The vocab is the config's model's (--vocab overrides).
"""
from common import cli, commands
from mrc.track import MRC

main = commands.command("oracle", MRC, __doc__)

if __name__ == "__main__":
    cli.run(main)
