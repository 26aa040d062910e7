"""WMD and WRD (common/similarity.py): closed-form cases, invariances, metric properties, the BERT
token vectors and the command line."""
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from common.similarity import corpus_similarity, emd, wmd, wrd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# closed forms -----------------------------------------------------------------------------------

def test_wmd_of_one_dimensional_point_masses():
    assert wmd([[0.0]], [[3.0]]) == pytest.approx(3.0)
    # equal counts in 1-D: match sorted points, |0-2| and |1-5| averaged
    assert wmd([[1.0], [0.0]], [[5.0], [2.0]]) == pytest.approx(3.0)
    # one point against two of weight 1/2: all mass of 0 goes half to 1, half to 3
    assert wmd([[0.0]], [[1.0], [3.0]]) == pytest.approx(2.0)
    # given weights 3:1 at 0 and 10 against one point at 0: a quarter of the mass moves 10
    assert wmd([[0.0], [10.0]], [[0.0]], x_weights=[3, 1]) == pytest.approx(2.5)


def test_wmd_of_two_point_set_against_its_midpoint():
    assert wmd([[0.0, 0.0], [0.0, 2.0]], [[1.0, 1.0]]) == pytest.approx(np.sqrt(2.0))
    # the two points are matched crosswise when that is cheaper
    assert wmd([[0.0, 0.0], [4.0, 0.0]], [[4.0, 1.0], [0.0, 1.0]]) == pytest.approx(1.0)


def test_wmd_of_a_shifted_sequence_is_the_length_of_the_shift():
    rng = np.random.default_rng(0)
    x, shift = rng.normal(size=(6, 5)), rng.normal(size=5)
    assert wmd(x, x + shift) == pytest.approx(np.linalg.norm(shift))


def test_wmd_is_unchanged_when_both_sequences_move_by_the_same_offset():
    rng = np.random.default_rng(1)
    x, y, shift = rng.normal(size=(4, 3)), rng.normal(size=(7, 3)), 10 * rng.normal(size=3)
    assert wmd(x + shift, y + shift) == pytest.approx(wmd(x, y))


def test_wrd_closed_forms():
    e1, e2 = [1.0, 0.0], [0.0, 1.0]
    assert wrd([e1], [e2]) == pytest.approx(1.0)  # orthogonal: cosine 0
    assert wrd([e1], [[-5.0, 0.0]]) == pytest.approx(2.0)  # opposite: cosine -1, whatever the norms
    # norms 3 and 1 give weights 3/4 and 1/4; only the quarter on e2 has to turn, by 90 degrees
    assert wrd([[3.0, 0.0], e2], [e1]) == pytest.approx(0.25)


def test_wrd_is_invariant_to_scaling_all_vectors_of_one_sequence():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(3, 4))
    for c in (0.01, 3.7, 1e4):
        assert wrd(c * x, y) == pytest.approx(wrd(x, y))
        assert wrd(x, c * y) == pytest.approx(wrd(x, y))


def test_wrd_changes_when_one_vector_alone_is_scaled_or_signs_flip():
    e1, e2 = [1.0, 0.0], [0.0, 1.0]
    assert wrd([e1, e2], [e1]) == pytest.approx(0.5)
    assert wrd([e1, [0.0, 3.0]], [e1]) == pytest.approx(0.75)  # e2 now weighs 3/4
    assert wrd([e1], [e1]) == pytest.approx(0.0) and wrd([[-1.0, 0.0]], [e1]) == pytest.approx(2.0)


