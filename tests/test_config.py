"""The typed config: declared keys only, typed values, ranges, layering, and every command refusing a bad
setting at once, before TensorFlow is imported."""
import json
import os
import subprocess
import sys

import pytest

from common.config import ConfigError, data_path, describe, load_config, replace, to_toml
from common.track import track_class
from conftest import ROOT

TRACKS = [name for name in ("ie_relation", "ie_event", "mrc", "dialog", "semantic_parsing")
          if os.path.isfile(os.path.join(ROOT, name, "track.py"))]
IE = track_class("ie_relation").config_class


def refused(*overrides, path=None):
    with pytest.raises(ConfigError) as caught:
        load_config(IE, path, list(overrides))
    return str(caught.value)


@pytest.mark.parametrize("name", TRACKS)
def test_every_track_config_file_sets_every_declared_key(name):
    cls = track_class(name)
    cfg = load_config(cls.config_class)  # raises on a missing, unknown or mistyped key
    assert load_config(cls.config_class, base=write(to_toml(cfg))) == cfg  # the run folder's copy reloads equal
    assert {row[0].split(".")[0] for row in describe(cls.config_class)} == {"data", "model", "train", "predict", "demo"}


def write(text, name="user.toml", folder=None):
    import tempfile
    folder = folder or tempfile.mkdtemp()
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def test_unknown_keys_are_refused_with_a_suggestion():
    assert refused("train.epoch=99") == "command line: unknown key train.epoch (did you mean train.epochs?)"
    assert refused("trian.epochs=3") == "command line: unknown key trian.epochs (did you mean train.epochs?)"
    assert refused("data.window_stride=64") == \
        "command line: unknown key data.window_stride (did you mean data.window_step?)"
    assert refused("model.bogus=1").startswith("command line: unknown key model.bogus")
    assert "is not of the form section.key=value" in refused("train.epochs")
    path = write("[train]\nepoch = 3\n")
    assert refused(path=path) == f"{path}: unknown key train.epoch (did you mean train.epochs?)"
    path = write("epochs = 3\n")
    assert "must be a [section] table" in refused(path=path)
    path = write("[trian]\nepochs = 3\n")
    assert "unknown key trian.epochs (did you mean train.epochs?)" in refused(path=path)


@pytest.mark.parametrize("override, message", [
    ("train.epochs=abc", "command line: train.epochs=abc: expected an integer"),
    ('train.epochs="3"', 'command line: train.epochs = "3": expected an integer'),
    ("train.epochs=2.5", "command line: train.epochs = 2.5: expected an integer"),
    ("model.recompute=yes", "command line: model.recompute=yes: expected true or false"),
    ("train.learning_rate=fast", "command line: train.learning_rate=fast: expected a number"),
    ("demo.overrides=[1]", "command line: demo.overrides = [1]: expected a list of strings"),
    ("train.batch_size=0", "command line: train.batch_size = 0: must be >= 1"),
    ("train.grad_accum_steps=0", "must be >= 1"),
    ("model.dropout=1.0", "command line: model.dropout = 1.0: must be < 1.0"),
    ("model.attention_dropout=-0.1", "must be >= 0.0"),
    ("train.learning_rate=0", "must be > 0.0"),
    ("data.on_error=ignore", 'data.on_error = "ignore": must be one of raise, skip'),
    ("model.family=bret", "must be one of bert, roberta, albert, nezha, electra"),
    ("predict.max_spans=0", "must be >= 1"),
])
def test_wrong_types_and_out_of_range_values_name_the_key_and_value(override, message):
    assert message in refused(override)


def test_values_in_a_file_are_checked_and_named_by_file():
    path = write("[train]\nbatch_size = 0\n")
    assert refused(path=path) == f"{path}: train.batch_size = 0: must be >= 1"


