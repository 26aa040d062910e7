"""Recompute (gradient checkpointing) for bert4keras layers, with correct gradients.

bert4keras's own `recompute_grad` (switched on by the RECOMPUTE environment variable) is not usable
here: it imports `tape.stop_recording`, gone from TF 2.21, and even when that import is patched its
gradients are wrong:
- self-attention passes one tensor as q, k and v; its wrapper returns the full input gradient for
  each of the three copies, so the input gradient of every attention block comes out 3x too large;
- attention dropout draws a new mask when the layer is recomputed in the backward pass, so the
  gradient belongs to another mask than the forward pass used.

This module replaces it. `install()` (run by `common.compat.apply`) wraps the `call` of the layer
classes bert4keras marks for recompute; a wrapped layer recomputes only when its `recompute`
attribute is true, which `enable(model)` sets (config: `[model] recompute = true`). The wrapper
- passes each distinct input tensor once to the custom gradient (q = k = v gets one gradient);
- hands every dropout inside the layer one seed per step, drawn in the forward pass and reused by
  the recomputation, so both passes drop the same units (stateless dropout, `SeededDropout`);
- delays the recomputation until the output gradient exists (control dependency), so the graph
  cannot run it early and keep the activations alive after all.
The seeded dropout is used by wrapped layers whether recompute is on or off, so a model computes
the same function either way.
"""
import contextlib
import functools

# Classes whose `call` bert4keras decorates with its recompute_grad.
LAYER_NAMES = ["ScaleOffset", "MultiHeadAttention", "GatedAttentionUnit", "LayerNormalization",
               "FeedForward", "GlobalPointer", "EfficientGlobalPointer"]

# The k-th dropout inside one wrapped layer call uses the call's seed + k * SEED_STRIDE: distinct masks
# for the dropouts of one layer, the same masks when the layer is recomputed. (A prime, so the offsets of
# different k never coincide with another call's seed pair by a small multiple.)
SEED_STRIDE = 7919

# Trace-time counter of recomputations built into gradient graphs (tests check recompute is live).
stats = {"recomputed_calls": 0}

_seed_stack = []   # (seed tensor, training flag, per-call dropout counter) of the layer being run
_installed = False


def _draw_seed():
    from common.compat import dropout_seed  # the global random generator: saved with resume state
    return dropout_seed()


@contextlib.contextmanager
def _seeded(seed, training):
    if seed is None:  # the layer has no dropout of its own
        yield
        return
    _seed_stack.append([seed, training, 0])
    try:
        yield
    finally:
        _seed_stack.pop()


def _seeded_dropout_class():
    import keras
    import tensorflow as tf
    from tf_keras.src.utils import control_flow_util

    class SeededDropout(keras.layers.Dropout):
        """Dropout whose mask comes from the seed of the enclosing wrapped layer call (stateless), so
        a recomputation reproduces it. Outside a wrapped call it is plain Keras dropout."""

        def call(self, inputs, training=None):
            if not _seed_stack or not self.rate:
                return super().call(inputs, training=training)
            frame = _seed_stack[-1]
            seed, layer_training = frame[0], frame[1]
            seed = seed + tf.constant([0, SEED_STRIDE], dtype=seed.dtype) * frame[2]
            frame[2] += 1

            def dropped():
                keep = tf.random.stateless_uniform(tf.shape(inputs), seed) >= self.rate
                return tf.where(keep, inputs / (1.0 - self.rate), tf.zeros_like(inputs))

            if layer_training is None:
                layer_training = keras.backend.learning_phase()
            return control_flow_util.smart_cond(layer_training, dropped, lambda: tf.identity(inputs))

    return SeededDropout


def _wrap(call):
    import inspect
    import tensorflow as tf
    spec = inspect.getfullargspec(call)

    @functools.wraps(call)
    def wrapped(self, inputs, **kwargs):
        training = kwargs.get("training")
        if spec.varkw is None:  # Keras offers mask/training to every **kwargs call; pass on what it takes
            kwargs = {k: v for k, v in kwargs.items() if k in spec.args or k in spec.kwonlyargs}
        seed = _draw_seed() if getattr(self, "attention_dropout", None) else None
        if not getattr(self, "recompute", False) or tf.executing_eagerly() and not _watched(inputs):
            with _seeded(seed, training):
                return call(self, inputs, **kwargs)
        return _recomputed(call, self, inputs, kwargs, training, seed)

    wrapped.__wrapped_by_recompute__ = True
    return wrapped


def _watched(inputs):
    """True when some tape records (eager training); eager inference needs no recompute."""
    from tensorflow.python.eager import record
    return bool(record.could_possibly_record())


def _recomputed(call, layer, inputs, kwargs, training, seed):
    import tensorflow as tf
    from tensorflow.python.eager import record

    flat = tf.nest.flatten(inputs)
    unique, positions = [], []
    for tensor in flat:  # one custom-gradient input per distinct tensor (q = k = v in self-attention)
        for i, seen in enumerate(unique):
            if seen is tensor:
                positions.append(i)
                break
        else:
            positions.append(len(unique))
            unique.append(tensor)

    def run(tensors):
        rebuilt = tf.nest.pack_sequence_as(inputs, [tensors[i] for i in positions])
        with _seeded(seed, training):
            return call(layer, rebuilt, **kwargs)

    @tf.custom_gradient
    def forward(*tensors):
        with record.stop_recording():  # keep nothing of the inside for the backward pass
            outputs = tf.nest.map_structure(tf.identity, run(list(tensors)))

        def grad(*output_grads, variables=None):
            stats["recomputed_calls"] += 1
            variables = list(variables or [])
            with tf.control_dependencies(output_grads):  # recompute only once the gradient arrives
                again = [tf.identity(t) for t in tensors]
            with tf.GradientTape() as tape:
                tape.watch(again + variables)
                recomputed = tf.nest.flatten(run(again))
            grads = tape.gradient(recomputed, again + variables, output_gradients=list(output_grads),
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return grads[:len(again)], grads[len(again):]

        return outputs, grad

    return forward(*unique)


def install():
    """Wrap the recompute-capable bert4keras layers (idempotent). Called by common.compat.apply()."""
    global _installed
    if _installed:
        return
    import bert4keras.layers as layers
    for name in LAYER_NAMES:
        cls = getattr(layers, name, None)
        if cls is not None and not getattr(cls.call, "__wrapped_by_recompute__", False):
            cls.call = _wrap(cls.call)
    layers.Dropout = _seeded_dropout_class()  # the dropout bert4keras creates inside attention
    _installed = True


def enable(model, on=True):
    """Switch recompute on (or off) for every wrapped layer of `model`; returns how many layers.

    Takes effect when the training function is traced, i.e. call it before `compile`/`fit`.
    """
    if not _installed:
        raise RuntimeError("common.recompute is not installed: call common.backend.setup() first")
    count = 0
    for layer in _all_layers(model):
        if getattr(type(layer).call, "__wrapped_by_recompute__", False):
            layer.recompute = on
            count += 1
    if on and not count:
        raise ValueError("recompute: the model has no layer that supports it")
    return count


def _all_layers(model):
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        yield layer
        stack.extend(getattr(layer, "layers", []) or [])
