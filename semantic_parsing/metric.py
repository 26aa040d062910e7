"""The organisers' exact-match accuracy for DuSQL (LIC2020), pure Python.

Both queries are parsed (`semantic_parsing.sql`, which tokenises as the scorer does) and put into
the scorer's comparison form:
  * a column is its lower-cased "__table.column__" name ("__all__" for `*`, "time_now");
  * a string value is its lower-cased text in double quotes, a bare value a float (`60%` = 0.6);
  * the two operands of `+` and `*` are sorted;
  * columns of one foreign-key class map to the class's first column - for the columns of the
    tables in the outer query's FROM, in every clause of the outer query and of the queries joined
    to it by intersect/union/except, but not inside sub-queries in conditions or FROM.
Then a prediction is right when every component matches:
  * select: the (aggregate, expression) items as a multiset;
  * where: the conditions as a multiset, values included (a sub-query value must be identical);
  * group by: the grouped column names (without table) as a multiset;
  * having: with a group by, the grouped columns in order and the having conditions in order;
  * order by: direction and items in order, and the limit (when the gold query orders);
  * the set of and/or connectors of where;
  * the keyword set (where, group, having, order, asc/desc, limit, intersect/union/except, or,
    in, like, and the scorer's "not" - any condition with an aggregate);
  * intersect / union / except: each recursively (the two sides of a gold union or intersect
    may be swapped);
  * the FROM table units as a multiset.
A missing or unparsable prediction is wrong.

Where this module departs from the 2020 script: `between` is scored (the script cannot parse a
second value); the parser refuses a few token sequences the script accepts by ignoring tokens
(see `sql`); the gold structure is not modified while comparing.

`exact_match_no_value` is the same comparison with every literal value of a condition and every
limit number replaced by one placeholder (sub-queries and the presence of a limit still count).
"""
import collections
import copy
import logging
import os

from common.io import DataError
from semantic_parsing import sql as sqlmod
from semantic_parsing.schema import TIME_NOW, load_databases

log = logging.getLogger(__name__)

PLACEHOLDER = "value"
_COMMUTATIVE = (sqlmod.CALC_OPS.index("+"), sqlmod.CALC_OPS.index("*"))
_IN, _LIKE = sqlmod.COND_OPS.index("in"), sqlmod.COND_OPS.index("like")


# the scorer's comparison form ---------------------------------------------------------------------

class Names:
    """Scorer names of one database's columns and tables, and its foreign-key map on names."""

    def __init__(self, db):
        self.columns = ["__all__"] + [f"__{db.table_names[c.table].lower()}.{c.name.lower()}__"
                                      for c in db.columns[1:]]
        self.tables = [f"__{name.lower()}__" for name in db.table_names]
        self.table_columns = [{self.columns[c] for c in db.table_columns(t)} for t in range(len(db.table_names))]
        # the scorer's foreign-key classes (schema.py), each named by its smallest column id
        self.fk = {self.columns[column]: self.columns[canonical] for column, canonical in db.fk_canonical.items()}

    def column(self, cid):
        if cid == TIME_NOW:
            return "time_now"
        return self.columns[cid]


def _col(unit, names):
    return None if unit is None else (unit[0], names.column(unit[1]))


def _val_unit(unit, names):
    op, first, second = unit[0], _col(unit[1], names), _col(unit[2], names)
    if op in _COMMUTATIVE and second is not None:
        first, second = sorted([first, second])
    return (op, first, second)


def _value(value, names):
    if value is None:
        return None
    if isinstance(value, dict):
        return official(value, names)
    if isinstance(value, list):
        return _col(value, names)
    if isinstance(value, str):
        return f'"{value.lower()}"'
    return float(value)


def _conds(conds, names):
    return [c if isinstance(c, str) else
            (c[0], c[1], _val_unit(c[2], names), _value(c[3], names), _value(c[4], names)) for c in conds]


def official(sql, names):
    """A structured `sql` in the scorer's comparison form (before the foreign-key mapping)."""
    order = sql["orderBy"]
    return {
        "select": [(agg, _val_unit(unit, names)) for agg, unit in sql["select"]],
        "from": {"table_units": [("sql", official(x, names)) if kind == "sql" else ("table_unit", names.tables[x])
                                 for kind, x in sql["from"]["table_units"]],
                 "conds": _conds(sql["from"]["conds"], names)},
        "where": _conds(sql["where"], names),
        "groupBy": [_col(unit, names) for unit in sql["groupBy"]],
        "having": _conds(sql["having"], names),
        "orderBy": (order[0], [(agg, _val_unit(unit, names)) for agg, unit in order[1]]) if order else (),
        "limit": sql["limit"],
        **{op: None if sql[op] is None else official(sql[op], names) for op in sqlmod.IUE_OPS},
    }


