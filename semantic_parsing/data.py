"""DuSQL question files and the encoder input of a question with its database.

`load_records(path)` reads train/dev/test files: one JSON list of
`{"db_id", "question", "question_id", "sql_query" (or "query"), "sql"}`; test files have no SQL.
Bad records raise a DataError naming the file, the record's index and the field, or, with
on_error="skip", are dropped and counted. With `databases`, an unknown db_id or a gold SQL that
does not parse is such an error too.

`serialise(question, db, values, count_tokens, maxlen)` writes the database for the encoder:
    表名 : 列名 类型 , 列名 类型 = 值 | 值 ; 表名 : ...
(every table with its columns and types, and after a column the cells of it that the question
mentions). The input `[CLS] question [SEP] schema [SEP]` must fit `maxlen` tokens; when it does
not, the policy drops, in this order, until it fits:
  1. the column types;
  2. the columns that are not linked (name not in the question, no value shown) and are not
     keys, from tables that are not linked first, the last ones first;
  3. the tables that are not linked, the last ones first (a table is linked when the question
     names it or one of its columns is linked, or when foreign keys join it to two linked tables);
  4. the remaining unlinked key columns, then the linked columns, the last ones first;
  5. the end of the question.
Token counts are summed over pieces separated by spaces (BERT tokenises each piece apart), so a
`count_tokens(text)` call is made once per piece, not once per trial.

`encode(record, db, tokenizer, data_cfg, maxlen, ...)` makes the model's `Sample`: the source
`[CLS] question [SEP] database [SEP]` within maxlen - data.max_sql_len tokens, the question's value
candidates (what the decoder may write as values), and for training the gold SQL as wordpieces
(decode.target_ids), spelled with the gold values added to the candidates so that a question that
does not offer its gold value still trains every other token.
"""
import collections
from dataclasses import dataclass, field

from common.io import DataError, SkipCounter, read_json
from semantic_parsing import sql as sqlmod


@dataclass
class Example:
    question_id: str
    db_id: str
    question: str
    query: str = None   # gold SQL text (None in test files)
    sql: dict = None    # the file's structured sql, when it has one


def _text(record, key, path, where, required=True):
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and key == "question_id":
        value = str(value)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise DataError(path, None, "missing, empty or not a string", field=f"{where}.{key}")
    return value


def _example(record, index, path, labelled, databases):
    where = f"[{index}]"
    if not isinstance(record, dict):
        raise DataError(path, None, f"expected a JSON object, got {type(record).__name__}", field=where)
    qid = _text(record, "question_id", path, where)
    db_id = _text(record, "db_id", path, where)
    question = _text(record, "question", path, where)
    key = "sql_query" if "sql_query" in record else "query"
    query = _text(record, key, path, where, required=labelled)
    if query is not None and not query.strip():
        query = None
    sql = record.get("sql") if isinstance(record.get("sql"), dict) else None
    if databases is not None:
        if db_id not in databases:
            raise DataError(path, None, f"unknown db_id {db_id!r}", field=f"{where}.db_id")
        if query is not None:
            try:
                sqlmod.parse(query, databases[db_id])
            except sqlmod.SQLParseError as e:
                raise DataError(path, None, f"SQL does not parse: {e}", field=f"{where}.{key}") from None
    return Example(qid, db_id, question.strip(), query, sql)


def load_records(path, labelled=True, on_error="raise", databases=None):
    """(examples, skips) of one DuSQL JSON list file (see the module docstring)."""
    skips = SkipCounter(on_error)
    records = read_json(path)
    if not isinstance(records, list):
        raise DataError(path, None, "expected a JSON list of questions")
    examples, seen = [], {}
    for index, record in enumerate(records):
        try:
            example = _example(record, index, path, labelled, databases)
            if example.question_id in seen:
                raise DataError(path, None, f"duplicate question_id {example.question_id!r} "
                                f"(first at [{seen[example.question_id]}])", field=f"[{index}].question_id")
        except DataError as e:
            skips(e)
            continue
        seen[example.question_id] = index
        examples.append(example)
    return examples, skips


def texts(path):
    """Every question of a file (to build a vocabulary)."""
    examples, _ = load_records(path, labelled=False)
    return [e.question for e in examples]


# the encoder input --------------------------------------------------------------------------------

@dataclass
class Serialised:
    question: str           # segment A (maybe cut, step 5)
    schema: str             # segment B
    n_tokens: int           # tokens of [CLS] question [SEP] schema [SEP]
    columns: list           # column ids shown, in schema order
    tables: list            # table ids shown
    dropped: list = field(default_factory=list)  # what the budget policy dropped, in order

    @property
    def whole(self):
        return not self.dropped


def _links(question, db, shown):
    """Linked column ids and table ids (see the module docstring)."""
    columns = {c.id for c in db.columns[1:] if c.name in question or shown.get(c.id)}
    direct = {t for t, name in enumerate(db.table_names) if name in question}
    direct |= {db.columns[c].table for c in columns}
    neighbours = {}
    for a, b in db.foreign_keys:
        ta, tb = db.columns[a].table, db.columns[b].table
        neighbours.setdefault(ta, set()).add(tb)
        neighbours.setdefault(tb, set()).add(ta)
    bridges = {t for t, near in neighbours.items() if len(near & direct - {t}) >= 2}
    return columns, direct | bridges


