"""JSON / JSON Lines input that names file, line and field on bad data, and atomic output.

Reading is the same for every file of every track: UTF-8, a byte-order mark and CRLF line ends
accepted, blank lines skipped, and a byte that is not UTF-8 reported with its file and line.
"""
import contextlib
import json
import logging
import os
import tempfile

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
