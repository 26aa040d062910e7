"""What a constrained decoder needs, at the level of SQL tokens.

`target_tokens(sql_text, db)` is the canonical token sequence of a query (`sql.to_tokens`):
keywords, operators, brackets, table names, column tokens and each value literal as one token
(`"1981-03-24"`, `400`); `detokenize(tokens)` joins them back into SQL text.

`Constraint(db, values)` is a pushdown state machine over those tokens. `allowed()` is the finite
set of tokens that keep the prefix a prefix of some complete canonical query, `advance(token)`
consumes one (ValueError for any other), `complete()` says whether the prefix is a whole query,
`copy()` is cheap (the state is immutable and shared; only the token list is copied), for beam
search. On real DuSQL schemas a step (allowed() + advance()) takes about 6 µs and a copy 2 µs
(bench/dusql_check.py).

The language is the canonical form of `sql.to_tokens` restricted to what DuSQL queries use:
  * select items `agg ( expr )`, `expr` or `( max ( a ) - b )`, where `expr` is a column unit
    optionally followed by `+ - * /` and a second column unit; `*` only in `count ( * )`;
  * FROM: one table, or tables joined by `join` with optional `on T1.x == T2.y and ...`, or
    the row calculation `from ( q ) a , ( q ) b` (then the query ends after FROM);
  * conditions `left op value`, `left in / not in ( q )`, `between v and v`, `like "..."`,
    joined by `and` / `or`; a value is one of `values` or a sub-query `( q )`; a like pattern
    (a string value starting or ending with `%`) only after `like`;
  * group by columns, having conditions (after a group by), order by items with one direction,
    limit n (n a positive integer of `values`, or one of `limit_values`);
  * intersect / union / except between whole queries (no brackets), sub-queries nested freely.
Column scope, decided as far as a left-to-right reading allows:
  * SELECT comes before FROM, so the first column token fixes the query's form: a bare column
    name (a single-table query: later bare names must share a table with the earlier ones, and
    FROM must be one such table), `表名.列名` (a multi-table query: FROM must join all the
    tables named so far, at least two), or `a.列名` / `b.列名` (a row calculation);
  * after FROM, columns are those of the FROM tables (bare for one table, qualified for several);
  * a sub-query sees only its own FROM (no correlated columns);
  * `TIME_NOW` is allowed wherever a column may stand in select, conditions and order by.
Names the scorer's tokenizer would not read back as one token are left out, and so are value
literals that are not single tokens (see `sql.is_name_token`). The one freedom beyond the canonical
form: a join condition may follow any joined table whose columns it uses (canonical: as early as
possible); the structure, and so the score, is the same.
"""
import re

from semantic_parsing import sql as sqlmod
from semantic_parsing.sql import AGG_WORDS, CALC_WORDS, IUE_OPS, TIME_NOW, is_name_token, read_number

# states of a query frame
(S_START, E_START, E_AGG_LP, E_IN, E_PAREN_IN, E_STAR, E_IN_AFTER1, E_IN_CLOSE, E_AFTER1, E_DONE,
 CU_START, CU_AGG_LP, CU_AGG_COL, CU_AGG_RP,
 F_START, F_AFTER_TABLE, F_JOIN_TABLE, F_AFTER_JOIN, ON_LEFT, ON_EQ, ON_RIGHT, ON_AFTER,
 F_ROWS_A, F_ROWS_AFTER_A, F_ROWS_B_OPEN, F_ROWS_B, F_ROWS_DONE,
 C_OP_DONE, V_START, IN_OPEN, NOT_IN, BT1, BT2, BT3, LK1, C_END,
 G_BY, G_COL, G_AFTER, O_BY, O_DONE, L_NUM, L_DONE) = range(43)

SEL, COND, ORD = "select", "condition", "order"               # expression contexts
FROM, WHERE, GROUP, HAVING, ORDER, LIMIT = range(6)          # clause levels
UNDECIDED, BARE, QUAL, ROWS = "undecided", "bare", "qualified", "rows"
TOP, SUB = "top", "sub"                                       # how a query frame ends

AGG_TOKENS = frozenset(AGG_WORDS)
CALC_TOKENS = frozenset(CALC_WORDS)
COMPARISONS = frozenset(("==", "!=", ">", "<", ">=", "<="))
_POSITIVE_INT = re.compile(r"[1-9]\d*")


