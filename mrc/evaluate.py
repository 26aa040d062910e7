"""Official DuReader_robust score: python -m mrc.evaluate GOLD PRED

GOLD is a SQuAD-style file with answers, PRED the submission {qid: answer}. Prints the organisers'
result line {"F1": "x", "EM": "y", "TOTAL": n, "SKIP": k} last (F1/EM x100 as 3-decimal strings,
as their script prints them); a gold question missing from PRED scores 0 and counts in SKIP.
"""
from common import cli, commands
from mrc.track import MRC

main = commands.command("evaluate", MRC, __doc__)

if __name__ == "__main__":
    cli.run(main)
