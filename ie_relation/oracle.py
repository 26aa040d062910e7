"""Decoding ceiling of DuIE 2.0: python -m ie_relation.oracle --gold FILE --out FILE [--vocab FILE] [--labels FILE] [...]

Gold SPOs are encoded exactly as in training (same maxlen, window step, tokenizer), turned into the
scores a perfect model would give (above the thresholds on target cells, below elsewhere) and decoded
by the real decoder. Writes one line per record of --gold (a line skipped with data.on_error=skip is
answered with no SPO), prints what loading dropped and what the targets cannot express, then the
official metric against the gold file as it is, as the last line. The schema is found beside --gold,
else in data.dir; the vocab is the config's model's (--labels / --vocab override them).
"""
from common import cli, commands
from ie_relation.track import IERelation

main = commands.command("oracle", IERelation, __doc__)

if __name__ == "__main__":
    cli.run(main)
