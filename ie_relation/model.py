"""Encoder + three global pointers whose scores are stacked into one (batch, channels, L, L) output:
entity spans (2 channels, RoPE, upper triangle), head-head links and tail-tail links (one channel
per link type each, no RoPE: a link joins two different entities anywhere in the window, and no
triangle mask: a subject may come after its object). One output keeps common.training's single loss.
"""
import numpy as np


def build_model(cfg, schema, load_checkpoint=True):
    """Keras model [token_ids, segment_ids] -> scores (batch, schema.n_channels, L, L)."""
    from common.model import build_encoder
    encoder = build_encoder(cfg.model, load_checkpoint=load_checkpoint)
    import keras
    from bert4keras.layers import EfficientGlobalPointer, GlobalPointer

    head_size = int(cfg.model.get("head_size", 64))
    links = EfficientGlobalPointer if cfg.model.get("efficient_links", False) else GlobalPointer
    hidden = encoder.output
    entities = GlobalPointer(2, head_size, name="entity_pointer")(hidden)
    heads = links(schema.n_links, head_size, RoPE=False, tril_mask=False, name="head_links")(hidden)
    tails = links(schema.n_links, head_size, RoPE=False, tril_mask=False, name="tail_links")(hidden)
    scores = keras.layers.Concatenate(axis=1, name="scores")([entities, heads, tails])
    return keras.models.Model(encoder.inputs, scores)


def sparse_pointer_loss(y_true, y_pred):
    """Sparse multilabel cross-entropy per channel, summed over channels -> one loss per example.

    y_true: (batch, channels, k, 2) positive (head, tail) cells, padded with (0, 0), which is masked;
    y_pred: (batch, channels, L, L) logits.
    """
    import tensorflow as tf
    from bert4keras.backend import sparse_multilabel_categorical_crossentropy
    shape = tf.shape(y_pred)
    cells = tf.cast(y_true, "int32")
    index = cells[..., 0] * shape[2] + cells[..., 1]
    flat = tf.reshape(y_pred, (shape[0], shape[1], shape[2] * shape[3]))
    per_channel = sparse_multilabel_categorical_crossentropy(index, flat, mask_zero=True)
    return tf.reduce_sum(per_channel, axis=1)


def channel_log_odds(windows, n_channels):
    """Offsets for logit adjustment: log-odds of each channel's positive rate over the training windows,
    shaped (channels, 1, 1) to broadcast against the scores."""
    from common.losses import log_odds
    positive = np.zeros(n_channels)
    for window in windows:
        for channel, _, _ in window.targets:
            positive[channel] += 1
    cells = float(sum((len(w) - 2) ** 2 for w in windows))
    return log_odds(positive, np.full(n_channels, cells)).reshape(n_channels, 1, 1)


def build_loss(train_cfg, windows, n_channels):
    from common.losses import from_config
    offsets = channel_log_odds(windows, n_channels) if float(train_cfg.get("logit_adjust_tau", 0)) else None
    return from_config(sparse_pointer_loss, train_cfg, offsets)
