"""JSON / JSON Lines input that names file, line and field on bad data, and atomic output that a kill
at any instant leaves either old or new (never half-written), with temp files the next run removes."""
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import socket

log = logging.getLogger(__name__)


class DataError(ValueError):
    """Bad input data, located by file, line (1-based) and field."""

    def __init__(self, path, line, message, field=None):
        self.path, self.line, self.field = str(path), line, field
        where = f"{path}" + (f", line {line}" if line is not None else "")
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")


def read_jsonl(path, required=(), skip=None):
    """Yield (line_number, object) for every non-blank line; blank lines are skipped.

    `required` names top-level fields every object must have. A bad line raises a DataError, or,
    when `skip` is given (a SkipCounter), goes to it and the file reads on.
    """
    def bad(error):
        if skip is None:
            raise error
        skip(error)

    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                bad(DataError(path, number, f"not valid JSON ({e.msg} at column {e.colno})"))
                continue
            if not isinstance(obj, dict):
                bad(DataError(path, number, f"expected a JSON object, got {type(obj).__name__}"))
                continue
            missing = [field for field in required if field not in obj]
            if missing:
                bad(DataError(path, number, "missing", field=missing[0]))
                continue
            yield number, obj


def read_json(path):
    """Read one JSON document, with a located error if it is not JSON."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, e.lineno, f"not valid JSON ({e.msg} at column {e.colno})") from None


class SkipCounter:
    """Either raises a DataError or counts and logs it, by the config switch `on_error`.

    on_error = "raise" (default) stops at the first bad record; "skip" drops it, logs it and counts it.
    """

    def __init__(self, on_error="raise"):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.skipped = []

    def __call__(self, error):
        if self.on_error == "raise":
            raise error
        self.skipped.append(error)
        log.warning("skipped: %s", error)

    def summary(self):
        return f"{len(self.skipped)} record(s) skipped" if self.skipped else ""


# -- output ---------------------------------------------------------------------------------------
# Every file is written to a hidden temp file beside its target, then renamed over it. A temp file is
# named `.<target name>.<host>-<pid>.<token>.tmp`, so a later run can tell the leftovers of a killed
# process (this host, pid no longer running) from the files another live process is writing, and
# remove them (`remove_stale_temps`, called before every write into a folder).

_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.(?P<token>[0-9a-f]+)\.tmp$")


def host_tag():
    """This machine's name as it appears in temp file names (letters, digits and _ only)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname().split(".")[0]) or "host"


def temp_path(path):
    """A fresh temp path beside `path`, named after it, this host and this process."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    return os.path.join(folder, f".{name}.{host_tag()}-{os.getpid()}.{secrets.token_hex(4)}.tmp")


def process_running(pid):
    """Is process `pid` of this machine running (a zombie counts as ended)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def remove_stale_temps(folder):
    """Remove the temp files (and temp folders) that processes of this host which have ended left in
    `folder`; returns their paths. Temp files of running processes and of other hosts stay."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    host = host_tag()
    for name in names:
        match = _TEMP_NAME.match(name)
        if not match or match["host"] != host or process_running(int(match["pid"])):
            continue
        path = os.path.join(folder, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    if removed:
        log.info("removed %d temp file(s) left by ended processes in %s", len(removed), folder)
    return removed


def fsync_folder(folder):
    """Make the renames in `folder` durable (best effort: some filesystems cannot fsync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write_all(paths, mode="w", encoding="utf-8"):
    """Write several files as one set: yields one open temp file per path; when the block succeeds they
    replace the targets. The old versions of all but the first path are removed first, then the new
    files are renamed in order, so at any instant the files of the set that exist were written
    together, and the last path exists only when the whole set does. New files get the mode
    0666 & ~umask, as `open` would give them."""
    paths = [os.path.abspath(os.fspath(p)) for p in paths]
    temps, files = [], []
    try:
        for path in paths:
            folder = os.path.dirname(path)
            os.makedirs(folder, exist_ok=True)
            remove_stale_temps(folder)
            temps.append(temp_path(path))
            fd = os.open(temps[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            files.append(os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": encoding})))
        yield files
        for f in files:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        for path in paths[1:]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for tmp, path in zip(temps, paths):
            os.replace(tmp, path)
        for folder in dict.fromkeys(os.path.dirname(p) for p in paths):
            fsync_folder(folder)
    except BaseException:
        for f in files:
            with contextlib.suppress(OSError):
                f.close()
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path, mode="w", encoding="utf-8"):
    """Open a temp file beside `path`; rename it over `path` only if the block succeeds (a failed or
    killed write leaves the old file as it was). The new file gets the mode 0666 & ~umask."""
    with atomic_write_all([path], mode, encoding) as (f,):
        yield f


def write_jsonl(path, rows):
    with atomic_write(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_json(path, obj, indent=None):
    with atomic_write(path) as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")
