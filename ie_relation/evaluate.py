"""Official DuIE 2.0 score: python -m ie_relation.evaluate GOLD PRED

PRED is a JSON Lines file or a zip of one (as submitted). Prints {"precision", "recall", "f1"} as the
last line; a malformed file is rejected with the file, line and problem (exit status 1).
"""
from common import cli, commands
from ie_relation.track import IERelation

main = commands.command("evaluate", IERelation, __doc__)

if __name__ == "__main__":
    cli.run(main)
