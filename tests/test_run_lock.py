"""One training per run folder (common/run.py `locked`): a second one is refused with one line, a lock
left by a process that has ended is taken over, and the lock is released also on an error."""
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from common import cli, run
from common.config import ConfigError
from conftest import ROOT, train_config

HOLD = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from common import run
    with run.locked({folder!r}):
        print("locked", flush=True)
        if {kill}:
            os.kill(os.getpid(), 9)
        time.sleep(60)
""")


def hold_lock(folder, kill=False):
    """A process holding the lock of `folder` (killed right after taking it, with `kill`)."""
    child = subprocess.Popen([sys.executable, "-c", HOLD.format(root=ROOT, folder=str(folder), kill=kill)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_second_training_of_the_same_folder_is_refused_with_one_line(tmp_path):
    from common import training
    holder = hold_lock(tmp_path)
    try:
        with pytest.raises(ConfigError, match=rf"is in use by another training \(pid {holder.pid} on host "):
            with run.locked(str(tmp_path)):
                pass
        # the whole training refuses before touching the folder, as one error line
        with pytest.raises(SystemExit) as stop:
            cli.run(lambda argv: training.train(None, None, [], train_config(tmp_path)))
        message = str(stop.value.code)
        assert message.startswith("error: ") and "in use by another training" in message and "\n" not in message
    finally:
        holder.kill()
        holder.wait()
    assert json.loads((tmp_path / run.LOCK).read_text())["pid"] == holder.pid  # the dead holder's record


def test_a_lock_left_by_a_killed_training_is_taken_over(tmp_path, caplog):
    holder = hold_lock(tmp_path, kill=True)
    holder.wait()
    assert holder.returncode == -signal.SIGKILL and (tmp_path / run.LOCK).exists()
    with caplog.at_level(logging.WARNING, logger="common.run"):
        with run.locked(str(tmp_path)):
            record = json.loads((tmp_path / run.LOCK).read_text())
            assert record["pid"] == os.getpid()
    assert f"taking over the lock of a training that is no longer running (pid {holder.pid}" in caplog.text
    assert not (tmp_path / run.LOCK).exists()


def test_the_lock_is_released_on_an_error_and_refused_within_one_process(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with run.locked(str(tmp_path)):
            with pytest.raises(ConfigError, match=f"pid {os.getpid()}"):
                with run.locked(str(tmp_path)):
                    pass
            raise RuntimeError("boom")
    assert not (tmp_path / run.LOCK).exists()
    with run.locked(str(tmp_path)):
        pass


def test_a_second_train_command_is_refused_before_it_reads_any_data(tmp_path, monkeypatch):
    from common import commands
    from conftest import make_track
    track = make_track("mrc", f"train.out_dir={tmp_path}", "data.dir=/nonexistent")
    monkeypatch.setattr(track, "load_records", lambda *a, **k: pytest.fail("data read before the lock check"))
    with run.locked(str(tmp_path)):
        with pytest.raises(ConfigError, match="in use by another training"):
            commands.train(track)
