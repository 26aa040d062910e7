"""Write a DuIE 2.0 submission: python -m ie_relation.predict [--run DIR] [--input FILE] [--out FILE] [data.*|predict.*=...]

Reads DuIE JSON Lines (only `text` is used) and writes one line per non-blank input line, in input
order, with the text copied exactly, to --out (default <run>/duie_pred.json), and the zip the
organisers' scorer takes beside it (same name, .zip; upload that one). The pair is replaced together:
the old zip is removed first and the new one written last, so a zip always matches the file beside it.
A line without a valid text stops with its line number, or with data.on_error=skip is answered
{"text": "", "spo_list": []} (the scorer ignores texts not in its gold). Duplicate texts are each
answered (alike); the scorer keeps the later one. --out is checked writable before anything runs.
The model, schema and vocab are the run folder's.
"""
from common import cli, commands
from ie_relation.track import IERelation

main = commands.command("predict", IERelation, __doc__)

if __name__ == "__main__":
    cli.run(main)
