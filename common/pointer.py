"""Sparse targets, loss and class prior of global-pointer heads (both IE tracks).

A head scores every (i, j) token pair of a window; a window's targets are its positive cells as
(head, i, j) triples. Batches carry them sparsely, as (batch, heads, k, 2) positions zero-padded with
(0, 0): that is the [CLS] x [CLS] cell, never a positive, and the loss masks it out.
"""
import numpy as np


def sparse_targets(cells_per_example, n_heads):
    """int32 (batch, heads, k, 2) from one iterable of (head, i, j) per example; k is the most
    positives any head of the batch has (at least 1)."""
    per_head = [[[] for _ in range(n_heads)] for _ in cells_per_example]
    for row, cells in zip(per_head, cells_per_example):
        for head, i, j in cells:
            row[head].append((i, j))
    k = max([1] + [len(cells) for row in per_head for cells in row])
    out = np.zeros((len(per_head), n_heads, k, 2), dtype="int32")
    for b, row in enumerate(per_head):
        for h, cells in enumerate(row):
            if cells:
                out[b, h, :len(cells)] = cells
    return out


def sparse_pointer_loss(y_true, y_pred):
    """Sparse multilabel cross-entropy of each head, summed over heads: one loss per example.

    y_true: (batch, heads, k, 2) positive cells as above; y_pred: (batch, heads, L, L) logits.
    """
    import tensorflow as tf
    from bert4keras.backend import sparse_multilabel_categorical_crossentropy
    shape = tf.shape(y_pred)
    cells = tf.cast(y_true, "int32")
    index = cells[..., 0] * shape[2] + cells[..., 1]
    flat = tf.reshape(y_pred, (shape[0], shape[1], shape[2] * shape[3]))
    per_head = sparse_multilabel_categorical_crossentropy(index, flat, mask_zero=True)
    return tf.reduce_sum(per_head, axis=1)


def head_log_odds(cells_per_example, decisions, n_heads):
    """Offsets for logit adjustment (common.losses): log-odds of each head's positive rate, shaped
    (heads, 1, 1) to broadcast against the logits. `decisions` is how many cells one head scores over
    the whole training set (it depends on the head's mask, so the track counts it)."""
    from common.losses import log_odds
    positive = np.zeros(n_heads)
    for cells in cells_per_example:
        for head, _, _ in cells:
            positive[head] += 1
    return log_odds(positive, np.full(n_heads, float(decisions))).reshape(n_heads, 1, 1)
