"""The batched model runner every track's inference uses.

Examples (windows, questions, dialogue samples) are sorted by length and run in batches, so padding
stays small and every model call but the last is a full batch; the outputs come back in the order of the
examples. `call(batch) -> one output per example` is the track's: a forward pass that returns positive
cells, logits, or a whole batched decoding.

`run_sorted` returns every output at once; `stream_sorted` yields them one by one, running the examples
chunk by chunk (sorted inside each chunk), so that memory holds one chunk's outputs however many
examples there are: the thousands of windows of a long text go through without piling up.
"""

CHUNK_BATCHES = 64  # batches per chunk of stream_sorted: long enough that sorting inside it pads little


def run_sorted(examples, batch_size, call, length=len):
    """[call's output for each example], in the order of `examples`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(examples)), key=lambda k: length(examples[k]))
    outputs = [None] * len(examples)
    for at in range(0, len(order), batch_size):
        chunk = order[at:at + batch_size]
        results = call([examples[k] for k in chunk])
        if len(results) != len(chunk):
            raise RuntimeError(f"the model runner returned {len(results)} outputs for {len(chunk)} examples")
        for k, result in zip(chunk, results):
            outputs[k] = result
    return outputs


def stream_sorted(examples, batch_size, call, length=len, chunk=None):
    """Yield call's output for each example, in the order of `examples` (a sequence), computed chunk by
    chunk of `chunk` examples (default CHUNK_BATCHES batches), each chunk sorted by length."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    chunk = chunk or batch_size * CHUNK_BATCHES
    for at in range(0, len(examples), chunk):
        yield from run_sorted(examples[at:at + chunk], batch_size, call, length)
