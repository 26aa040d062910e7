"""Cheaper gradients for bert4keras's layer norm and erf-GELU: the same forward math, op for op, with
the backward pass written out instead of derived op by op by autodiff.

A training step's profile (bench/train_step.py's model: 6 layers x 256, batch 32, length 128, on a
2-core CPU) put about 12% of the thread time in layer norm and 13% in GELU, most of it in their
gradients: autodiff of bert4keras's layer norm (mean, subtract, square, mean, divide_no_nan by
sqrt(var + eps)) and of 0.5 x (1 + erf(x / sqrt 2)) builds a dozen elementwise passes each. Written
out, with y = (x - mean) / s and s = sqrt(mean((x - mean)^2) + eps):

    layer norm:  dx = (dy - mean(dy) - y * mean(dy * y)) / s            (over the last axis)
    GELU:        dx = dy * (cdf(x) + x * exp(-x^2 / 2) / sqrt(2 pi)),   cdf(x) = (1 + erf(x / sqrt 2)) / 2

Measured on that machine, alternating processes with and without: +1% (two threads) to +3% (one
thread) examples per CPU-second of a training step; TensorFlow's graph optimiser had already trimmed
much of the autodiff chain, so the rest of the gap to fused kernels (PyTorch's) is elsewhere (dropout's
random numbers, attention's softmax and masking).

The forward values are bit-identical to bert4keras's (the same ops in the same order: a pretrained
checkpoint computes what it computed before); the gradients equal autodiff's to float rounding
(tests/test_fused.py). GELU stays the exact erf form that BERT checkpoints were trained with (never
the tanh approximation). Installed by common.compat.apply() before common.recompute wraps the layers.
"""
import math


def layer_norm(x, epsilon):
    """(x - mean) / sqrt(var + epsilon) over the last axis, as bert4keras computes it (a row whose
    denominator is 0 gives 0), with its gradient written out."""
    import tensorflow as tf

    @tf.custom_gradient
    def normalized(x):
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        centered = x - mean
        variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
        scale = tf.sqrt(variance + epsilon)
        y = tf.math.divide_no_nan(centered, scale)

        def grad(dy):
            inverse = tf.math.divide_no_nan(tf.ones_like(scale), scale)
            return inverse * (dy - tf.reduce_mean(dy, axis=-1, keepdims=True)
                              - y * tf.reduce_mean(dy * y, axis=-1, keepdims=True))

        return y, grad

    return normalized(x)


def gelu_erf(x):
    """0.5 x (1 + erf(x / sqrt 2)), as bert4keras.backend.gelu_erf, with its gradient written out."""
    import numpy as np
    import tensorflow as tf

    @tf.custom_gradient
    def gelu(x):
        cdf = 1.0 + tf.math.erf(x / np.sqrt(2.0))
        y = 0.5 * x * cdf

        def grad(dy):
            density = tf.exp(-0.5 * tf.square(x)) * (1.0 / math.sqrt(2.0 * math.pi))
            return dy * (0.5 * cdf + x * density)

        return y, grad

    return gelu(x)


def install():
    """bert4keras's LayerNormalization (unconditional, zero mean and unit variance: every BERT-family
    encoder here) and its "gelu" / "gelu_erf" activations use the functions above."""
    import bert4keras.backend as backend
    import bert4keras.layers as layers
    import keras

    if getattr(layers.LayerNormalization.call, "__fused__", False):
        return
    original = layers.LayerNormalization.call

    def call(self, inputs):
        if self.conditional or not (self.zero_mean and self.unit_variance):
            return original(self, inputs)
        return super(layers.LayerNormalization, self).call(layer_norm(inputs, self.epsilon))

    call.__fused__, call.original = True, original
    layers.LayerNormalization.call = call
    for name in ("gelu", "gelu_erf"):
        if keras.utils.get_custom_objects().get(name) is backend.gelu_erf:
            keras.utils.get_custom_objects()[name] = gelu_erf