def serialise(question, db, values, count_tokens, maxlen):
    """The encoder input of a question (see the module docstring).

    values: {column id: [cell strings]} to show (values.cells_in_question), or None.
    count_tokens: text -> number of tokens (without [CLS]/[SEP]).
    """
    shown = {cid: list(dict.fromkeys(v)) for cid, v in (values or {}).items() if v}
    linked_columns, linked_tables = _links(question, db, shown)
    keys = set(db.primary_keys) | {c for pair in db.foreign_keys for c in pair}
    budget = maxlen - 3
    cost = {}

    def tokens(text):
        if text not in cost:
            cost[text] = count_tokens(text) if text else 0
        return cost[text]

    def column_text(cid, typed):
        column = db.columns[cid]
        text = f"{column.name} {column.type}" if typed else column.name
        if shown.get(cid):
            text += " = " + " | ".join(shown[cid])
        return text

    def render(tables, columns, typed):
        parts = []
        for t in tables:
            mine = [column_text(c, typed) for c in db.table_columns(t) if c in columns]
            parts.append(f"{db.table_names[t]} : " + " , ".join(mine))
        return " ; ".join(parts)

    def size(tables, columns, typed):
        return sum(tokens(piece) for piece in render(tables, columns, typed).split(" "))

    question_tokens = sum(tokens(p) for p in question.split(" "))
    tables = list(range(len(db.table_names)))
    columns = set(range(1, len(db.columns)))
    typed, dropped = True, []

    def fits():
        return question_tokens + size(tables, columns, typed) <= budget

    if not fits():
        typed = False
        dropped.append("types")
    order = [c for t in reversed(tables) if t not in linked_tables for c in reversed(db.table_columns(t))]
    order += [c for t in reversed(tables) if t in linked_tables for c in reversed(db.table_columns(t))]
    for cid in order:  # step 2: unlinked non-key columns
        if fits():
            break
        if cid not in linked_columns and cid not in keys:
            columns.discard(cid)
            dropped.append(f"column {db.qualified_name(cid)}")
    for t in reversed(list(tables)):  # step 3: unlinked tables
        if fits():
            break
        if t not in linked_tables:
            tables.remove(t)
            dropped.append(f"table {db.table_names[t]}")
    for wanted in (lambda c: c not in linked_columns, lambda c: True):  # step 4
        for cid in order:
            if fits():
                break
            if cid in columns and db.columns[cid].table in tables and wanted(cid):
                columns.discard(cid)
                dropped.append(f"column {db.qualified_name(cid)}")
    text = question
    while question_tokens + size(tables, columns, typed) > budget and text:  # step 5
        text = text[:-1]
        question_tokens = sum(tokens(p) for p in text.split(" "))
        if "question end" not in dropped:
            dropped.append("question end")
    schema = render(tables, columns, typed)
    shown_columns = [c for t in tables for c in db.table_columns(t) if c in columns]
    return Serialised(text, schema, question_tokens + size(tables, columns, typed) + 3, shown_columns,
                      list(tables), dropped)


# model samples ------------------------------------------------------------------------------------

@dataclass
class Sample:
    """One question as the seq2seq model sees it."""
    question_id: str
    db_id: str
    source: list                  # [CLS] question [SEP] database [SEP] (wordpiece ids)
    values: frozenset             # value literals the decoder may write (the question's candidates)
    target: list = None           # wordpiece ids of the gold SQL, end marker included (decode.target_ids)

    def __len__(self):
        return len(self.source)


def question_values(question, db, data_cfg):
    """The question's value candidates (values.candidates) with the [data] switches."""
    from semantic_parsing import values
    return values.candidates(question, db, spans=data_cfg.value_spans, max_span=data_cfg.max_value_span,
                             likes=data_cfg.like_values, max_like=data_cfg.max_like_value)


def source_parts(record, db, tokenizer, data_cfg, maxlen):
    """(the question's value candidates, its Serialised source): the source encodes
    `[CLS] serialised.question [SEP] serialised.schema [SEP]`."""
    from semantic_parsing import values
    found = question_values(record.question, db, data_cfg)
    shown = values.cells_in_question(record.question, db, found)
    return found, serialise(record.question, db, shown, lambda text: len(tokenizer.encode_cached(text)),
                            maxlen - data_cfg.max_sql_len)


def encode(record, db, tokenizer, data_cfg, maxlen, start_state=None, lost=None):
    """A record -> Sample; with `start_state(values)` (a decode.SQLState factory) and a gold query,
    with its target. Returns None when the gold query cannot be a target (the reason is counted in
    `lost`): the decoder's language cannot write it, or it is longer than data.max_sql_len."""
    from semantic_parsing import decode, values
    found, serialised = source_parts(record, db, tokenizer, data_cfg, maxlen)
    source, _ = tokenizer.wrap(tokenizer.encode(serialised.question).ids, tokenizer.encode(serialised.schema).ids)
    sample = Sample(record.question_id, record.db_id, source, values.literals(found))
    if start_state is None or record.query is None:
        return sample
    lost = lost if lost is not None else collections.Counter()
    try:
        sql = sqlmod.parse(record.query, db)
        tokens = sqlmod.to_tokens(sql, db)
    except (sqlmod.SQLParseError, sqlmod.NotExpressible):
        lost["SQL outside the decoder's language"] += 1
        return None
    gold = values.gold_values(sql)
    if not gold <= sample.values:   # trained on all the same; predict cannot write it
        lost["gold value not among the question's candidates"] += 1
    try:
        sample.target = decode.target_ids(tokens, start_state(sample.values | gold))
    except decode.NotRepresentable:
        lost["SQL outside the decoder's language"] += 1
        return None
    if len(sample.target) > data_cfg.max_sql_len:
        lost["SQL longer than data.max_sql_len"] += 1
        return None
    return sample
