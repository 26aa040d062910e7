"""common/fused.py: bert4keras's layer norm and erf-GELU with written-out gradients: forward values
bit-identical to bert4keras's, gradients equal to autodiff's to float rounding, installed everywhere."""
import os

import numpy as np
import pytest


@pytest.fixture(scope="module")
def inputs(tf):
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (3, 5, 16)).astype("float32")
    x[0, 0] *= 40.0   # a row of large activations
    x[1, 1] = 0.25     # a constant row: variance 0, only epsilon keeps it finite
    return tf.constant(x)


def value_and_grad(tf, function, x, dy):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = function(x)
    return y.numpy(), tape.gradient(y, x, output_gradients=dy).numpy()


def bert4keras_layer_norm(epsilon):
    """bert4keras's own LayerNormalization call (kept by fused.install), on a layer without scale/offset."""
    import bert4keras.layers as layers
    layer = layers.LayerNormalization(scale=False, offset=False, epsilon=epsilon)
    layer.build((None, 16))
    original = getattr(layers.LayerNormalization.call, "__wrapped__", layers.LayerNormalization.call).original
    return lambda x: original(layer, x)


@pytest.mark.parametrize("epsilon", [1e-12, 1e-5])
def test_layer_norm_forward_is_bert4keras_bit_for_bit_and_its_gradient_autodiffs(tf, inputs, epsilon):
    from common.fused import layer_norm
    dy = tf.constant(np.random.default_rng(1).normal(size=inputs.shape).astype("float32"))
    want_y, want_dx = value_and_grad(tf, bert4keras_layer_norm(epsilon), inputs, dy)
    got_y, got_dx = value_and_grad(tf, lambda x: layer_norm(x, epsilon), inputs, dy)
    assert np.array_equal(got_y, want_y)
    scale = np.abs(want_dx).max(axis=-1, keepdims=True)
    assert np.all(np.abs(got_dx - want_dx) <= 1e-5 * scale + 1e-6)


def test_gelu_forward_is_bert4keras_erf_bit_for_bit_and_its_gradient_autodiffs(tf, inputs):
    from bert4keras.backend import gelu_erf as reference
    from common.fused import gelu_erf
    x = inputs * 0.3
    dy = tf.constant(np.random.default_rng(2).normal(size=x.shape).astype("float32"))
    want_y, want_dx = value_and_grad(tf, reference, x, dy)
    got_y, got_dx = value_and_grad(tf, gelu_erf, x, dy)
    assert np.array_equal(got_y, want_y)
    np.testing.assert_allclose(got_dx, want_dx, rtol=1e-5, atol=1e-6)
    # exact erf GELU, not the tanh approximation (which differs by ~1e-4 around |x| = 2)
    assert abs(float(gelu_erf(tf.constant(2.0))) - 2.0 * 0.9772498680518208) < 1e-6


def test_every_encoder_uses_them(tf, tiny_checkpoint):
    import keras
    from common import fused
    from common.model import build_encoder, checkpoint_config
    encoder = build_encoder(checkpoint_config(os.path.dirname(tiny_checkpoint["config_path"])), load_checkpoint=False)
    feed_forward = next(layer for layer in encoder.layers if type(layer).__name__ == "FeedForward")
    assert list(feed_forward.activation) == [fused.gelu_erf]
    assert keras.activations.get("gelu") is fused.gelu_erf
    norm = next(layer for layer in encoder.layers if type(layer).__name__ == "LayerNormalization")
    call = type(norm).call
    assert getattr(getattr(call, "__wrapped__", call), "__fused__", False)
