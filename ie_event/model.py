"""Encoder + span, link and count global pointers, and in-graph selection of positive cells (the
loss: common.pointer).

The heads (argument spans per (type, role), argument counts per type and level, head links and tail
links, shared or per type) are efficient global pointers whose (batch, heads, L, L) logits are
concatenated on the heads axis in the layout of `data.py`. Inference thresholds inside the graph and
returns only the positive cells, at most `max_cells` per window (the best), so a batch never moves a
(batch, heads, L, L) array to the host and a model that fires everywhere costs no more memory than a
good one.
"""

# Pointer layer k of a run with seed s is initialised from seed s * SEEDS_PER_RUN + k: distinct per
# layer (an unseeded initializer gives every layer the same values) and per run seed.
SEEDS_PER_RUN = 10


def build_model(model_cfg, schema, load_checkpoint=True, seed=0):
    from common.model import build_encoder
    encoder = build_encoder(model_cfg, load_checkpoint=load_checkpoint)
    import keras
    from bert4keras.layers import EfficientGlobalPointer

    def pointer(index, heads, name, rope):
        init = keras.initializers.LecunNormal(seed=seed * SEEDS_PER_RUN + index)
        return EfficientGlobalPointer(heads, model_cfg.head_size, RoPE=rope, kernel_initializer=init,
                                      name=name)(encoder.output)

    parts = [pointer(0, len(schema.roles), "argument_spans", True)]
    if schema.n_counts:  # counts are about spans, so they get RoPE like the span heads
        parts.append(pointer(3, schema.n_counts, "argument_counts", True))
    parts += [pointer(1, schema.n_links, "head_links", False), pointer(2, schema.n_links, "tail_links", False)]
    output = keras.layers.Concatenate(axis=1, name="all_heads")(parts)
    return keras.Model(encoder.inputs, output)


def build_loss(train_cfg, windows, n_heads):
    """The sparse pointer loss with the [train] switches (logit adjustment by each head's prior)."""
    from common.losses import from_config
    from common.pointer import sparse_pointer_loss
    from ie_event.data import head_log_odds
    return from_config(sparse_pointer_loss, train_cfg, offsets=head_log_odds(windows, n_heads))


def positive_cells(model, threshold, max_cells):
    """A function (token_ids, segment_ids) -> (int32 array (n, 4) of (batch, head, i, j), float32 array
    (n,) of their logits, int array (batch,) of the positive cells each window had) for the cells whose
    logit exceeds `threshold`: all of them, or the `max_cells` best of a window that has more."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2, reduce_retracing=True)
    def cells(token_ids, segment_ids):
        logits = model([token_ids, segment_ids], training=False)
        positive = logits > threshold
        per_window = tf.reduce_sum(tf.cast(positive, tf.int32), axis=[1, 2, 3])

        def every():
            where = tf.where(positive)
            return tf.cast(where, tf.int32), tf.gather_nd(logits, where)

        def best():  # only when some window has too many: top_k over a whole window is slow
            shape = tf.shape(logits)
            flat = tf.reshape(logits, (shape[0], -1))
            values, index = tf.math.top_k(flat, k=tf.minimum(max_cells, tf.shape(flat)[1]))
            area = shape[2] * shape[3]
            batch = tf.broadcast_to(tf.range(shape[0])[:, None], tf.shape(index))
            where = tf.stack([batch, index // area, index % area // shape[3], index % shape[3]], axis=-1)
            keep = values > threshold
            return tf.boolean_mask(where, keep), tf.boolean_mask(values, keep)

        where, scores = tf.cond(tf.reduce_max(per_window) > max_cells, best, every)
        return where, scores, per_window

    def run(token_ids, segment_ids):
        where, scores, per_window = cells(token_ids, segment_ids)
        return where.numpy(), scores.numpy(), per_window.numpy()

    return run
