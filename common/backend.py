"""Set up TensorFlow + tf-keras + bert4keras before anything else touches them.

Every entry point calls `setup()` first. It sets the environment bert4keras needs (tf-keras 2, not
the Keras 3 that TF 2.21 ships as `tf.keras`), imports TensorFlow once and applies the compatibility
fixes of `common.compat`. Calling it again does nothing.
"""
import logging
import os
import sys

_done = False


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
        import tensorflow as tf
        tf.get_logger().setLevel(logging.ERROR)
        from common import compat
        compat.apply()
        _done = True
    import tensorflow as tf
    if seed is not None:
        set_seed(seed)
    return tf


def set_seed(seed):
    import random
    import numpy as np
    import tensorflow as tf
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    from common import compat
    compat.seed_initializers(seed)