def map_foreign_keys(sql, names, valid=None):
    """The scorer's foreign-key rebuild: columns of the outer FROM's tables map to their class."""
    if valid is None:
        valid = set()
        for kind, table in sql["from"]["table_units"]:
            if kind == "table_unit":
                valid |= names.table_columns[names.tables.index(table)]

    def col(unit):
        if unit is None or unit[1] not in valid or unit[1] not in names.fk:
            return unit
        return (unit[0], names.fk[unit[1]])

    def val_unit(unit):
        return (unit[0], col(unit[1]), col(unit[2]))

    def conds(items):
        return [c if isinstance(c, str) else (c[0], c[1], val_unit(c[2]), c[3], c[4]) for c in items]

    out = dict(sql)
    out["select"] = [(agg, val_unit(unit)) for agg, unit in sql["select"]]
    out["from"] = {"table_units": sql["from"]["table_units"], "conds": conds(sql["from"]["conds"])}
    out["where"], out["having"] = conds(sql["where"]), conds(sql["having"])
    out["groupBy"] = [col(unit) for unit in sql["groupBy"]]
    if sql["orderBy"]:
        out["orderBy"] = (sql["orderBy"][0], [(agg, val_unit(unit)) for agg, unit in sql["orderBy"][1]])
    for op in sqlmod.IUE_OPS:
        out[op] = None if sql[op] is None else map_foreign_keys(sql[op], names, valid)
    return out


def strip_values(sql):
    """Every literal condition value and limit number -> PLACEHOLDER, at every depth."""
    def conds(items):
        return [c if isinstance(c, str) else
                (c[0], c[1], c[2], strip(c[3]), None if c[4] is None else strip(c[4])) for c in items]

    def strip(value):
        return strip_values(value) if isinstance(value, dict) else PLACEHOLDER

    out = dict(sql)
    out["from"] = {"table_units": [(k, strip_values(x) if k == "sql" else x) for k, x in sql["from"]["table_units"]],
                   "conds": conds(sql["from"]["conds"])}
    out["where"], out["having"] = conds(sql["where"]), conds(sql["having"])
    out["limit"] = None if sql["limit"] is None else PLACEHOLDER
    for op in sqlmod.IUE_OPS:
        out[op] = None if sql[op] is None else strip_values(sql[op])
    return out


def _freeze(x):
    """A hashable, order-keeping copy (dicts become sorted item tuples)."""
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    return x


def _multiset(items):
    return collections.Counter(_freeze(x) for x in items)


def keywords(sql):
    """The scorer's keyword set of one query level."""
    found = set()
    for clause, word in (("where", "where"), ("groupBy", "group"), ("having", "having")):
        if sql[clause]:
            found.add(word)
    if sql["orderBy"]:
        found.update((sql["orderBy"][0], "order"))
    if sql["limit"] is not None:
        found.add("limit")
    found.update(op for op in sqlmod.IUE_OPS if sql[op] is not None)
    every = sql["from"]["conds"] + sql["where"] + sql["having"]
    if "or" in every[1::2]:
        found.add("or")
    units = every[::2]
    if any(c[0] for c in units):
        found.add("not")  # the scorer's test reads the aggregate slot
    if any(c[1] == _IN for c in units):
        found.add("in")
    if any(c[1] == _LIKE for c in units):
        found.add("like")
    return found


def _group_names(sql):
    return collections.Counter(key.split(".")[1] if "." in key else key for _, key in sql["groupBy"])


def _components_match(pred, gold):
    if _multiset(pred["select"]) != _multiset(gold["select"]):
        return False
    if _multiset(pred["where"][::2]) != _multiset(gold["where"][::2]):
        return False
    if _group_names(pred) != _group_names(gold):
        return False
    if bool(pred["groupBy"]) != bool(gold["groupBy"]):
        return False
    if gold["groupBy"] and ([u[1] for u in pred["groupBy"]] != [u[1] for u in gold["groupBy"]]
                            or _freeze(pred["having"]) != _freeze(gold["having"])):
        return False
    if bool(pred["orderBy"]) != bool(gold["orderBy"]):
        return False
    if gold["orderBy"] and (_freeze(pred["orderBy"]) != _freeze(gold["orderBy"]) or pred["limit"] != gold["limit"]):
        return False
    if set(pred["where"][1::2]) != set(gold["where"][1::2]):
        return False
    for op in sqlmod.IUE_OPS:
        if (pred[op] is None) != (gold[op] is None):
            return False
        if gold[op] is not None and not _exact(pred[op], gold[op]):
            return False
    if keywords(pred) != keywords(gold):
        return False
    return _multiset(pred["from"]["table_units"]) == _multiset(gold["from"]["table_units"])


def _exact(pred, gold):
    """The scorer's exact match of two queries in comparison form, with the swap of a gold
    union / intersect's two sides."""
    if _components_match(pred, gold):
        return True
    for op in ("union", "intersect"):  # the scorer tries the union first, then the intersect
        if gold[op] is not None:
            left = copy.copy(gold)
            left[op] = None
            swapped = dict(gold[op])
            swapped[op] = left
            return _components_match(pred, swapped)
    return False


def comparison_form(sql, db, names=None):
    """A structured `sql` dict of database `db` as the scorer compares it (foreign keys mapped)."""
    names = names or Names(db)
    return map_foreign_keys(official(sql, names), names)