def target_tokens(sql_text, db):
    """Canonical SQL tokens of a query (raises sql.SQLParseError / sql.NotExpressible)."""
    return sqlmod.to_tokens(sqlmod.parse(sql_text, db), db)


def detokenize(tokens):
    """SQL text of a token sequence (the metric parses it back to the same structure)."""
    return " ".join(tokens)


class Vocabulary:
    """The column and table tokens of one database, precomputed once and shared by every
    Constraint on it. `columns` limits the columns (ids) a query may use."""

    def __init__(self, db, columns=None):
        self.db = db
        keep = set(range(1, len(db.columns))) if columns is None else set(columns) - {0}
        self.table_tokens = {}
        for tid, name in enumerate(db.table_names):
            if is_name_token(name) and name not in self.table_tokens:
                self.table_tokens[name] = tid
        self.tables = frozenset(self.table_tokens.values())
        name_tables, bare, qual, self.qual_table = {}, {}, {}, {}
        for cid in sorted(keep):
            column = db.columns[cid]
            tid, name = column.table, column.name
            if tid not in self.tables or not is_name_token(name):
                continue
            qualified = f"{db.table_names[tid]}.{name}"
            if not is_name_token(qualified) or len(qualified.split(".")) != 2:
                continue
            name_tables.setdefault(name, set()).add(tid)
            bare.setdefault(tid, set()).add(name)
            qual.setdefault(tid, set()).add(qualified)
            self.qual_table[qualified] = tid
        self.name_tables = {n: frozenset(t) for n, t in name_tables.items()}
        self.bare = {t: frozenset(bare.get(t, ())) for t in range(len(db.table_names))}
        self.qual = {t: frozenset(qual.get(t, ())) for t in range(len(db.table_names))}
        self.all_bare = frozenset(self.name_tables)
        self.all_qual = frozenset(self.qual_table)
        self.qual_as_value = frozenset(q for q in self.all_qual if read_number(q) is None)
        self.a_tokens = {f"a.{n}": n for n in self.all_bare}
        self.b_tokens = {f"b.{n}": n for n in self.all_bare}
        self._cache = {}

    def cached(self, key, make):
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = frozenset(make())
        return found

    def tables_with(self, names):
        """Tables holding every column name of `names`."""
        def make():
            tables = set(self.tables)
            for n in names:
                tables &= self.name_tables.get(n, frozenset())
            return tables
        return self.cached(("with", names), make)

    def bare_of(self, tables):
        """Bare column names of `tables` (the names that keep one of them as a candidate)."""
        return self.cached(("bare", tables), lambda: set().union(*(self.bare[t] for t in tables)))

    def qual_of(self, tables):
        return self.cached(("qual", tables), lambda: set().union(*(self.qual[t] for t in tables)))

    def rows_tokens(self, names, role):
        """`a.X` (role 0) / `b.X` (role 1) tokens keeping a table that holds all names + X."""
        tokens = self.a_tokens if role == 0 else self.b_tokens

        def make():
            return [t for t, n in tokens.items() if self.tables_with(frozenset(names | {n}))]
        return self.cached(("rows", role, names), make)


class Frame:
    """One query level of the pushdown state (immutable once made)."""
    __slots__ = ("st", "ctx", "clause", "agg", "ret", "role_col", "mode", "cands", "refs", "tables",
                 "a_names", "b_names", "need", "no_rows", "role", "parent")

    def __init__(self, role, parent, need=None, no_rows=False):
        self.st, self.ctx, self.clause, self.agg, self.ret, self.role_col = S_START, SEL, FROM, 0, None, 0
        self.mode, self.cands, self.refs, self.tables = UNDECIDED, None, frozenset(), ()
        self.a_names = self.b_names = frozenset()
        self.need, self.role, self.parent = need, role, parent
        # no row calculation inside the FROM sub-queries of one: the scorer's aliases a and b are
        # global, an inner pair would rename the outer one
        self.no_rows = no_rows

    def but(self, **changes):
        new = Frame.__new__(Frame)
        for slot in Frame.__slots__:
            setattr(new, slot, changes[slot] if slot in changes else getattr(self, slot))
        return new


