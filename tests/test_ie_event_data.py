"""ie_event data: schema and record validation, sample-set coverage, windows and sparse targets."""
import json
import os

import pytest

from common.io import DataError
from ie_event import data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "ie_event")
W = "竞赛行为-胜负"


@pytest.fixture(scope="module")
def schema():
    return data.load_schema(os.path.join(SAMPLES, "event_schema.json"))


@pytest.fixture(scope="module")
def tokenizer(sample_vocab, tf):
    from common.tokenize import OffsetTokenizer
    return OffsetTokenizer(sample_vocab)


def _line(text="湖人击败勇士", event_type=W, role="胜者", argument="湖人", start=0, **extra):
    row = {"text": text, "id": "a1", "event_list": [{"event_type": event_type, "arguments": [
        {"role": role, "argument": argument, "argument_start_index": start, "alias": []}]}]}
    row.update(extra)
    return json.dumps(row, ensure_ascii=False)


def _file(tmp_path, *lines):
    path = tmp_path / "records.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("bad, field, message", [
    ({"event_type": "竞赛行为-飞天"}, "event_list[0].event_type", "unknown event type"),
    ({"role": "冠军"}, "event_list[0].arguments[0].role", "not a role of"),
    ({"start": 1}, "event_list[0].arguments[0].argument_start_index", "not at offset 1"),
    ({"argument": ""}, "event_list[0].arguments[0].argument", "empty"),
])
def test_bad_records_are_located(tmp_path, schema, bad, field, message):
    path = _file(tmp_path, _line(), _line(**bad))
    with pytest.raises(DataError) as caught:
        data.load_records(path, schema)
    assert caught.value.line == 2 and caught.value.field == field and message in str(caught.value)


def test_bad_json_is_located_or_skipped(tmp_path, schema):
    path = _file(tmp_path, _line(), "{not json", _line(role="冠军"), _line(text="快船击败湖人", argument="快船"))
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        data.load_records(path, schema)
    records, skips = data.load_records(path, schema, on_error="skip")
    assert [r.text for r in records] == ["湖人击败勇士", "快船击败湖人"] and len(skips.skipped) == 2


def test_unlabelled_skip_keeps_one_record_per_id(tmp_path, schema):
    path = _file(tmp_path, '{"id": "t1", "text": "湖人击败勇士"}', '{"id": "t2"}', '{"id": 3, "text": "x"}')
    with pytest.raises(DataError, match="line 2: field 'text'"):
        data.load_records(path, schema, labelled=False)
    records, _ = data.load_records(path, schema, labelled=False, on_error="skip")
    assert [(r.id, r.text) for r in records] == [("t1", "湖人击败勇士"), ("t2", ""), (3, "x")]


def test_schema_errors(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text('{"event_type": "a", "role_list": [{"role": "x"}]}\n{"event_type": "a", "role_list": []}\n')
    with pytest.raises(DataError, match="line 2: field 'event_type': event type 'a' listed twice"):
        data.load_schema(str(path))
    path.write_text('{"event_type": "a", "role_list": ["x"]}\n')
    with pytest.raises(DataError, match="line 1: field 'role_list'"):
        data.load_schema(str(path))


def test_samples_hold_the_hard_cases(schema, tokenizer):
    """The sample set exercises what a one-label-per-character tagger cannot: nested, crossing,
    one string in two roles, two events of one type, and texts longer than 64 tokens."""
    records = [r for name in ("train.json", "dev.json")
               for r in data.load_records(os.path.join(SAMPLES, name), schema)[0]]
    nested = crossing = two_roles = same_type_twice = 0
    for record in records:
        spans = {}
        for event in record.events:
            for arg in event.arguments:
                spans.setdefault((arg.start, arg.end), set()).add((event.event_type, arg.role))
        keys = list(spans)
        for a in keys:
            for b in keys:
                if a != b and a[0] <= b[0] and b[1] <= a[1]:
                    nested += 1
                if a[0] < b[0] < a[1] < b[1]:
                    crossing += 1
        two_roles += any(len(roles) > 1 for roles in spans.values())
        types = [e.event_type for e in record.events]
        same_type_twice += len(types) != len(set(types))
    long_texts = sum(len(tokenizer.encode(r.text)) > 64 for r in records)
    assert len(records) >= 80 and nested and crossing and two_roles and same_type_twice and long_texts >= 2
    test, _ = data.load_records(os.path.join(SAMPLES, "test1.json"), schema, labelled=False)
    assert len(test) >= 20


def test_targets_of_nested_spans_and_links(schema, tokenizer):
    text = "2019年NBA总决赛，猛龙队击败勇士队"
    record = data.Record("r", text, [data.Event(W, [
        data.Argument("时间", 0, 5, "2019年"), data.Argument("赛事名称", 0, 11, "2019年NBA总决赛"),
        data.Argument("胜者", 12, 15, "猛龙队")])])
    (window,) = data.encode_record(0, record, tokenizer, schema, maxlen=64)
    tokens = tokenizer.encode(text).tokens
    assert tokens[:7] == ["2019", "年", "nba", "总", "决", "赛", "，"]
    time_, name, winner = (schema.role_head[W, r] for r in ("时间", "赛事名称", "胜者"))
    head, tail = schema.head_link(W), schema.tail_link(W)
    # window positions are token index + 1 ([CLS] is position 0); links are (smaller, larger)
    assert set(window.targets) == {
        (time_, 1, 2), (name, 1, 6), (winner, 8, 10),
        (head, 1, 1), (tail, 2, 6), (head, 1, 8), (tail, 2, 10), (tail, 6, 10)}


def test_long_text_windows_and_collate(schema, tokenizer):
    text = "，".join(["湖人击败勇士"] * 12)
    record = data.Record("r", text, [data.Event(W, [data.Argument("胜者", 63, 65, "湖人")])])
    windows = data.encode_record(0, record, tokenizer, schema, maxlen=24)
    assert len(windows) > 3 and all(len(w.token_ids) <= 24 for w in windows)
    holding = [w for w in windows if w.targets]
    assert len(holding) == 2  # the argument lies whole in two overlapping windows
    (token_ids, segment_ids), targets = data.collate(windows, schema.n_heads)
    assert token_ids.shape == segment_ids.shape == (len(windows), 24)
    assert targets.shape == (len(windows), schema.n_heads, 1, 2)
    assert targets[windows.index(holding[0]), schema.role_head[W, "胜者"]].tolist() != [[0, 0]]
