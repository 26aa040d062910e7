"""Span decoding across windows, and the round trip gold -> targets -> decoder -> official metric."""
import json
import os

import numpy as np
import pytest

from common.config import load_config
from mrc import data, decode, oracle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "mrc")
CONFIG = os.path.join(ROOT, "mrc", "config.toml")


def test_best_span_respects_order_and_length():
    start = np.log(np.array([0.1, 0.6, 0.1, 0.2]))
    end = np.log(np.array([0.7, 0.05, 0.05, 0.2]))
    # the best pair (1, 0) is reversed: the best legal span is 1..3
    score, first, last = decode.best_span(start, end, max_answer_len=4)
    assert (first, last) == (1, 3) and score == pytest.approx(np.log(0.6 * 0.2))
    assert decode.best_span(start, end, max_answer_len=2)[1:] == (0, 0)
    assert decode.best_span(start, end, max_answer_len=1)[1:] == (0, 0)


def window(context_pos, first_token, n_tokens):
    seq = context_pos + n_tokens + 1
    return data.Window([0] * seq, [0] * seq, first_token, n_tokens, context_pos, (0, 0))


def test_the_best_window_wins_and_characters_are_exact():
    context = "Created by Guido van Rossum in 1989"
    offsets = [(0, 7), (8, 10), (11, 16), (17, 20), (21, 27), (28, 30), (31, 35)]
    question = data.Question("q", "who", context)
    # two overlapping windows over tokens 0-4 and 2-6, both after a 3-token prefix
    windows = [window(3, 0, 5), window(3, 2, 5)]
    encoded = data.Encoded(question, offsets, windows)
    sure, unsure = np.zeros((9, 2)), np.zeros((9, 2))
    unsure[[0, 3 + 0], 0] = 2.0, 1.9   # window 1 is not sure: [CLS] and "Created" both likely
    unsure[[0, 3 + 0], 1] = 2.0, 1.9
    sure[3 + 0, 0], sure[3 + 2, 1] = 9.0, 9.0   # window 2: tokens 2..4 of the context
    assert decode.decode(encoded, [unsure, sure], max_answer_len=5) == "Guido van Rossum"
    assert decode.decode(encoded, [unsure, sure], max_answer_len=2) != "Guido van Rossum"
    # logits are handed out per question in order: swapped, the first window holds tokens 0..2
    other = data.Encoded(data.Question("r", "who", context), offsets, windows)
    answers = decode.decode_all([encoded, other], [unsure, sure, sure, unsure], 5)
    assert answers == {"q": "Guido van Rossum", "r": "Created by Guido"}
    with pytest.raises(ValueError):
        decode.decode_all([encoded], [sure], 5)


def test_empty_context_gives_an_empty_answer():
    encoded = data.Encoded(data.Question("q", "问", ""), [], [window(3, 0, 0)])
    assert decode.decode(encoded, [np.zeros((4, 2))], 5) == ""


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    from common.tiny_bert import write_vocab
    texts = [t for name in ("train", "dev", "test") for t in data.texts(os.path.join(SAMPLES, f"{name}.json"))]
    path = tmp_path_factory.mktemp("mrc_vocab") / "vocab.txt"
    write_vocab(path, texts)
    return str(path)


@pytest.mark.parametrize("overrides", [["model.maxlen=64", "data.max_answer_len=20"],
                                       ["model.maxlen=64", "data.doc_stride=4", "data.max_answer_len=20"],
                                       []])
@pytest.mark.parametrize("split", ["train", "dev"])
def test_oracle_round_trip_on_the_samples_is_perfect(vocab_file, split, overrides, tmp_path, capsys):
    out = tmp_path / "oracle.json"
    result = oracle.main(["--gold", os.path.join(SAMPLES, f"{split}.json"), "--out", str(out),
                          "--vocab", vocab_file, "--config", CONFIG, *overrides])
    assert result == {"F1": "100.000", "EM": "100.000", "TOTAL": len(json.loads(out.read_text())), "SKIP": 0}
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result


def test_oracle_is_cut_by_a_too_short_answer_limit(vocab_file):
    from common.tokenize import OffsetTokenizer
    from mrc import metric
    questions, _ = data.load(os.path.join(SAMPLES, "train.json"))
    cfg = load_config(CONFIG, ["model.maxlen=64", "data.max_answer_len=3"])
    answers, unreachable = oracle.oracle_answers(OffsetTokenizer(vocab_file), questions, cfg)
    gold = {q.qid: [t for t, _ in q.answers] for q in questions}
    assert unreachable > 0 and metric.evaluate(gold, answers)["F1"] < 100

