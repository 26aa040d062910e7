"""Train the DuRecDial generator: python -m dialog.train [--config FILE] [--resume] [section.key=value ...]

Every bot turn of every training session is one example, its context built exactly as a test input's:
the visible goals, situation, the profile entries and knowledge triples that matter and the newest
history, then the target "goal type ： topic | reply". The loss is on the target only. After each epoch
the dev sessions' bot turns are decoded and scored with the official metric (plus goal-type accuracy);
the weights with the best dev F1 are kept in <train.out_dir>/best.weights.h5, beside the resolved config
and vocab (the run folder that predict reads). Prints the best dev metrics as the last line.
"""
from common import cli, commands
from dialog.track import Dialog

main = commands.command("train", Dialog, __doc__)

if __name__ == "__main__":
    cli.run(main)
