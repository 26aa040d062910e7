"""Integrated gradients of a trained dialog run: python -m dialog.explain --input FILE [--run DIR] [--n N]

Writes one HTML page (default <run>/explain.html): for each of the first N samples (bot turns of a
session file, or test inputs), one block per generated token (goal, [MASK], reply) with every
context token coloured by its attribution to that token's log-probability under teacher forcing.
"""
from common import cli, commands
from dialog.track import Dialog

main = commands.command("explain", Dialog, __doc__)

if __name__ == "__main__":
    cli.run(main)
