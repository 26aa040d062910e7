"""common/backend.py and the seeding fixes of common/compat.py: TensorFlow's start-up chatter is dropped
from stderr and nothing else is; every random initial weight follows from the run's seed."""
import os
import warnings

import numpy as np

from common import backend
from conftest import make_track, sample


LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1795628075.005690   21307 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.\n",
    "I0000 00:00:1795628075.005999   21307 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU "
    "will not be used.\n",
    "E0000 00:00:1795628260.631333   23655 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    "Failed call to cuInit: UNKNOWN ERROR (303)\n",
    "E0000 00:00:1795628260.631333   23655 some_op.cc:12] a real error\n",
    "an error a library prints\n",
]


def write_at_fd_level(lines):
    for line in lines:
        os.write(2, line.encode())  # as C++ code writes: to the file descriptor, not to sys.stderr


def test_start_up_chatter_is_dropped_and_everything_else_kept(capfd):
    with backend.filtered_stderr(backend.startup_noise(nvidia_driver=False)):
        write_at_fd_level(LINES)
    assert capfd.readouterr().err == LINES[4] + LINES[5]


def test_cuda_lines_are_kept_on_a_machine_with_an_nvidia_driver(capfd):
    with backend.filtered_stderr(backend.startup_noise(nvidia_driver=True)):
        write_at_fd_level(LINES)
    assert capfd.readouterr().err == "".join(LINES[2:])


def weights_by_name(model, part):
    return {w.name: w.numpy() for w in model.weights if part in w.name and "kernel" in w.name}


def test_pointer_heads_are_seeded_by_the_run_seed(tf, tiny_bert):
    """Same seed, same initial heads; another seed, other heads; the two Dense layers of an
    EfficientGlobalPointer get unrelated kernels; tf-keras has nothing to warn about."""
    track = make_track("ie_relation", f"model.dir={tiny_bert('ie_relation')}", "model.head_size=8",
                       f"data.dir={os.path.dirname(sample('ie_relation', 'schema.json'))}")
    built = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for seed in (0, 0, 1):
            backend.set_seed(seed)
            built.append(weights_by_name(track.build_model(load_checkpoint=False), "links"))
    assert not [w for w in caught if "unseeded" in str(w.message)]
    first, again, other = built
    assert first.keys() == again.keys() == other.keys() and len(first) == 4
    assert all(np.array_equal(first[name], again[name]) for name in first)
    assert not any(np.array_equal(first[name], other[name]) for name in first)
    p, q = (first[name].ravel() for name in sorted(first) if name.startswith("head_links"))
    assert abs(np.corrcoef(p[:64], q[:64])[0, 1]) < 0.5


def test_a_shared_fresh_initializer_gives_distinct_reproducible_values(tf):
    import keras
    from common.compat import fresh_initializer, seed_initializers
    draws = []
    for seed in (3, 3):
        seed_initializers(seed)
        shared = fresh_initializer(keras.initializers.TruncatedNormal(stddev=0.02))
        draws.append([shared((4, 4)).numpy() for _ in range(2)])
    assert not np.array_equal(draws[0][0], draws[0][1])
    assert all(np.array_equal(a, b) for a, b in zip(draws[0], draws[1]))
    seeded = fresh_initializer(keras.initializers.LecunNormal(seed=7))
    first, second = seeded((4, 4)).numpy(), seeded((4, 4)).numpy()
    assert np.array_equal(first, keras.initializers.LecunNormal(seed=7)((4, 4)).numpy())
    assert not np.array_equal(first, second)
