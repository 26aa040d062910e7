"""The fused AdamW: the same updates as bert4keras's stacked wrappers (AdamW + piecewise-linear schedule
+ EMA), gradient accumulation that averages k batches and applies on every k-th, and the schedule."""
import numpy as np
import pytest

from common.optim import build_optimizer, schedule
from conftest import train_config


def test_schedule_points():
    assert schedule(100, 0.1) == {10: 1.0, 100: 0.0}
    assert schedule(100, 0.0) == {0: 1.0, 100: 0.0}
    assert schedule(1, 0.5) == {0: 1.0, 1: 0.0}


def test_multiplier_is_linear_between_points(tf):
    from common.optim import multiplier
    values = [float(multiplier(tf.constant(t), {4: 1.0, 12: 0.0})) for t in (0, 2, 4, 8, 12, 20)]
    assert values == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0, 0.0])
    assert [float(multiplier(tf.constant(t), {0: 1.0, 10: 0.0})) for t in (0, 5, 10)] == pytest.approx([1, 0.5, 0])


def toy_model(seed=0):
    """Dense layers named like BERT's (a kernel, a bias, a LayerNorm) on random data."""
    import keras
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(5, name="Transformer-0-FeedForward",
                                kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)
    hidden = keras.layers.LayerNormalization(name="Transformer-0-FeedForward-Norm")(hidden)
    outputs = keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(hidden)
    return keras.Model(inputs, outputs)


def batches(n, size=4):
    rng = np.random.default_rng(1)
    return [(rng.normal(size=(size, 6)).astype("float32"), rng.integers(0, 3, size=size)) for _ in range(n)]


def train(optimizer, data):
    import keras
    model = toy_model()
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for x, y in data:
        model.train_on_batch(x, y)
    return model


def bert4keras_reference(lr, weight_decay, warmup, total, ema):
    from bert4keras import optimizers as o
    cls = o.extend_with_piecewise_linear_lr(o.extend_with_weight_decay(o.Adam, "W"), "WLR")
    kwargs = dict(learning_rate=lr, weight_decay_rate=weight_decay, exclude_from_weight_decay=["Norm", "bias"],
                  lr_schedule=schedule(total, warmup))
    if ema:
        cls = o.extend_with_exponential_moving_average(cls, "WLREMA")
        kwargs["ema_momentum"] = ema
    return cls(name="reference", **kwargs)


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_updates_equal_bert4keras_adamw_with_schedule_and_ema(tf, tmp_path, ema):
    data = batches(6)
    cfg = train_config(tmp_path, learning_rate=0.05, weight_decay=0.1, warmup_proportion=0.5, ema_momentum=ema)
    ours = train(build_optimizer(cfg, total_steps=6), data)
    theirs = train(bert4keras_reference(0.05, 0.1, 0.5, 6, ema), data)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours.get_weights()[0], toy_model().get_weights()[0])  # training did move them
    if ema:
        for a, b in zip(ours.optimizer.ema_weights, theirs.optimizer.ema_weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)


def test_layer_norm_and_biases_take_no_weight_decay(tf, tmp_path):
    # zero gradients: only the decay moves a weight
    opt = build_optimizer(train_config(tmp_path, learning_rate=0.1, weight_decay=0.5), total_steps=10)
    model = toy_model()
    model.compile(optimizer=opt, loss="mse")
    before = {w.name: w.numpy() for w in model.weights}
    opt.apply_gradients([(tf.zeros_like(w), w) for w in model.trainable_weights])
    for w in model.weights:
        if "Norm" in w.name or "bias" in w.name:
            np.testing.assert_array_equal(w.numpy(), before[w.name])
        else:
            np.testing.assert_allclose(w.numpy(), before[w.name] * (1 - 0.1 * 0.5), rtol=1e-6)


def test_accumulation_averages_k_batches_and_applies_on_every_kth(tf, tmp_path):
    import dataclasses
    import keras
    data = batches(6)
    cfg = train_config(tmp_path, learning_rate=0.05, weight_decay=0.1, warmup_proportion=0.4)
    model = toy_model()
    model.compile(optimizer=build_optimizer(dataclasses.replace(cfg, grad_accum_steps=2), 6),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    snapshots = [model.get_weights()[0].copy()]
    for x, y in data:
        model.train_on_batch(x, y)
        snapshots.append(model.get_weights()[0].copy())
    # updates after batches 2, 4, 6 (the first one at warm-up multiplier 0 moves nothing)
    moved = [not np.array_equal(a, b) for a, b in zip(snapshots, snapshots[1:])]
    assert moved == [False, False, False, True, False, True]
    # three accumulated pairs of batches = three batches of both (mean losses, equal batch sizes)
    merged = [(np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])) for a, b in zip(data[::2], data[1::2])]
    plain = train(build_optimizer(cfg, total_steps=3), merged)
    for a, b in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
