"""Schema, validated loading (located errors / counted skips), windows and sparse targets."""
import json
import os
from collections import Counter

import numpy as np
import pytest

from common.io import DataError
from ie_relation.data import (MAIN, NO_WINDOW, OBJECT, SUBJECT, collate_targets, encode_record, load_records,
                              load_schema)

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "samples",
                       "ie_relation")


@pytest.fixture(scope="module")
def schema():
    return load_schema(os.path.join(SAMPLES, "schema.json"))


def test_schema_links_and_channels(schema):
    assert len(schema.slots) == 48
    assert sum(len(slots) for slots in schema.slots.values()) == 55
    assert schema.n_links == 48 + 2 * 7 and schema.n_channels == 2 + 2 * 62
    assert schema.slots["获奖"] == [MAIN, "inWork", "onDate", "period"]
    assert {(p, s, src) for p, s, src in schema.links if p == "饰演"} == \
        {("饰演", MAIN, "subject"), ("饰演", "inWork", "subject"), ("饰演", "inWork", MAIN)}
    channels = {schema.head_channel(link) for link in schema.links} | {schema.tail_channel(l) for l in schema.links}
    assert channels == set(range(2, schema.n_channels))


def test_samples_load_and_cover_what_the_issue_asks(schema):
    train, _ = load_records(os.path.join(SAMPLES, "train.json"), schema)
    dev, _ = load_records(os.path.join(SAMPLES, "dev.json"), schema)
    test, _ = load_records(os.path.join(SAMPLES, "test.json"), schema, labelled=False)
    assert len(train) >= 60 and len(dev) >= 20 and len(test) >= 20
    spos = [s for r in train for s in r["spo_list"]]
    assert {slot for s in spos for slot in s["object"]} == {MAIN, "inWork", "inArea", "onDate", "period"}
    shared = [r for r in train if len({(s["subject"], s["predicate"]) for s in r["spo_list"]}) < len(r["spo_list"])]
    assert len(shared) >= 5
    assert any("《" in r["text"] for r in train) and any(c.isascii() and c.isalpha() for r in train for c in r["text"])
    assert max(len(r["text"]) for r in train + dev + test) > 64


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


GOOD = json.dumps({"text": "《白鹭》的导演是林知远", "spo_list": [
    {"predicate": "导演", "subject": "白鹭", "object": {"@value": "林知远"}}]}, ensure_ascii=False)


@pytest.mark.parametrize("bad, field, message", [
    ('{"text": "abc", "spo_list": [', None, "not valid JSON"),
    ('{"text": "abc的导演是x", "spo_list": [{"predicate": "导师", "subject": "abc", "object": {"@value": "x"}}]}',
     "spo_list[0].predicate", "unknown predicate"),
    ('{"text": "abc的导演是x", "spo_list": [{"predicate": "导演", "subject": "abc", '
     '"object": {"@value": "x", "inWork": "abc"}}]}', "spo_list[0].object.inWork", "not in the schema"),
    ('{"text": "abc的导演是x", "spo_list": [{"predicate": "导演", "subject": "abc", "object": {"inWork": "x"}}]}',
     "spo_list[0].object", "'@value'"),
    ('{"text": "abc的导演是x", "spo_list": [{"predicate": "导演", "subject": ["abc"], "object": {"@value": "x"}}]}',
     "spo_list[0].subject", "must be a string"),
    ('{"spo_list": []}', "text", "missing"),
])
def test_a_line_that_is_not_a_record_raises_or_stays_as_a_placeholder(tmp_path, schema, bad, field, message):
    path = write_lines(tmp_path / "train.json", [GOOD, bad, GOOD.replace("白鹭", "白鹤")])
    with pytest.raises(DataError) as error:
        load_records(path, schema)
    assert (error.value.path, error.value.line, error.value.field) == (path, 2, field)
    assert message in str(error.value)
    records, skipped = load_records(path, schema, on_error="skip")
    assert len(skipped.skipped) == 1 and skipped.summary() == "1 record(s) skipped"
    # kept in place, with its text when it has one, so that every line is answered; no gold, no target
    text = json.loads(bad)["text"] if field and field != "text" else ""
    assert records[1] == {"text": text, "spo_list": [], "skipped": True}
    assert [r["text"] for r in records[::2]] == ["《白鹭》的导演是林知远", "《白鹤》的导演是林知远"]


