"""Running DuSQL queries on SQLite copies of the databases, read-only and bounded.

Building (`build`): one SQLite file per database from `db_content.json`, table `t<table id>`
with columns `c<column id>` (names as ids: DuSQL names hold brackets, slashes and duplicates).
Cells are stored by the schema's column type:
  * number: a plain number is stored as a number; a number followed by `%` as the number / 100
    (`60%` -> 0.6, as the scorer reads `60%`); a number followed by `万`, `亿` or `万亿` times
    1e4, 1e8 or 1e12 (`200万` -> 2000000); a number followed by any other unit as the number
    (`1899年` -> 1899); anything else stays text;
  * time: a plain integer (a year) is stored as a number, anything else as text (dates compare
    as text);
  * text, binary, others: text. An empty cell is NULL.
Columns have no declared type, so SQLite keeps each value as stored. Files are written to a
temporary name and renamed; a stamp (hash of the content file and the storage rules) makes a
second `build` with the same content reuse them.

Running (`run_readonly`): the file is opened with the URI `mode=ro`; an authorizer allows only
reading (SELECT, column reads, a list of functions) and denies every write, ATTACH/DETACH, PRAGMA,
transactions and recursive CTEs; ATTACH is also limited to zero databases; a progress handler stops
a query after `time_limit` seconds and more than `max_rows` result rows is an error. Queries are
rendered to SQLite from the structured form (`to_sqlite`, literals inlined - DuSQL strings hold
no quotes): DuSQL's `==` is `=`, `/` divides as
real numbers, `TIME_NOW` is a year (`time_now`, default 2020), compound queries and row
calculations become sub-queries.

Execution accuracy (not an official metric): the two result multisets are equal, in order when the
gold query has an order by; the columns of the prediction may come in any order.
"""
import collections
import hashlib
import itertools
import json
import logging
import os
import pathlib
import re
import sqlite3
import time

from common.io import atomic_write, file_digest
from semantic_parsing.schema import STAR, TIME_NOW
from semantic_parsing.sql import AGG_OPS, CALC_OPS, COND_OPS, IUE_OPS

log = logging.getLogger(__name__)

STORAGE_VERSION = "1"  # change when the storage rules change: the stamp then rebuilds every file
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")
_UNITS = (("万亿", 1e12), ("亿", 1e8), ("万", 1e4))
_FUNCTIONS = frozenset(("count", "max", "min", "sum", "avg", "total", "abs", "round", "like", "glob",
                        "lower", "upper", "length", "coalesce", "ifnull", "cast"))


class ExecutionError(RuntimeError):
    """A query that SQLite refused, that ran too long or returned too many rows."""


def cell_value(text, column_type):
    """A cell string as stored in SQLite under the rules of the module docstring."""
    text = text.strip()
    if not text:
        return None
    if column_type == "number":
        plain = text.replace(",", "") if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", text) else text
        match = _NUMBER.match(plain)
        if not match:
            return text
        number = float(match.group())
        rest = plain[match.end():].lstrip()
        if rest.startswith("%"):
            number /= 100
        else:
            for unit, factor in _UNITS:
                if rest.startswith(unit):
                    number *= factor
                    break
        return int(number) if number.is_integer() and abs(number) < 2 ** 53 else number
    if column_type == "time" and re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    return text


def _file_name(db_id):
    return hashlib.sha1(db_id.encode("utf-8")).hexdigest()[:16] + ".sqlite"


def _write_database(db, path):
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    conn = sqlite3.connect(tmp)
    try:
        for tid in range(len(db.table_names)):
            columns = db.table_columns(tid)
            if not columns:
                continue
            conn.execute(f"CREATE TABLE t{tid} ({', '.join(f'c{c}' for c in columns)})")
            types = [db.columns[c].type for c in columns]
            rows = [[cell_value(cell, kind) for cell, kind in zip(row, types)] for row in db.cells.get(tid, [])]
            conn.executemany(f"INSERT INTO t{tid} VALUES ({', '.join('?' * len(columns))})", rows)
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, path)


def _stamp(content_path):
    return f"{STORAGE_VERSION}:{file_digest(content_path)}"


def cache_folder(root, content_path):
    """<root>/<folder of the content file>-<hash of its absolute path>: one cache per content file, so
    that two data folders (the samples, the real data) do not rebuild each other's copies."""
    path = os.path.abspath(content_path)
    name = os.path.basename(os.path.dirname(path)) or "data"
    return os.path.join(root, f"{name}-{hashlib.sha1(path.encode('utf-8')).hexdigest()[:8]}")


