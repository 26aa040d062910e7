"""Set up TensorFlow + tf-keras + bert4keras before anything else touches them.

Every entry point calls `setup()` first. It sets the environment bert4keras needs (tf-keras 2, not
the Keras 3 that TF 2.21 ships as `tf.keras`), imports TensorFlow once and applies the compatibility
fixes of `common.compat`. Calling it again does nothing.

TensorFlow's C++ core prints while it loads, before any log level applies: how oneDNN is set up and,
on a machine without an NVIDIA driver, that CUDA is missing (three lines, one of them an "error").
`setup()` drops exactly those lines from stderr while TensorFlow loads and finds its devices; every
other line is passed through, and on a machine with an NVIDIA driver the CUDA lines are kept.

`set_seed(seed)` makes a training repeatable: Python, NumPy, TensorFlow and tf-keras seeds, the
initial weights and the dropout generator (common.compat). On a CPU that is enough: two runs with the
same config and seed on the same machine give identical weights and scores (tests/test_determinism.py;
TensorFlow's op determinism changes nothing there and is left off). On a GPU some kernels (cuDNN,
atomic adds) are not deterministic by default: set TF_DETERMINISTIC_OPS=1 for repeatable GPU runs
(slower; TensorFlow then refuses the few ops that have no deterministic GPU kernel).
"""
import contextlib
import logging
import os
import re
import sys
import tempfile

_done = False

# What TensorFlow prints while loading on every machine, and on one without an NVIDIA driver.
LOAD_NOISE = (r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
              r"\] oneDNN custom operations are on")
NO_GPU_NOISE = (r"\] Could not find cuda drivers on your machine, GPU will not be used",
                r"\] failed call to cuInit: ")


def setup(seed=None):
    """Prepare the stack; returns the `tensorflow` module. `seed` (optional) fixes all random seeds."""
    global _done
    if not _done:
        if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
            raise RuntimeError(
                "TensorFlow was imported before common.backend.setup(): call setup() first, "
                "or export TF_USE_LEGACY_KERAS=1 TF_KERAS=1")
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        os.environ["TF_KERAS"] = "1"
        if os.environ.get("RECOMPUTE", "0") not in ("", "0"):
            logging.getLogger(__name__).warning(
                "RECOMPUTE=%s ignored: bert4keras's recompute computes wrong gradients; "
                "set [model] recompute = true instead (common/recompute.py)", os.environ["RECOMPUTE"])
        os.environ["RECOMPUTE"] = "0"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with filtered_stderr(startup_noise(has_nvidia_driver())):
            import tensorflow as tf
            tf.config.list_physical_devices()  # device discovery prints the cuInit line
        tf.get_logger().setLevel(logging.ERROR)
        from common import compat
        compat.apply()
        _done = True
    import tensorflow as tf
    if seed is not None:
        set_seed(seed)
    return tf


def has_nvidia_driver():
    return os.path.exists("/proc/driver/nvidia/version")


def startup_noise(nvidia_driver):
    """Patterns of the start-up lines to drop: with an NVIDIA driver, CUDA lines are news and stay."""
    return LOAD_NOISE + (() if nvidia_driver else NO_GPU_NOISE)


@contextlib.contextmanager
def filtered_stderr(patterns):
    """Inside the block, what is written to file descriptor 2 (also by C++ code) is held back; at the
    end every line matching none of `patterns` is written to stderr."""
    try:
        held = tempfile.TemporaryFile()
    except OSError:  # no writable temp folder: filter nothing
        yield
        return
    with held:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not any(re.search(p, line) for p in patterns))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def set_seed(seed):
    import tf_keras
    tf_keras.utils.set_random_seed(seed)  # Python, NumPy, TensorFlow and tf-keras's own seed source
    from common import compat
    compat.seed_initializers(seed)
    compat.seed_random(seed)
