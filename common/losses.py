"""Loss switches any track can turn on from its [train] config.

- Flooding (Ishida et al. 2020): train on |L - b| + b, where L is the batch loss. Above the level b this
  is the plain loss; below it the gradient flips sign, so training ascends back to b instead of
  driving the training loss to zero.
- Logit adjustment (Menon et al. 2021): in training only, add tau * log prior(y) to the logits of a
  softmax head, the prior counted on the training set; at inference the raw logits are used, which
  favours rare classes. For sigmoid / pointer heads (one binary decision per class) the offset is
  tau * log-odds of the class's positive rate.
tau = 0 and b = 0 give the plain loss exactly.
"""
import numpy as np


def log_odds(positive, total, smoothing=1.0):
    """log(p / (1 - p)) of each class's positive rate, from positive counts out of `total` decisions."""
    positive = np.asarray(positive, dtype="float64") + smoothing
    negative = np.asarray(total, dtype="float64") - positive + 2 * smoothing
    return np.log(positive / np.maximum(negative, smoothing)).astype("float32")


def flooded(loss_fn, level):
    """Wrap a per-example loss so the batch mean becomes |mean - level| + level."""
    import tensorflow as tf

    def loss(y_true, y_pred):
        values = loss_fn(y_true, y_pred)
        sign = tf.stop_gradient(tf.sign(tf.reduce_mean(values) - level))
        return sign * (values - level) + level

    loss.__name__ = f"flooded_{getattr(loss_fn, '__name__', 'loss')}"
    return loss


def logit_adjusted(loss_fn, offsets, tau):
    """Wrap a loss on logits so it sees logits + tau * offsets (offsets broadcast against y_pred)."""
    import tensorflow as tf
    shift = tf.constant(tau * np.asarray(offsets, dtype="float32"))

    def loss(y_true, y_pred):
        return loss_fn(y_true, y_pred + tf.cast(shift, y_pred.dtype))

    loss.__name__ = f"adjusted_{getattr(loss_fn, '__name__', 'loss')}"
    return loss


def from_config(loss_fn, train_cfg, offsets=None):
    """Apply the switches of a [train] config: logit_adjust_tau (needs offsets), then flooding."""
    tau = train_cfg.logit_adjust_tau
    if tau:
        if offsets is None:
            raise ValueError("train.logit_adjust_tau is set but this head has no class prior")
        loss_fn = logit_adjusted(loss_fn, offsets, tau)
    level = train_cfg.flooding
    if level:
        loss_fn = flooded(loss_fn, level)
    return loss_fn
