"""Span decoding across windows, and the round trip gold -> targets -> decoder -> official metric."""
import json
import os

import numpy as np
import pytest

from conftest import make_track
from mrc import data, decode, oracle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "mrc")


def test_best_span_respects_order_and_length():
    start = np.log(np.array([0.1, 0.6, 0.1, 0.2]))
    end = np.log(np.array([0.7, 0.05, 0.05, 0.2]))
    # the best pair (1, 0) is reversed: the best legal span is 1..3
    score, first, last = decode.best_span(start, end, max_answer_len=4)
    assert (first, last) == (1, 3) and score == pytest.approx(np.log(0.6 * 0.2))
    assert decode.best_span(start, end, max_answer_len=2)[1:] == (0, 0)
    assert decode.best_span(start, end, max_answer_len=1)[1:] == (0, 0)


def window(record, offsets, context_pos, first_token, n_tokens):
    from common.tokenize import Encoding
    context = Encoding(["x"] * len(offsets), [7] * len(offsets), offsets)
    shared = data.Encoded([5] * (context_pos - 2), context, lambda a, b: ([1, *a, 2, *b, 2], [0] * (len(a) + 2) + [1] * (len(b) + 1)))
    return data.Window(record, shared, first_token, n_tokens, (0, 0))


def test_the_best_window_wins_and_characters_are_exact():
    context = "Created by Guido van Rossum in 1989"
    offsets = [(0, 7), (8, 10), (11, 16), (17, 20), (21, 27), (28, 30), (31, 35)]
    questions = [data.Question("q", "who", context), data.Question("r", "who", context)]
    # two questions, each with two overlapping windows over tokens 0-4 and 2-6 after a 3-token prefix
    windows = [window(0, offsets, 3, 0, 5), window(0, offsets, 3, 2, 5),
               window(1, offsets, 3, 0, 5), window(1, offsets, 3, 2, 5)]
    sure, unsure = np.zeros((9, 2)), np.zeros((9, 2))
    unsure[[0, 3 + 0], 0] = 2.0, 1.9   # not sure: [CLS] and "Created" both likely
    unsure[[0, 3 + 0], 1] = 2.0, 1.9
    sure[3 + 0, 0], sure[3 + 2, 1] = 9.0, 9.0   # tokens 0..2 of the window
    # question q: the second window is sure (context tokens 2..4); question r: the first (tokens 0..2)
    rows = decode.decode(questions, windows, [unsure, sure, sure, unsure], max_answer_len=5)
    assert rows == [("q", "Guido van Rossum"), ("r", "Created by Guido")]
    assert decode.decode(questions, windows, [unsure, sure, sure, unsure], max_answer_len=2)[0] != ("q", "Guido van Rossum")


def test_empty_context_gives_an_empty_answer():
    rows = decode.decode([data.Question("q", "问", "")], [window(0, [], 3, 0, 0)], [np.zeros((4, 2))], 5)
    assert rows == [("q", "")]


def sample_track(vocab, *overrides):
    return make_track("mrc", f"data.dir={SAMPLES}", f"model.vocab_path={vocab}", *overrides)


@pytest.mark.parametrize("overrides", [["model.maxlen=64", "data.max_answer_len=20"],
                                       ["model.maxlen=64", "data.window_step=4", "data.max_answer_len=20"],
                                       []])
@pytest.mark.parametrize("split", ["train", "dev"])
def test_oracle_round_trip_on_the_samples_is_perfect(sample_vocab, split, overrides, tmp_path, capsys):
    out = tmp_path / "oracle.json"
    result = oracle.main(["--gold", os.path.join(SAMPLES, f"{split}.json"), "--out", str(out),
                          "--vocab", sample_vocab, *overrides])
    assert result == {"F1": "100.000", "EM": "100.000", "TOTAL": len(json.loads(out.read_text())), "SKIP": 0}
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result


def test_oracle_is_cut_by_a_too_short_answer_limit(sample_vocab):
    track = sample_track(sample_vocab, "model.maxlen=64", "data.max_answer_len=3")
    questions, _ = track.load_records(os.path.join(SAMPLES, "train.json"))
    rows = track.oracle(questions)
    assert track.lost[data.UNREACHABLE] > 0 and track.score(questions, rows)["f1"] < 100
    track = sample_track(sample_vocab, "data.max_answer_len=3")  # windows long enough: only the decoder cuts
    track.oracle(questions)
    assert track.lost[data.TOO_LONG] > 0 and not track.lost[data.UNREACHABLE]

