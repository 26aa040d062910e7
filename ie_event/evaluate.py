"""Score a DuEE 1.0 submission: python -m ie_event.evaluate GOLD PRED

Prints {"precision", "recall", "f1"} (4 decimals) as the last line; the rule and our pairing of
predicted and gold arguments are documented in ie_event/metric.py.
"""
from common import cli, commands
from ie_event.track import IEEvent

main = commands.command("evaluate", IEEvent, __doc__)

if __name__ == "__main__":
    cli.run(main)
