"""Manual check of the DuSQL SQL layer on real databases (not a test).

    python bench/dusql_check.py QUERIES --schema db_schema.json [--content db_content.json] [--vocab vocab.txt]

QUERIES holds `db_id<TAB>SQL` lines written by hand over the databases of SCHEMA. For each query:
does it parse, is SQL -> structure -> SQL -> structure stable, do its canonical target tokens pass
the decoding constraint (with the query's own values), does the decoded SQL score 1.0 against the
query, and (with --content) does it run on SQLite. Then the constraint's cost per decoding step
(allowed() + advance(), and copy()), and with --vocab (a BERT vocab.txt): how many schemas of SCHEMA
fit whole into 512, 384 (the track's default maxlen 512 less max_sql_len 128) and 256 tokens next to a
question (data.serialise's policy, no values); whether each query also goes through the track's
wordpiece decoder (semantic_parsing.decode: spelled, read back to the same tokens, the query's own
values offered); and how many table / column names of SCHEMA the decoder cannot write because
another name of the same kind is spelled with the same wordpieces (the tokenizer lower-cases and
drops spaces), or hold a character outside the vocabulary.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from semantic_parsing import data, grammar, metric, sql as sqlmod, values  # noqa: E402
from semantic_parsing.schema import load_databases  # noqa: E402


def read_queries(path):
    """The (db_id, SQL text) lines of a queries file (tab-separated)."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def parsed_queries(lines, dbs):
    """(db, parsed SQL) of the lines that parse (check_queries reports the others)."""
    for db_id, text in lines:
        db = dbs[db_id]
        try:
            yield db, sqlmod.parse(text, db)
        except sqlmod.SQLParseError:
            continue


def check_queries(path, dbs, executor):
    rows, failures = [], 0
    for db_id, text in read_queries(path):
        db = dbs[db_id]
        row = {"db_id": db_id, "sql": text}
        try:
            sql = sqlmod.parse(text, db)
        except sqlmod.SQLParseError as e:
            row["parse"] = f"FAIL {e}"
            rows.append(row)
            failures += 1
            continue
        row["parse"] = "ok"
        canonical = sqlmod.to_sql(sql, db)
        row["round_trip"] = "ok" if sqlmod.parse(canonical, db) == sql else "FAIL"
        tokens = sqlmod.to_tokens(sql, db)
        constraint = grammar.Constraint(db, values.gold_values(sql))
        refused = grammar.force_decode(tokens, constraint)
        decoded = grammar.detokenize(constraint.tokens)
        row["oracle"] = "ok" if refused is None and metric.match(sqlmod.parse(decoded, db), sql, db) \
            else f"FAIL at token {refused}: {tokens[refused] if refused is not None and refused < len(tokens) else ''}"
        row["canonical"] = canonical
        if executor is not None:
            try:
                row["rows"] = len(executor.run(db_id, sql))
            except Exception as e:  # a report, not a crash
                row["rows"] = f"FAIL {e}"
        failures += any(str(v).startswith("FAIL") for v in row.values())
        rows.append(row)
    return rows, failures


def constraint_speed(path, dbs, repeats=20):
    cases = [(db, grammar.Vocabulary(db), sqlmod.to_tokens(sql, db), values.gold_values(sql))
             for db, sql in parsed_queries(read_queries(path), dbs)]
    steps, start = 0, time.perf_counter()
    for _ in range(repeats):
        for db, vocab, tokens, found in cases:
            c = grammar.Constraint(db, found, vocabulary=vocab)
            for token in tokens:
                c.allowed()
                c.advance(token)
                steps += 1
    per_step = (time.perf_counter() - start) / steps * 1e6
    copies, start = 0, time.perf_counter()
    for db, vocab, tokens, found in cases:
        c = grammar.Constraint(db, found, vocabulary=vocab)
        for token in tokens:
            for _ in range(10):
                c.copy()
                copies += 1
            c.advance(token)
    per_copy = (time.perf_counter() - start) / copies * 1e6
    start = time.perf_counter()
    for db in dbs.values():
        grammar.Vocabulary(db)
    per_vocab = (time.perf_counter() - start) / len(dbs) * 1e3
    return {"steps": steps, "us_per_step": round(per_step, 1), "us_per_copy": round(per_copy, 2),
            "ms_per_vocabulary": round(per_vocab, 2)}


