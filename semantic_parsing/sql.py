"""DuSQL's SQL dialect: tokenizer, parser into the dataset's structured `sql` form, serializer.

Tokenisation follows the organisers' scorer, so that every query this module accepts is read the
same way by the official evaluation:
  * `'` becomes `"`; text between double quotes is one string token (an odd number of quotes is
    an error);
  * the rest splits on white space; a piece that *starts* like a date (`dddd-dd`, `dddd-dd-dd`)
    is a string token as a whole; other pieces split around the two-character operators
    `== != >= <= <>` and then around `+ - * / ( ) , > < ;` (a piece left over that starts like a
    date is again one string token);
  * a `(` that follows anything but an aggregate, a clause keyword, a comparison operator,
    `from` or `,` is part of a name: it and everything up to the next `)` join the token before
    it (`人口 ( 万 )` and `人口(万)` both read as the column `人口(万)`);
  * a `+` or `-` right after a comparison operator joins the token after it (`> - 5` is `-5`).
Keywords are case-insensitive; names are matched case-insensitively; string values keep their case.

The structured form is the dataset's (Spider-like, with DuSQL's differences):
    sql       = {"select": [[agg, val_unit], ...],
                 "from": {"table_units": [["table_unit", table_id] | ["sql", sql], ...],
                          "conds": condition},
                 "where": condition, "groupBy": [col_unit, ...], "having": condition,
                 "orderBy": [] | ["asc"|"desc", [[agg, val_unit], ...]], "limit": None | int,
                 "intersect": None | sql, "union": None | sql, "except": None | sql}
    val_unit  = [calc_op, col_unit, col_unit | None]
    col_unit  = [agg, column_id | "TIME_NOW", False]
    condition = [cond_unit, "and"|"or", cond_unit, ...]
    cond_unit = [agg, cond_op, val_unit, val1, val2]   (val2 only for between)
    value     = str (a quoted string or date, without quotes) | int | float | sql | col_unit
with AGG_OPS, CALC_OPS and COND_OPS below giving the ids. Operands of `+` and `*` keep their
written order (the scorer sorts them when it compares; so does `metric`).

A bare value that is not a plain number is read as the scorer reads it: the number it starts with,
divided by 100 when a `%` follows the number (`60%` is 0.6, `200万` is 200.0). A bare word that
does not start with a number is a column.

Where the scorer would accept a token sequence only by ignoring part of it (tokens after the end of
a query, a condition list ending in `and`, an empty select list, the word `none` used as an
operator), this parser raises a SQLParseError instead.

Canonical SQL (`to_sql`, `to_tokens`): lower-case keywords, one space between tokens, `==`,
strings and dates in double quotes, select items separated by `,`, the order direction always
written, compound queries without parentheses (`q1 union q2`), no table aliases: a column is bare
when its query reads one table and the column is of that table, else `表名.列名`; the columns of a
row calculation (`from ( q1 ) a , ( q2 ) b`) are `a.列名` / `b.列名`.
"""
import math
import re
from decimal import Decimal

from semantic_parsing.schema import STAR, TIME_NOW

AGG_OPS = ("none", "max", "min", "count", "sum", "avg")
CALC_OPS = ("none", "-", "+", "*", "/")
COND_OPS = ("not_in", "between", "==", ">", "<", ">=", "<=", "!=", "in", "like")
IUE_OPS = ("intersect", "union", "except")
ORDER_DIRECTIONS = ("asc", "desc")
CLAUSE_KEYWORDS = frozenset(("select", "from", "where", "group", "order", "limit") + IUE_OPS)
JOIN_KEYWORDS = frozenset(("join", "on", "as"))
AGG_WORDS = {name: i for i, name in enumerate(AGG_OPS) if name != "none"}
CALC_WORDS = {name: i for i, name in enumerate(CALC_OPS) if name != "none"}
COND_WORDS = {name: i for i, name in enumerate(COND_OPS)}
KEYWORDS = frozenset(AGG_OPS + IUE_OPS + ORDER_DIRECTIONS + ("select", "from", "where", "group", "by",
                     "having", "order", "limit", "join", "on", "as", "and", "or", "not", "in",
                     "between", "like"))