# states whose successor is the same whatever the token (the token itself is checked by `allowed`)
FORCED_NEXT = {
    E_AGG_LP: E_IN,
    E_STAR: E_DONE,
    E_IN_CLOSE: E_DONE,
    CU_AGG_LP: CU_AGG_COL,
    ON_LEFT: ON_EQ,
    ON_EQ: ON_RIGHT,
    ON_RIGHT: ON_AFTER,
    F_ROWS_A: F_ROWS_AFTER_A,
    F_ROWS_B: F_ROWS_DONE,
    NOT_IN: IN_OPEN,
    BT1: BT2,
    BT2: BT3,
    G_BY: G_COL,
    G_COL: G_AFTER,
    L_NUM: L_DONE,
    BT3: C_END,
    LK1: C_END,
}


class Constraint:
    """Grammar constraint for decoding one query of database `db` (see the module docstring).

    values: the allowed value literals of this question, as tokens (`"北京"`, `400`, `0.6`);
    limit_values: limit numbers always allowed besides the positive integers of `values`;
    columns: column ids the query may use (default: all), e.g. those shown to the model;
    vocabulary: a prebuilt Vocabulary of `db` to share between questions.
    """

    def __init__(self, db, values=(), limit_values=("1",), columns=None, vocabulary=None):
        self.vocab = vocabulary or Vocabulary(db, columns)
        values = frozenset(v for v in values if _is_value_token(v))
        self.strings = frozenset(v for v in values if v.startswith('"'))     # like takes any string
        patterns = frozenset(v for v in self.strings if v.startswith('"%') or v.endswith('%"'))
        self.values = values - patterns                                      # a pattern only after like
        self.upper_bounds = frozenset(v for v in self.values if not v.startswith("-"))
        self.limits = frozenset([v for v in self.values if _POSITIVE_INT.fullmatch(v)]
                                + [str(v) for v in limit_values if _POSITIVE_INT.fullmatch(str(v))])
        self.frame = Frame(TOP, None)
        self.tokens = []
        self._allowed = None

    # public API -------------------------------------------------------------------------------
    def copy(self):
        new = Constraint.__new__(Constraint)
        new.__dict__.update(self.__dict__)
        new.tokens = list(self.tokens)
        return new

    def allowed(self):
        """The set of tokens that may come next."""
        if self._allowed is None or self._allowed[0] is not self.frame:
            tokens, ends = self._options(self.frame)
            if ends and self.frame.role == SUB:
                tokens = tokens | {")"}
            self._allowed = (self.frame, tokens, ends)
        return self._allowed[1]

    def complete(self):
        """True when the tokens so far are a whole query."""
        self.allowed()
        return self.frame.role == TOP and self._allowed[2]

    def advance(self, token):
        if token not in self.allowed():
            raise ValueError(f"token {token!r} not allowed after {' '.join(self.tokens[-8:])!r}")
        frame = self.frame
        ends = self._allowed[2]
        if token == ")" and ends and frame.role == SUB and not self._closes_inside(frame):
            self.frame = frame.parent
        else:
            self.frame = self._step(frame, token)
        self.tokens.append(token)

    # the machine ------------------------------------------------------------------------------
    @staticmethod
    def _closes_inside(frame):
        """Whether a ")" in this state closes a bracket of the frame's own expression."""
        return frame.st in (E_STAR, E_IN_AFTER1, E_IN_CLOSE, CU_AGG_RP)

    def _columns(self, frame, role=0, group=False):
        """Column tokens allowed at a column position of the frame."""
        v = self.vocab
        after_from = frame.clause != FROM or frame.ctx != SEL
        if frame.mode == ROWS:
            names = frame.a_names if role == 0 else frame.b_names
            return v.rows_tokens(names, role)
        extra = frozenset() if group else frozenset((TIME_NOW,))
        if after_from:
            if frame.mode == BARE:
                return v.bare[frame.tables[0]] | extra
            return v.qual_of(frozenset(frame.tables)) | extra
        if frame.mode == BARE:
            return v.bare_of(frame.cands) | extra
        if frame.mode == QUAL:
            return v.all_qual | extra
        # undecided: any form can start here
        cands = v.tables if frame.need is None else v.tables_with(frame.need)
        tokens = v.bare_of(cands) | extra
        if len(v.tables) > 1:
            tokens = tokens | v.all_qual
        if frame.need is None and not frame.no_rows and role == 0 and frame.st == E_START:
            tokens = tokens | v.rows_tokens(frozenset(), 0)
        return tokens

    def _follow(self, frame, level):
        """Tokens that may follow a finished clause of `level`, and whether the query may end."""
        tokens = set(IUE_OPS)
        if frame.mode == ROWS:
            return frozenset(tokens), True
        if level < WHERE:
            tokens.add("where")
        if level < GROUP:
            tokens.add("group")
        if level == GROUP:
            tokens.add("having")
        if level < ORDER:
            tokens.add("order")
        if level < LIMIT and self.limits:
            tokens.add("limit")
        return frozenset(tokens), True

    def _from_complete(self, frame):
        if frame.mode == QUAL:
            return len(frame.tables) >= 2 and frame.refs <= set(frame.tables)
        return len(frame.tables) >= 1

    def _expr_follow(self, frame):
        if frame.ctx == SEL:
            return frozenset((",", "from")), False
        if frame.ctx == ORD:
            return frozenset((",", "asc", "desc")), False
        tokens = set(COMPARISONS) | {"in", "not"}
        if self.upper_bounds:
            tokens.add("between")
        if self.strings:
            tokens.add("like")
        return frozenset(tokens), False

    def _options(self, frame):
        st, v = frame.st, self.vocab
        if st == S_START:
            return frozenset(("select",)), False
        if st == E_START:
            tokens = AGG_TOKENS | self._columns(frame)
            if frame.ctx == SEL and frame.mode != ROWS:
                tokens = tokens | {"("}
            return tokens, False
        if st in (E_AGG_LP, CU_AGG_LP):
            return frozenset(("(",)), False
        if st == E_IN:
            tokens = AGG_TOKENS | self._columns(frame)
            if frame.agg == AGG_WORDS["count"] and frame.mode != ROWS:
                tokens = tokens | {"*"}
            return tokens, False
        if st == E_PAREN_IN:
            return AGG_TOKENS, False
        if st in (E_STAR, E_IN_CLOSE, CU_AGG_RP):
            return frozenset((")",)), False
        if st == E_IN_AFTER1:
            return CALC_TOKENS | {")"}, False
        if st == E_AFTER1:
            tokens, ends = self._expr_follow(frame)
            return tokens | CALC_TOKENS, ends
        if st == E_DONE:
            return self._expr_follow(frame)
        if st == CU_START:
            return AGG_TOKENS | self._columns(frame, role=frame.role_col), False
        if st == CU_AGG_COL:
            return self._columns(frame, role=frame.role_col) - {TIME_NOW}, False
        if st == F_START:
            if frame.mode == ROWS:
                return frozenset(("(",)), False
            return frozenset(self._first_tables(frame)), False
        if st in (F_AFTER_TABLE, F_AFTER_JOIN, ON_AFTER):
            tokens = set()
            if frame.mode in (UNDECIDED, QUAL) and len(frame.tables) < len(v.tables):
                tokens.add("join")
            if st in (F_AFTER_JOIN, ON_AFTER) and self._on_possible(frame):
                tokens.add("on" if st == F_AFTER_JOIN else "and")
            ends = False
            if self._from_complete(frame):
                follow, ends = self._follow(frame, FROM)
                tokens |= follow
            return frozenset(tokens), ends
        if st == F_JOIN_TABLE:
            used = set(frame.tables)
            return frozenset(t for t, tid in v.table_tokens.items() if tid not in used), False
        if st == ON_LEFT:
            return v.qual_of(frozenset(frame.tables)), False
        if st == ON_EQ:
            return frozenset(("==",)), False
        if st == ON_RIGHT:
            return v.qual_of(frozenset(frame.tables)) & v.qual_as_value, False
        if st == F_ROWS_A:
            return frozenset(("a",)), False
        if st == F_ROWS_AFTER_A:
            if frame.b_names:
                return frozenset((",",)), False
            follow, ends = self._follow(frame, FROM)
            return follow | {","}, ends
        if st == F_ROWS_B_OPEN:
            return frozenset(("(",)), False
        if st == F_ROWS_B:
            return frozenset(("b",)), False
        if st == F_ROWS_DONE:
            return self._follow(frame, FROM)
        if st == V_START:
            return self.values | {"("}, False
        if st == IN_OPEN:
            return frozenset(("(",)), False
        if st == NOT_IN:
            return frozenset(("in",)), False
        if st == BT1:
            return self.values, False
        if st == BT2:
            return frozenset(("and",)), False
        if st == BT3:
            return self.upper_bounds, False
        if st == LK1:
            return self.strings, False
        if st == C_END:
            follow, ends = self._follow(frame, frame.clause)
            return follow | {"and", "or"}, ends
        if st in (G_BY, O_BY):
            return frozenset(("by",)), False
        if st == G_COL:
            return self._columns(frame, group=True), False
        if st == G_AFTER:
            follow, ends = self._follow(frame, GROUP)
            return follow | {","}, ends
        if st == O_DONE:
            return self._follow(frame, ORDER)
        if st == L_NUM:
            return self.limits, False
        if st == L_DONE:
            return self._follow(frame, LIMIT)
        raise AssertionError(f"unknown state {st}")

    def _on_possible(self, frame):
        """A join condition needs a right-hand column that does not read as a number."""
        return bool(self.vocab.qual_of(frozenset(frame.tables)) & self.vocab.qual_as_value)

    def _first_tables(self, frame):
        v = self.vocab
        if frame.mode == BARE:
            cands = frame.cands
        else:
            cands = v.tables
        if frame.need is not None:
            cands = cands & v.tables_with(frame.need)
        return [t for t, tid in v.table_tokens.items() if tid in cands]

    # transitions ------------------------------------------------------------------------------
    def _column_taken(self, frame, token, role):
        """The frame after a column token in the select list fixes or narrows its form."""
        v = self.vocab
        if token == TIME_NOW or frame.clause != FROM or frame.ctx != SEL:
            return frame
        if frame.mode == ROWS or (frame.mode == UNDECIDED and (token in v.a_tokens or token in v.b_tokens)):
            if role == 0:
                return frame.but(mode=ROWS, a_names=frame.a_names | {v.a_tokens[token]})
            return frame.but(mode=ROWS, b_names=frame.b_names | {v.b_tokens[token]})
        if token in v.qual_table:
            return frame.but(mode=QUAL, refs=frame.refs | {v.qual_table[token]})
        cands = frame.cands if frame.mode == BARE else v.tables
        if frame.need is not None and frame.mode == UNDECIDED:
            cands = cands & v.tables_with(frame.need)
        return frame.but(mode=BARE, cands=cands & v.name_tables[token])

    def _start_clause(self, frame, token):
        """Transition on a keyword that starts a clause, an IUE operator or ends FROM."""
        if frame.clause == FROM and frame.mode == UNDECIDED:
            frame = frame.but(mode=BARE if len(frame.tables) == 1 else QUAL)
        if token == "where":
            return frame.but(st=E_START, ctx=COND, clause=WHERE)
        if token == "group":
            return frame.but(st=G_BY, clause=GROUP)
        if token == "having":
            return frame.but(st=E_START, ctx=COND, clause=HAVING)
        if token == "order":
            return frame.but(st=O_BY, ctx=ORD, clause=ORDER)
        if token == "limit":
            return frame.but(st=L_NUM, clause=LIMIT)
        if token in IUE_OPS:
            return Frame(frame.role, frame.parent, no_rows=frame.no_rows)  # the right side reads its own tables
        raise AssertionError(token)

    def _step(self, frame, token):
        st, v = frame.st, self.vocab
        if st in FORCED_NEXT:  # a state whose next state does not depend on the token
            return frame.but(st=FORCED_NEXT[st])
        if st == S_START:
            return frame.but(st=E_START, ctx=SEL, clause=FROM)
        if st == E_START:
            if token in AGG_WORDS:
                return frame.but(st=E_AGG_LP, agg=AGG_WORDS[token])
            if token == "(":
                return frame.but(st=E_PAREN_IN, agg=0)
            return self._column_taken(frame, token, 0).but(st=E_AFTER1, role_col=0)
        if st in (E_IN, E_PAREN_IN):
            if token == "*":
                return frame.but(st=E_STAR)
            if token in AGG_WORDS:
                return frame.but(st=CU_AGG_LP, ret=E_IN_AFTER1, role_col=0)
            return self._column_taken(frame, token, 0).but(st=E_IN_AFTER1)
        if st == E_IN_AFTER1:
            if token == ")":
                return frame.but(st=E_DONE)
            return frame.but(st=CU_START, ret=E_IN_CLOSE, role_col=1)
        if st in (E_AFTER1, E_DONE):
            if token in CALC_WORDS and st == E_AFTER1:
                return frame.but(st=CU_START, ret=E_DONE, role_col=1)
            return self._after_expression(frame, token)
        if st == CU_START:
            if token in AGG_WORDS:
                return frame.but(st=CU_AGG_LP)
            return self._column_taken(frame, token, frame.role_col).but(st=frame.ret)
        if st == CU_AGG_COL:
            return self._column_taken(frame, token, frame.role_col).but(st=CU_AGG_RP)
        if st == CU_AGG_RP:
            return frame.but(st=frame.ret)
        if st == F_START:
            if token == "(":
                return Frame(SUB, frame.but(st=F_ROWS_A), need=frame.a_names, no_rows=True)
            return frame.but(st=F_AFTER_TABLE, tables=(v.table_tokens[token],))
        if st in (F_AFTER_TABLE, F_AFTER_JOIN, ON_AFTER):
            if token == "join":
                mode = QUAL if frame.mode == UNDECIDED else frame.mode
                return frame.but(st=F_JOIN_TABLE, mode=mode)
            if token in ("on", "and"):
                return frame.but(st=ON_LEFT)
            return self._start_clause(frame, token)
        if st == F_JOIN_TABLE:
            return frame.but(st=F_AFTER_JOIN, tables=frame.tables + (v.table_tokens[token],))
        if st == F_ROWS_AFTER_A:
            if token == ",":
                return frame.but(st=F_ROWS_B_OPEN)
            return self._start_clause(frame, token)
        if st == F_ROWS_B_OPEN:
            return Frame(SUB, frame.but(st=F_ROWS_B), need=frame.b_names, no_rows=True)
        if st == F_ROWS_DONE:
            return self._start_clause(frame, token)
        if st == V_START:
            if token == "(":
                return Frame(SUB, frame.but(st=C_END), no_rows=frame.no_rows)
            return frame.but(st=C_END)
        if st == IN_OPEN:
            return Frame(SUB, frame.but(st=C_END), no_rows=frame.no_rows)
        if st == C_END:
            if token in ("and", "or"):
                return frame.but(st=E_START, ctx=COND)
            return self._start_clause(frame, token)
        if st == G_AFTER:
            if token == ",":
                return frame.but(st=G_COL)
            return self._start_clause(frame, token)
        if st == O_BY:
            return frame.but(st=E_START, ctx=ORD)
        if st == O_DONE:
            return self._start_clause(frame, token)
        if st == L_DONE:
            return self._start_clause(frame, token)
        raise AssertionError(f"unknown state {st}")

    def _after_expression(self, frame, token):
        if frame.ctx == SEL:
            if token == ",":
                return frame.but(st=E_START, agg=0)
            return frame.but(st=F_START)  # "from"
        if frame.ctx == ORD:
            if token == ",":
                return frame.but(st=E_START, agg=0)
            return frame.but(st=O_DONE)  # asc / desc
        if token in COMPARISONS:
            return frame.but(st=V_START)
        return frame.but(st={"in": IN_OPEN, "not": NOT_IN, "between": BT1, "like": LK1}[token])


def _is_value_token(token):
    """A value literal the scorer reads back as one value: a quoted string without quotes inside,
    or a bare number."""
    if not isinstance(token, str) or not token:
        return False
    if token.startswith('"'):
        return len(token) >= 2 and token.endswith('"') and '"' not in token[1:-1] and "'" not in token
    try:
        tokens = sqlmod.tokenize("== " + token)
    except sqlmod.SQLParseError:
        return False
    return len(tokens) == 2 and tokens[1].text == token and read_number(token) is not None


def force_decode(tokens, constraint):
    """Feed `tokens` through `constraint`; returns the index of the first token it refuses, or
    None when every token is allowed and the result is a complete query."""
    for i, token in enumerate(tokens):
        if token not in constraint.allowed():
            return i
        constraint.advance(token)
    return None if constraint.complete() else len(tokens)
