"""Round trip gold -> training targets -> real decoder -> official metric, and the decoder's linking rules."""
import json
import os

import numpy as np
import pytest

from conftest import make_track
from ie_relation import metric
from ie_relation.data import MAIN, NO_WINDOW, OBJECT, SUBJECT, load_schema
from ie_relation.decode import entity_spans, window_spos

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "samples",
                       "ie_relation")


@pytest.fixture(scope="module")
def schema():
    return load_schema(os.path.join(SAMPLES, "schema.json"))


def sample_track(sample_vocab, *overrides):
    return make_track("ie_relation", f"data.dir={SAMPLES}", f"model.vocab_path={sample_vocab}", *overrides)


@pytest.mark.parametrize("split", ["train", "dev"])
def test_oracle_recovers_every_sample_spo(sample_vocab, split):
    track = sample_track(sample_vocab, "model.maxlen=128")
    records, _ = track.load_records(os.path.join(SAMPLES, f"{split}.json"))
    predictions = track.oracle(records)
    assert [p["text"] for p in predictions] == [r["text"] for r in records]
    assert track.score(records, predictions) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert not +track.lost


def test_oracle_with_windows_loses_only_spos_longer_than_a_window(sample_vocab):
    track = sample_track(sample_vocab, "model.maxlen=64")
    records, _ = track.load_records(os.path.join(SAMPLES, "train.json"))
    assert len(track.encode(records)) > len(records)  # the long sample texts need two windows at maxlen 64
    track.lost.clear()
    predictions = track.oracle(records)
    gold = sum(len({metric.spo_key(s) for s in r["spo_list"]}) for r in records)
    found = sum(len(p["spo_list"]) for p in predictions)
    assert found == gold - track.lost[NO_WINDOW] and track.lost[NO_WINDOW] >= 1
    assert track.score(records, predictions)["precision"] == 1.0


def test_oracle_command_line(tmp_path, sample_vocab, capsys):
    from ie_relation import oracle
    out = tmp_path / "oracle.json"
    oracle.main(["--gold", os.path.join(SAMPLES, "dev.json"), "--out", str(out), "--vocab", sample_vocab,
                 "model.maxlen=128"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["f1"] == 1.0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 20


def cells(schema, link, a, b):
    """Head-head and tail-tail cells linking span a to span b."""
    return {(schema.head_channel(link), a[0], b[0]), (schema.tail_channel(link), a[1], b[1])}


def decode_cells(schema, entities, links, n_positions, max_spos=256, max_spans=64):
    """window_spos of the dense scores that are positive exactly on `entities | links` (a window of
    n_positions tokens plus [CLS] and [SEP])."""
    scores = np.full((schema.n_channels, n_positions + 2, n_positions + 2), -1.0, dtype="float32")
    for channel, a, b in entities | links:
        scores[channel, a, b] = 1.0
    return window_spos(scores, n_positions, schema, max_spans, max_spos)


def spo(predicate, subject, **slots):
    return (predicate, subject, tuple(sorted(slots.items())))


def test_decoder_keeps_several_objects_of_one_subject_and_predicate(schema):
    film, actor1, actor2 = (1, 2), (5, 7), (9, 10)
    entities = {(SUBJECT, *film), (OBJECT, *actor1), (OBJECT, *actor2)}
    link = ("主演", MAIN, "subject")
    links = cells(schema, link, film, actor1) | cells(schema, link, film, actor2)
    found = decode_cells(schema, entities, links, n_positions=12)
    assert found == [spo("主演", film, **{MAIN: actor1}), spo("主演", film, **{MAIN: actor2})]


def test_decoder_needs_both_head_and_tail_links(schema):
    film, actor = (1, 2), (5, 7)
    link = ("主演", MAIN, "subject")
    entities = {(SUBJECT, *film), (OBJECT, *actor)}
    heads_only = {(schema.head_channel(link), 1, 5)}
    assert decode_cells(schema, entities, heads_only, 12) == []
    # a span that touches [CLS] (0) or lies past the last token is never decoded
    assert decode_cells(schema, {(SUBJECT, 0, 2), (OBJECT, *actor)}, cells(schema, link, (0, 2), actor), 12) == []
    assert decode_cells(schema, entities, cells(schema, link, film, actor), n_positions=6) == []
    assert decode_cells(schema, entities, cells(schema, link, film, actor), n_positions=7) == \
        [spo("主演", film, **{MAIN: actor})]


def test_decoder_attaches_extra_slots_linked_from_subject_and_object(schema):
    person, award1, award2, work1, work2, date = (1, 2), (4, 6), (8, 9), (11, 12), (14, 15), (17, 18)
    entities = {(SUBJECT, *person)} | {(OBJECT, *s) for s in (award1, award2, work1, work2, date)}
    main = ("获奖", MAIN, "subject")
    in_work_s, in_work_o = ("获奖", "inWork", "subject"), ("获奖", "inWork", MAIN)
    date_s, date_o = ("获奖", "onDate", "subject"), ("获奖", "onDate", MAIN)
    links = (cells(schema, main, person, award1) | cells(schema, main, person, award2)
             | cells(schema, in_work_s, person, work1) | cells(schema, in_work_o, award1, work1)
             | cells(schema, in_work_s, person, work2) | cells(schema, in_work_o, award2, work2)
             | cells(schema, date_s, person, date) | cells(schema, date_o, award2, date))
    found = decode_cells(schema, entities, links, 20)
    # each award keeps its own work; only award2 is linked to the date
    assert found == [spo("获奖", person, **{MAIN: award1, "inWork": work1}),
                     spo("获奖", person, **{MAIN: award2, "inWork": work2, "onDate": date})]


def all_positive_scores(schema, size, seed=0):
    """An untrained model: every cell of every channel positive, a few entity cells higher."""
    scores = np.random.default_rng(seed).uniform(1.0, 2.0, (schema.n_channels, size, size)).astype("float32")
    scores[SUBJECT, 5, 6] = 3.0
    return scores


def test_an_all_positive_window_decodes_fast_within_its_caps(schema):
    import time
    scores = all_positive_scores(schema, 256)
    heads, tails = entity_spans(scores, SUBJECT, 254, 0.0, max_spans=8)
    assert len(heads) == 8 and (5, 6) in zip(heads.tolist(), tails.tolist())  # the best are kept
    assert heads.tolist() == sorted(heads.tolist())  # then listed by position
    assert all(1 <= h <= t <= 254 for h, t in zip(heads.tolist(), tails.tolist()))  # never [CLS] / [SEP]
    started = time.perf_counter()
    for _ in range(10):
        found = window_spos(scores, 254, schema, max_spans=64, max_spos=256)
    assert len(found) == 256 and (time.perf_counter() - started) / 10 < 0.1
    # everything linked to everything: the slot products stop at the cap
    assert len(window_spos(scores, 254, schema, max_spans=64, max_spos=50)) == 50
