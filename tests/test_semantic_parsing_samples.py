"""The sample DuSQL files: structures equal the parser's, every component is covered, and the
oracle (gold -> target tokens -> constrained decoding -> SQL) scores 1.0 on every sample."""
import json
import os

import pytest

from semantic_parsing.data import load_records
from semantic_parsing.grammar import Constraint, Vocabulary, detokenize, force_decode, target_tokens
from semantic_parsing.metric import score
from semantic_parsing.sql import AGG_OPS, CALC_OPS, COND_OPS, IUE_OPS, parse
from semantic_parsing.values import candidates, gold_values, literals

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "semantic_parsing")


@pytest.fixture(scope="module")
def labelled(dbs):
    return [e for split in ("train", "dev") for e in load_records(os.path.join(SAMPLES, f"{split}.json"), databases=dbs)[0]]


def test_sql_fields_equal_the_parsers_structure(dbs, labelled):
    for example in labelled:
        assert example.sql == parse(example.query, dbs[example.db_id]), example.question_id
    assert len(labelled) + len(json.load(open(os.path.join(SAMPLES, "test.json"), encoding="utf-8"))) >= 80


def components(sql, found):
    found.update(f"agg:{AGG_OPS[a]}" for a, _ in sql["select"] if a)
    found.update(f"agg:{AGG_OPS[c[0]]}" for c in sql["having"][::2] if c[0])
    units = [u for _, u in sql["select"]] + [c[2] for c in sql["where"][::2]]
    found.update(f"calc:{CALC_OPS[u[0]]}" for u in units if u[0])
    found.update("time_now" for u in units if u[1][1] == "TIME_NOW")
    for cond in sql["where"][::2]:
        found.add(f"cond:{COND_OPS[cond[1]]}")
        if isinstance(cond[3], dict):
            found.add("nested")
            components(cond[3], found)
    found.update(c for c in sql["where"][1::2])
    for key, name in (("groupBy", "group"), ("having", "having"), ("orderBy", "order")):
        if sql[key]:
            found.add(name)
    if sql["limit"] is not None:
        found.add("limit")
    units = sql["from"]["table_units"]
    if len(units) > 1 and units[0][0] == "table_unit":
        found.add("join")
    if units[0][0] == "sql":
        found.add("row calculation")
    for op in IUE_OPS:
        if sql[op]:
            found.add(op)
    return found


def test_the_samples_cover_every_component(labelled):
    found = set()
    for example in labelled:
        components(example.sql, found)
    expected = {f"agg:{a}" for a in AGG_OPS[1:]} | {f"calc:{c}" for c in CALC_OPS[1:]} | \
        {f"cond:{c}" for c in COND_OPS} | {"and", "or", "nested", "group", "having", "order", "limit", "join",
                                           "row calculation", "time_now", *IUE_OPS}
    assert expected <= found, expected - found


def test_oracle_scores_one_on_every_sample(dbs, labelled):
    vocabularies = {db_id: Vocabulary(db) for db_id, db in dbs.items()}
    gold, pred = {}, {}
    for example in labelled:
        db = dbs[example.db_id]
        tokens = target_tokens(example.query, db)
        constraint = Constraint(db, gold_values(example.sql), vocabulary=vocabularies[example.db_id])
        assert force_decode(tokens, constraint) is None, (example.question_id, detokenize(tokens))
        gold[example.question_id] = (example.query, example.db_id)
        pred[example.question_id] = detokenize(constraint.tokens)
    assert score(gold, pred, dbs) == {"exact_match": 1.0, "exact_match_no_value": 1.0, "execution": None, "parsed": 1.0}


def test_value_candidates_of_the_questions_hold_every_gold_value(dbs, labelled):
    for example in labelled:
        db = dbs[example.db_id]
        found = literals(candidates(example.question, db, spans=True, likes=True)) | {"1"}
        assert gold_values(example.sql) <= found, example.question_id