# a "(" after one of these opens an expression; after anything else it is part of a name
_OPEN_AFTER = frozenset(AGG_OPS + IUE_OPS + COND_OPS + tuple(CLAUSE_KEYWORDS) + ("from", ","))
_DATE_START = re.compile(r"\d\d\d\d-\d\d(-\d\d)?")
_TWO_CHAR_OPS = re.compile(r"(==|!=|>=|<=|<>|<in>)")
_ONE_CHAR_OPS = re.compile(r"([ +\-*/(),><;])")
_TWO_CHAR_SET = frozenset(("==", "!=", ">=", "<=", "<>", "<in>"))
_NUMBER_START = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_INTEGER = re.compile(r"[-+]?\d+")


class SQLParseError(ValueError):
    """A query that is not DuSQL; `position` is a character offset in `sql` (or None)."""

    def __init__(self, message, position=None, sql=None):
        super().__init__(message)
        self.message, self.position, self.sql = message, position, sql

    def __str__(self):
        if self.position is None or self.sql is None:
            return self.message
        near = self.sql[self.position:self.position + 20]
        return f"{self.message} (at character {self.position}: {near!r})"


class Token:
    """A token: `text` as written (without the quotes of a string), `pos` its character offset,
    `string` whether it is a quoted string or date, `key` the lower-cased text of a word."""
    __slots__ = ("text", "pos", "string", "key")

    def __init__(self, text, pos, string=False):
        self.text, self.pos, self.string = text, pos, string
        self.key = None if string else text.lower()

    @property
    def raw(self):
        """The token as the scorer sees it (strings keep their quotes)."""
        return f'"{self.text}"' if self.string else self.text

    def __repr__(self):
        return f"Token({self.raw!r}@{self.pos})"


def _split_keep(pattern, text, pos):
    """re.split with the separators kept, as (piece, offset) pairs; empty pieces dropped."""
    out, at = [], pos
    for piece in pattern.split(text):
        if piece and piece != " ":
            out.append((piece, at))
        at += len(piece)
    return out


def tokenize(sql):
    """DuSQL SQL text -> [Token], by the scorer's rules (see the module docstring)."""
    text = sql.replace("'", '"')
    if text.count('"') % 2:
        raise SQLParseError("unterminated string: odd number of quotes", text.rindex('"'), sql)
    tokens, at = [], 0
    for i, field in enumerate(text.split('"')):
        start = at
        at += len(field) + 1
        if i % 2:
            tokens.append(Token(field, start - 1, string=True))
            continue
        for word in re.finditer(r"\S+", field):
            piece, pos = word.group(), start + word.start()
            if _DATE_START.match(piece):
                tokens.append(Token(piece, pos, string=True))
                continue
            for part, part_pos in _split_keep(_TWO_CHAR_OPS, piece, pos):
                if part in _TWO_CHAR_SET:
                    tokens.append(Token(part, part_pos))
                elif _DATE_START.match(part):
                    tokens.append(Token(part, part_pos, string=True))
                else:
                    tokens.extend(Token(p, q) for p, q in _split_keep(_ONE_CHAR_OPS, part, part_pos))
    return _merge(tokens)


def _merge(tokens):
    """Join a name's "(...)" to the name, and a sign after a comparison to its number."""
    i = 1
    while i < len(tokens):
        token, before = tokens[i], tokens[i - 1]
        if token.key == "(" and before.key not in _OPEN_AFTER:
            text = before.raw
            while i < len(tokens):
                part = tokens.pop(i)
                text += part.raw
                if part.key == ")":
                    break
            tokens[i - 1] = Token(text, before.pos)
        elif token.key in ("+", "-") and before.key in COND_WORDS and i + 1 < len(tokens):
            tokens[i] = Token(token.raw + tokens.pop(i + 1).raw, token.pos)
            i += 1
        else:
            i += 1
    return tokens


