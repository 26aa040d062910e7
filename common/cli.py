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
