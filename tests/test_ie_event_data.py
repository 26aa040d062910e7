"""ie_event data: schema and record validation, sample-set coverage, windows and sparse targets."""
import json
import os
from collections import Counter

import pytest

from common.io import DataError
from ie_event import data, decode

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


def _line(text="湖人击败勇士", event_type=W, role="胜者", argument="湖人", start=0, id="a1", **extra):
    row = {"text": text, "id": id, "event_list": [{"event_type": event_type, "arguments": [
        {"role": role, "argument": argument, "argument_start_index": start, "alias": []}]}]}
    row.update(extra)
    return json.dumps(row, ensure_ascii=False)


def _file(tmp_path, *lines):
    path = tmp_path / "records.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _record_line(text, events, id="a1"):
    return json.dumps({"text": text, "id": id, "event_list": events}, ensure_ascii=False)


def _arg(role, argument, start):
    return {"role": role, "argument": argument, "argument_start_index": start, "alias": []}


@pytest.mark.parametrize("bad, field, message", [
    ({"event_type": "竞赛行为-飞天"}, "event_list[0].event_type", "unknown event type"),
    ({"role": "冠军"}, "event_list[0].arguments[0].role", "not a role of"),
    ({"argument_start_index": 1}, "event_list[0].arguments[0].argument_start_index", "not at offset 1"),
    ({"argument_start_index": "0"}, "event_list[0].arguments[0].argument_start_index", "integer"),
    ({"argument": ""}, "event_list[0].arguments[0].argument", "empty"),
    ({"argument": " ", "argument_start_index": 2}, "event_list[0].arguments[0].argument", "only spaces"),
    ({"arguments": None}, "event_list[0].arguments", "not a list"),
])
def test_a_bad_part_is_dropped_counted_and_named_the_record_kept(tmp_path, schema, bad, field, message):
    """Real data is dirty: one bad argument (or event) must not cost its record, nor stop training."""
    text = "湖人 击败勇士"
    first = {"event_type": W, "arguments": [_arg("胜者", "湖人", 0)]}
    for key in ("event_type", "arguments"):
        first[key] = bad.pop(key, first[key])
    first["arguments"] = first["arguments"] and [{**first["arguments"][0], **bad}]
    second = {"event_type": W, "arguments": [_arg("败者", "勇士", 5)]}
    path = _file(tmp_path, _line(), _record_line(text, [first, second], id="a2"))
    records, report = data.load_records(path, schema)  # on_error = "raise": still no error
    assert [r.id for r in records] == ["a1", "a2"]
    kept = [(e.event_type, a.role, a.text) for e in records[1].events for a in e.arguments]
    assert kept == [(W, "败者", "勇士")]
    (error,) = report.dropped
    assert (error.line, error.field) == (2, field) and message in str(error)
    summary = report.summary()
    assert f"1 bad part(s) dropped, their records kept (line 2 field '{field}'" in summary and message in summary
    assert "\n" not in summary and not report.skipped


def test_a_malformed_alias_is_dropped_the_argument_kept(tmp_path, schema):
    path = _file(tmp_path, _line().replace('"alias": []', '"alias": "湖人队"'))
    (record,), report = data.load_records(path, schema)
    assert [(a.text, a.alias) for a in record.events[0].arguments] == [("湖人", [])]
    assert report.dropped[0].field == "event_list[0].arguments[0].alias"


def test_the_summary_names_the_first_few_and_counts_the_rest(tmp_path, schema):
    lines = [_line(start=1, id=f"r{k}") for k in range(5)]  # each argument is not at its offset
    _, report = data.load_records(_file(tmp_path, *lines), schema)
    summary = report.summary()
    assert summary.startswith("5 bad part(s) dropped") and "line 1 field" in summary and "line 3 field" in summary
    assert "line 4 field" not in summary and "2 more" in summary