def schema_fit(dbs, vocab_path):
    from common.tokenize import OffsetTokenizer
    tokenizer = OffsetTokenizer(vocab_path)

    def count(text):
        return len(tokenizer.encode(text).ids)

    question = "哪些城市的人口超过了一千万并且GDP排在全国前十名，给出它们的名字和所在省份"  # 30+ tokens
    q_tokens = count(question)
    sizes = {}
    for db_id, db in dbs.items():
        full = data.serialise("", db, {}, count, 100000)
        bare = data.serialise("", db, {}, count, full.n_tokens - 1) if full.n_tokens > 3 else full
        sizes[db_id] = (full.n_tokens - 3, bare.n_tokens - 3 if bare.dropped == ["types"] else None)
    report = {"question_tokens": q_tokens, "schema_tokens_median": statistics.median(s for s, _ in sizes.values()),
              "schema_tokens_max": max(s for s, _ in sizes.values())}
    for maxlen in (512, 384, 256):
        for q in (0, q_tokens):
            fits = sum(full + q + 3 <= maxlen for full, _ in sizes.values())
            untyped = sum((bare or full) + q + 3 <= maxlen for full, bare in sizes.values())
            report[f"maxlen {maxlen}, question {q} tokens: whole with types / without types"] = \
                f"{fits} / {untyped} of {len(sizes)}"
        policy = [data.serialise(question, db, {}, count, maxlen) for db in dbs.values()]
        report[f"maxlen {maxlen}: policy keeps every column for"] = \
            f"{sum(len(p.columns) == len(db.columns) - 1 for p, db in zip(policy, dbs.values()))} of {len(dbs)}"
    return report


def wordpiece_check(path, dbs, vocab_path):
    """Queries that pass the wordpiece decoder, and names it cannot write (see the docstring)."""
    from common.tokenize import OffsetTokenizer
    from semantic_parsing import decode
    spelling = decode.Spelling(OffsetTokenizer(vocab_path))
    lines = read_queries(path)
    passed, lengths = 0, []
    for db, sql in parsed_queries(lines, dbs):
        tokens, found = sqlmod.to_tokens(sql, db), values.gold_values(sql)
        try:
            ids = decode.target_ids(tokens, decode.new_state(db, found, spelling))
        except decode.NotRepresentable:
            continue
        read, whole = decode.read_back(ids, decode.new_state(db, found, spelling))
        passed += whole and metric.match(sqlmod.parse(grammar.detokenize(read), db), sql, db)
        lengths.append(len(ids))
    shadowed = unknown = total = 0
    for db in dbs.values():
        vocab = grammar.Vocabulary(db)
        for kind in (vocab.table_tokens, vocab.name_tables, vocab.qual_table):
            trie = decode.Trie(frozenset(kind), spelling)
            readable = set()
            stack = [trie.root]
            while stack:
                node = stack.pop()
                if node.token is not None:
                    readable.add(node.token)
                stack.extend(node.children.values())
            total += len(kind)
            shadowed += len(kind) - len(readable)
            unknown += sum(spelling.tokenizer.unk_id in spelling.ids(t) for t in kind)
    return {"queries through the wordpiece decoder": f"{passed} of {len(lines)}",
            "SQL wordpieces per query (min / median / max)":
                f"{min(lengths)} / {statistics.median(lengths)} / {max(lengths)}" if lengths else "-",
            "names the wordpiece decoder cannot write (spelled like another)": f"{shadowed} of {total}",
            "names with a character outside the vocabulary ([UNK])": f"{unknown} of {total}"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("queries")
    parser.add_argument("--schema", required=True)
    parser.add_argument("--content")
    parser.add_argument("--vocab")
    args = parser.parse_args()
    dbs = load_databases(args.schema, args.content)
    executor = None
    if args.content:
        from semantic_parsing.execute import Executor
        executor = Executor(dbs, args.content, os.path.join(tempfile.mkdtemp(), "sqlite"))
    rows, failures = check_queries(args.queries, dbs, executor)
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    vocabularies = [grammar.Vocabulary(db) for db in dbs.values()]
    hidden = sum(f"{db.table_names[c.table]}.{c.name}" not in v.qual_table
                 for db, v in zip(dbs.values(), vocabularies) for c in db.columns[1:])
    summary = {"queries": len(rows), "failures": failures,
               "columns the constraint cannot write": f"{hidden} of {sum(len(d.columns) - 1 for d in dbs.values())}",
               "tables the constraint cannot write": sum(len(d.table_names) - len(v.table_tokens)
                                                         for d, v in zip(dbs.values(), vocabularies)),
               **constraint_speed(args.queries, dbs)}
    if args.vocab:
        summary.update(schema_fit(dbs, args.vocab))
        summary.update(wordpiece_check(args.queries, dbs, args.vocab))
    print(json.dumps(summary, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
