"""Integrated gradients of a trained semantic_parsing run: python -m semantic_parsing.explain --input FILE [--run DIR] [--n N]

Writes one HTML page (default <run>/explain.html): for each of the first N questions, one block per
SQL wordpiece the constrained decoder writes, with every question and database token coloured by its
attribution to that wordpiece's log-probability under teacher forcing. The databases are read from
data.dir, as predict reads them.
"""
from common import cli, commands
from semantic_parsing.track import SemanticParsing

main = commands.command("explain", SemanticParsing, __doc__)

if __name__ == "__main__":
    cli.run(main)
