"""Set up TensorFlow + tf-keras + bert4keras before anything else touches them.

Every entry point calls `setup()` first. It sets the environment bert4keras needs (tf-keras 2, not
the Keras 3 that TF 2.21 ships as `tf.keras`), imports TensorFlow once and applies the compatibility
fixes of `common.compat`. Calling it again does nothing.

TensorFlow's C++ core prints while it loads, before any log level applies: how oneDNN is set up and,
on a machine without an NVIDIA driver, that CUDA is missing (three lines, one of them an "error").
`setup()` drops exactly those lines from stderr while TensorFlow loads and finds its devices; every
other line is passed through, and on a machine with an NVIDIA driver the CUDA lines are kept.

`setup(strategy=name)` also makes the tf.distribute strategy of `train.strategy` (`distribution`), before
any other TensorFlow op: a multi-worker strategy configures collective ops, which TensorFlow allows
only at program start (later it fails with "Collective ops must be configured at program startup"),
and the seeds below already run ops. The strategies:
- "default": TensorFlow's default strategy, one device (the first GPU, else the CPU);
- "mirrored": `MirroredStrategy` over every GPU of this machine (CUDA_VISIBLE_DEVICES picks them), else
  over the CPU devices: one CPU on an ordinary machine (tests split the CPU into logical devices with
  `tf.config.set_logical_device_configuration` before calling setup);
- "multi_worker": `MultiWorkerMirroredStrategy` over the machines TF_CONFIG names (each uses every GPU it
  has); `cluster_task()` reads TF_CONFIG without TensorFlow.

`set_seed(seed)` makes a training repeatable: Python, NumPy, TensorFlow and tf-keras seeds, the
initial weights and the dropout generator (common.compat). On a CPU that is enough: two runs with the
same config and seed on the same machine give identical weights and scores (tests/test_determinism.py;
TensorFlow's op determinism changes nothing there and is left off). On a GPU some kernels (cuDNN,
atomic adds) are not deterministic by default: set TF_DETERMINISTIC_OPS=1 for repeatable GPU runs
(slower; TensorFlow then refuses the few ops that have no deterministic GPU kernel).
"""
import contextlib
import dataclasses
import functools
import json
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


def setup(seed=None, strategy=None):
    """Prepare the stack; returns the `tensorflow` module. `strategy` (optional, a train.strategy name)
    makes that distribution strategy now, before any op; `seed` (optional) fixes all random seeds."""
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
    if strategy is not None:
        distribution(strategy)
    if seed is not None:
        set_seed(seed)
    return tf


@dataclasses.dataclass(frozen=True)
class ClusterTask:
    """This process's place among the workers of a training: `index` of `count` (0 of 1 alone)."""
    index: int = 0
    count: int = 1

    @property
    def chief(self):
        """The chief writes the run folder and evaluates; the other workers only train."""
        return self.index == 0


def cluster_task(required=False):
    """This process's task in TF_CONFIG, read without TensorFlow: the workers are the "chief" task, if
    any, then the "worker" tasks in order, and the first is the chief (Keras's convention). Without
    TF_CONFIG: one worker (a ConfigError if `required`). A TF_CONFIG that is not JSON naming this task
    among its workers is a ConfigError."""
    from common.config import ConfigError
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        if required:
            raise ConfigError("train.strategy = multi_worker needs TF_CONFIG: every machine sets it to the same "
                              '"cluster" and its own "task" (see README, Training on several devices)')
        return ClusterTask()
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        workers = [("chief", i) for i in range(len(cluster.get("chief", [])))]
        workers += [("worker", i) for i in range(len(cluster.get("worker", [])))]
        unknown = sorted(set(cluster) - {"chief", "worker"})
        index = workers.index((task["type"], int(task["index"])))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"TF_CONFIG is not a cluster naming this task among its chief and workers ({error}): "
                          f"see README, Training on several devices") from None
    if unknown:
        raise ConfigError(f"TF_CONFIG: tasks of type {', '.join(unknown)} are not supported "
                          "(only one \"chief\" and \"worker\" tasks)")
    return ClusterTask(index, len(workers))


@functools.cache
def distribution(name="default"):
    """The tf.distribute strategy of train.strategy `name`, made once per process (see the module's
    doc); setup(strategy=name) makes it before any other op."""
    import tensorflow as tf
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi_worker":
        cluster_task(required=True)
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            raise RuntimeError(f"{error}: call common.backend.setup(strategy='multi_worker') before "
                               "anything else runs a TensorFlow op") from None
    from common.config import ConfigError, STRATEGIES
    raise ConfigError(f"train.strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


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
