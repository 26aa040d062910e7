"""Recompute must not change the gradients (common/recompute.py), unlike bert4keras's own."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.conftest import ROOT

VOCAB, LENGTH, CLASSES = 50, 20, 3


def write_config(folder, attention_dropout):
    path = os.path.join(folder, "bert_config.json")
    with open(path, "w") as f:
        json.dump(dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                       intermediate_size=64, hidden_act="gelu", max_position_embeddings=64,
                       type_vocab_size=2, hidden_dropout_prob=0.0,
                       attention_probs_dropout_prob=attention_dropout), f)
    return path


def batch():
    rng = np.random.default_rng(0)
    x = rng.integers(1, VOCAB, size=(4, LENGTH))
    x[:, -3:] = 0  # padding: masks flow through the recomputed layers too
    return (x, np.zeros_like(x)), rng.integers(0, CLASSES, size=(4, LENGTH))


def fit_step_gradients(config_path, recompute_on):
    """One model.fit step with SGD(lr=1): the weight change is minus the gradient of the real path."""
    import keras
    from bert4keras.models import build_transformer_model
    from common import backend, recompute
    backend.set_seed(1)
    bert = build_transformer_model(config_path, None, return_keras_model=False)
    model = keras.models.Model(bert.model.inputs, keras.layers.Dense(CLASSES)(bert.model.output))
    if recompute_on:
        assert recompute.enable(model) > 0
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.legacy.SGD(1.0))
    before = model.get_weights()
    x, y = batch()
    model.fit(x, y, batch_size=len(y), epochs=1, verbose=0, shuffle=False)
    return [b - a for a, b in zip(model.get_weights(), before)], model


def assert_same_gradients(reference, other):
    """Relative error < 1e-5 overall and for every weight, measured against the gradient's scale
    (some gradients are exactly zero in theory, e.g. the key bias, so per-weight norms can be ~1e-12)."""
    scale = np.sqrt(sum(float(np.sum(g ** 2)) for g in reference))
    total = np.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(reference, other)))
    assert total / scale < 1e-5
    for a, b in zip(reference, other):
        assert np.linalg.norm(a - b) < 1e-5 * max(np.linalg.norm(a), 1e-3 * scale)


@pytest.fixture(autouse=True)
def _stack(tf):
    return tf


def test_gradients_equal_with_and_without_recompute(tmp_path):
    from common import recompute
    config = write_config(str(tmp_path), attention_dropout=0.0)
    plain, plain_model = fit_step_gradients(config, recompute_on=False)
    built = recompute.stats["recomputed_calls"]
    recomputed, model = fit_step_gradients(config, recompute_on=True)
    # the gradient graph really recomputed the wrapped layers (3 blocks: attention, FFN, 2 norms)
    assert recompute.stats["recomputed_calls"] - built >= 12
    assert_same_gradients(plain, recomputed)
    x, _ = batch()  # inference through a recompute-enabled model is unchanged
    np.testing.assert_allclose(model.predict(x, verbose=0), plain_model.predict(x, verbose=0), atol=1e-5)


def test_attention_dropout_mask_is_reused_by_the_recomputation(tmp_path, monkeypatch):
    """With attention dropout on, both models draw the same per-step seeds (a seeded stateful op),
    so the gradients agree only if the recomputation reuses the forward pass's mask."""
    import tensorflow as tf
    from common import recompute
    monkeypatch.setattr(recompute, "_draw_seed", lambda: tf.random.uniform(
        [2], 0, 2 ** 31 - 1, dtype=tf.int32, seed=1234))
    config = write_config(str(tmp_path), attention_dropout=0.3)
    plain, _ = fit_step_gradients(config, recompute_on=False)
    recomputed, _ = fit_step_gradients(config, recompute_on=True)
    assert_same_gradients(plain, recomputed)
    without_dropout, _ = fit_step_gradients(write_config(str(tmp_path), 0.0), recompute_on=False)
    change = sum(np.linalg.norm(a - b) for a, b in zip(plain, without_dropout))
    assert change > 1e-3  # the dropout really was active in training


def test_environment_switch_is_neutralised():
    """RECOMPUTE=1 would switch on bert4keras's broken recompute: setup() turns it off."""
    import bert4keras.backend
    assert os.environ["RECOMPUTE"] == "0"
    assert not bert4keras.backend.do_recompute


def test_enable_needs_recomputable_layers():
    import keras
    from common import recompute
    inputs = keras.layers.Input((3,))
    with pytest.raises(ValueError, match="no layer"):
        recompute.enable(keras.models.Model(inputs, keras.layers.Dense(2)(inputs)))


BERT4KERAS_RECOMPUTE = textwrap.dedent("""
    import os, sys, json, numpy as np
    os.environ.update(TF_USE_LEGACY_KERAS="1", TF_KERAS="1", RECOMPUTE=sys.argv[1])
    import tensorflow as tf
    from tensorflow.python.eager import record, tape
    tape.stop_recording = record.stop_recording   # breakage 4: both moved in TF 2.21
    tape.record_operation = record.record_operation
    from bert4keras.models import build_transformer_model
    import keras
    config, out = sys.argv[2], sys.argv[3]
    model = build_transformer_model(config, None)
    rng = np.random.default_rng(0)
    for w in model.weights:  # the same distinct weights in both processes
        w.assign(rng.normal(0, 0.1, size=w.shape).astype("float32"))
    x = rng.integers(1, 50, size=(4, 20)); s = np.zeros_like(x)
    with tf.GradientTape() as t:
        loss = tf.reduce_sum(model([x, s]) * rng.normal(size=(4, 20, 32)).astype("float32"))
    grads = t.gradient(loss, model.trainable_weights)
    np.savez(out, *[tf.convert_to_tensor(g).numpy() for g in grads])
""")


def test_bert4keras_own_recompute_gives_wrong_gradients(tmp_path):
    """Why common/recompute.py exists: the library's version, import patched, is far off."""
    config = write_config(str(tmp_path), attention_dropout=0.0)
    script = tmp_path / "b4k.py"
    script.write_text(BERT4KERAS_RECOMPUTE)
    results = []
    for flag in ("0", "1"):
        out = str(tmp_path / f"grads_{flag}.npz")
        run = subprocess.run([sys.executable, str(script), flag, config, out], capture_output=True,
                             text=True, cwd=ROOT, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        assert run.returncode == 0, run.stderr[-3000:]
        data = np.load(out)
        results.append([data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))])
    plain, recomputed = results
    errors = [np.linalg.norm(a - b) / np.linalg.norm(a) for a, b in zip(plain, recomputed)
              if np.linalg.norm(a) > 1e-6]
    assert max(errors) > 0.05
