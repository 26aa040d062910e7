"""Every fix bert4keras 0.11.5 needs on TensorFlow 2.21 + tf-keras 2.21, in one place.

`apply()` is called once by `common.backend.setup()`. Each fix has a test in tests/test_compat.py
that fails without it.

1. Optimisers: bert4keras subclasses `keras.optimizers.Optimizer`, which since TF 2.11 is the new
   optimiser without `_set_hyper`. They are created on the legacy base instead (the `extend_with_*`
   wrappers rely on its slots and `_decayed_lr`).
2. Checkpoint saving: `save_weights_as_checkpoint` needs TF1 sessions. `save_checkpoint` writes the
   same Google-BERT variable names eagerly (SaveV2, `write_checkpoint`), atomically.
3. Generator inputs: tf-keras packs a generator's `[token_ids, segment_ids]` list as ONE input
   ("expects 2 input(s), but it received 1"). `fit_generator_items` turns input lists into tuples.
4. Recompute imports `tape.stop_recording`, gone from this TF; 5. its gradients are wrong: both are
   replaced by `common.recompute` (installed here).
6. Random init: bert4keras hands one unseeded `TruncatedNormal` instance to every weight of a layer,
   and tf-keras returns identical values on each call, so Q/K/V/O kernels come out equal. Replaced by
   an initializer that draws fresh, seedable values on every call. The global pointers' default
   `lecun_normal` (one unseeded instance for both Dense layers of EfficientGlobalPointer: tf-keras
   warns "initializer is unseeded") gets the same treatment (`fresh_initializer`), so every random
   initial weight of a model follows from `seed_initializers(seed)`.
7. Dropout randomness: tf-keras dropout draws from stateful random ops whose position in their
   stream lives inside the traced function, so it cannot be saved, and a resumed training drew other
   masks than an uninterrupted one. Every dropout of the encoder (and the attention-dropout seeds of
   common.recompute) now draws its seed from TensorFlow's global `tf.random.Generator`, whose state is
   one small array: `random_state()` / `set_random_state()` save and restore it (resume.npz).
"""
import functools
import itertools
import os

import numpy as np

_applied = False
_seed_counter = itertools.count()
_base_seed = [0]


def apply():
    global _applied
    if _applied:
        return
    _legacy_optimisers()
    _fresh_initializers()
    _generator_dropout()
    from common import fused, recompute
    fused.install()  # (a speed-up, not a fix: common/fused.py) before recompute wraps the layers
    recompute.install()
    _applied = True


# 1 ---------------------------------------------------------------------------------------------

def _legacy_optimisers():
    import bert4keras.backend  # noqa: F401  (aliases `keras` to tf-keras)
    import keras
    import sys
    if "bert4keras.optimizers" in sys.modules:
        return
    new_base = keras.optimizers.Optimizer
    keras.optimizers.Optimizer = keras.optimizers.legacy.Optimizer
    try:
        import bert4keras.optimizers  # noqa: F401  (its classes bind the legacy base at definition)
    finally:
        keras.optimizers.Optimizer = new_base


# 2 ---------------------------------------------------------------------------------------------

def save_checkpoint(bert, prefix):
    """Write the weights of a bert4keras Transformer (the object `build_transformer_model(...,
    return_keras_model=False)` returns) as a TF checkpoint with Google-BERT variable names, so
    `build_transformer_model(config, prefix)` loads exactly these values. Atomic: the files appear
    under `prefix` only when complete."""
    mapping = {bert.prefixed(k): v for k, v in bert.variable_mapping().items()}
    names, values = [], []
    for layer_name, variables in mapping.items():
        if layer_name not in bert.layers:
            continue
        weights = bert.layers[layer_name].trainable_weights
        for name, weight in zip(variables, weights):
            names.append(name)
            values.append(weight.numpy())
    if len(set(names)) != len(names):
        raise ValueError("variable mapping names a checkpoint variable twice")
    write_checkpoint(dict(zip(names, values)), prefix)
    return names


def write_checkpoint(variables, prefix):
    """Write {checkpoint variable name: array} as a TF checkpoint at `prefix`, atomically (SaveV2)."""
    import shutil
    import tensorflow as tf
    from common.io import atomic_write, remove_stale_temps, temp_path
    names = list(variables)
    prefix = os.path.abspath(os.fspath(prefix))
    folder = os.path.dirname(prefix)
    os.makedirs(folder, exist_ok=True)
    remove_stale_temps(folder)
    staging = temp_path(prefix)  # a temp folder: the next write here removes it if this process is killed
    os.mkdir(staging)
    try:
        tmp = os.path.join(staging, "ckpt")
        tf.raw_ops.SaveV2(prefix=tmp, tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=[tf.constant(variables[name]) for name in names])
        for suffix in (".data-00000-of-00001", ".index"):  # index last: it makes the checkpoint readable
            os.replace(tmp + suffix, prefix + suffix)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with atomic_write(os.path.join(folder, "checkpoint")) as f:
        f.write(f'model_checkpoint_path: "{os.path.basename(prefix)}"\n')