@pytest.mark.parametrize("line, field", [
    ("{not json", None),
    ('{"text": "湖人击败勇士", "event_list": []}', "id"),
    ('{"id": null, "text": "湖人击败勇士", "event_list": []}', "id"),
    ('{"id": "b", "text": 5, "event_list": []}', "text"),
    ('{"id": "b", "text": "湖人击败勇士", "event_list": {}}', "event_list"),
])
def test_a_line_that_is_no_record_follows_on_error(tmp_path, schema, sample_vocab, line, field):
    path = _file(tmp_path, _line(), line, _line(text="快船击败湖人", argument="快船", id="c"))
    with pytest.raises(DataError) as caught:
        data.load_records(path, schema)
    assert caught.value.line == 2 and caught.value.field == field
    records, report = data.load_records(path, schema, on_error="skip")
    assert len(report.skipped) == 1 and report.summary() == "1 record(s) skipped"
    if field in ("id", None):  # no usable id (or no JSON at all): nothing to answer it with
        assert [(r.id, r.skipped) for r in records] == [("a1", False), ("c", False)]
        return
    # the skipped line stays as a placeholder (its id is readable): predict and the oracle answer it
    assert [(r.id, r.text, r.skipped) for r in records] == [
        ("a1", "湖人击败勇士", False), ("b", "", True), ("c", "快船击败湖人", False)]
    from common.tokenize import OffsetTokenizer
    windows = data.encode_records(records, OffsetTokenizer(sample_vocab), schema, 64)
    assert sorted({w.record for w in windows}) == [0, 2]  # a placeholder gives no window, no target


def test_unlabelled_skip_keeps_one_record_per_id(tmp_path, schema):
    path = _file(tmp_path, '{"id": "t1", "text": "湖人击败勇士"}', '{"id": "t2"}', '{"id": 3, "text": "x"}')
    with pytest.raises(DataError, match="line 2: field 'text'"):
        data.load_records(path, schema, labelled=False)
    records, _ = data.load_records(path, schema, labelled=False, on_error="skip")
    assert [(r.id, r.text) for r in records] == [("t1", "湖人击败勇士"), ("t2", ""), (3, "x")]


def test_a_repeated_id_is_one_sentence_read_once(tmp_path, schema):
    """The official ids are MD5s of the text: a repeated id with the same text is the sentence again."""
    path = _file(tmp_path, '{"id": "t1", "text": "湖人击败勇士"}', '{"id": "t2", "text": "快船击败湖人"}',
                 '{"id": "t1", "text": "湖人击败勇士"}')
    records, report = data.load_records(path, schema, labelled=False)
    assert [r.id for r in records] == ["t1", "t2"] and not report.skipped
    assert report.summary() == "1 line(s) repeating an earlier id and text, read once (line 3 = line 1)"


def test_a_repeated_id_with_another_text_names_both_lines(tmp_path, schema):
    path = _file(tmp_path, '{"id": "t1", "text": "湖人击败勇士"}', '{"id": "t2", "text": "快船击败湖人"}',
                 '{"id": "t1", "text": "勇士击败湖人"}')
    with pytest.raises(DataError, match="line 3: field 'id': id 't1' already used at line 1 with a different text"):
        data.load_records(path, schema, labelled=False)
    records, report = data.load_records(path, schema, labelled=False, on_error="skip")
    assert [(r.id, r.text) for r in records] == [("t1", "湖人击败勇士"), ("t2", "快船击败湖人")]
    assert len(report.skipped) == 1


def test_surrounding_spaces_are_stripped_for_the_target_kept_for_scoring(tmp_path, schema, tokenizer):
    """DuEE dev holds arguments like " 利物浦" (the text has a space before the name): the target is
    the stripped span, which a token span reproduces; the written argument is still what is scored."""
    text = "8月1日讯 利物浦击败 切尔西 "
    path = _file(tmp_path, _record_line(text, [{"event_type": W, "arguments": [
        _arg("胜者", " 利物浦", 5), _arg("败者", " 切尔西 ", 11)]}]))
    (record,), report = data.load_records(path, schema)
    winner, loser = record.events[0].arguments
    assert (winner.text, text[winner.start:winner.end]) == (" 利物浦", "利物浦")
    assert (loser.text, text[loser.start:loser.end]) == (" 切尔西 ", "切尔西")
    assert not report.summary()
    lost = Counter()
    (window,) = data.encode_record(0, record, tokenizer, schema, maxlen=64, lost=lost)
    assert lost[data.SPACED] == 2 and lost[data.INEXACT] == 0
    rows = decode.decode_windows([record], [window], [(window.targets, None)], schema)
    assert [a["argument"] for a in rows[0]["event_list"][0]["arguments"]] == ["利物浦", "切尔西"]


