"""Decoding ceiling of DuSQL: python -m semantic_parsing.oracle --gold FILE --out FILE [--vocab FILE] [...]

Each gold query -> its canonical SQL tokens -> wordpieces -> replayed through the same constrained
decoder as predict (with the values the question offers) -> SQL text -> the official exact match.
What it loses: queries outside the decoder's language, gold values the question does not offer,
queries longer than data.max_sql_len. The databases are data.dir's. The score line is printed last.
"""
from common import cli, commands
from semantic_parsing.track import SemanticParsing

main = commands.command("oracle", SemanticParsing, __doc__)

if __name__ == "__main__":
    cli.run(main)