# 3 ---------------------------------------------------------------------------------------------

def fit_generator_items(items):
    """Yield (inputs, targets) with `inputs` as a tuple: tf-keras takes a list as one input."""
    for inputs, targets in items:
        if isinstance(inputs, list):
            inputs = tuple(inputs)
        yield inputs, targets


# 6 ---------------------------------------------------------------------------------------------

def seed_initializers(seed):
    """Make the sequence of random initial weights reproducible from `seed`."""
    global _seed_counter
    _base_seed[0] = int(seed)
    _seed_counter = itertools.count()


def _next_seed():
    return int(np.random.default_rng([_base_seed[0], next(_seed_counter)]).integers(2 ** 31 - 1))


def _fresh_initializers():
    import bert4keras.layers as layers
    import bert4keras.models as models
    import keras

    class FreshTruncatedNormal(keras.initializers.Initializer):
        """Truncated normal that draws new values on every call, from a per-process seed sequence."""

        def __init__(self, stddev=0.02):
            self.stddev = stddev

        def __call__(self, shape, dtype=None, **kwargs):
            rng = np.random.default_rng([_base_seed[0], next(_seed_counter)])
            values = rng.standard_normal(size=tuple(shape))
            while True:  # resample outside two standard deviations, as truncated_normal does
                outside = np.abs(values) > 2
                if not outside.any():
                    break
                values[outside] = rng.standard_normal(size=int(outside.sum()))
            return keras.backend.constant(values * self.stddev, dtype=dtype or keras.backend.floatx())

        def get_config(self):
            return {"stddev": self.stddev}

    keras.utils.get_custom_objects()["FreshTruncatedNormal"] = FreshTruncatedNormal
    models.Transformer.initializer = property(lambda self: FreshTruncatedNormal(stddev=0.02))
    for pointer in (layers.GlobalPointer, layers.EfficientGlobalPointer):
        pointer.__init__ = _with_fresh_kernel_initializer(pointer.__init__)


def _with_fresh_kernel_initializer(init):
    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.kernel_initializer = fresh_initializer(self.kernel_initializer)
    return wrapped


@functools.cache
def _fresh_initializer_class():
    import keras

    class FreshInitializer(keras.initializers.Initializer):
        """A Keras initializer that draws new values on every call: a seeded copy of `base`. An unseeded
        base takes the next seed of the run's sequence (`seed_initializers`); a seeded one keeps its seed
        for its first call and derives one from it for each further call."""

        def __init__(self, base):
            self.base = keras.initializers.get(base)
            self.calls = 0

        def __call__(self, shape, dtype=None, **kwargs):
            config = self.base.get_config()
            if "seed" in config:
                own = config["seed"]
                if own is None:
                    config["seed"] = _next_seed()
                elif self.calls:
                    config["seed"] = int(np.random.default_rng([own, self.calls]).integers(2 ** 31 - 1))
            self.calls += 1
            return type(self.base).from_config(config)(shape, dtype=dtype, **kwargs)

        def get_config(self):
            return {"base": keras.initializers.serialize(self.base)}

    keras.utils.get_custom_objects()["FreshInitializer"] = FreshInitializer
    return FreshInitializer


def fresh_initializer(base):
    """`base` (a Keras initializer or its name) drawing fresh, reproducible values on every call:
    use it for any randomly initialised layer outside bert4keras's encoder."""
    cls = _fresh_initializer_class()
    return base if isinstance(base, cls) else cls(base)


# 7 ---------------------------------------------------------------------------------------------

def dropout_seed():
    """A fresh stateless-op seed (int64 [2]) from TensorFlow's global random generator."""
    import tensorflow as tf
    return tf.random.get_global_generator().make_seeds(1)[:, 0]


def seed_random(seed):
    """Reset the global random generator to `seed` (the dropout masks of a training follow from it)."""
    import tensorflow as tf
    tf.random.get_global_generator().reset_from_seed(int(seed))


def random_state():
    """The global random generator's state: all dropout randomness still to come in this process."""
    import tensorflow as tf
    return tf.random.get_global_generator().state.numpy()


def set_random_state(state):
    import tensorflow as tf
    tf.random.get_global_generator().reset(np.asarray(state))


def _generator_dropout():
    import bert4keras.models as models
    import keras
    import tensorflow as tf
    from tf_keras.src.utils import control_flow_util

    class GeneratorDropout(keras.layers.Dropout):
        """Dropout whose mask seed comes from the global random generator (`dropout_seed`)."""

        def call(self, inputs, training=None):
            if not self.rate:
                return tf.identity(inputs)
            if training is None:
                training = keras.backend.learning_phase()

            def dropped():
                return tf.nn.experimental.stateless_dropout(
                    inputs, self.rate, seed=dropout_seed(), noise_shape=self._get_noise_shape(inputs))

            return control_flow_util.smart_cond(training, dropped, lambda: tf.identity(inputs))

    keras.utils.get_custom_objects()["GeneratorDropout"] = GeneratorDropout
    models.Dropout = GeneratorDropout  # the name bert4keras's Transformer builds its dropouts with
