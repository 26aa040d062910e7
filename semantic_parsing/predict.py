"""Write SQL for every question of a file: python -m semantic_parsing.predict [--run DIR] [--input FILE] [--out FILE] [data.*|predict.*=...]

Writes `question_id<TAB>SQL` lines, one per question of the input in its order (the official
submission format), atomically, to --out (default <run>/test_predictions.sql). Every query is decoded
under the grammar of its own database, read from data.dir at predict time (db_schema.json, and
db_content.json for cell values): a test set may bring new databases. Every written query parses.
"""
from common import cli, commands
from semantic_parsing.track import SemanticParsing

main = commands.command("predict", SemanticParsing, __doc__)

if __name__ == "__main__":
    cli.run(main)
