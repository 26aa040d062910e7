import numpy as np
import pytest

from common.losses import from_config, log_odds
from conftest import train_config


def tau(value):
    return train_config("unused", logit_adjust_tau=value)


def per_example_squared(y_true, y_pred):
    import tensorflow as tf
    return tf.reduce_sum((y_pred - y_true) ** 2, axis=-1)


def flooded_gradient(tf, level, offset):
    from common.losses import flooded
    w = tf.Variable([offset])
    with tf.GradientTape() as tape:
        values = flooded(per_example_squared, level)(tf.zeros((2, 1)), tf.ones((2, 1)) * w)
        loss = tf.reduce_mean(values)
    return float(loss), float(tape.gradient(loss, w)[0])


def test_flooding_flips_gradient_below_level(tf):
    plain_loss, plain_grad = flooded_gradient(tf, 0.0, 0.5)  # loss 0.25, gradient 1.0
    assert plain_loss == pytest.approx(0.25) and plain_grad == pytest.approx(1.0)
    above_loss, above_grad = flooded_gradient(tf, 0.1, 0.5)
    assert above_loss == pytest.approx(0.25) and above_grad == pytest.approx(1.0)
    below_loss, below_grad = flooded_gradient(tf, 0.5, 0.5)  # |0.25 - 0.5| + 0.5
    assert below_loss == pytest.approx(0.75) and below_grad == pytest.approx(-1.0)


def test_logit_adjustment_math(tf):
    import keras
    logits = tf.constant([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]])
    labels = tf.constant([1, 2])
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    prior = np.log(np.array([90, 9, 1]) / 100).astype("float32")  # the class prior, log p(y)
    plain = from_config(ce, tau(0.0), prior)(labels, logits).numpy()
    assert np.allclose(plain, ce(labels, logits).numpy())  # tau = 0 is plain cross-entropy
    adjusted = from_config(ce, tau(1.0), prior)(labels, logits).numpy()
    by_hand = []
    for row, label in zip(logits.numpy() + np.log([0.9, 0.09, 0.01]), [1, 2]):
        by_hand.append(-(row[label] - np.log(np.exp(row).sum())))
    assert np.allclose(adjusted, by_hand, atol=1e-5)
    # a rare gold class is penalised more in training, so the model must push its raw logit up
    assert adjusted[1] > plain[1]


def test_log_odds():
    assert np.allclose(log_odds([1, 9], [10, 10], smoothing=0), [np.log(1 / 9), np.log(9)])


def test_tau_without_prior_is_an_error(tf):
    with pytest.raises(ValueError, match="prior"):
        from_config(per_example_squared, tau(1.0))