def test_an_empty_spo_value_drops_that_spo_only(tmp_path, schema):
    # the official dev file, line 6417: one of seven SPOs has "object": {"@value": ""}
    text = "《白鹭》的导演是林知远，主演是沈青禾、周慕白，编剧是林知远"
    spos = [{"predicate": "导演", "subject": "白鹭", "object": {"@value": "林知远"}},
            {"predicate": "主演", "subject": "白鹭", "object": {"@value": "沈青禾"}},
            {"predicate": "主演", "subject": "白鹭", "object": {"@value": "周慕白"}},
            {"predicate": "编剧", "subject": "白鹭", "object": {"@value": ""}},
            {"predicate": "编剧", "subject": "白鹭", "object": {"@value": "林知远"}},
            {"predicate": "主演", "subject": "白鹭", "object": {"@value": None}},
            {"predicate": "主演", "subject": "白鹭", "object": {"@value": "陆云"}}]
    path = write_lines(tmp_path / "dev.json", [GOOD] * 2 + [json.dumps({"text": text, "spo_list": spos}, ensure_ascii=False)])
    for on_error in ("raise", "skip"):
        records, skips = load_records(path, schema, on_error=on_error)
        assert records[2]["spo_list"] == [spos[i] for i in (0, 1, 2, 4)]
        assert skips.summary() == (
            "3 SPOs dropped (line 3, field spo_list[3].object.@value: empty; line 3, field "
            "spo_list[5].object.@value: empty; line 3, field spo_list[6].object.@value: '陆云' does not occur "
            "in the text), 1 duplicate text (line 2, field text: same text as line 1 (a later line replaces an "
            "earlier one when scoring))")


def test_spaced_values_target_their_text_without_spaces(tmp_path, schema, tokenizer):
    text = "《白鹭》的导演是林知远"
    record = {"text": text, "spo_list": [{"predicate": "导演", "subject": "白鹭 ", "object": {"@value": " 林知远"}}]}
    path = write_lines(tmp_path / "train.json", [json.dumps(record, ensure_ascii=False)])
    records, skips = load_records(path, schema)
    assert records[0]["spo_list"] == record["spo_list"]  # the gold stays as given
    assert skips.summary().startswith("2 spaced values (line 1, field spo_list[0].subject: '白鹭 ': targets and "
                                      "predictions use '白鹭'")
    lost = Counter()
    [window] = encode_record(0, records[0], tokenizer, schema, maxlen=64, lost=lost)
    assert not +lost and (SUBJECT, 2, 3) in window.targets and (OBJECT, 9, 11) in window.targets


@pytest.fixture(scope="module")
def tokenizer(sample_vocab, tf):
    from common.tokenize import OffsetTokenizer
    return OffsetTokenizer(sample_vocab)


def test_targets_mark_every_spo_of_a_shared_subject_and_predicate(schema, tokenizer):
    text = "《白鹭》的主演是沈青禾和周慕白"
    record = {"text": text, "spo_list": [
        {"predicate": "主演", "subject": "白鹭", "object": {"@value": "沈青禾"}},
        {"predicate": "主演", "subject": "白鹭", "object": {"@value": "周慕白"}}]}
    [window] = encode_record(0, record, tokenizer, schema, maxlen=64)
    link = ("主演", MAIN, "subject")
    # positions are tokens + 1 ([CLS]); one token per character here
    assert (SUBJECT, 2, 3) in window.targets
    assert {(OBJECT, 9, 11), (OBJECT, 13, 15)} <= set(window.targets)
    assert {(schema.head_channel(link), 2, 9), (schema.head_channel(link), 2, 13)} <= set(window.targets)
    assert {(schema.tail_channel(link), 3, 11), (schema.tail_channel(link), 3, 15)} <= set(window.targets)
    batch = collate_targets([window, window], schema.n_channels)
    assert batch.shape == (2, schema.n_channels, 2, 2) and batch.dtype == np.int32
    assert sorted(map(tuple, batch[0, schema.head_channel(link)].tolist())) == [(2, 9), (2, 13)]
    assert batch[0, 4].tolist() == [[0, 0], [0, 0]]  # an empty channel is all padding


def test_long_text_windows_keep_only_whole_spos(schema, tokenizer):
    filler = "和" * 40
    text = f"白鹭的导演是林知远{filler}主演沈青禾"
    record = {"text": text, "spo_list": [
        {"predicate": "导演", "subject": "白鹭", "object": {"@value": "林知远"}},
        {"predicate": "主演", "subject": "白鹭", "object": {"@value": "沈青禾"}}]}
    lost = Counter()
    windows = encode_record(0, record, tokenizer, schema, maxlen=32, lost=lost)
    assert len(windows) > 1 and all(len(w) <= 32 for w in windows)
    assert lost == {NO_WINDOW: 1}  # 主演 spans 50 characters, more than a 30-token window
    director = schema.head_channel(("导演", MAIN, "subject"))
    actor = schema.head_channel(("主演", MAIN, "subject"))
    assert any(c == director for w in windows for c, _, _ in w.targets)
    assert not any(c == actor for w in windows for c, _, _ in w.targets)
    # the window that holds the object alone still marks it as an entity
    assert any((OBJECT, *span) in w.targets for w in windows for span in [(len(w) - 4, len(w) - 2)])
