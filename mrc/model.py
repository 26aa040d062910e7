"""Span model: encoder -> start/end logits per token, masked to the candidates of a window.

Candidates are the context tokens (segment 1 without its closing [SEP]) and [CLS], which stands
for "the answer is not in this window". Everything else gets a very low logit, so the softmax of
the loss runs over the window's candidates only.
"""
MASKED = -1e9


def build_model(model_cfg, sep_id, load_checkpoint=True):
    """Keras model [token_ids, segment_ids] -> logits (batch, sequence, 2) for start and end."""
    from common.model import build_encoder
    import keras

    encoder = build_encoder(model_cfg, load_checkpoint=load_checkpoint)
    token_ids, segment_ids = encoder.inputs
    from common.compat import fresh_initializer  # seeded from the run's seed, like the encoder
    init = fresh_initializer(keras.initializers.TruncatedNormal(stddev=0.02))
    logits = keras.layers.Dense(2, kernel_initializer=init, name="MRC-Span")(encoder.output)
    logits = keras.layers.Lambda(lambda x: mask_candidates(*x, sep_id=sep_id), name="MRC-Candidates")(
        [logits, token_ids, segment_ids])
    return keras.Model(encoder.inputs, logits, name="mrc")


def mask_candidates(logits, token_ids, segment_ids, sep_id):
    import tensorflow as tf
    context = tf.logical_and(tf.equal(segment_ids, 1), tf.not_equal(token_ids, sep_id))
    is_cls = tf.equal(tf.range(tf.shape(token_ids)[1]), 0)[None, :]
    candidates = tf.logical_or(context, is_cls)[..., None]
    return tf.where(candidates, logits, tf.cast(MASKED, logits.dtype))


def span_loss(y_true, y_pred):
    """Per window: mean of the start and end cross-entropies; y_true is (batch, 2) positions."""
    import tensorflow as tf
    y_true = tf.cast(y_true, "int32")
    start = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true[:, 0], logits=y_pred[:, :, 0])
    end = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true[:, 1], logits=y_pred[:, :, 1])
    return (start + end) / 2


def build_loss(train_cfg):
    """The span loss with the [train] switches (no class prior: logit adjustment is refused)."""
    from common.losses import from_config
    return from_config(span_loss, train_cfg)