def test_schema_errors(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text('{"event_type": "a", "role_list": [{"role": "x"}]}\n{"event_type": "a", "role_list": []}\n')
    with pytest.raises(DataError, match="line 2: field 'event_type': event type 'a' listed twice"):
        data.load_schema(str(path))
    path.write_text('{"event_type": "a", "role_list": ["x"]}\n')
    with pytest.raises(DataError, match="line 1: field 'role_list'"):
        data.load_schema(str(path))


def test_samples_hold_the_hard_cases(schema, tokenizer):
    """The sample set exercises what a one-label-per-character tagger cannot (nested, crossing, one
    string in two roles, two events of one type, texts longer than 64 tokens) and what argument cliques
    alone cannot write as often as gold does: two events with the same arguments, an event whose
    arguments all lie in another event of its type, and one argument in three events of one type."""
    records = [r for name in ("train.json", "dev.json")
               for r in data.load_records(os.path.join(SAMPLES, name), schema)[0]]
    nested = crossing = two_roles = same_type_twice = identical = inside = thrice = 0
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
        sets = [(e.event_type, frozenset((a.role, a.start, a.end) for a in e.arguments)) for e in record.events]
        identical += len(sets) != len(set(sets))
        inside += any(t == u and a < b for t, a in sets for u, b in sets)
        per_type = Counter((e.event_type, *span) for e in record.events
                           for span in {(a.start, a.end) for a in e.arguments})
        thrice += any(n >= 3 for n in per_type.values())
    long_texts = sum(len(tokenizer.encode(r.text)) > 64 for r in records)
    assert len(records) >= 80 and nested and crossing and two_roles and same_type_twice and long_texts >= 2
    assert identical >= 2 and inside >= 2 and thrice
    test, _ = data.load_records(os.path.join(SAMPLES, "test1.json"), schema, labelled=False)
    assert len(test) >= 20


def test_count_targets_mark_arguments_repeated_across_events(tokenizer):
    """Counts are per event type and span: 3 events with one winner mark it at levels 2 and 3; the
    shared time of two events of another type only at level 2; a level above events_per_argument is
    lost and counted."""
    schema = data.Schema({W: ["时间", "胜者", "败者"], "竞赛行为-夺冠": ["冠军"]}, events_per_argument=3)
    text = "国安本月战胜申花、上港和恒大"
    winner, time_ = data.Argument("胜者", 0, 2, "国安"), data.Argument("时间", 2, 4, "本月")
    events = [data.Event(W, [winner, time_, data.Argument("败者", at, at + 2, text[at:at + 2])]) for at in (6, 9, 12)]
    events += [data.Event("竞赛行为-夺冠", [data.Argument("冠军", 0, 2, "国安")])]
    record = data.Record("r", text, events)
    lost = Counter()
    (window,) = data.encode_record(0, record, tokenizer, schema, maxlen=64, lost=lost)
    counts = {cell for cell in window.targets if len(schema.roles) <= cell[0] < len(schema.roles) + schema.n_counts}
    assert counts == {(schema.count_head(W, 2), 1, 2), (schema.count_head(W, 3), 1, 2),
                      (schema.count_head(W, 2), 3, 4), (schema.count_head(W, 3), 3, 4)}
    assert lost[data.REPEATED] == 0
    two = data.Schema({W: ["时间", "胜者", "败者"], "竞赛行为-夺冠": ["冠军"]}, events_per_argument=2)
    data.encode_record(0, record, tokenizer, two, maxlen=64, lost=lost)
    assert lost[data.REPEATED] == 2  # winner and time are each in one event more than level 2 can say


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
