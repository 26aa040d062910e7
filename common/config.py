"""Track configuration: one TOML file per track plus `key=value` overrides from the command line.

    cfg = load_config("ie_relation/config.toml", ["train.epochs=3", "model.family=nezha"])
    cfg.train.epochs  -> 3

Override values are parsed as TOML values (numbers, booleans, quoted strings, lists); anything that
is not a TOML value is taken as a plain string, so `data.dir=/tmp/x` works without quotes.
Relative paths in the file are the user's business: they are resolved against the working directory,
which is the repository root for every Make target.
"""
import os
import tomllib


class Config(dict):
    """A dict whose keys can also be read as attributes (nested tables become Configs)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key '{name}'") from None

    @classmethod
    def wrap(cls, value):
        if isinstance(value, dict):
            return cls({k: cls.wrap(v) for k, v in value.items()})
        return value

    def to_dict(self):
        return {k: v.to_dict() if isinstance(v, Config) else v for k, v in self.items()}


def data_path(data_cfg, name):
    """Path of the data file named by `[data] <name>_file` (train, dev, test, schema) in `[data] dir`."""
    file_name = data_cfg.get(f"{name}_file")
    if not file_name:
        raise ValueError(f"config [data] needs '{name}_file'")
    return os.path.join(data_cfg.get("dir", ""), file_name)


def parse_value(text):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(tree, item):
    if "=" not in item:
        raise ValueError(f"override {item!r} is not of the form key=value")
    key, value = item.split("=", 1)
    *parents, leaf = key.strip().split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"override {item!r}: '{part}' is not a table")
    node[leaf] = parse_value(value.strip())


def load_config(path, overrides=()):
    with open(path, "rb") as f:
        try:
            tree = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: {e}") from None
    for item in overrides:
        apply_override(tree, item)
    return Config.wrap(tree)
