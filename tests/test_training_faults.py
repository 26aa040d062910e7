"""The training loop under faults (common/training.py + common/run.py) and across processes:

- a real kill between writing the best weights and the resume state of an epoch leaves the previous
  epoch's consistent state, and `--resume` then ends exactly where an uninterrupted run ends (dropout
  on: the data order and the random generator state are restored);
- the same config and seed in another process give identical weights and scores;
- a full disk (injected into a commit, and a real small tmpfs under a whole training where one can
  be mounted) and a damaged resume file end in one `error:` line with the committed state untouched.
A 2-layer tiny BERT, 3 batches per epoch, 2 epochs.
"""
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT, train_config
from test_training import toy_task

TRAIN = dict(weight_decay=0.01, warmup_proportion=0.3, learning_rate=1e-3)


def fit(checkpoint_dir, out_dir, epochs=2, resume=False):
    """Train the toy task with dropout 0.1 into `out_dir`; returns (model, history)."""
    from common import training
    make_model, batches, evaluate, loss = toy_task(checkpoint_dir, dropout=0.1)
    model = make_model()
    # the monitor is not among the metrics, so the loss decides: it falls every epoch here, and every
    # epoch writes new best weights
    history = training.train(model, loss, batches, train_config(out_dir, epochs=epochs, **TRAIN), evaluate,
                             monitor="neg_loss", resume=resume, progress=False, tensorboard=False)
    return model, history


def digest(weights):
    return hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest()


def in_subprocess(code, **values):
    """Run `code` in a fresh Python process, with `fit` imported and `values` set as variables."""
    program = "import os, sys, json, signal\n" + f"sys.path[:0] = [{ROOT!r}, {os.path.join(ROOT, 'tests')!r}]\n"
    program += "from test_training_faults import fit, digest\n"
    program += "".join(f"{name} = {value!r}\n" for name, value in values.items()) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=600)


def committed_epoch(out_dir):
    from common import run
    return run.committed_epoch(str(out_dir))


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint):
    return os.path.dirname(tiny_checkpoint["vocab_path"])


@pytest.fixture(scope="module")
def straight(checkpoint, tmp_path_factory):
    """An uninterrupted run in this process: (weights, history, run folder)."""
    out_dir = tmp_path_factory.mktemp("straight")
    model, history = fit(checkpoint, str(out_dir))
    return model.get_weights(), history, out_dir


KILL_BEFORE_RESUME_OF_EPOCH_2 = """
    from common import training
    write_resume = training._resume_writer
    def killing(model, optimizer, state):
        if state["epoch"] == 2:  # the best weights of epoch 2 are written, its resume state not yet
            return lambda f: os.kill(os.getpid(), signal.SIGKILL)
        return write_resume(model, optimizer, state)
    training._resume_writer = killing
    fit(checkpoint, out_dir)
"""


def test_kill_between_best_weights_and_resume_state_then_exact_resume(checkpoint, straight, tmp_path):
    from common import run, training
    out_dir = tmp_path / "run"
    killed = in_subprocess(KILL_BEFORE_RESUME_OF_EPOCH_2, checkpoint=checkpoint, out_dir=str(out_dir))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    # what predict and --resume see: epoch 1 throughout
    assert committed_epoch(out_dir) == 1
    with np.load(out_dir / run.RESUME) as data:
        state = json.loads(str(data["state"]))
        weights = [data[f"model_{i}"] for i in range(state["n_model"])]
    assert state["epoch"] == 1 and state["best_epoch"] == 1 and [r["epoch"] for r in state["history"]] == [1]
    history = [json.loads(line) for line in (out_dir / run.HISTORY).read_text().splitlines()]
    assert [r["epoch"] for r in history if r["saved"]] == [1]
    best = training.load_best(toy_task(checkpoint)[0](load_checkpoint=False), str(out_dir))
    assert all(np.array_equal(a, b) for a, b in zip(best.get_weights(), weights))
    assert sorted(os.listdir(out_dir / run.EPOCHS)) == ["1", "2"]  # the killed commit's half-written folder

    model, resumed = fit(checkpoint, str(out_dir), resume=True)  # epoch 2 again, in this process
    straight_weights, straight_history, _ = straight
    assert resumed == straight_history and [r["epoch"] for r in resumed] == [1, 2]
    assert digest(model.get_weights()) == digest(straight_weights)
    assert os.listdir(out_dir / run.EPOCHS) == ["2"] and not (out_dir / run.LOCK).exists()


