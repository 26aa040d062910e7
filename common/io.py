"""JSON / JSON Lines input that names file, line and field on bad data, and atomic output."""
import contextlib
import json
import logging
import os
import tempfile

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

    with open(path, encoding="utf-8-sig") as f:  # a BOM is not part of the first record
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
    with open(path, encoding="utf-8-sig") as f:  # a BOM is not part of the document
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


@contextlib.contextmanager
def atomic_write(path, mode="w", encoding="utf-8"):
    """Open a temp file beside `path`; rename it over `path` only if the block succeeds."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": encoding})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_jsonl(path, rows):
    with atomic_write(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_json(path, obj, indent=None):
    with atomic_write(path) as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")
