"""DuSQL databases: `db_schema.json` (tables, columns, keys) and `db_content.json` (cells).

Both files are JSON lists with one entry per database. A `Database` holds, for one `db_id`:
the table names, the columns (column 0 is the special `*` of table -1), column types, primary and
foreign keys, the foreign-key classes the organisers' scorer uses, and the cell values of every
column (strings, as in the file).

Foreign-key classes are built exactly as the scorer builds them: the key pairs are read in file
order; a pair joins the first class that already holds either of its columns, else starts a new
class; every column of a class maps to the class's smallest column index. (This is not a full
union-find: a pair that links two existing classes only joins the first; a column that then sits
in two classes maps as the later class says.)
"""
from dataclasses import dataclass, field

from common.io import DataError, read_json

COLUMN_TYPES = ("text", "number", "time", "binary", "others")
STAR = 0            # column id of `*`
TIME_NOW = "TIME_NOW"  # DuSQL's constant column (the current time), stored by name in the `sql` form


class UnknownDatabase(KeyError, ValueError):
    """A db_id that is not in the schema file."""

    def __init__(self, db_id, source=None):
        super().__init__(db_id)
        self.db_id, self.source = db_id, source

    def __str__(self):
        where = f" in {self.source}" if self.source else ""
        return f"unknown db_id {self.db_id!r}{where}"


@dataclass(frozen=True)
class Column:
    id: int
    table: int      # table index, -1 for `*`
    name: str
    type: str


@dataclass
class Database:
    db_id: str
    table_names: list
    columns: list                               # [Column], columns[0] is `*`
    primary_keys: list = field(default_factory=list)
    foreign_keys: list = field(default_factory=list)   # [(a, b)]: column a references column b
    cells: dict = field(default_factory=dict)           # table index -> [[cell strings of a row]]
    skipped_rows: int = 0                               # content rows of the wrong length

    def __post_init__(self):
        self._table_index = {name.lower(): i for i, name in reversed(list(enumerate(self.table_names)))}
        self._by_table = [[] for _ in self.table_names]
        for column in self.columns[1:]:
            self._by_table[column.table].append(column.id)
        self._column_index = {}
        for column in reversed(self.columns[1:]):  # first of two equal names wins, as in the scorer
            self._column_index[(column.table, column.name.lower())] = column.id
        self.fk_canonical = _foreign_key_classes(self)

    # lookups ----------------------------------------------------------------------------------
    def table_id(self, name):
        """Table index of a name (case-insensitive), or None."""
        return self._table_index.get(name.lower())

    def column_id(self, table, name):
        """Column id of `name` in table index `table` (case-insensitive), or None."""
        return self._column_index.get((table, name.lower()))

    def table_columns(self, table):
        """Column ids of a table, in schema order."""
        return self._by_table[table]

    def column_values(self, column_id):
        """Cell strings of a column (empty when the content file has none)."""
        column = self.columns[column_id]
        if column.table < 0:
            return []
        position = self._by_table[column.table].index(column_id)
        return [row[position] for row in self.cells.get(column.table, [])]

    def qualified_name(self, column_id):
        column = self.columns[column_id]
        return column.name if column.table < 0 else f"{self.table_names[column.table]}.{column.name}"


def _foreign_key_classes(db):
    """column id -> canonical column id of its foreign-key class (the scorer's algorithm)."""
    classes = []
    for a, b in db.foreign_keys:
        for members in classes:
            if a in members or b in members:
                break
        else:
            members = set()
            classes.append(members)
        members.update((a, b))
    canonical = {}
    for members in classes:
        smallest = min(members)
        for column in members:
            canonical[column] = smallest
    return canonical


# loading ------------------------------------------------------------------------------------------

