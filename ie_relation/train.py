"""Train the DuIE 2.0 relation extractor: python -m ie_relation.train [--config FILE] [--resume] [section.key=value ...]

Evaluates the official F1 on the dev file after every epoch and keeps the best weights in
<train.out_dir>/best.weights.h5, beside the resolved config, schema and vocab (the run folder that
predict reads). Prints the best dev metrics as the last line.
"""
from common import cli, commands
from ie_relation.track import IERelation

main = commands.command("train", IERelation, __doc__)

if __name__ == "__main__":
    cli.run(main)
