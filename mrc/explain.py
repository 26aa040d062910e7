"""Integrated gradients of a trained mrc run: python -m mrc.explain --input FILE [--run DIR] [--n N]

Writes one HTML page (default <run>/explain.html): for each of the first N questions, the window of
its answer with every token (question and context) coloured by its attribution to the answer span's
log p(start) + log p(end).
"""
from common import cli, commands
from mrc.track import MRC

main = commands.command("explain", MRC, __doc__)

if __name__ == "__main__":
    cli.run(main)
