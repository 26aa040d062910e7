"""The shared training loop: best checkpoint, resume, EMA evaluation, accumulation, schedule."""
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


@pytest.fixture()
def toy(tf, tiny_checkpoint):
    """A token-classification toy task on the tiny checkpoint: predict the parity of each token id."""
    import keras
    from common.model import build_encoder, checkpoint_config
    from common.tokenize import OffsetTokenizer
    from common.training import Batches
    from bert4keras.snippets import sequence_padding

    tokenizer = OffsetTokenizer(tiny_checkpoint["vocab_path"])
    texts = ["北京是中国的首都", "上海是一个大城市", "hello world", "三体的作者是刘慈欣", "NBA 2019赛季"] * 2

    def collate(batch):
        ids = sequence_padding([tokenizer.wrap(tokenizer.encode(t).ids)[0] for t in batch])
        return [ids, np.zeros_like(ids)], ids % 2

    def make_model():
        from common import backend
        backend.set_seed(0)
        encoder = build_encoder(checkpoint_config(os.path.dirname(tiny_checkpoint["vocab_path"])))
        return keras.models.Model(encoder.inputs, keras.layers.Dense(2)(encoder.output))

    def evaluate(model):
        x, y = collate(texts)
        return {"acc": float((model.predict(x, verbose=0).argmax(-1) == y).mean())}

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return make_model, Batches(texts, 4, collate, seed=1), evaluate, loss


def run(toy, out_dir, resume=False, **train):
    from common.training import train as fit
    make_model, batches, evaluate, loss = toy
    model = make_model()
    cfg = train_config(out_dir, **{"epochs": 2, **train})
    history = fit(model, loss, batches, cfg, evaluate, monitor="acc", resume=resume, progress=False,
                  tensorboard=False)
    return model, history


def test_identical_runs_are_bit_identical(toy, tmp_path):
    first, _ = run(toy, tmp_path / "a", epochs=1, weight_decay=0.01, warmup_proportion=0.5)
    second, history = run(toy, tmp_path / "b", epochs=1, weight_decay=0.01, warmup_proportion=0.5)
    assert [r["epoch"] for r in history] == [1]
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), second.get_weights()))


def test_resume_after_interruption(toy, tmp_path, monkeypatch):
    from common import training
    straight, _ = run(toy, tmp_path / "a", epochs=3, weight_decay=0.01, warmup_proportion=0.3)
    # interrupt: stop after the first epoch of a 3-epoch run
    original = training.Batches.forfit

    class Stop(Exception):
        pass

    def stop_after_first_epoch(self, start_epoch=0):
        gen = original(self, start_epoch)
        for _ in range(len(self)):
            yield next(gen)
        raise Stop()

    def interrupted_fit():
        from common.training import train as fit
        make_model, batches, evaluate, loss = toy
        cfg = train_config(tmp_path / "b", epochs=3, weight_decay=0.01, warmup_proportion=0.3)
        callbacks_epochs = []
        import keras

        class Halt(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                callbacks_epochs.append(epoch)
                self.model.stop_training = True

        fit(make_model(), loss, batches, cfg, evaluate, monitor="acc", progress=False, tensorboard=False,
            extra_callbacks=[Halt()])
        return callbacks_epochs

    assert interrupted_fit() == [0]
    state = json.loads(str(np.load(tmp_path / "b" / "resume.npz")["state"]))
    assert state["epoch"] == 1
    resumed, history = run(toy, tmp_path / "b", resume=True, epochs=3, weight_decay=0.01,
                           warmup_proportion=0.3)
    assert [r["epoch"] for r in history] == [1, 2, 3]
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


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
