"""SQL tokens as wordpieces: spelling, the two end markers, reading back, finishing a cut query."""
import os
import random

import numpy as np
import pytest

from semantic_parsing import decode
from semantic_parsing.data import load_records
from semantic_parsing.grammar import detokenize, target_tokens
from semantic_parsing.metric import score
from semantic_parsing.sql import parse, to_sql
from semantic_parsing.values import candidates, literals

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "semantic_parsing")


@pytest.fixture(scope="module")
def spelling(tmp_path_factory):
    from common.tiny_bert import sample_texts, write_vocab
    from common.tokenize import OffsetTokenizer
    path = tmp_path_factory.mktemp("sql_vocab") / "vocab.txt"
    write_vocab(path, sample_texts(SAMPLES))
    return decode.Spelling(OffsetTokenizer(str(path)))


def state(db, spelling, values=()):
    return decode.new_state(db, values, spelling)


def ids_of(spelling, text):
    return [spelling.tokenizer.vocab[piece] for piece in text.split()]


def test_every_sample_query_is_spelled_and_read_back_exactly(dbs, spelling):
    gold, pred = {}, {}
    for split in ("train", "dev"):
        for record in load_records(os.path.join(SAMPLES, f"{split}.json"), databases=dbs)[0]:
            db = dbs[record.db_id]
            values = literals(candidates(record.question, db, spans=True, likes=True))
            tokens = target_tokens(record.query, db)
            ids = decode.target_ids(tokens, state(db, spelling, values))
            assert ids[-1] == spelling.end_id and spelling.end_id not in ids[:-1]
            read, whole = decode.read_back(ids, state(db, spelling, values))
            assert whole and read == tokens, record.question_id
            gold[record.question_id] = (record.query, record.db_id)
            pred[record.question_id] = detokenize(read)
    assert len(gold) == 85
    assert score(gold, pred, dbs)["exact_match"] == 1.0


def test_a_token_ends_by_itself_unless_a_longer_allowed_token_continues_it(dbs, spelling):
    db = dbs["城市经济"]
    prefix = "select count ( * ) from".split()
    short = decode.target_ids(prefix + ["城市"], state(db, spelling))
    long = decode.target_ids(prefix + ["城市年份数据"], state(db, spelling))
    mask = spelling.token_end_id
    assert short[-3:] == ids_of(spelling, "市 [MASK] [SEP]")           # 城市 | 城市年份数据
    assert mask not in long and long[-3:] == ids_of(spelling, "数 据 [SEP]")
    walk = state(db, spelling)
    for i in short[:-4]:
        walk.advance(i)
    assert set(walk.allowed_ids()) == set(ids_of(spelling, "城 企"))
    walk.advance(short[-4])
    walk.advance(short[-3])
    assert set(walk.allowed_ids()) == {mask, spelling.tokenizer.vocab["年"]}
    walk.advance(mask)
    assert walk.tokens[-1] == "城市" and walk.node is None


def test_the_query_ends_only_where_it_is_whole(dbs, spelling):
    db = dbs["手机市场"]
    walk = state(db, spelling)
    for token_id in decode.target_ids("select 型号 from 手机型号".split(), state(db, spelling))[:-1]:
        may_end = spelling.end_id in walk.allowed_ids()
        assert may_end == (walk.node is None and walk.constraint.complete())
        if not may_end:
            with pytest.raises(ValueError):
                walk.copy().advance(spelling.end_id)
        walk.advance(token_id)
    assert spelling.end_id in walk.allowed_ids()
    walk.advance(spelling.end_id)
    assert walk.done and len(walk.allowed_ids()) == 0


def test_copies_are_independent(dbs, spelling):
    db = dbs["手机市场"]
    walk = state(db, spelling)
    ids = decode.target_ids("select 型号 from 手机型号".split(), state(db, spelling))
    walk.advance(ids[0])
    copy = walk.copy()
    copy.advance(ids[1])
    assert walk.tokens == ["select"] and walk.node is None and copy.node is not None


def test_a_value_the_question_does_not_offer_cannot_be_written(dbs, spelling):
    db = dbs["手机市场"]
    tokens = 'select 型号 from 手机型号 where 国家 == "韩国"'.replace("国家", "型号").split()
    with pytest.raises(decode.NotRepresentable, match="not allowed"):
        decode.target_ids(tokens, state(db, spelling, ['"中国"']))
    assert decode.target_ids(tokens, state(db, spelling, ['"中国"', '"韩国"']))


def test_two_values_spelled_alike_read_as_the_first(dbs, spelling):
    db = dbs["手机市场"]
    values = ['"galaxy"', '"Galaxy"']
    head = "select 型号 from 手机型号 where 型号 ==".split()
    ids = decode.target_ids(head + ['"Galaxy"'], state(db, spelling, values))
    assert decode.read_back(ids, state(db, spelling, values))[0][-1] == '"Galaxy"'   # "G" < "g"
    with pytest.raises(decode.NotRepresentable, match="spelled like"):
        decode.target_ids(head + ['"galaxy"'], state(db, spelling, values))


@pytest.mark.parametrize("seed", range(4))
def test_any_allowed_walk_cut_anywhere_reads_back_as_a_whole_query(dbs, spelling, seed):
    rng = random.Random(seed)
    values = ['"北京"', "400", "0.6", '"%州%"', "3", "1", "10"]
    for db_id in sorted(dbs) * 6:
        db = dbs[db_id]
        walk, ids = state(db, spelling, values), []
        for _ in range(rng.randrange(0, 90)):
            allowed = walk.allowed_ids()
            assert len(allowed), f"dead end after {detokenize(walk.tokens)}"
            choice = int(rng.choice(list(allowed)))
            if choice == spelling.end_id:
                break
            walk.advance(choice)
            ids.append(choice)
        tokens, _ = decode.read_back(ids, state(db, spelling, values))
        sql = parse(detokenize(tokens), db)
        assert parse(to_sql(sql, db), db) == sql
        assert tokens[:len(walk.tokens)] == walk.tokens


def test_reading_stops_at_the_first_id_that_is_not_allowed(dbs, spelling):
    db = dbs["手机市场"]
    ids = decode.target_ids("select 型号 from 手机型号".split(), state(db, spelling))
    bad = spelling.tokenizer.vocab["[CLS]"]
    tokens, whole = decode.read_back(ids[:3] + [bad] + ids[3:], state(db, spelling))
    assert not whole and tokens[0] == "select" and parse(detokenize(tokens), db)


def test_allowed_ids_are_int32_arrays_and_cached(dbs, spelling):
    db = dbs["城市经济"]
    walk = state(db, spelling)
    first = walk.allowed_ids()
    assert isinstance(first, np.ndarray) and first.dtype == np.int32
    assert walk.copy().allowed_ids() is first
