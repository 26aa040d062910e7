"""Encoder + three global pointers whose scores are stacked into one (batch, channels, L, L) output:
entity spans (2 channels, RoPE, upper triangle), head-head links and tail-tail links (one channel
per link type each, no RoPE: a link joins two different entities anywhere in the window, and no
triangle mask: a subject may come after its object). One output keeps common.training's single loss.
"""
from ie_relation.data import N_ENTITY_CHANNELS


def build_model(model_cfg, schema, load_checkpoint=True):
    """Keras model [token_ids, segment_ids] -> scores (batch, schema.n_channels, L, L)."""
    from common.model import build_encoder
    encoder = build_encoder(model_cfg, load_checkpoint=load_checkpoint)
    import keras
    from bert4keras.layers import EfficientGlobalPointer, GlobalPointer

    head_size = model_cfg.head_size
    links = EfficientGlobalPointer if model_cfg.efficient_links else GlobalPointer
    hidden = encoder.output
    entities = GlobalPointer(N_ENTITY_CHANNELS, head_size, name="entity_pointer")(hidden)
    heads = links(schema.n_links, head_size, RoPE=False, tril_mask=False, name="head_links")(hidden)
    tails = links(schema.n_links, head_size, RoPE=False, tril_mask=False, name="tail_links")(hidden)
    scores = keras.layers.Concatenate(axis=1, name="scores")([entities, heads, tails])
    return keras.models.Model(encoder.inputs, scores)


def build_loss(train_cfg, windows, n_channels):
    """The sparse pointer loss with the [train] switches; logit adjustment uses each channel's
    positive rate over all (L - 2)^2 cells of the training windows (links have no triangle mask)."""
    from common.losses import from_config
    from common.pointer import head_log_odds, sparse_pointer_loss
    offsets = None
    if train_cfg.logit_adjust_tau:
        cells = sum((len(w) - 2) ** 2 for w in windows)
        offsets = head_log_odds([w.targets for w in windows], cells, n_channels)
    return from_config(sparse_pointer_loss, train_cfg, offsets)


def build_selector(model, n_links, max_spans, entity_threshold=0.0, link_threshold=0.0):
    """A function (inputs, n_positions) -> one decode.Selection per window of the batch, computed in the
    model's graph: the dense (batch, channels, L, L) scores (66 MB for 32 windows of 64 tokens with
    DuIE's schema) stay inside it, and only the kept spans and the links between them come out. It
    matches decode.select on each window's dense scores exactly: the best `max_spans` cells above the
    threshold (tf.math.top_k puts the lower index first among equal values, as the decoder's stable
    sort does), then in position order."""
    import numpy as np
    import tensorflow as tf
    from ie_relation import decode

    def spans(block, n_positions):
        """(batch, L, L) scores of an entity channel -> (cells (batch, k) as head * L + tail sorted, counts)."""
        size = tf.shape(block)[1]
        position = tf.range(size)
        inside = (position >= 1)[None, :] & (position[None, :] <= n_positions[:, None])  # (batch, L)
        upper = position[:, None] <= position[None, :]
        kept = inside[:, :, None] & inside[:, None, :] & upper[None] & (block > entity_threshold)
        flat = tf.reshape(tf.where(kept, block, -float("inf")), [tf.shape(block)[0], -1])
        best = tf.math.top_k(flat, k=tf.minimum(max_spans, size * size))
        counts = tf.reduce_sum(tf.cast(best.values > -float("inf"), "int32"), axis=1)
        cells = tf.sort(tf.where(best.values > -float("inf"), best.indices, size * size), axis=1)
        return cells, counts

    def links(above, a_cells, b_cells, size):
        """(batch, k, k, n_links) bool: span i of a linked to span j of b, heads and tails; `above` is
        (batch, L * L, 2 * n_links), whether each cell of each link channel is above the threshold."""
        a_cells, b_cells = a_cells % (size * size), b_cells % (size * size)  # padding -> cell 0, ignored
        batch, k = tf.shape(a_cells)[0], tf.shape(a_cells)[1]

        def pick(rows, columns):  # the cells' rows of `above`: contiguous, one gather
            cells = tf.reshape(rows[:, :, None] * size + columns[:, None, :], [batch, k * k])
            return tf.reshape(tf.gather(above, cells, axis=1, batch_dims=1), [batch, k, k, 2 * n_links])

        return (pick(a_cells // size, b_cells // size)[..., :n_links]
                & pick(a_cells % size, b_cells % size)[..., n_links:])

    @tf.function(input_signature=[(tf.TensorSpec([None, None], "int32"), tf.TensorSpec([None, None], "int32")),
                                  tf.TensorSpec([None], "int32")], reduce_retracing=True)
    def selected(inputs, n_positions):
        scores = model(list(inputs), training=False)
        size = tf.shape(scores)[2]
        subjects, n_subjects = spans(scores[:, decode.SUBJECT], n_positions)
        objects, n_objects = spans(scores[:, decode.OBJECT], n_positions)
        k = tf.maximum(tf.reduce_max(n_subjects), tf.reduce_max(n_objects))  # the batch's widest window
        subjects, objects = subjects[:, :k], objects[:, :k]
        # link channels cell-major, compared once: a cell's 2 * n_links answers lie side by side
        above = tf.reshape(tf.transpose(scores[:, decode.N_ENTITY_CHANNELS:], [0, 2, 3, 1]) > link_threshold,
                           [tf.shape(scores)[0], size * size, 2 * n_links])
        return (subjects, n_subjects, objects, n_objects, links(above, subjects, objects, size),
                links(above, objects, objects, size))

    def run(inputs, n_positions):
        token_ids, segment_ids = (np.asarray(x, "int32") for x in inputs)
        size = token_ids.shape[1]
        subjects, n_subjects, objects, n_objects, subject_object, object_object = (
            x.numpy() for x in selected((token_ids, segment_ids), np.asarray(n_positions, "int32")))
        out = []
        for w in range(len(token_ids)):
            s, o = subjects[w, :n_subjects[w]], objects[w, :n_objects[w]]
            out.append(decode.Selection((s // size, s % size), (o // size, o % size),
                                        np.moveaxis(subject_object[w, :len(s), :len(o)], -1, 0),
                                        np.moveaxis(object_object[w, :len(o), :len(o)], -1, 0)))
        return out

    return run