def read_number(text):
    """The scorer's reading of a bare value: int or float, or None if it does not start with a
    number. `60%` -> 0.6 and `200万` -> 200.0 (the number before the suffix)."""
    if _INTEGER.fullmatch(text):
        return int(text)
    match = _NUMBER_START.match(text)
    if not match:
        return None
    value = float(match.group())
    rest = text[match.end():]
    if rest.startswith("%"):
        value /= 100
    return value


# parsing ------------------------------------------------------------------------------------------

def empty_sql():
    return {"select": [], "from": {"table_units": [], "conds": []}, "where": [], "groupBy": [],
            "having": [], "orderBy": [], "limit": None, "intersect": None, "union": None, "except": None}


class _Parser:
    def __init__(self, sql, db):
        self.sql, self.db = sql, db
        self.toks = tokenize(sql)
        self.n = len(self.toks)
        self.aliases = self._scan_aliases()

    # helpers ----------------------------------------------------------------------------------
    def error(self, i, message):
        pos = self.toks[i].pos if i < self.n else len(self.sql)
        return SQLParseError(message, pos, self.sql)

    def key(self, i):
        return self.toks[i].key if i < self.n else None

    def expect(self, i, word):
        if self.key(i) != word:
            got = repr(self.toks[i].raw) if i < self.n else "the end"
            raise self.error(i, f"expected {word!r}, got {got}")
        return i + 1

    def _scan_aliases(self):
        """`X as Y` anywhere in the query makes Y name X everywhere (as in the scorer)."""
        aliases = {}
        for i, token in enumerate(self.toks):
            if token.key == "as":
                if i == 0 or i + 1 >= self.n or self.toks[i + 1].string:
                    raise self.error(i, "'as' needs a table before it and an alias after it")
                alias = self.toks[i + 1].key
                if self.db.table_id(alias) is not None:
                    raise self.error(i + 1, f"alias {alias!r} is also a table name")
                aliases[alias] = self.toks[i - 1].text
        return aliases

    def table(self, i):
        """Table id of the table name or alias at token i."""
        token = self.toks[i] if i < self.n else None
        if token is None or token.string:
            raise self.error(i, "expected a table name")
        name = self.aliases.get(token.key, token.text)
        if isinstance(name, int):
            return name
        tid = self.db.table_id(name)
        if tid is None:
            raise self.error(i, f"unknown table {name!r} in database {self.db.db_id!r}")
        return tid

    # grammar ----------------------------------------------------------------------------------
    def column(self, i, tables):
        token = self.toks[i] if i < self.n else None
        if token is None or token.string:
            raise self.error(i, "expected a column")
        if token.text == "*":
            return STAR, i + 1
        if token.key == "time_now":
            return TIME_NOW, i + 1
        if token.key in KEYWORDS or token.key in CALC_WORDS or token.key in (")", "(", ",", ";"):
            raise self.error(i, f"expected a column, got {token.text!r}")
        if "." in token.text:
            parts = token.text.split(".")
            if len(parts) != 2:
                raise self.error(i, f"a column is 'table.column' or 'column', got {token.text!r}")
            tid = self.table_of_prefix(i, parts[0])
            cid = self.db.column_id(tid, parts[1])
            if cid is None:
                raise self.error(i, f"table {self.db.table_names[tid]!r} has no column {parts[1]!r}")
            return cid, i + 1
        if not tables:
            raise self.error(i, f"column {token.text!r} needs a table: its FROM names none")
        for tid in tables:
            cid = self.db.column_id(tid, token.text)
            if cid is not None:
                return cid, i + 1
        names = ", ".join(self.db.table_names[t] for t in tables)
        raise self.error(i, f"unknown column {token.text!r} (tables in scope: {names})")

    def table_of_prefix(self, i, prefix):
        name = self.aliases.get(prefix.lower(), prefix)
        if isinstance(name, int):
            return name
        tid = self.db.table_id(name)
        if tid is None:
            raise self.error(i, f"unknown table or alias {prefix!r}")
        return tid

    def col_unit(self, i, tables):
        block = self.key(i) == "("
        if block:
            i += 1
        if self.key(i) in AGG_WORDS:
            agg = AGG_WORDS[self.key(i)]
            i = self.expect(i + 1, "(")
            cid, i = self.column(i, tables)
            return [agg, cid, False], self.expect(i, ")")  # the scorer leaves a block's ")" here
        cid, i = self.column(i, tables)
        if block:
            i = self.expect(i, ")")
        return [0, cid, False], i

    def val_unit(self, i, tables):
        block = self.key(i) == "("
        if block:
            i += 1
        unit1, i = self.col_unit(i, tables)
        op, unit2 = 0, None
        if self.key(i) in CALC_WORDS:
            op = CALC_WORDS[self.key(i)]
            unit2, i = self.col_unit(i + 1, tables)
        if block:
            i = self.expect(i, ")")
        return [op, unit1, unit2], i

    def value(self, i, tables):
        block = self.key(i) == "("
        if block:
            i += 1
        if i >= self.n:
            raise self.error(i, "expected a value")
        token = self.toks[i]
        if token.key == "select":
            val, i = self.query(i)
        elif token.string:
            val, i = token.text, i + 1
        else:
            val = read_number(token.text)
            if val is not None:
                i += 1
            else:
                val, i = self.col_unit(i, tables)
        if block:
            i = self.expect(i, ")")
        return val, i

    def condition(self, i, tables):
        conds = []
        while True:
            agg = 0
            if self.key(i) in AGG_WORDS:
                agg, i = AGG_WORDS[self.key(i)], i + 1
            unit, i = self.val_unit(i, tables)
            op = self.key(i)
            if op == "not":
                i = self.expect(i + 1, "in") - 1
                op = "not_in"
            if op not in COND_WORDS:
                hint = " (DuSQL writes equality as ==)" if op == "=" else ""
                raise self.error(i, f"expected a comparison (== != > < >= <= in, not in, between, like){hint}")
            op_id = COND_WORDS[op]
            val1, i = self.value(i + 1, tables)
            val2 = None
            if op == "between":
                val2, i = self.value(self.expect(i, "and"), tables)
            conds.append([agg, op_id, unit, val1, val2])
            if self.key(i) in ("and", "or"):
                conds.append(self.key(i))
                i += 1
                continue
            return conds, i

    def select(self, i, end, tables):
        items = []
        while i < end:
            agg = 0
            if self.key(i) in AGG_WORDS:
                agg, i = AGG_WORDS[self.key(i)], i + 1
            unit, i = self.val_unit(i, tables)
            items.append([agg, unit])
            if self.key(i) == ",":
                i += 1
        if not items:
            raise self.error(i, "select needs at least one item")
        if i != end:
            raise self.error(i, "unexpected token in the select list")
        return items

    def find_from(self, i):
        depth = 0
        while i < self.n:
            key = self.key(i)
            if key == "(":
                depth += 1
            elif key == ")":
                depth -= 1
                if depth < 0:
                    break
            elif key == "from" and depth == 0:
                return i
            i += 1
        raise self.error(i, "expected 'from'")

    def from_clause(self, i):
        units, conds, tables = [], [], []
        while True:
            block = self.key(i) == "("
            if block:
                i += 1
            first = None
            if self.key(i) == "select":
                sub, i = self.query(i)
                units.append(["sql", sub])
                inner = sub["from"]["table_units"]
                if inner and inner[0][0] == "table_unit":
                    first = inner[0][1]
            else:
                if self.key(i) == "join":
                    i += 1
                tid = self.table(i)
                i += 3 if self.key(i + 1) == "as" else 1
                units.append(["table_unit", tid])
                tables.append(tid)
            if self.key(i) == "on":
                more, i = self.condition(i + 1, tables)
                if conds:
                    conds.append("and")
                conds.extend(more)
            if block:
                i = self.expect(i, ")")
            if self.key(i) in ("a", "b"):
                if first is None:
                    raise self.error(i, "the aliases a and b name sub-queries in FROM that read a table")
                self.aliases[self.key(i)] = first
                if self.key(i) == "a" and self.key(i + 1) in (",", "join"):
                    i += 1
                i += 1
            if i >= self.n or self.key(i) in CLAUSE_KEYWORDS or self.key(i) in (")", ";"):
                return units, conds, tables, i

    def query(self, i):
        block = self.key(i) == "("
        start = i + 1 if block else i
        self.expect(start, "select")
        from_at = self.find_from(start + 1)
        units, from_conds, tables, i = self.from_clause(from_at + 1)
        sql = empty_sql()
        sql["select"] = self.select(start + 1, from_at, tables)
        sql["from"] = {"table_units": units, "conds": from_conds}
        if self.key(i) == "where":
            sql["where"], i = self.condition(i + 1, tables)
        if self.key(i) == "group":
            i = self.expect(i + 1, "by")
            while True:
                unit, i = self.col_unit(i, tables)
                sql["groupBy"].append(unit)
                if self.key(i) != ",":
                    break
                i += 1
        if self.key(i) == "having":
            sql["having"], i = self.condition(i + 1, tables)
        if self.key(i) == "order":
            i = self.expect(i + 1, "by")
            direction, items = "asc", []
            while True:
                agg = 0
                if self.key(i) in AGG_WORDS:
                    agg, i = AGG_WORDS[self.key(i)], i + 1
                unit, i = self.val_unit(i, tables)
                items.append([agg, unit])
                if self.key(i) in ORDER_DIRECTIONS:
                    direction, i = self.key(i), i + 1
                if self.key(i) != ",":
                    break
                i += 1
            sql["orderBy"] = [direction, items]
        if self.key(i) == "limit":
            if i + 1 >= self.n or self.toks[i + 1].string:
                raise self.error(i + 1, "limit needs an integer")
            try:
                sql["limit"] = int(self.toks[i + 1].text)
            except ValueError:
                raise self.error(i + 1, "limit needs an integer") from None
            i += 2
        while self.key(i) == ";":
            i += 1
        if block:
            i = self.expect(i, ")")
        while self.key(i) == ";":
            i += 1
        if self.key(i) in IUE_OPS:
            op = self.key(i)
            sql[op], i = self.query(i + 1)
        return sql, i

    def parse(self):
        if not self.toks:
            raise SQLParseError("empty query", 0, self.sql)
        sql, i = self.query(0)
        if i < self.n:
            raise self.error(i, "unexpected token after the end of the query")
        return sql


