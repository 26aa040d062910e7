"""The commit protocol of a run folder's training state (common/run.py): a kill before any filesystem
step of a commit leaves best weights, resume state and history of one and the same epoch, and the next
run cleans up what the killed one left. Pure file operations: no TensorFlow here."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from common import io, run


class Killed(BaseException):
    """Stands for a kill: the folder was copied just before the step it interrupts."""


def writers(epoch, best_epoch):
    """Stand-ins for the training's files: each names the epoch it belongs to."""
    resume = json.dumps({"epoch": epoch, "best_epoch": best_epoch}).encode()
    history = "".join(json.dumps({"epoch": e}) + "\n" for e in range(1, epoch + 1)).encode()
    weights = f"weights of epoch {best_epoch}".encode()

    def write_in_two_halves(data):
        def write(f):
            f.write(data[:len(data) // 2])
            f.flush()
            write.halfway()
            f.write(data[len(data) // 2:])
        write.halfway = lambda: None
        return write

    return {run.WEIGHTS: write_in_two_halves(weights) if best_epoch == epoch else None,
            run.RESUME: write_in_two_halves(resume), run.HISTORY: write_in_two_halves(history)}


def committed(run_dir):
    """(epoch, best epoch) of the committed state, after checking that its files agree; None if none."""
    if not os.path.lexists(os.path.join(run_dir, run.CURRENT)):
        return None
    with open(run.state_path(run_dir, run.RESUME)) as f:
        resume = json.load(f)
    with open(run.state_path(run_dir, run.HISTORY)) as f:
        assert [json.loads(line)["epoch"] for line in f] == list(range(1, resume["epoch"] + 1))
    with open(run.state_path(run_dir, run.WEIGHTS)) as f:
        assert f.read() == f"weights of epoch {resume['best_epoch']}"
    for name in run.STATE_FILES:  # the links at the top show the same files
        top = os.path.join(run_dir, name)
        if os.path.exists(top):
            assert os.path.samefile(top, run.state_path(run_dir, name))
    return resume["epoch"], resume["best_epoch"]


def ended_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def as_left_by_an_ended_process(folder, pid):
    """Rename this process's temp files in `folder` as if a process that has ended had left them."""
    mine = re.compile(rf"\.{io.host_tag()}-{os.getpid()}\.")
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            if mine.search(name):
                os.rename(os.path.join(root, name), os.path.join(root, mine.sub(f".{io.host_tag()}-{pid}.", name)))


STEPS = ["open", "replace", "rename", "unlink", "rmdir", "mkdir", "symlink", "link", "fsync"]


def kill_points(monkeypatch, tmp_path, action, run_dir):
    """Run `action` on a copy of `run_dir` once per kill point: before the k-th filesystem step (or
    half-way through a file), copy the folder as it is and stop. Yields the copies, one per kill point,
    until `action` runs to its end."""
    point = 0
    while True:
        point += 1
        calls = [0]
        copy = str(tmp_path / f"killed_at_{point}")
        trial = str(tmp_path / "trial")

        def step():
            calls[0] += 1
            if calls[0] == point:
                shutil.copytree(trial, copy, symlinks=True)
                raise Killed()

        originals = {name: getattr(os, name) for name in STEPS}

        def wrapped(name):
            def call(*args, **kwargs):
                step()
                return originals[name](*args, **kwargs)
            return call

        shutil.rmtree(trial, ignore_errors=True)
        shutil.copytree(run_dir, trial, symlinks=True)
        with monkeypatch.context() as patch:
            for name in STEPS:
                patch.setattr(os, name, wrapped(name))
            try:
                action(trial, step)
            except Killed:
                yield copy
                continue
        return


@pytest.mark.parametrize("epoch, improved", [(1, True), (2, True), (3, False)])
def test_a_kill_at_any_step_of_a_commit_leaves_one_consistent_epoch(tmp_path, monkeypatch, epoch, improved):
    base = str(tmp_path / "run")
    os.makedirs(base)
    best = {0: None, 1: 1, 2: 2}
    for done in range(1, epoch):
        run.commit_state(base, done, writers(done, done))
    before = (epoch - 1, best[epoch - 1]) if epoch > 1 else None
    after = (epoch, epoch if improved else best[epoch - 1])

    def commit(run_dir, step):
        files = writers(*after)
        for write in files.values():
            if write is not None:
                write.halfway = step
        run.commit_state(run_dir, epoch, files)

    dead = ended_pid()
    copies = list(kill_points(monkeypatch, tmp_path, commit, base))
    assert len(copies) > 15
    seen = set()
    for copy in copies:
        state = committed(copy)
        assert state in (before, after), copy
        seen.add(state)
        # the next training: tidies what the kill left, then commits the following epoch
        as_left_by_an_ended_process(copy, dead)
        run.tidy(copy)
        assert committed(copy) == state
        following = (state[0] if state else 0) + 1
        run.commit_state(copy, following, writers(following, following))
        assert committed(copy) == (following, following)
        assert sorted(os.listdir(os.path.join(copy, run.EPOCHS))) == [str(following)]
        assert not [name for name in os.listdir(copy) if name.endswith(".tmp")]
    assert seen == {before, after}


def test_a_kill_while_a_fresh_training_forgets_the_old_state_leaves_old_or_nothing(tmp_path, monkeypatch):
    base = str(tmp_path / "run")
    os.makedirs(base)
    for done in (1, 2):
        run.commit_state(base, done, writers(done, 1))
    copies = list(kill_points(monkeypatch, tmp_path, lambda run_dir, step: run.clear_state(run_dir), base))
    assert {committed(copy) for copy in copies} == {(2, 1), None}
    for copy in copies:
        run.tidy(copy)
        epochs = os.path.join(copy, run.EPOCHS)
        if committed(copy) is None and os.path.isdir(epochs):
            assert os.listdir(epochs) == []


def test_committing_an_epoch_twice_is_refused(tmp_path):
    run.commit_state(str(tmp_path), 1, writers(1, 1))
    with pytest.raises(RuntimeError, match="already committed"):
        run.commit_state(str(tmp_path), 1, writers(1, 1))
    assert committed(str(tmp_path)) == (1, 1)


def test_a_run_folder_of_the_older_layout_is_read_then_relinked_by_the_next_commit(tmp_path):
    """Before the commit protocol the state files lay at the top of the run folder: they are read
    there (predict, --resume), and the next commit turns them into links to its epoch."""
    for name, write in writers(2, 1).items():
        with open(tmp_path / name, "wb") as f:
            (write or (lambda f: f.write(b"weights of epoch 1")))(f)
    assert run.state_path(str(tmp_path), run.RESUME) == str(tmp_path / run.RESUME)
    assert committed(str(tmp_path)) is None  # no `current` yet ...
    with open(run.state_path(str(tmp_path), run.WEIGHTS)) as f:
        assert f.read() == "weights of epoch 1"  # ... but its files are found
    run.commit_state(str(tmp_path), 3, writers(3, 1))  # no better weights: the old file is kept
    assert committed(str(tmp_path)) == (3, 1)
    assert all(os.path.islink(tmp_path / name) for name in run.STATE_FILES)
