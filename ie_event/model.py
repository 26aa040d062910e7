"""Encoder + span and link global pointers, and batched extraction (the loss: common.pointer).

The three heads (argument spans per (type, role), head links, tail links per type) are efficient
global pointers whose (batch, heads, L, L) logits are concatenated on the heads axis in the layout of
`data.py`. Extraction thresholds inside the graph and returns only the positive cells, so a batch never
moves a (batch, heads, L, L) array to the host.
"""
from common.tokenize import sentence_inputs
from ie_event import data, decode


def build_model(model_cfg, schema, load_checkpoint=True, seed=0):
    from common.model import build_encoder
    encoder = build_encoder(model_cfg, load_checkpoint=load_checkpoint)
    import keras
    from bert4keras.layers import EfficientGlobalPointer

    def pointer(index, heads, name, rope):
        # a seeded initializer per layer: unseeded ones give every layer the same initial values
        init = keras.initializers.LecunNormal(seed=seed * 10 + index)
        return EfficientGlobalPointer(heads, int(model_cfg.get("head_size", 64)), RoPE=rope,
                                      kernel_initializer=init, name=name)(encoder.output)

    spans = pointer(0, len(schema.roles), "argument_spans", True)
    heads = pointer(1, schema.n_links, "head_links", False)
    tails = pointer(2, schema.n_links, "tail_links", False)
    output = keras.layers.Concatenate(axis=1, name="all_heads")([spans, heads, tails])
    return keras.Model(encoder.inputs, output)


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


def extract(model, tokenizer, schema, records, maxlen, stride, batch_size=16, threshold=0.0,
            cells=None, max_arguments=64):
    """Submission event lists for `records`, in order. Windows of all texts are sorted by length and
    batched, so padding is small and every model call is a full batch."""
    cells = cells or positive_cells(model, threshold)
    windows = data.build_windows(tokenizer, records, schema, maxlen, stride, with_targets=False)
    order = sorted(range(len(windows)), key=lambda k: len(windows[k].token_ids))
    found = [([], []) for _ in windows]
    for at in range(0, len(order), batch_size):
        batch = [windows[k] for k in order[at:at + batch_size]]
        where, scores = cells(*sentence_inputs([w.token_ids for w in batch], tokenizer.pad_id))
        for (b, head, i, j), score in zip(where.tolist(), scores.tolist()):
            positives, window_scores = found[order[at + b]]
            positives.append((head, i, j))
            window_scores.append(score)
    return decode.decode_windows(records, windows, [positives for positives, _ in found], schema,
                                 scores=[scores for _, scores in found], max_arguments=max_arguments)
