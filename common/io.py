"""JSON / JSON Lines input that names file, line and field on bad data, and atomic output.

Reading is the same for every file of every track: UTF-8, a byte-order mark and CRLF line ends
accepted, blank lines skipped, and a byte that is not UTF-8 reported with its file and line.
Writing leaves a file either old or new at any instant (never half-written), with temp files the
next run removes.
"""
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket

log = logging.getLogger(__name__)

BOM = "\ufeff"
SHOWN = 3  # dropped parts named one by one in a summary; the rest are counted


class DataError(ValueError):
    """Bad input data, located by file, line (1-based) and field."""

    def __init__(self, path, line, message, field=None):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = f"{path}" + (f", line {line}" if line is not None else "")
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")


def decode_utf8(data, path, line=None):
    """Bytes -> text, without a leading byte-order mark; a byte that is not UTF-8 is a DataError naming
    the line (counted from `line`, or from the start of `data`) and the column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        at = data.rfind(b"\n", 0, e.start) + 1
        number = (line or 1) + data.count(b"\n", 0, e.start)
        raise DataError(path, number, f"not UTF-8: byte 0x{data[e.start]:02x} at column {e.start - at + 1} "
                                      f"cannot be decoded ({e.reason}); save the file as UTF-8") from None
    return text[1:] if text.startswith(BOM) else text


def iter_jsonl(stream, path, required=(), skip=None, keep_skipped=False):
    """Yield (line_number, object) for every non-blank line of a binary stream (an open file, a zip member).

    `required` names top-level fields every object must have. A bad line (not UTF-8, not JSON, not an
    object, a required field missing) raises a DataError, or, when `skip` is given (a SkipCounter),
    goes to it and the stream reads on; with `keep_skipped` such a line then yields (line_number, None),
    so that a caller can still answer every line.
    """
    for number, raw in enumerate(stream, 1):
        try:
            obj = _json_line(raw, path, number, required)
        except DataError as error:
            if skip is None:
                raise
            skip(error)
            if keep_skipped:
                yield number, None
            continue
        if obj is not None:
            yield number, obj


def _json_line(raw, path, number, required):
    """The object of one line (bytes), None for a blank line; a DataError for anything else."""
    line = decode_utf8(raw, path, number).lstrip(BOM)  # a BOM also opens each file of a concatenation
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(path, number, f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise DataError(path, number, f"expected a JSON object, got {type(obj).__name__}")
    missing = [field for field in required if field not in obj]
    if missing:
        raise DataError(path, number, "missing", field=missing[0])
    return obj


def read_jsonl(path, required=(), skip=None, keep_skipped=False):
    """iter_jsonl over the file at `path` (see there)."""
    with open(path, "rb") as f:
        yield from iter_jsonl(f, path, required, skip, keep_skipped)


def read_json(path):
    """Read one JSON document (UTF-8, a BOM accepted), with a located error if it is not JSON."""
    with open(path, "rb") as f:
        text = decode_utf8(f.read(), path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, e.lineno, f"not valid JSON ({e.msg} at column {e.colno})") from None


def _plural(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _place(error):
    """'line 6417, field spo_list[3].object.@value: empty' (what is known of it)."""
    where = ", ".join(part for part in (f"line {error.line}" if error.line is not None else "",
                                        f"field {error.field}" if error.field else "") if part)
    return f"{where}: {error.message}" if where else error.message


class SkipCounter:
    """What loading a file left out, for its one summary line.

    Bad records: raised as a DataError, or counted and logged, by the config switch `on_error`
    ("raise", the default, stops at the first; "skip" drops it, logs it and counts it).
    Bad parts of a good record (one empty SPO value, one empty answer among several): always dropped
    and counted with `drop(kind, error)`, whatever `on_error` says; the record stays.
    Facts worth knowing that drop nothing (a duplicate id, an answer with surrounding spaces):
    `note(kind, error)`.
    """

    def __init__(self, on_error="raise"):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.skipped = []
        self.parts = {}   # (kind, "dropped" | "") -> [DataError], in the order they were met

    def __call__(self, error):
        if self.on_error == "raise":
            raise error
        self.skipped.append(error)
        log.warning("skipped: %s", error)

    def drop(self, kind, error):
        """A bad part of a record (`kind`, e.g. "SPO", "answer") is left out; the record is kept."""
        self.parts.setdefault((kind, "dropped"), []).append(error)
        log.info("dropped %s: %s", kind, error)

    def note(self, kind, error):
        """Something kept as it is but worth a line (`kind`, e.g. "duplicate qid")."""
        self.parts.setdefault((kind, ""), []).append(error)

    def dropped_parts(self, kind):
        """The DataErrors of the parts of `kind` that were dropped."""
        return list(self.parts.get((kind, "dropped"), ()))

    def summary(self):
        """One line: 'N record(s) skipped, 1 SPO dropped (line 6417, field spo_list[3].object.@value:
        empty), ...' with the first few of each kind named, the rest counted; "" when nothing happened."""
        items = [f"{len(self.skipped)} record(s) skipped"] if self.skipped else []
        for (kind, verb), errors in sorted(self.parts.items(), key=lambda item: not item[0][1]):  # drops first
            shown = "; ".join(_place(e) for e in errors[:SHOWN])
            more = f"; and {len(errors) - SHOWN} more" if len(errors) > SHOWN else ""
            items.append(f"{_plural(len(errors), kind)}{' ' + verb if verb else ''} ({shown}{more})")
        return ", ".join(items)


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


def file_digest(path):
    """The SHA-256 of a file's bytes (hex), read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
