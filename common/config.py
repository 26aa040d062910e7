"""Typed track configuration: a schema declared once in code, the values in the track's config.toml.

Each section is a frozen dataclass whose fields declare a key's type, range and meaning (`key(...)`);
the *values*, defaults included, live only in `<track>/config.toml`, which must set every declared
key. A user's config file (`--config`) is laid over the track's file, so it may set a few keys only;
`section.key=value` overrides from the command line are laid over both. Every value is checked before
anything heavy runs: an unknown key (with a suggestion for a near miss), a wrong type or a value out of
range is a `ConfigError` naming the file (or the command line), the key and the value.

    cfg = load_config(IERelationConfig, "ie_relation/config.toml", ["train.epochs=3"])
    cfg.train.epochs  -> 3

Relative paths are the user's business: they are resolved against the working directory, which is the
repository root for every Make target.
"""
import dataclasses
import difflib
import json
import math
import os
import tomllib
import typing

FAMILIES = ("bert", "roberta", "albert", "nezha", "electra")
STRATEGIES = ("default", "mirrored", "multi_worker")  # train.strategy (common/backend.py)


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names where, which key, what."""


def key(help, *, min=None, max=None, below=None, above=None, choices=None):
    """Declare a config key: its meaning and the range or choices its value must respect."""
    return dataclasses.field(metadata={"help": help, "min": min, "max": max, "below": below,
                                       "above": above, "choices": choices})


# -- sections every track has ------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ModelConfig:
    family: str = key("bert | roberta | albert | nezha | electra", choices=FAMILIES)
    dir: str = key("checkpoint folder: bert_config.json, vocab.txt, bert_model.ckpt.*")
    config_path: str = key("explicit bert_config.json; empty = <dir>/bert_config.json")
    checkpoint_path: str = key("explicit checkpoint prefix; empty = <dir>/bert_model.ckpt")
    vocab_path: str = key("explicit vocab.txt; empty = <dir>/vocab.txt")
    maxlen: int = key("tokens per model input, [CLS]/[SEP] included", min=8)
    dropout: float = key("hidden dropout rate", min=0.0, below=1.0)
    attention_dropout: float = key("attention dropout rate", min=0.0, below=1.0)
    recompute: bool = key("gradient checkpointing: less activation memory, more time per step")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    dir: str = key("folder holding the data files below")
    train_file: str = key("training file name in data.dir")
    dev_file: str = key("dev file name in data.dir (evaluated after every epoch)")
    test_file: str = key("test file name in data.dir (predict's default input)")
    on_error: str = key("a line that is not a valid record: raise (stop) or skip (count, log, drop)",
                        choices=("raise", "skip"))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    out_dir: str = key("run folder: resolved config, labels, vocab, best weights, resume state, logs")
    epochs: int = key("passes over the training set", min=1)
    batch_size: int = key("examples per step (the global batch: split over the replicas of train.strategy)", min=1)
    learning_rate: float = key("peak learning rate", above=0.0)
    warmup_proportion: float = key("share of the steps with linear warm-up, then linear decay to 0",
                                   min=0.0, below=1.0)
    weight_decay: float = key("AdamW-style decay (LayerNorm weights and biases excluded)", min=0.0)
    ema_momentum: float = key("exponential moving average of the weights; 0 = off", min=0.0, below=1.0)
    grad_accum_steps: int = key("batches whose gradients make one update", min=1)
    seed: int = key("seed of data order, initialisation and dropout", min=0)
    flooding: float = key("flooding level b: train on |L - b| + b; 0 = off", min=0.0)
    logit_adjust_tau: float = key("logit adjustment tau x log prior of the labels; 0 = off", min=0.0)
    epoch_repeats: int = key("passes over the training set per epoch (> 1 only for tiny sets)", min=1)
    strategy: str = key("default (one device) | mirrored (every GPU of this machine) | multi_worker "
                        "(the machines TF_CONFIG names); see README, Training on several devices",
                        choices=STRATEGIES)


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    batch_size: int = key("model inputs per forward pass (sorted by length)", min=1)
    input: str = key("file to predict; empty = <data.dir>/<data.test_file>")
    out: str = key("submission path; empty = the track's file name in train.out_dir")


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    train: str = key("sample training file of `make demo`")
    dev: str = key("sample dev file of `make demo`")
    test: str = key("sample test file of `make demo`")
    overrides: typing.List[str] = key("settings of the tiny random BERT on the samples")


@dataclasses.dataclass(frozen=True)
class TrackConfig:
    """The whole config of a track; a track subclasses it with its own section classes."""
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    predict: PredictConfig
    demo: DemoConfig


# -- loading -------------------------------------------------------------------------------------

def sections(config_class):
    """{section name: section class} of a TrackConfig subclass."""
    hints = typing.get_type_hints(config_class)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_class)}


def declared_keys(section_class):
    """{key: (type, metadata)} of a section class."""
    hints = typing.get_type_hints(section_class)
    return {f.name: (hints[f.name], f.metadata) for f in dataclasses.fields(section_class)}


def _read_toml(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None


def _suggest(name, known):
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _known_keys(config_class):
    return [f"{s}.{k}" for s, cls in sections(config_class).items() for k in declared_keys(cls)]


def _check_name(config_class, section, name, where):
    """Raise unless `section.name` is declared (`name` None: unless the section is)."""
    schema = sections(config_class)
    if name is None:
        if section not in schema:
            close = difflib.get_close_matches(section, list(schema), n=1, cutoff=0.6)
            raise ConfigError(f"{where}: unknown section [{section}]" + (f" (did you mean [{close[0]}]?)" if close else ""))
        return
    if section not in schema or name not in declared_keys(schema[section]):
        dotted = f"{section}.{name}"
        raise ConfigError(f"{where}: unknown key {dotted}{_suggest(dotted, _known_keys(config_class))}")


def _layer(config_class, values, origins, tree, where, only=None):
    """Lay a parsed TOML tree over `values`, refusing undeclared sections and keys; with `only`, the
    other sections of the tree are checked but not laid."""
    for section, table in tree.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: '{section}' must be a [section] table, not a plain value"
                              + _suggest(section, list(sections(config_class))))
        if not table:
            _check_name(config_class, section, None, where)
        for name, value in table.items():
            _check_name(config_class, section, name, where)
            if only is not None and section not in only:
                continue
            values.setdefault(section, {})[name] = value
            origins[section, name] = where


def _type_name(kind):
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        kind, "a list of strings")


def coerce(kind, value):
    """`value` as `kind`, or raise TypeError. Integers pass as floats; nothing else is converted."""
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(_type_name(kind))


def _check_range(meta, value):
    """A sentence saying what is wrong with `value`, or None."""
    if meta.get("choices") is not None and value not in meta["choices"]:
        return "must be one of " + ", ".join(map(str, meta["choices"]))
    if meta.get("min") is not None and value < meta["min"]:
        return f"must be >= {meta['min']}"
    if meta.get("max") is not None and value > meta["max"]:
        return f"must be <= {meta['max']}"
    if meta.get("below") is not None and value >= meta["below"]:
        return f"must be < {meta['below']}"
    if meta.get("above") is not None and value <= meta["above"]:
        return f"must be > {meta['above']}"
    return None


def _show(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (str, list)) else str(value).lower() \
        if isinstance(value, bool) else str(value)


def parse_override(item, config_class):
    """'section.key=value' -> (section, key, value typed by the declaration)."""
    where = "command line"
    if "=" not in item:
        raise ConfigError(f"{where}: override {item!r} is not of the form section.key=value")
    name, text = (part.strip() for part in item.split("=", 1))
    if name.count(".") != 1:
        raise ConfigError(f"{where}: override {item!r}: the key must be section.key"
                          + _suggest(name, _known_keys(config_class)))
    section, leaf = name.split(".")
    _check_name(config_class, section, leaf, where)
    kind = declared_keys(sections(config_class)[section])[leaf][0]
    if kind is str:  # a bare string needs no quotes: data.dir=/tmp/x
        try:
            parsed = tomllib.loads(f"v = {text}")["v"]
            value = parsed if isinstance(parsed, str) else text
        except tomllib.TOMLDecodeError:
            value = text
    else:
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            raise ConfigError(f"{where}: {name}={text}: expected {_type_name(kind)}") from None
    return section, leaf, value


def build(config_class, values, origins):
    """Typed, range-checked config from {section: {key: value}}; every declared key must be set."""
    built = {}
    for section, section_class in sections(config_class).items():
        kwargs = {}
        for name, (kind, meta) in declared_keys(section_class).items():
            if name not in values.get(section, {}):
                raise ConfigError(f"{origins.get('__base__', 'config')}: missing key {section}.{name} "
                                  f"({meta['help']})")
            value, where = values[section][name], origins[section, name]
            try:
                value = coerce(kind, value)
            except TypeError as e:
                raise ConfigError(f"{where}: {section}.{name} = {_show(value)}: expected {e}") from None
            problem = _check_range(meta, value)
            if problem:
                raise ConfigError(f"{where}: {section}.{name} = {_show(value)}: {problem}")
            kwargs[name] = value
        built[section] = section_class(**kwargs)
    return config_class(**built)


def track_config_path(config_class):
    """`<track>/config.toml` of the track that declares `config_class`: the file of its values."""
    import importlib
    module = importlib.import_module(config_class.__module__)
    return os.path.join(os.path.dirname(os.path.abspath(module.__file__)), "config.toml")


def load_config(config_class, path=None, overrides=(), base=None, path_sections=None, saved=None):
    """Values of the track's config.toml (`base`), then a run's saved config (`saved`: keys that an older
    run lacks keep the track file's values), then `path` laid over them (only its `path_sections` when
    given), then the overrides; checked against the declarations of `config_class`."""
    base = base or track_config_path(config_class)
    values, origins = {}, {"__base__": display_path(base)}
    _layer(config_class, values, origins, _read_toml(base), display_path(base))
    if saved:
        _layer(config_class, values, origins, _read_toml(saved), display_path(saved))
    if path and os.path.abspath(path) != os.path.abspath(base):
        _layer(config_class, values, origins, _read_toml(path), display_path(path), path_sections)
    for item in overrides:
        section, name, value = parse_override(item, config_class)
        values.setdefault(section, {})[name] = value
        origins[section, name] = "command line"
    cfg = build(config_class, values, origins)
    check_model_fits(cfg.model, origins.get(("model", "maxlen"), display_path(base)))
    return cfg


def display_path(path):
    """A path as the user would type it: relative to the working directory when inside it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def check_model_fits(model_cfg, where="config"):
    """maxlen must fit the checkpoint's position embeddings (checked when its config file exists)."""
    from common.model import bert_config_path
    path = bert_config_path(model_cfg)
    if not path or not os.path.isfile(path):
        return
    try:
        with open(path, encoding="utf-8") as f:
            limit = json.load(f).get("max_position_embeddings")
    except (OSError, ValueError):
        return  # building the model reports a broken checkpoint config with its own message
    if isinstance(limit, int) and model_cfg.maxlen > limit:
        raise ConfigError(f"{where}: model.maxlen = {model_cfg.maxlen}: must be <= {limit}, the "
                          f"max_position_embeddings of {path}")


def replace(cfg, **changes):
    """A copy of `cfg` with `section={key: value}` changes (values must already be typed)."""
    sections_changed = {name: dataclasses.replace(getattr(cfg, name), **keys) for name, keys in changes.items()}
    return dataclasses.replace(cfg, **sections_changed)


def to_toml(cfg):
    """The resolved config as TOML text (every key; reloads to an equal config)."""
    lines = []
    for section in sections(type(cfg)):
        lines.append(f"[{section}]")
        for name, value in dataclasses.asdict(getattr(cfg, section)).items():
            lines.append(f"{name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def data_path(data_cfg, name):
    """Path of the data file named by `[data] <name>_file` in `[data] dir`."""
    file_name = getattr(data_cfg, f"{name}_file")
    if not file_name:
        raise ConfigError(f"config [data] needs '{name}_file'")
    return os.path.join(data_cfg.dir, file_name)


def describe(config_class):
    """Every declared key with its type and meaning (for README tables and --help)."""
    rows = []
    for section, section_class in sections(config_class).items():
        for name, (kind, meta) in declared_keys(section_class).items():
            rows.append((f"{section}.{name}", _type_name(kind), meta["help"]))
    return rows