def parse(sql_text, db):
    """DuSQL SQL text -> the structured `sql` dict; raises SQLParseError (with the position)."""
    if not isinstance(sql_text, str):
        raise SQLParseError(f"expected SQL text, got {type(sql_text).__name__}")
    return _Parser(sql_text, db).parse()


# serializing --------------------------------------------------------------------------------------

class NotExpressible(ValueError):
    """A structure that DuSQL's SQL (as the scorer reads it) cannot write."""


def format_number(value):
    """A number as a bare SQL token: ints as they are, integral floats without '.0', no exponent."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NotExpressible(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        raise NotExpressible(f"no SQL literal for {value!r}")
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text or "E" in text else text


def format_string(value):
    if '"' in value or "'" in value:
        raise NotExpressible(f"a DuSQL string cannot hold a quote: {value!r}")
    return f'"{value}"'


def format_value(value):
    """A literal value as its SQL token (`"text"`, `400`, `0.6`)."""
    return format_string(value) if isinstance(value, str) else format_number(value)


class _Writer:
    def __init__(self, db):
        self.db = db

    # columns ---------------------------------------------------------------------------------
    def column(self, cid, scope, role=0):
        """Canonical text of a column in a query whose FROM is `scope`."""
        if cid == STAR:
            return "*"
        if cid == TIME_NOW:
            return TIME_NOW
        if not isinstance(cid, int) or not 0 < cid < len(self.db.columns):
            raise NotExpressible(f"not a column id of {self.db.db_id!r}: {cid!r}")
        column = self.db.columns[cid]
        kind, value = scope
        if kind == "table" and column.table == value:
            return column.name
        if kind == "rows":
            alias = ("a", "b")[min(role, len(value) - 1)]
            if value[min(role, len(value) - 1)] == column.table:
                return f"{alias}.{column.name}"
        return f"{self.db.table_names[column.table]}.{column.name}"

    def col_unit(self, unit, scope, role=0):
        agg, cid = unit[0], unit[1]
        name = self.column(cid, scope, role)
        return [AGG_OPS[agg], "(", name, ")"] if agg else [name]

    def val_unit(self, unit, scope):
        op, unit1, unit2 = unit
        out = self.col_unit(unit1, scope, 0)
        if op:
            if unit2 is None:
                raise NotExpressible(f"calculation {CALC_OPS[op]!r} without a second operand")
            out += [CALC_OPS[op]] + self.col_unit(unit2, scope, 1)
        return out

    def item(self, agg, unit, scope, allow_parens):
        """A select / order-by item or the left side of a condition."""
        if agg:
            return [AGG_OPS[agg], "("] + self.val_unit(unit, scope) + [")"]
        op, unit1, _ = unit
        if unit1[0]:
            if allow_parens:
                return ["("] + self.val_unit(unit, scope) + [")"]
            if op:
                raise NotExpressible("an aggregated column cannot start a calculation here")
        return self.val_unit(unit, scope)

    # clauses ---------------------------------------------------------------------------------
    def value(self, value, scope):
        if isinstance(value, dict):
            return ["("] + self.query(value) + [")"]
        if isinstance(value, list):
            return self.col_unit(value, scope)
        return [format_value(value)]

    def conditions(self, conds, scope):
        out = []
        for i, cond in enumerate(conds):
            if i % 2:
                if cond not in ("and", "or"):
                    raise NotExpressible(f"expected 'and' or 'or' between conditions, got {cond!r}")
                out.append(cond)
                continue
            agg, op, unit, val1, val2 = cond
            out += self.item(agg, unit, scope, allow_parens=False)
            out += ["not", "in"] if COND_OPS[op] == "not_in" else [COND_OPS[op]]
            out += self.value(val1, scope)
            if COND_OPS[op] == "between":
                upper = self.value(val2, scope)
                if upper[0].startswith("-"):
                    raise NotExpressible("the scorer cannot read a negative number after between ... and")
                out += ["and"] + upper
        return out

    def tables_of(self, cond):
        """Table ids a from-condition reads."""
        found = set()
        units = [cond[2][1], cond[2][2]] + [v for v in cond[3:] if isinstance(v, list)]
        for unit in units:
            if unit is not None and isinstance(unit[1], int) and unit[1] != STAR:
                found.add(self.db.columns[unit[1]].table)
        return found

    def from_clause(self, from_, scope):
        units, conds = from_["table_units"], from_["conds"]
        if not units:
            raise NotExpressible("FROM needs a table")
        if scope[0] == "rows":
            out = []
            for i, (_, sub) in enumerate(units):
                out += ([","] if i else []) + ["("] + self.query(sub) + [")", "ab"[i]]
            if conds:
                raise NotExpressible("conditions on the sub-queries of a row calculation")
            return out
        tables = [tid for _, tid in units]
        for tid in tables:
            if not isinstance(tid, int) or not 0 <= tid < len(self.db.table_names):
                raise NotExpressible(f"not a table id of {self.db.db_id!r}: {tid!r}")
        groups = self.on_groups(conds, tables)
        out = []
        for position, tid in enumerate(tables):
            out += (["join"] if position else []) + [self.db.table_names[tid]]
            if groups.get(position):
                out += ["on"] + self.conditions(groups[position], scope)
        return out

    def on_groups(self, conds, tables):
        """{table position: conditions written after that table}. Each condition goes after the
        first joined table at which all its tables have been written, keeping the conditions'
        order; with an 'or' among them they all go after the last table."""
        if not conds:
            return {}
        last = len(tables) - 1
        if "or" in conds[1::2] or len(tables) == 1:
            return {last: conds}
        groups, place = {}, 1
        for cond in conds[::2]:
            needed = [tables.index(t) if t in tables else last for t in self.tables_of(cond)]
            place = max([place] + needed)
            group = groups.setdefault(place, [])
            group += (["and"] if group else []) + [cond]
        return groups

    def scope(self, sql):
        units = sql["from"]["table_units"]
        kinds = {kind for kind, _ in units}
        if kinds == {"sql"}:
            if len(units) > 2:
                raise NotExpressible("more than two sub-queries in FROM")
            firsts = []
            for _, sub in units:
                inner = sub["from"]["table_units"]
                if not inner or inner[0][0] != "table_unit":
                    raise NotExpressible("a sub-query in FROM must read a table first")
                firsts.append(inner[0][1])
            return ("rows", firsts)
        if kinds - {"table_unit"}:
            raise NotExpressible(f"FROM mixes tables and sub-queries or has unknown units: {units!r}")
        if len(units) == 1:
            return ("table", units[0][1])
        return ("tables", None)

    def core(self, sql):
        scope = self.scope(sql)
        out = ["select"]
        if not sql["select"]:
            raise NotExpressible("empty select list")
        for i, (agg, unit) in enumerate(sql["select"]):
            out += ([","] if i else []) + self.item(agg, unit, scope, allow_parens=True)
        out += ["from"] + self.from_clause(sql["from"], scope)
        if sql["where"]:
            out += ["where"] + self.conditions(sql["where"], scope)
        if sql["groupBy"]:
            out += ["group", "by"]
            for i, unit in enumerate(sql["groupBy"]):
                out += ([","] if i else []) + self.col_unit(unit, scope)
        if sql["having"]:
            out += ["having"] + self.conditions(sql["having"], scope)
        if sql["orderBy"]:
            direction, items = sql["orderBy"]
            if direction not in ORDER_DIRECTIONS or not items:
                raise NotExpressible(f"bad orderBy {sql['orderBy']!r}")
            out += ["order", "by"]
            for i, (agg, unit) in enumerate(items):
                out += ([","] if i else []) + self.item(agg, unit, scope, allow_parens=False)
            out.append(direction)
        if sql["limit"] is not None:
            if isinstance(sql["limit"], bool) or not isinstance(sql["limit"], int):
                raise NotExpressible(f"limit must be an integer, got {sql['limit']!r}")
            out += ["limit", str(sql["limit"])]
        return out

    def query(self, sql):
        ops = [op for op in IUE_OPS if sql.get(op)]
        if len(ops) > 1:
            raise NotExpressible(f"one query with both {ops[0]} and {ops[1]}")
        out = self.core(sql)
        if ops:
            out += [ops[0]] + self.query(sql[ops[0]])
        return out


def to_tokens(sql, db):
    """The canonical SQL tokens of a structured `sql` (raises NotExpressible)."""
    return _Writer(db).query(sql)


def to_sql(sql, db):
    """The canonical SQL text of a structured `sql` (raises NotExpressible)."""
    return " ".join(to_tokens(sql, db))


def is_name_token(text):
    """True when `text`, written as a name, reads back as exactly that one word token."""
    try:
        tokens = tokenize(text)
    except SQLParseError:
        return False
    return (len(tokens) == 1 and not tokens[0].string and tokens[0].text == text
            and tokens[0].key not in KEYWORDS and tokens[0].key not in ("a", "b", "time_now", "*"))
