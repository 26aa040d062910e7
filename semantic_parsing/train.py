"""Train the DuSQL text-to-SQL model: python -m semantic_parsing.train [--config FILE] [--resume] [section.key=value ...]

Each training question becomes [CLS] question [SEP] database [SEP] followed by its gold SQL as
wordpieces; the UniLM model learns the SQL (cross-entropy on the SQL tokens only). After each epoch
the dev questions are decoded under the grammar constraint and scored with the official exact match;
the weights with the best dev exact match are kept in <train.out_dir>/best.weights.h5, beside the
resolved config and vocab (the run folder that predict reads). The databases come from data.dir.
Prints the best dev metrics as the last line.
"""
from common import cli, commands
from semantic_parsing.track import SemanticParsing

main = commands.command("train", SemanticParsing, __doc__)

if __name__ == "__main__":
    cli.run(main)
