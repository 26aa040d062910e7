"""Integrated gradients of a trained ie_event run: python -m ie_event.explain --input FILE [--run DIR] [--n N]

Writes one HTML page (default <run>/explain.html): for each window of the first N records, one
block per predicted argument (event type, role, span) with every token coloured by its attribution
to the logit of the argument's span cell.
"""
from common import cli, commands
from ie_event.track import IEEvent

main = commands.command("explain", IEEvent, __doc__)

if __name__ == "__main__":
    cli.run(main)
