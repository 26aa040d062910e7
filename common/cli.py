"""What the command lines of every track share: the parser shape and clean error exits."""
import argparse
import os
import sys


def parser(module, doc, config=True):
    """Parser for `python -m <module>`; with `config`: --config (default <track>/config.toml) and
    trailing `section.key=value` overrides of it."""
    first, _, rest = doc.strip().partition("\n\n")  # the first paragraph above the options, the rest below
    result = argparse.ArgumentParser(prog=f"python -m {module}", description=first,
                                     epilog=rest.strip() or None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    if config:
        track = module.split(".")[0]
        result.add_argument("--config", help=f"a TOML config laid over {track}/config.toml: it may set a few "
                                             "keys only (default: none)")
        result.add_argument("overrides", nargs="*", metavar="section.key=value",
                            help="config overrides, e.g. train.epochs=3 data.dir=DIR")
    return result


def run(main, argv=None):
    """Run a command's `main(argv)`: errors about the user's input (bad data, bad settings, files that
    cannot be read or written) end in one `error: ...` line (exit 1); anything else is a bug and keeps
    its traceback. LIC_DEBUG=1 shows the traceback of every error."""
    from common.config import ConfigError
    from common.io import DataError
    try:
        return main(argv)
    except (DataError, ConfigError, OSError) as error:
        if os.environ.get("LIC_DEBUG"):
            raise
        sys.exit(f"error: {error}")
