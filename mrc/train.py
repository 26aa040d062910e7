"""Train the DuReader_robust span model: python -m mrc.train [--config FILE] [--resume] [section.key=value ...]

Every window of every training question is one example; after each epoch the dev set is decoded and
scored with the official metric, and the weights with the best dev F1 are kept in
<train.out_dir>/best.weights.h5, beside the resolved config and vocab (the run folder that predict
reads). Prints the best dev metrics as the last line.
"""
from common import cli, commands
from mrc.track import MRC

main = commands.command("train", MRC, __doc__)

if __name__ == "__main__":
    cli.run(main)
