"""Generate the bot's next turn: python -m dialog.predict [--run DIR] [--input FILE] [--out FILE] [data.*|predict.*=...]

Writes one word-segmented response per line, in input order, atomically, to --out (default
<run>/predictions.txt). The input is a test file (one line per input; the goal as the organisers'
list or as the raw goal string) or a session file (one line per bot turn). Inputs are decoded in
length-sorted batches (predict.batch_size inputs, their beams together); decoding settings are the
[predict] keys (strategy, beam_size, top_k, top_p, no_repeat_ngram, ...). Model and vocab are the run's.
"""
from common import cli, commands
from dialog.track import Dialog

main = commands.command("predict", Dialog, __doc__)

if __name__ == "__main__":
    cli.run(main)