TRAIN_AND_REPORT = """
    model, history = fit(checkpoint, out_dir)
    print(json.dumps({"weights": digest(model.get_weights()), "history": history}))
"""


def test_same_config_and_seed_in_another_process_give_identical_weights_and_scores(checkpoint, straight,
                                                                                   tmp_path):
    result = in_subprocess(TRAIN_AND_REPORT, checkpoint=checkpoint, out_dir=str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    weights, history, _ = straight
    assert report["history"] == history and "acc" in history[-1]
    assert report["weights"] == digest(weights)
    for noise in ("cuda", "absl", "oneDNN", "unseeded"):  # a CPU machine: no start-up chatter either
        assert noise not in result.stderr, result.stderr


def test_full_disk_while_saving_is_one_error_line_and_keeps_the_last_epoch(straight, tmp_path):
    """The evaluator's commit of epoch 3 meets a full disk at its second file (injected)."""
    from common import cli, run, training
    out_dir = tmp_path / "run"
    shutil.copytree(straight[2], out_dir, symlinks=True)  # a run whose epoch 2 is committed
    before = (out_dir / run.HISTORY).read_text()

    def full(f):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    evaluator = training.Evaluator(None, str(out_dir), "acc", "max", {}, None, False)
    writers = {run.WEIGHTS: lambda f: f.write(b"new weights"), run.RESUME: full, run.HISTORY: full}
    with pytest.raises(SystemExit) as stop:
        cli.run(lambda argv: evaluator.commit(3, writers))
    assert str(stop.value.code) == (f"error: [Errno 28] No space left on device: could not save epoch 3 "
                                    f"({out_dir} keeps epoch 2: free space, then continue with --resume)")
    assert committed_epoch(out_dir) == 2 and (out_dir / run.HISTORY).read_text() == before
    assert os.listdir(out_dir / run.EPOCHS) == ["2"]
    assert not [name for name in os.listdir(out_dir) if name.startswith(".")]


def test_damaged_resume_state_is_one_error_line(checkpoint, straight, tmp_path):
    from common import cli, run
    out_dir = tmp_path / "run"
    shutil.copytree(straight[2], out_dir, symlinks=True)
    resume = run.state_path(str(out_dir), run.RESUME)
    with open(resume, "r+b") as f:
        f.truncate(os.path.getsize(resume) // 2)
    with pytest.raises(SystemExit) as stop:
        cli.run(lambda argv: fit(checkpoint, str(out_dir), epochs=3, resume=True))
    message = str(stop.value.code)
    assert message.startswith(f"error: {resume}: damaged resume state (BadZipFile: ") and "\n" not in message
    assert "train without --resume" in message and not (out_dir / run.LOCK).exists()


FILL_A_SMALL_DISK = """
    from common import cli
    cli.run(lambda argv: fit(checkpoint, out_dir))
"""


def test_a_really_full_filesystem_ends_in_one_line_and_keeps_the_last_epoch(checkpoint, straight, tmp_path):
    """On a tmpfs that holds one epoch's state and a bit, epoch 2 cannot be saved: no HDF5 error cascade,
    no crash, one error line and exit status 1, epoch 1 kept. Skipped where a tmpfs cannot be mounted."""
    from common import run
    state_bytes = sum(os.path.getsize(run.state_path(str(straight[2]), name)) for name in run.STATE_FILES)
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(state_bytes * 1.5) // 1024}k", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        out_dir = mount / "run"
        result = in_subprocess(FILL_A_SMALL_DISK, checkpoint=checkpoint, out_dir=str(out_dir))
        assert result.returncode == 1, result.stderr[-3000:]
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[-1].startswith("error: [Errno 28] No space left on device: could not save epoch 2 (")
        assert "Traceback" not in result.stderr and "HDF5" not in result.stderr
        assert committed_epoch(out_dir) == 1 and os.listdir(out_dir / run.EPOCHS) == ["1"]
        assert not [name for name in os.listdir(out_dir) if name.endswith(".tmp") or name == run.LOCK]
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
