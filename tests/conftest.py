"""Fixtures every test module shares: the stack, one tiny vocab and one tiny BERT covering every sample
text, and tracks built from their real config files."""
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SAMPLES = os.path.join(ROOT, "data", "samples")


def sample(track, name):
    """Path of a bundled sample file."""
    return os.path.join(SAMPLES, track, name)


def read_lines(path):
    """The JSON objects of a JSON Lines file."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_lines(path, rows):
    """Write JSON objects (or raw strings) as lines; returns the path as a string."""
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")
    return str(path)


def make_track(name, *overrides, **kwargs):
    """The track `name` configured from its config.toml plus `section.key=value` overrides."""
    from common.config import load_config
    from common.track import track_class
    cls = track_class(name)
    return cls(load_config(cls.config_class, None, list(overrides)), **kwargs)


@pytest.fixture(scope="session")
def tf():
    from common import backend
    return backend.setup()


@pytest.fixture(scope="session")
def sample_vocab(tmp_path_factory):
    """vocab.txt covering every sample text of every track (the demo's vocabulary)."""
    from common.tiny_bert import sample_texts, write_vocab
    path = tmp_path_factory.mktemp("sample_vocab") / "vocab.txt"
    write_vocab(path, sample_texts(SAMPLES))
    return str(path)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, tf):
    """`tiny_bert(track)`: the folder of a tiny random BERT checkpoint whose vocab covers that track's
    sample texts (written once per session). Per track, so that samples added to one track change
    no other track's model."""
    from common.tiny_bert import sample_texts, write_tiny_checkpoint
    folders = {}

    def folder(track):
        if track not in folders:
            folders[track] = str(tmp_path_factory.mktemp(f"tiny_bert_{track}"))
            write_tiny_checkpoint(folders[track], sample_texts(os.path.join(SAMPLES, track)), seed=0,
                                  with_mlm=True)   # as a real checkpoint: generating tracks need the head
        return folders[track]

    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tf):
    """The three paths of a tiny checkpoint whose vocab covers a few mixed Chinese/English/digit texts."""
    from common.tiny_bert import write_tiny_checkpoint
    texts = ["北京是中国的首都，上海是一个大城市。", "《三体》的作者是刘慈欣", "NBA 2019赛季 hello world ２０２０年"]
    return write_tiny_checkpoint(str(tmp_path_factory.mktemp("tiny_checkpoint")), texts, seed=3)


def train_config(out_dir, **changes):
    """A [train] section for tests of the training loop (defaults of a plain short run)."""
    from common.config import TrainConfig
    values = dict(out_dir=str(out_dir), epochs=1, batch_size=4, learning_rate=1e-3, warmup_proportion=0.0,
                  weight_decay=0.0, ema_momentum=0.0, grad_accum_steps=1, seed=5, flooding=0.0,
                  logit_adjust_tau=0.0, epoch_repeats=1, strategy="default")
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture(scope="session")
def dbs():
    """The sample DuSQL databases (schemas and cells) of data/samples/semantic_parsing."""
    from semantic_parsing.schema import load_databases
    return load_databases(sample("semantic_parsing", "db_schema.json"), sample("semantic_parsing", "db_content.json"))
