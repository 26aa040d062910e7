"""ie_event decoder: cliques, event grouping, and the round trip gold -> targets -> decoder -> metric."""
import json
import os

import pytest

from ie_event import data, decode, oracle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "ie_event")
W, LAY = "竞赛行为-胜负", "组织关系-裁员"


@pytest.fixture(scope="module")
def vocab(sample_vocab):
    return sample_vocab


def test_maximal_cliques():
    edges = {frozenset(e) for e in [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")]}
    assert decode.maximal_cliques({"a", "b", "c", "d", "e"}, edges) == [["a", "b", "c"], ["c", "d"], ["e"]]


def test_two_events_of_one_type_share_an_argument():
    schema = data.Schema({W: ["时间", "胜者", "败者"]})
    text = "昨晚猛龙击败雄鹿，勇士击败火箭"
    time_, winner, loser = 0, 1, 2
    head, tail = schema.head_link(W), schema.tail_link(W)
    offsets = [(i, i + 1) for i in range(len(text))]  # one token per character
    # spans: 昨晚 (1,2), 猛龙 (3,4), 雄鹿 (7,8), 勇士 (10,11), 火箭 (14,15)
    cells = [(time_, 1, 2), (winner, 3, 4), (loser, 7, 8), (winner, 10, 11), (loser, 14, 15)]
    for a, b in [((1, 2), (3, 4)), ((1, 2), (7, 8)), ((3, 4), (7, 8)),
                 ((1, 2), (10, 11)), ((1, 2), (14, 15)), ((10, 11), (14, 15))]:
        cells += [(head, a[0], b[0]), (tail, a[1], b[1])]
    events = decode.decode_record(text, [(cells, offsets, None)], schema)
    assert events == [
        {"event_type": W, "arguments": [{"role": "时间", "argument": "昨晚"}, {"role": "胜者", "argument": "猛龙"},
                                        {"role": "败者", "argument": "雄鹿"}]},
        {"event_type": W, "arguments": [{"role": "时间", "argument": "昨晚"}, {"role": "胜者", "argument": "勇士"},
                                        {"role": "败者", "argument": "火箭"}]}]


def test_cells_outside_the_text_are_ignored():
    schema = data.Schema({W: ["胜者"]})
    offsets = [(0, 1), (1, 2)]
    # [CLS] (0), past the last token (3), and end before start are not spans
    events = decode.decode_record("湖人", [([(0, 0, 0), (0, 1, 3), (0, 2, 1), (0, 1, 2)], offsets, None)], schema)
    assert events == [{"event_type": W, "arguments": [{"role": "胜者", "argument": "湖人"}]}]


@pytest.mark.parametrize("maxlen", [64, 20])
def test_oracle_round_trip_on_samples_is_perfect(tmp_path, vocab, capsys, maxlen):
    """Gold -> training targets -> decoder -> official metric = 1.0, also when texts are cut into
    many windows (maxlen 20)."""
    for name in ("train.json", "dev.json"):
        out = tmp_path / f"oracle_{name}"
        result = oracle.main(["--gold", os.path.join(SAMPLES, name), "--out", str(out), "--vocab", vocab,
                              f"data.dir={SAMPLES}", f"model.maxlen={maxlen}"])
        assert result == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result
        gold_ids = [json.loads(line)["id"] for line in open(os.path.join(SAMPLES, name), encoding="utf-8")]
        assert [json.loads(line)["id"] for line in open(out, encoding="utf-8")] == gold_ids


def test_oracle_keeps_two_layoffs_in_one_sentence_apart(tmp_path, vocab):
    out = tmp_path / "oracle.json"
    oracle.main(["--gold", os.path.join(SAMPLES, "train.json"), "--out", str(out), "--vocab", vocab,
                 f"data.dir={SAMPLES}"])
    rows = {r["id"]: r for r in map(json.loads, open(out, encoding="utf-8"))}
    (row,) = [r for r in rows.values() if any(a["argument"] == "惠普公司" for e in r["event_list"]
                                               for a in e["arguments"])]
    assert [sorted(a["argument"] for a in e["arguments"]) for e in row["event_list"]] == [
        ["3200人", "联想集团"], ["4500人", "惠普公司"]]


def test_degenerate_predictions_are_capped_by_score():
    """A model that fires on every cell must not hang the decoder: the best spans per type are kept."""
    schema = data.Schema({W: ["胜者", "败者"]})
    n = 40
    offsets = [(i, i + 1) for i in range(n)]
    cells = [(h, i, j) for h in range(schema.n_heads) for i in range(1, n + 1) for j in range(i, n + 1)]
    scores = [1.0 if (h, i, j) == (0, 3, 4) else 0.5 for h, i, j in cells]
    events = decode.decode_record("x" * n, [(cells, offsets, scores)], schema, max_arguments=1)
    assert events == [{"event_type": W, "arguments": [{"role": "胜者", "argument": "xx"}]}]
    events = decode.decode_record("x" * n, [(cells, offsets, scores)], schema, max_arguments=30)
    assert len(events) == 1 and len(events[0]["arguments"]) == 30  # every kept span links to all others
