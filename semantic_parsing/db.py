"""SQLite copies of the DuSQL databases: python -m semantic_parsing.db [--config FILE] [data.*=...]

Builds one SQLite file per database of <data.dir>/<data.content_file> (`make db`) in a folder of
data.sqlite_dir, for execution accuracy; a second run with the same content file reuses them.
Training (dev scoring) and evaluate build them on first use all the same.
"""
from common import cli


def main(argv=None):
    parser = cli.parser("semantic_parsing.db", __doc__)
    args = parser.parse_args(argv)
    from common.config import ConfigError, load_config
    from semantic_parsing.config import SemanticParsingConfig
    from semantic_parsing.track import SemanticParsing
    track = SemanticParsing(load_config(SemanticParsingConfig, args.config, args.overrides))
    if not track.content_path():
        raise ConfigError("data.content_file is empty: there are no cells to build databases from")
    from semantic_parsing.execute import cache_folder
    paths = track.executor().paths
    print(f"{len(paths)} SQLite databases in {cache_folder(track.cfg.data.sqlite_dir, track.content_path())}")
    return paths


if __name__ == "__main__":
    cli.run(main)
