"""The shared training loop: best checkpoint, EMA evaluation. Resume, faults and
repeatability across processes: tests/test_training_faults.py, tests/test_run_state.py."""
import json
import os

import numpy as np
import pytest

from conftest import train_config


def test_improvement_rule_and_ties():
    from common.training import best_record, better
    assert better(0.5, None, "max") and better(0.6, 0.5, "max") and not better(0.5, 0.5, "max")
    assert better(0.5, 0.5, "max", ties=True) and not better(0.4, 0.5, "max", ties=True)
    assert better(0.4, 0.5, "min") and not better(0.5, 0.5, "min") and better(0.5, 0.5, "min", ties=True)
    history = [{"epoch": 1, "saved": True}, {"epoch": 2, "saved": True}, {"epoch": 3, "saved": False}]
    assert best_record(history)["epoch"] == 2 and best_record([]) == {}


TEXTS = ["北京是中国的首都", "上海是一个大城市", "hello world", "三体的作者是刘慈欣", "NBA 2019赛季"] * 2


def toy_task(checkpoint_dir, dropout=0.0):
    """A token-classification toy task on a tiny checkpoint, the parity of each token id:
    (make_model(load_checkpoint=True), batches, evaluate, loss)."""
    from common import backend
    tf = backend.setup()
    import keras
    from bert4keras.snippets import sequence_padding
    from common.model import build_encoder, checkpoint_config
    from common.tokenize import OffsetTokenizer
    from common.training import Batches

    tokenizer = OffsetTokenizer(os.path.join(checkpoint_dir, "vocab.txt"))

    def collate(batch):
        ids = sequence_padding([tokenizer.wrap(tokenizer.encode(t).ids)[0] for t in batch])
        return [ids, np.zeros_like(ids)], ids % 2

    def make_model(load_checkpoint=True):
        backend.set_seed(0)
        encoder = build_encoder(checkpoint_config(checkpoint_dir, dropout=dropout, attention_dropout=dropout),
                                load_checkpoint=load_checkpoint)
        return keras.models.Model(encoder.inputs, keras.layers.Dense(2)(encoder.output))

    def evaluate(model):  # eager: no prediction function to trace
        x, y = collate(TEXTS)
        logits = model([tf.constant(part) for part in x], training=False).numpy()
        return {"acc": float((logits.argmax(-1) == y).mean())}

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return make_model, Batches(TEXTS, 4, collate, seed=1), evaluate, loss


@pytest.fixture()
def toy(tf, tiny_checkpoint):
    return toy_task(os.path.dirname(tiny_checkpoint["vocab_path"]))


def run(toy, out_dir, resume=False, **train):
    from common.training import train as fit
    make_model, batches, evaluate, loss = toy
    model = make_model()
    cfg = train_config(out_dir, **{"epochs": 2, **train})
    history = fit(model, loss, batches, cfg, evaluate, monitor="acc", resume=resume, progress=False,
                  tensorboard=False)
    return model, history


def test_best_checkpoint_and_history(toy, tmp_path):
    from common.training import best_record, load_best
    model, history = run(toy, tmp_path, epochs=3, learning_rate=5e-3)
    best = max(history, key=lambda r: r["acc"])
    assert history[-1]["best"] == best["acc"]
    assert best_record(history)["epoch"] == best["epoch"]
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    fresh = toy[0]()
    load_best(fresh, str(tmp_path))
    assert toy[2](fresh)["acc"] == best["acc"]
    with pytest.raises(FileNotFoundError, match="run train first"):
        load_best(fresh, str(tmp_path / "nothing"))


def test_ema_weights_are_evaluated_and_saved(toy, tmp_path):
    import keras.backend as K
    from common.training import ema_weights_applied
    model, _ = run(toy, tmp_path, epochs=1, ema_momentum=0.9, learning_rate=1e-2)
    optimizer = model.optimizer
    raw = [w.copy() for w in K.batch_get_value(optimizer.model_weights)]
    updates = int(K.eval(optimizer.iterations))
    expected = [a / (1 - 0.9 ** updates) for a in K.batch_get_value(optimizer.ema_weights)]
    with ema_weights_applied(model, optimizer) as on:
        assert on
        inside = K.batch_get_value(optimizer.model_weights)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(inside, expected))
    assert any(not np.allclose(a, b) for a, b in zip(inside, raw))
    assert all(np.array_equal(a, b) for a, b in zip(K.batch_get_value(optimizer.model_weights), raw))
