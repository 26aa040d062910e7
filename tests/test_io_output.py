"""Atomic output (common/io.py, writing side): file modes from the umask, temp files that a later run
removes when their process has ended, and sets of files (the DuIE JSON + zip pair) that a kill at any
instant leaves consistent."""
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile

import pytest

from common import io
from common.io import atomic_write, atomic_write_all, remove_stale_temps, temp_path, write_json, write_jsonl
from conftest import ROOT, make_track


@pytest.fixture()
def umask():
    """Set the process umask for one test, restored afterwards."""
    saved = os.umask(0o022)
    yield os.umask
    os.umask(saved)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_the_umask_mode(tmp_path, umask, mask, expected):
    umask(mask)
    write_json(tmp_path / "a.json", {"x": 1})
    write_jsonl(tmp_path / "b.jsonl", [{"x": 1}])
    with atomic_write(tmp_path / "c.bin", "wb") as f:
        f.write(b"\0")
    with atomic_write_all([tmp_path / "d.json", tmp_path / "d.zip"], "wb") as files:
        for f in files:
            f.write(b"x")
    for name in ("a.json", "b.jsonl", "c.bin", "d.json", "d.zip"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == expected, name


def ended_pid():
    """The pid of a process that has run and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temp_files_of_ended_processes_are_removed_and_others_kept(tmp_path):
    dead = ended_pid()
    host = io.host_tag()
    names = {
        "dead": f".out.json.{host}-{dead}.0a1b2c3d.tmp",
        "dead_folder": f".bert_model.ckpt.{host}-{dead}.0a1b2c3e.tmp",
        "alive": f".out.json.{host}-{os.getpid()}.0a1b2c3f.tmp",
        "other_host": f".out.json.otherhost{host}-{dead}.0a1b2c40.tmp",
        "not_ours": ".out.json.tmp",
    }
    for key, name in names.items():
        if key == "dead_folder":
            os.mkdir(tmp_path / name)
            (tmp_path / name / "part").write_text("x")
        else:
            (tmp_path / name).write_text("x")
    write_json(tmp_path / "out.json", {"a": 1})  # any write into the folder tidies it first
    left = set(os.listdir(tmp_path))
    assert left == {"out.json", names["alive"], names["other_host"], names["not_ours"]}
    assert remove_stale_temps(str(tmp_path)) == []


def test_a_killed_writer_leaves_a_temp_file_the_next_write_removes(tmp_path):
    target = tmp_path / "pred.json"
    target.write_text("old")
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {ROOT!r})
        from common.io import atomic_write
        with atomic_write({str(target)!r}) as f:
            f.write("half of the new predictions")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = subprocess.run([sys.executable, "-c", code])
    assert killed.returncode == -signal.SIGKILL
    leftovers = [name for name in os.listdir(tmp_path) if name != "pred.json"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".pred.json.") and leftovers[0].endswith(".tmp")
    assert target.read_text() == "old"
    write_json(target, {"new": True})
    assert os.listdir(tmp_path) == ["pred.json"]


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.jsonl"
    write_jsonl(target, [{"a": 1}])

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as error:
        write_jsonl(target, [{"a": 2}])
    assert error.value.errno == errno.ENOSPC
    assert json.loads(target.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_temp_names_keep_the_target_name_and_are_unique(tmp_path):
    first, second = temp_path(tmp_path / "x.json"), temp_path(tmp_path / "x.json")
    assert first != second and os.path.dirname(first) == str(tmp_path)
    assert os.path.basename(first).startswith(".x.json.") and first.endswith(".tmp")


# -- the DuIE submission pair ------------------------------------------------------------------------

class Killed(BaseException):
    """A kill: raised at an injection point, after the folder's state there has been recorded."""


def old_pair(tmp_path):
    """(ie_relation track, JSON Lines path, zip path, old rows, new rows), the old pair written."""
    from ie_relation.track import zip_path
    track = make_track("ie_relation")
    path = str(tmp_path / "duie_pred.json")
    old = [{"text": "旧", "spo_list": []}]
    new = [{"text": "新", "spo_list": []}]
    track.write_submission(path, old)
    return track, path, zip_path(path), old, new


def read_pair(path, zipped):
    """(predictions in the JSON Lines file or None, predictions in the zip or None)."""
    lines = zipped_lines = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f]
    if os.path.exists(zipped):
        with zipfile.ZipFile(zipped) as archive:
            text = archive.read(os.path.basename(path)).decode("utf-8")
            zipped_lines = [json.loads(line) for line in text.splitlines()]
    return lines, zipped_lines


def test_submission_pair_is_consistent_at_every_kill_point(tmp_path, monkeypatch):
    """A kill before any filesystem step of writing the pair leaves either the old pair, the JSON Lines
    file alone (old or new), or the new pair: never a zip that differs from the JSON beside it."""
    track, path, zipped, old, new = old_pair(tmp_path)
    steps = ["unlink", "replace", "fsync"]
    seen, point = [], 1
    while True:
        calls = [0]
        originals = {name: getattr(os, name) for name in steps}

        def inject(name):
            def step(*args, **kwargs):
                calls[0] += 1
                if calls[0] == point:
                    seen.append(read_pair(path, zipped))
                    raise Killed()
                return originals[name](*args, **kwargs)
            return step

        for name in steps:
            monkeypatch.setattr(os, name, inject(name))
        try:
            track.write_submission(path, new)
            finished = True
        except Killed:
            finished = False
        for name in steps:
            monkeypatch.setattr(os, name, originals[name])
        if finished:
            break
        track.write_submission(path, old)  # back to the old pair for the next kill point
        point += 1
    assert point > 5  # at least: 2 fsyncs, unlink of the old zip, 2 renames
    assert read_pair(path, zipped) == (new, new)
    for lines, zipped_lines in seen:
        assert lines in (old, new)
        assert zipped_lines is None or zipped_lines == lines
    assert (new, None) in seen and (old, None) in seen and (old, old) in seen
    assert sorted(os.listdir(tmp_path)) == ["duie_pred.json", "duie_pred.zip"]