def match(pred_sql, gold_sql, db, values=True):
    """Exact match of two structured `sql` dicts of database `db`."""
    names = Names(db)
    pred, gold = comparison_form(pred_sql, db, names), comparison_form(gold_sql, db, names)
    if not values:
        pred, gold = strip_values(pred), strip_values(gold)
    return _exact(pred, gold)


# scoring ------------------------------------------------------------------------------------------

def score(gold, pred, databases, executor=None):
    """gold: {question_id: (SQL, db_id)}, pred: {question_id: SQL}, databases: {db_id: Database}.

    Returns {"exact_match", "exact_match_no_value", "execution", "parsed"} as fractions of the gold
    questions; "execution" is None without an `executor` (execute.Executor), "parsed" is the share
    of gold questions whose prediction exists and parses. A gold SQL that does not parse or an
    unknown db_id raises (a ValueError naming the question).
    """
    totals = collections.Counter()
    for qid, (gold_text, db_id) in gold.items():
        db = databases[db_id]
        try:
            gold_sql = sqlmod.parse(gold_text, db)
        except sqlmod.SQLParseError as e:
            raise ValueError(f"gold SQL of question {qid!r} does not parse: {e}") from None
        text = pred.get(qid)
        try:
            pred_sql = sqlmod.parse(text, db) if text is not None else None
        except sqlmod.SQLParseError as e:
            log.debug("question %s: prediction does not parse: %s", qid, e)
            pred_sql = None
        if pred_sql is not None:
            totals["parsed"] += 1
            totals["exact_match"] += match(pred_sql, gold_sql, db)
            totals["exact_match_no_value"] += match(pred_sql, gold_sql, db, values=False)
        if executor is not None and pred_sql is not None:
            totals["execution"] += executor.same_result(db_id, pred_sql, gold_sql)
    n = len(gold)

    def share(key):
        return totals[key] / n if n else 0.0

    return {"exact_match": share("exact_match"), "exact_match_no_value": share("exact_match_no_value"),
            "execution": share("execution") if executor is not None else None, "parsed": share("parsed")}


def _lines(path):
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line


def read_gold(path, databases):
    """{question_id: (SQL, db_id)} from `qid \\t SQL \\t db_id` lines or a DuSQL JSON list file.
    Checks every db_id and that every gold SQL parses (errors name file and line or index)."""
    with open(path, encoding="utf-8-sig") as f:
        head = f.read(64).lstrip()
    gold, where = {}, {}
    if head.startswith("["):
        from semantic_parsing.data import load_records
        records, _ = load_records(path, labelled=True)
        rows = [(f"[{i}]", None, r.question_id, r.query, r.db_id) for i, r in enumerate(records)]
    else:
        rows = []
        for number, line in _lines(path):
            fields = line.split("\t")
            if len(fields) < 3:
                raise DataError(path, number, "expected 'question_id<TAB>SQL<TAB>db_id'")
            rows.append((None, number, fields[0].strip(), fields[1].strip(), fields[2].strip()))
    for index, number, qid, text, db_id in rows:
        field = f"{index}.sql_query" if index else "SQL"
        if qid in gold:
            raise DataError(path, number, f"duplicate question id {qid!r} (first at {where[qid]})")
        if db_id not in databases:
            raise DataError(path, number, f"unknown db_id {db_id!r}", field=f"{index}.db_id" if index else "db_id")
        try:
            sqlmod.parse(text, databases[db_id])
        except sqlmod.SQLParseError as e:
            raise DataError(path, number, f"gold SQL does not parse: {e}", field=field) from None
        gold[qid] = (text, db_id)
        where[qid] = index or f"line {number}"
    return gold


def read_predictions(path):
    """{question_id: SQL} from `qid \\t SQL` lines (a third column, the db_id, is ignored)."""
    pred, first = {}, {}
    for number, line in _lines(path):
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(path, number, "expected 'question_id<TAB>SQL'")
        qid = fields[0].strip()
        if qid in pred:
            raise DataError(path, number, f"duplicate question id {qid!r} (first on line {first[qid]})")
        pred[qid], first[qid] = fields[1].strip(), number
    return pred


def evaluate_files(gold_path, pred_path, schema_path, content_path=None, cache_dir=None, **limits):
    """Score a prediction file against a gold file; execution accuracy only with `content_path`
    (SQLite files are built in `cache_dir`, or in a temporary directory; `limits` are
    execute.Executor's time_limit, max_rows, time_now)."""
    databases = load_databases(schema_path, content_path)
    gold = read_gold(gold_path, databases)
    pred = read_predictions(pred_path)
    if content_path is None:
        return score(gold, pred, databases)
    import tempfile

    from semantic_parsing.execute import Executor
    with tempfile.TemporaryDirectory() as tmp:
        executor = Executor(databases, content_path, cache_dir or os.path.join(tmp, "sqlite"), **limits)
        return score(gold, pred, databases, executor)

