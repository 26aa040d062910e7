"""What the command lines of every track share: the parser shape and clean error exits."""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parser(module, doc, config=True):
    """Parser for `python -m <module>`; with `config`: --config (default <track>/config.toml) and
    trailing `section.key=value` overrides of it."""
    result = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.strip().splitlines()[0])
    if config:
        track = module.split(".")[0]
        result.add_argument("--config", default=os.path.join(ROOT, track, "config.toml"),
                            help="the track's TOML config (default: %(default)s)")
        result.add_argument("overrides", nargs="*", help="config overrides, e.g. train.epochs=3 data.dir=DIR")
    return result


def oracle_parser(module, doc):
    """Parser of `python -m <track>.oracle`: --gold, --out, --vocab plus the config options."""
    result = parser(module, doc)
    result.add_argument("--gold", required=True, help="labelled file in the official format")
    result.add_argument("--out", required=True, help="where to write the oracle submission")
    result.add_argument("--vocab", help="vocab.txt (default: the vocabulary of the config's [model])")
    return result


def run(main):
    """Run a command's `main()`: bad data, unreadable files and bad settings end in one `error: ...`
    line (exit 1) instead of a traceback; LIC_DEBUG=1 shows the traceback."""
    from common.io import DataError
    try:
        return main()
    except (DataError, OSError, ValueError) as error:
        if os.environ.get("LIC_DEBUG"):
            raise
        sys.exit(f"error: {error}")
