"""Ceiling of the representation: python -m dialog.oracle --gold SESSIONS --out FILE [--vocab FILE] [...]

Every bot turn's target tokens (goal | reply, slot tags when model.slots) go through the real decoder
as if generated: tokens back to text, tags filled back, jieba re-segmentation with the session's names.
The score says what tokenisation, tags, target cuts and re-segmentation lose before any model error.
The score line (the official format) is printed last.
"""
from common import cli, commands
from dialog.track import Dialog

main = commands.command("oracle", Dialog, __doc__)

if __name__ == "__main__":
    cli.run(main)
