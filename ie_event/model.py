"""Encoder + span and link global pointers, and in-graph selection of positive cells (the loss:
common.pointer).

The three heads (argument spans per (type, role), head links, tail links per type) are efficient
global pointers whose (batch, heads, L, L) logits are concatenated on the heads axis in the layout of
`data.py`. Inference thresholds inside the graph and returns only the positive cells, so a batch never
moves a (batch, heads, L, L) array to the host.
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

    spans = pointer(0, len(schema.roles), "argument_spans", True)
    heads = pointer(1, schema.n_links, "head_links", False)
    tails = pointer(2, schema.n_links, "tail_links", False)
    output = keras.layers.Concatenate(axis=1, name="all_heads")([spans, heads, tails])
    return keras.Model(encoder.inputs, output)


def build_loss(train_cfg, windows, n_heads):
    """The sparse pointer loss with the [train] switches (logit adjustment by each head's prior)."""
    from common.losses import from_config
    from common.pointer import sparse_pointer_loss
    from ie_event.data import head_log_odds
    return from_config(sparse_pointer_loss, train_cfg, offsets=head_log_odds(windows, n_heads))


def positive_cells(model, threshold):
    """A function (token_ids, segment_ids) -> (int array (n, 4) of (batch, head, i, j), float array (n,)
    of their logits) for the cells whose logit exceeds `threshold`."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2, reduce_retracing=True)
    def cells(token_ids, segment_ids):
        logits = model([token_ids, segment_ids], training=False)
        where = tf.where(logits > threshold)
        return where, tf.gather_nd(logits, where)

    def run(token_ids, segment_ids):
        where, scores = cells(token_ids, segment_ids)
        return where.numpy(), scores.numpy()

    return run
