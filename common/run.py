"""A run folder describes itself: what `predict` needs besides the weights is written beside them.

Training writes into `train.out_dir`:
    config.toml         the resolved config (track file + user file + command-line overrides)
    bert_config.json    the checkpoint's architecture (the weights are in best.weights.h5)
    vocab.txt           the checkpoint's vocabulary
    <label schema>      the label file the output layer was built from (e.g. schema.json), if any
    best.weights.h5, resume.npz, history.jsonl, logs/   (common.training)

`open_run` rebuilds a track from such a folder: the model, training and label settings are the run's,
so `predict` needs no repeated architecture overrides; it may only change what it reads and writes
(`data.*` but the label file, `predict.*`, and `train.out_dir` to name the run).
"""
import json
import os
import shutil

from common.config import ConfigError, display_path, load_config, replace, to_toml
from common.io import atomic_write

CONFIG = "config.toml"
BERT_CONFIG = "bert_config.json"
VOCAB = "vocab.txt"
WEIGHTS = "best.weights.h5"

PREDICT_SECTIONS = ("data", "predict")   # what predict may change; the rest is fixed by the run


def describe(track, run_dir):
    """Write the resolved config, the label schema and the checkpoint's config and vocab into the run
    folder, each file atomically."""
    from common.model import architecture, vocab_path
    os.makedirs(run_dir, exist_ok=True)
    with atomic_write(os.path.join(run_dir, CONFIG)) as f:
        f.write(to_toml(track.cfg))
    with atomic_write(os.path.join(run_dir, BERT_CONFIG)) as f:  # a HuggingFace config is translated
        json.dump(architecture(track.cfg.model), f, indent=2)
    copies = [(vocab_path(track.cfg.model), VOCAB)]
    if track.label_path():
        copies.append((track.label_path(), os.path.basename(track.label_path())))
    for source, name in copies:
        target = os.path.join(run_dir, name)
        if os.path.abspath(source) != os.path.abspath(target):
            with open(source, "rb") as src, atomic_write(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def check_predict_overrides(track_class, overrides):
    """Refuse command-line overrides of settings a trained run fixes."""
    label_key = track_class.label_file_key
    for item in overrides:
        name = item.split("=", 1)[0].strip()
        section, _, leaf = name.partition(".")
        if name == "train.out_dir" or (section in PREDICT_SECTIONS and leaf != label_key):
            continue
        raise ConfigError(f"command line: {name} is fixed by the trained run (its {CONFIG}); predict takes "
                          f"only data.*, predict.* and train.out_dir overrides"
                          + (f" (the labels are the run's copy of data.{label_key})" if leaf == label_key else ""))


def open_run(track_class, run_dir=None, config_path=None, overrides=()):
    """(track configured as it was trained, run folder). The run is `run_dir`, else the train.out_dir of
    the track's config with `config_path` and `overrides`; data.* / predict.* come from the run's config
    with the user's file and overrides laid over them."""
    config_class = track_class.config_class
    user = load_config(config_class, config_path, overrides)  # names, types and ranges first
    check_predict_overrides(track_class, overrides)
    if run_dir is None:
        run_dir = user.train.out_dir
    saved = os.path.join(run_dir, CONFIG)
    if not os.path.isfile(saved):
        raise ConfigError(f"{display_path(run_dir)}: not a trained run (no {CONFIG}): train first, or name the "
                          f"run folder with --run (default: train.out_dir)")
    trained = load_config(config_class, base=saved)
    cfg = load_config(config_class, config_path, overrides, base=saved, path_sections=PREDICT_SECTIONS)
    cfg = replace(cfg, model={"config_path": os.path.join(run_dir, BERT_CONFIG), "checkpoint_path": "",
                              "vocab_path": os.path.join(run_dir, VOCAB)},
                  train={"out_dir": run_dir})
    label_path = None
    if track_class.label_file_key:  # the run's copy of the label file it was trained with
        label_path = os.path.join(run_dir, os.path.basename(getattr(trained.data, track_class.label_file_key)))
    return track_class(cfg, label_path=label_path), run_dir


def load_trained(track, run_dir):
    """The track's model with the run's best weights; a weights/labels mismatch is one clear error."""
    path = os.path.join(run_dir, WEIGHTS)
    if not os.path.isfile(path):
        raise ConfigError(f"no trained weights at {display_path(path)}: run train first (train.out_dir = {run_dir})")
    model = track.build_model(load_checkpoint=False)
    try:
        model.load_weights(path)
    except ValueError as error:
        labels = f" and {display_path(track.label_path())}" if track.label_path() else ""
        reason = str(error).strip().splitlines()[0][:200]
        raise ConfigError(f"{display_path(path)} does not fit the model that {display_path(os.path.join(run_dir, CONFIG))}"
                          f"{labels} describe ({reason})") from None
    return model