def test_a_user_file_sets_a_few_keys_over_the_track_file_and_overrides_win():
    base = load_config(IE)
    path = write('[train]\nepochs = 3\n[data]\ndir = "/data/duie"\n')
    cfg = load_config(IE, path, ["train.epochs=5", "data.test_file=test.json"])
    assert cfg.train.epochs == 5 and cfg.data.dir == "/data/duie" and cfg.data.test_file == "test.json"
    assert cfg.train.batch_size == base.train.batch_size and cfg.model == base.model
    # strings need no quotes on the command line; integers pass as floats
    cfg = load_config(IE, None, ["data.dir=/tmp/y z", "train.learning_rate=1", "demo.overrides=['a=1']"])
    assert cfg.data.dir == "/tmp/y z" and cfg.train.learning_rate == 1.0 and cfg.demo.overrides == ["a=1"]
    with pytest.raises(AttributeError):
        cfg.train.nope


def test_maxlen_must_fit_the_checkpoint_position_embeddings(tmp_path):
    (tmp_path / "bert_config.json").write_text(json.dumps({"max_position_embeddings": 128}))
    assert load_config(IE, None, [f"model.dir={tmp_path}", "model.maxlen=128"]).model.maxlen == 128
    message = refused(f"model.dir={tmp_path}", "model.maxlen=256")
    assert message == (f"command line: model.maxlen = 256: must be <= 128, the max_position_embeddings of "
                       f"{tmp_path / 'bert_config.json'}")


def test_a_track_file_missing_a_key_is_refused(tmp_path):
    text = to_toml(load_config(IE)).replace("seed = 42\n", "")
    path = write(text, folder=str(tmp_path))
    with pytest.raises(ConfigError, match="missing key train.seed"):
        load_config(IE, base=path)


def test_replace_and_data_path():
    cfg = replace(load_config(IE), data={"dir": "data/x"}, train={"epochs": 2})
    assert cfg.train.epochs == 2 and data_path(cfg.data, "train") == os.path.join("data/x", "train.json")
    with pytest.raises(ConfigError, match=r"\[data\] needs 'test_file'"):
        data_path(replace(cfg, data={"test_file": ""}).data, "test")


def test_every_command_refuses_a_bad_setting_before_tensorflow_is_imported(tmp_path):
    """One subprocess runs every command of every track with bad settings; TensorFlow must never load."""
    script = f"""
import importlib, json, sys, time
sys.path.insert(0, {ROOT!r})
from common import cli
out = []
for track in {TRACKS!r}:
    for command, extra in (("train", []), ("predict", []), ("oracle", ["--gold", "g.json", "--out", "o.json"])):
        for bad in ("train.epoch=99", "train.batch_size=0", "model.dropout=abc"):
            main = importlib.import_module(f"{{track}}.{{command}}").main
            started = time.perf_counter()
            try:
                cli.run(main, extra + [bad])
                out.append([track, command, bad, "accepted", 0])
            except SystemExit as e:
                out.append([track, command, bad, str(e), time.perf_counter() - started])
print(json.dumps({{"results": out, "tensorflow": "tensorflow" in sys.modules}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(tmp_path),
                            timeout=120)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["tensorflow"] is False
    assert len(report["results"]) == 9 * len(TRACKS)
    for track, command, bad, message, seconds in report["results"]:
        assert message.startswith("error: command line: "), (track, command, bad, message)
        assert bad.split("=")[0] in message and seconds < 2, (track, command, message, seconds)


def test_a_run_saved_by_an_older_version_keeps_the_track_values_of_keys_it_lacks(tmp_path):
    cfg = replace(load_config(IE), train={"epochs": 7})
    text = to_toml(cfg).replace(f"max_record_spos = {cfg.predict.max_record_spos}\n", "")
    path = write(text, name="config.toml", folder=str(tmp_path))
    assert "max_record_spos" not in open(path, encoding="utf-8").read()
    reloaded = load_config(IE, saved=path)
    assert reloaded.train.epochs == 7 and reloaded.predict.max_record_spos == cfg.predict.max_record_spos