def _require(entry, key, kind, path, where):
    if not isinstance(entry, dict) or key not in entry:
        raise DataError(path, None, "missing", field=f"{where}.{key}")
    value = entry[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(path, None, f"expected {getattr(kind, '__name__', 'a list')}, got "
                        f"{type(value).__name__}", field=f"{where}.{key}")
    return value


def _schema_entry(entry, path, index):
    where = f"[{index}]"
    db_id = _require(entry, "db_id", str, path, where)
    where = f"[{index}] ({db_id})"
    tables = _require(entry, "table_names", list, path, where)
    names = _require(entry, "column_names", list, path, where)
    types = _require(entry, "column_types", list, path, where)
    primary = _require(entry, "primary_keys", list, path, where)
    foreign = _require(entry, "foreign_keys", list, path, where)
    if not all(isinstance(t, str) and t for t in tables):
        raise DataError(path, None, "every table name must be a non-empty string", field=f"{where}.table_names")
    if len(types) != len(names):
        raise DataError(path, None, f"{len(types)} types for {len(names)} columns", field=f"{where}.column_types")
    columns = []
    for i, (pair, kind) in enumerate(zip(names, types)):
        ok = (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int)
              and isinstance(pair[1], str) and pair[1] and -1 <= pair[0] < len(tables))
        if not ok:
            raise DataError(path, None, f"expected [table index, name], got {pair!r}",
                            field=f"{where}.column_names[{i}]")
        if (pair[0] == -1) != (i == 0):
            raise DataError(path, None, "column 0 must be [-1, \"*\"] and only column 0 has table -1",
                            field=f"{where}.column_names[{i}]")
        columns.append(Column(i, pair[0], pair[1], kind if isinstance(kind, str) else str(kind)))
    n = len(columns)
    for i, key in enumerate(primary):
        if not isinstance(key, int) or not 0 < key < n:
            raise DataError(path, None, f"not a column id: {key!r}", field=f"{where}.primary_keys[{i}]")
    pairs = []
    for i, pair in enumerate(foreign):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(k, int) and 0 < k < n for k in pair)):
            raise DataError(path, None, f"expected [column id, column id], got {pair!r}",
                            field=f"{where}.foreign_keys[{i}]")
        pairs.append(tuple(pair))
    return Database(db_id, list(tables), columns, list(primary), pairs)


def _add_content(db, entry, path, index):
    where = f"[{index}] ({db.db_id})"
    tables = _require(entry, "tables", dict, path, where)
    for name, table in tables.items():
        here = f"{where}.tables[{name!r}]"
        tid = db.table_id(name)
        if tid is None:
            raise DataError(path, None, f"table {name!r} is not in the schema of {db.db_id!r}", field=here)
        header = _require(table, "header", list, path, here)
        rows = _require(table, "cell", list, path, here)
        expected = [db.columns[c].name for c in db.table_columns(tid)]
        if [str(h) for h in header] != expected:
            raise DataError(path, None, f"header {header} differs from the schema's columns {expected}",
                            field=f"{here}.header")
        kept = []
        for row in rows:
            if isinstance(row, list) and len(row) == len(header):
                kept.append(["" if cell is None else str(cell) for cell in row])
            else:
                db.skipped_rows += 1
        db.cells[tid] = kept


def load_databases(schema_path, content_path=None):
    """{db_id: Database} from the schema file and, if given, the content file.

    A missing or malformed field raises a DataError naming the file, the entry (index and db_id)
    and the field. Content rows of the wrong length are dropped and counted in `skipped_rows`.
    """
    entries = read_json(schema_path)
    if not isinstance(entries, list):
        raise DataError(schema_path, None, "expected a JSON list of databases")
    databases = Databases(source=str(schema_path))
    for index, entry in enumerate(entries):
        db = _schema_entry(entry, schema_path, index)
        if db.db_id in databases:
            raise DataError(schema_path, None, f"duplicate db_id {db.db_id!r}", field=f"[{index}].db_id")
        databases[db.db_id] = db
    if content_path is not None:
        entries = read_json(content_path)
        if not isinstance(entries, list):
            raise DataError(content_path, None, "expected a JSON list of databases")
        for index, entry in enumerate(entries):
            db_id = _require(entry, "db_id", str, content_path, f"[{index}]")
            if db_id not in databases:
                raise DataError(content_path, None, f"db_id {db_id!r} is not in {schema_path}",
                                field=f"[{index}].db_id")
            _add_content(databases[db_id], entry, content_path, index)
    return databases


class Databases(dict):
    """{db_id: Database}; an unknown db_id raises UnknownDatabase (a KeyError and a ValueError)."""

    def __init__(self, *args, source=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source

    def __missing__(self, db_id):
        raise UnknownDatabase(db_id, self.source)
