"""Integrated gradients of a trained ie_relation run: python -m ie_relation.explain --input FILE [--run DIR] [--n N]

Writes one HTML page (default <run>/explain.html): for each window of the first N records, one
block per predicted SPO with every token coloured by its attribution to the SPO's summed logits.
"""
from common import cli, commands
from ie_relation.track import IERelation

main = commands.command("explain", IERelation, __doc__)

if __name__ == "__main__":
    cli.run(main)
