"""Train the DuEE 1.0 event extractor: python -m ie_event.train [--config FILE] [--resume] [section.key=value ...]

Evaluates the argument-level F1 on the dev file after every epoch and keeps the best weights in
<train.out_dir>/best.weights.h5, beside the resolved config, event schema and vocab (the run folder
that predict reads). Prints the best dev metrics as the last line.
"""
from common import cli, commands
from ie_event.track import IEEvent

main = commands.command("train", IEEvent, __doc__)

if __name__ == "__main__":
    cli.run(main)
