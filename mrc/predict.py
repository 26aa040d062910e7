"""Answer every question of a file: python -m mrc.predict [--run DIR] [--input FILE] [--out FILE] [data.*|predict.*=...]

Writes one JSON object {qid: answer} covering every question of the input (the official submission
format), atomically, to --out (default <run>/test_predictions.json); a question that is not valid
stops with its field, or with data.on_error=skip is answered "" when its id is readable. A qid seen
twice keeps the later question's answer, as the official scorer keys by qid. --out is checked
writable before anything runs. Windows of all questions are run through the model in length-sorted
batches. The model and vocab are the run folder's.
"""
from common import cli, commands
from mrc.track import MRC

main = commands.command("predict", MRC, __doc__)

if __name__ == "__main__":
    cli.run(main)
