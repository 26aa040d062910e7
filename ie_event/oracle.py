"""Decoding ceiling of DuEE 1.0: python -m ie_event.oracle --gold FILE --out FILE [--vocab FILE] [--labels FILE] [...]

Gold arguments are encoded exactly as in training (same maxlen, window step, tokenizer) and their
target cells decoded by the real decoder. Prints what the targets cannot express, then the metric as
the last line. The event schema is found beside --gold, else in data.dir; the vocab is the config's
model's.
"""
from common import cli, commands
from ie_event.track import IEEvent

main = commands.command("oracle", IEEvent, __doc__)

if __name__ == "__main__":
    cli.run(main)