def test_wrd_gives_a_zero_vector_no_weight():
    assert wrd([[0.0, 0.0], [1.0, 0.0]], [[2.0, 0.0]]) == pytest.approx(0.0)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        wmd(np.zeros((0, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="dimension"):
        wrd(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="non-zero"):
        wrd(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="weights"):
        wmd(np.ones((2, 3)), np.ones((2, 3)), x_weights=[1, -1])
    with pytest.raises(ValueError, match="non-finite"):
        wmd([[np.nan]], [[1.0]])


# metric properties --------------------------------------------------------------------------------

def point_sets(dim):
    return st.integers(1, 5).flatmap(lambda n: arrays(
        np.float64, (n, dim), elements=st.floats(-10, 10, allow_nan=False, width=32)))


pairs = st.integers(1, 4).flatmap(lambda d: st.tuples(point_sets(d), point_sets(d), point_sets(d)))


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_wmd_is_a_metric_on_point_sets(xyz):
    x, y, z = xyz
    assert wmd(x, y) >= 0 and wmd(x, x) == pytest.approx(0.0, abs=1e-9)
    assert wmd(x, y) == pytest.approx(wmd(y, x), abs=1e-9)
    assert wmd(x, z) <= wmd(x, y) + wmd(y, z) + 1e-9
    assert wmd(x[::-1], y) == pytest.approx(wmd(x, y), abs=1e-9)  # a set: order does not matter


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_wrd_is_symmetric_non_negative_and_zero_on_itself(xyz):
    x, y, _ = xyz
    if not np.abs(x).sum() or not np.abs(y).sum():
        return
    assert 0 <= wrd(x, y) <= 2 + 1e-12
    assert wrd(x, x) == pytest.approx(0.0, abs=1e-9)
    assert wrd(x, y) == pytest.approx(wrd(y, x), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(
    arrays(np.float64, (n, 2), elements=st.floats(-5, 5, width=32)),
    arrays(np.float64, (n, 2), elements=st.floats(-5, 5, width=32)))))
def test_equal_size_uniform_wmd_is_the_best_assignment(xy):
    # with n points against n points of weight 1/n, an optimal plan is a permutation (Birkhoff)
    x, y = xy
    n = len(x)
    best = min(sum(np.linalg.norm(x[i] - y[p[i]]) for i in range(n)) for p in itertools.permutations(range(n)))
    assert wmd(x, y) == pytest.approx(best / n, abs=1e-9)


def test_emd_takes_the_weights_as_given():
    cost = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert emd(np.array([0.5, 0.5]), np.array([0.5, 0.5]), cost) == pytest.approx(0.0)
    assert emd(np.array([1.0, 0.0]), np.array([0.25, 0.75]), cost) == pytest.approx(0.75)


def test_corpus_similarity_averages_pairs_and_counts_empty_ones():
    table = {"a": np.array([[1.0, 0.0]]), "b": np.array([[0.0, 1.0]]), "": np.zeros((0, 2))}

    def vectors(texts):
        return [table[t] for t in texts]

    result = corpus_similarity(["a", "a", ""], ["a", "b", "a"], vectors)
    assert result == {"WMD": pytest.approx(np.sqrt(2) / 2), "WRD": pytest.approx(0.5), "pairs": 2,
                      "skipped_empty": 1}
    assert corpus_similarity([""], ["a"], vectors)["WMD"] is None
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        corpus_similarity(["a", "b"], ["a"], vectors)


def test_importing_and_solving_does_not_import_tensorflow():
    # POT probes for TensorFlow when imported; that would break common.backend.setup() later
    code = ("import sys; from common.similarity import wmd, wrd; wmd([[0.0]], [[1.0]]); wrd([[1.0]], [[1.0]]);"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POT_BACKEND")}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


# BERT token vectors -------------------------------------------------------------------------------

TEXTS = ["北京是中国的首都", "上海是一个大城市", "hello world", "三体的作者是刘慈欣", "首都北京"]


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory, tf):
    from common.tiny_bert import write_tiny_checkpoint
    out = str(tmp_path_factory.mktemp("similarity_bert"))
    write_tiny_checkpoint(out, TEXTS, seed=4)
    return out


@pytest.fixture(scope="module")
def token_vectors(checkpoint_dir):
    from common.similarity import TokenVectors
    return TokenVectors(checkpoint_dir, batch_size=2)


def test_token_vectors_have_one_row_per_token_without_cls_and_sep(token_vectors):
    vectors = token_vectors.vectors(TEXTS + [""])
    hidden = token_vectors.encoder.output_shape[-1]
    assert [v.shape for v in vectors] == [(8, hidden), (8, hidden), (2, hidden), (9, hidden), (4, hidden),
                                          (0, hidden)]


def test_token_vectors_do_not_depend_on_batching_or_padding(token_vectors):
    together = token_vectors.vectors(TEXTS)
    for text, vectors in zip(TEXTS, together):
        np.testing.assert_allclose(token_vectors.vectors([text])[0], vectors, atol=1e-5)


def test_encoder_vectors_depend_on_context_and_embeddings_do_not(checkpoint_dir, token_vectors):
    from common.similarity import TokenVectors
    first, second = token_vectors.vectors(["北京是中国的首都", "首都北京"])
    assert not np.allclose(first[0], second[2])  # 北 in two contexts
    embeddings = TokenVectors.from_encoder(token_vectors.encoder, os.path.join(checkpoint_dir, "vocab.txt"),
                                           source="embeddings")
    first, second = embeddings.vectors(["北京是中国的首都", "首都北京"])
    np.testing.assert_array_equal(first[0], second[2])
    table = token_vectors.encoder.get_layer("Embedding-Token").embeddings.numpy()
    np.testing.assert_array_equal(first, table[token_vectors.tokenizer.encode("北京是中国的首都").ids])


def test_corpus_similarity_of_a_text_with_itself_is_zero(token_vectors):
    result = corpus_similarity(TEXTS, TEXTS, token_vectors.vectors)
    assert result["pairs"] == len(TEXTS)
    assert result["WMD"] == pytest.approx(0.0, abs=1e-6) and result["WRD"] == pytest.approx(0.0, abs=1e-6)
    different = corpus_similarity(TEXTS, TEXTS[1:] + TEXTS[:1], token_vectors.vectors)
    assert different["WMD"] > 0.1 and different["WRD"] > 0.001


def test_command_prints_each_pair_and_the_means_last(checkpoint_dir, tmp_path, capsys):
    from common.io import DataError
    from common.similarity import main
    preds, refs = tmp_path / "a.txt", tmp_path / "b.txt"
    preds.write_text("\ufeff北京是中国的首都\n上海是一个大城市\n\n", encoding="utf-8")
    refs.write_text("北京是中国的首都\r\n首都北京\r\n三体\r\n", encoding="utf-8")
    main(["--checkpoint", checkpoint_dir, str(preds), str(refs)])
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line.get("line") for line in lines[:3]] == [1, 2, 3]
    assert lines[0]["WMD"] == pytest.approx(0.0, abs=1e-6)  # BOM and CRLF do not count
    assert lines[2]["skipped"] == "empty"
    assert lines[-1]["pairs"] == 2 and lines[-1]["skipped_empty"] == 1
    assert lines[-1]["WMD"] == pytest.approx((lines[0]["WMD"] + lines[1]["WMD"]) / 2)
    refs.write_text("只有一行\n", encoding="utf-8")
    with pytest.raises(DataError, match="b.txt: 1 lines, but .*a.txt has 3"):
        main(["--checkpoint", checkpoint_dir, str(preds), str(refs)])