def build(databases, content_path, cache_dir):
    """{db_id: SQLite path}: build (or reuse, when the content file is unchanged) the files.

    `databases` must have been loaded with this `content_path` (their cells are written)."""
    os.makedirs(cache_dir, exist_ok=True)
    stamp_path = os.path.join(cache_dir, "stamp.json")
    stamp = _stamp(content_path)
    paths = {db_id: os.path.join(cache_dir, _file_name(db_id)) for db_id in databases}
    try:
        with open(stamp_path, encoding="utf-8") as f:
            old = json.load(f)
    except (OSError, ValueError):
        old = {}
    if old.get("stamp") == stamp and set(old.get("db_ids", ())) >= set(paths) \
            and all(os.path.exists(p) for p in paths.values()):
        return paths
    if os.path.exists(stamp_path):
        os.unlink(stamp_path)  # a half-rebuilt cache must not look current
    for db_id, path in paths.items():
        _write_database(databases[db_id], path)
    with atomic_write(stamp_path) as f:
        json.dump({"stamp": stamp, "db_ids": sorted(paths)}, f, ensure_ascii=False)
    return paths


# running ------------------------------------------------------------------------------------------

def _authorize(action, arg1, arg2, database, trigger):
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def run_readonly(path, query, params=(), time_limit=2.0, max_rows=10000):
    """Rows of `query` on the SQLite file `path`, read-only and bounded (see the module docstring).
    Raises ExecutionError."""
    uri = pathlib.Path(path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as e:
        raise ExecutionError(f"cannot open {path}: {e}") from None
    try:
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(_authorize)
        deadline = time.monotonic() + time_limit
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        try:
            rows = conn.execute(query, params).fetchmany(max_rows + 1)
        except sqlite3.Error as e:
            if time.monotonic() > deadline:
                raise ExecutionError(f"stopped after {time_limit} s") from None
            raise ExecutionError(str(e)) from None
        if len(rows) > max_rows:
            raise ExecutionError(f"more than {max_rows} rows")
        return rows
    finally:
        conn.close()


# DuSQL structure -> SQLite ------------------------------------------------------------------------

def _literal(value):
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExecutionError(f"not a literal: {value!r}")
    return repr(value)


class _SQLite:
    """Renders a structured `sql` as SQLite text over the tables `t<id>` / columns `c<id>`."""

    def __init__(self, db, time_now):
        self.db, self.time_now = db, time_now
        self.aliases = 0

    def value(self, value, scope):
        if isinstance(value, dict):
            return f"({self.query(value, scope)})"
        if isinstance(value, list):
            return self.col_unit(value, scope)
        return _literal(value)

    def column(self, cid, scope, role=0):
        if cid == STAR:
            return "*"
        if cid == TIME_NOW:
            return str(int(self.time_now))
        table = self.db.columns[cid].table
        for kind, names in scope:
            if kind == "rows":
                alias, sub = names[min(role, len(names) - 1)]
                return f"{alias}.c{self._position(sub, cid)}"
            if table in names:
                return f"{names[table]}.c{cid}"
        return f"t{table}.c{cid}"

    @staticmethod
    def _position(sub, cid):
        """Output column of a FROM sub-query that a row calculation's column reads."""
        for k, (_, unit) in enumerate(sub["select"]):
            if unit[1][1] == cid:
                return k
        return 0

    def col_unit(self, unit, scope, role=0):
        agg, cid = unit[0], unit[1]
        name = self.column(cid, scope, role)
        return f"{AGG_OPS[agg].upper()}({name})" if agg else name

    def val_unit(self, unit, scope):
        op, first, second = unit
        left = self.col_unit(first, scope, 0)
        if not op:
            return left
        right = self.col_unit(second, scope, 1)
        if CALC_OPS[op] == "/":
            return f"({left} * 1.0 / {right})"
        return f"({left} {CALC_OPS[op]} {right})"

    def item(self, agg, unit, scope):
        text = self.val_unit(unit, scope)
        return f"{AGG_OPS[agg].upper()}({text})" if agg else text

    def conditions(self, conds, scope):
        out = []
        for i, cond in enumerate(conds):
            if i % 2:
                out.append(cond.upper())
                continue
            agg, op, unit, val1, val2 = cond
            left, name = self.item(agg, unit, scope), COND_OPS[op]
            if name == "between":
                out.append(f"{left} BETWEEN {self.value(val1, scope)} AND {self.value(val2, scope)}")
            elif name in ("in", "not_in"):
                right = self.value(val1, scope)
                out.append(f"{left} {'IN' if name == 'in' else 'NOT IN'} "
                           f"{right if right.startswith('(') else f'({right})'}")
            else:
                out.append(f"{left} {'=' if name == '==' else name.upper()} {self.value(val1, scope)}")
        return " ".join(out)

    def from_clause(self, sql, outer):
        units = sql["from"]["table_units"]
        if units and all(kind == "sql" for kind, _ in units):
            subs = [("ab"[k] if k < 2 else f"s{k}", sub) for k, (_, sub) in enumerate(units)]
            text = ", ".join(f"({self.query(sub, outer, name_columns=True)}) AS {alias}" for alias, sub in subs)
            return [("rows", subs)] + outer, text
        names, parts = {}, []
        for kind, x in units:
            self.aliases += 1
            if kind == "sql":
                parts.append(f"({self.query(x, outer)}) AS s{self.aliases}")
            else:
                names.setdefault(x, f"t{x}_{self.aliases}")
                parts.append(f"t{x} AS t{x}_{self.aliases}")
        return [("tables", names)] + outer, " JOIN ".join(parts)

    def query(self, sql, outer=(), name_columns=False):
        scope, from_text = self.from_clause(sql, list(outer))
        items = [self.item(agg, unit, scope) for agg, unit in sql["select"]]
        if name_columns:
            items = [f"{text} AS c{k}" for k, text in enumerate(items)]
        parts = [f"SELECT {', '.join(items)} FROM {from_text}"]
        filters = [f"({self.conditions(c, scope)})" for c in (sql["from"]["conds"], sql["where"]) if c]
        if filters:
            parts.append("WHERE " + " AND ".join(filters))
        if sql["groupBy"]:
            parts.append("GROUP BY " + ", ".join(self.col_unit(u, scope) for u in sql["groupBy"]))
        if sql["having"]:
            parts.append(f"HAVING {self.conditions(sql['having'], scope)}")
        if sql["orderBy"]:
            direction = sql["orderBy"][0].upper()
            parts.append("ORDER BY " + ", ".join(f"{self.item(agg, unit, scope)} {direction}"
                                                 for agg, unit in sql["orderBy"][1]))
        if sql["limit"] is not None:
            parts.append(f"LIMIT {int(sql['limit'])}")
        text = " ".join(parts)
        for op in IUE_OPS:
            if sql[op] is not None:
                right = self.query(sql[op], outer, name_columns)
                text = f"SELECT * FROM ({text}) {op.upper()} SELECT * FROM ({right})"
        return text


def to_sqlite(sql, db, time_now=2020):
    """SQLite text of a structured `sql` over the tables written by `build`."""
    return _SQLite(db, time_now).query(sql)


def _same_rows(pred, gold, ordered):
    if len(pred) != len(gold):
        return False
    if not gold:
        return True
    width = len(gold[0])
    if any(len(row) != width for row in pred):
        return False
    orders = [tuple(range(width))]
    if width <= 6:
        orders = itertools.permutations(range(width))
    target = gold if ordered else collections.Counter(gold)
    for order in orders:
        moved = [tuple(row[i] for i in order) for row in pred]
        if (moved if ordered else collections.Counter(moved)) == target:
            return True
    return False


class Executor:
    """Runs structured queries on the SQLite copies (built or reused in `cache_dir`)."""

    def __init__(self, databases, content_path, cache_dir, time_limit=2.0, max_rows=10000, time_now=2020):
        self.databases = databases
        self.paths = build(databases, content_path, cache_dir)
        self.time_limit, self.max_rows, self.time_now = time_limit, max_rows, time_now

    def run(self, db_id, sql):
        """Result rows of a structured `sql`; raises ExecutionError."""
        text = to_sqlite(sql, self.databases[db_id], self.time_now)
        return run_readonly(self.paths[db_id], text, (), self.time_limit, self.max_rows)

    def same_result(self, db_id, pred_sql, gold_sql):
        """Execution match (see the module docstring); a query that fails to run scores False."""
        try:
            gold = self.run(db_id, gold_sql)
        except ExecutionError as e:
            log.warning("gold query of %s does not run: %s", db_id, e)
            return False
        try:
            pred = self.run(db_id, pred_sql)
        except ExecutionError:
            return False
        return _same_rows(pred, gold, ordered=bool(gold_sql["orderBy"]))
