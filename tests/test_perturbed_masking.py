"""Perturbed Masking (common/perturbed_masking.py): the math on hand-made impact matrices, the
segmentation score, and the impact matrix, words and trees of a tiny MLM checkpoint."""
import json
import os

import numpy as np
import pytest

from common import perturbed_masking as pm


# masks and matrices (pure) -------------------------------------------------------------------------

def test_mask_sets_cover_singles_then_pairs():
    assert pm.mask_sets(3) == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    assert pm.mask_sets(3, "adjacent") == [(0,), (1,), (2,), (0, 1), (1, 2)]
    assert len(pm.mask_sets(30)) == 30 * 31 // 2 and len(pm.mask_sets(30, "adjacent")) == 59
    with pytest.raises(ValueError, match="pairs"):
        pm.mask_sets(3, "some")


def test_masked_rows_mask_tokens_after_cls():
    rows = pm.masked_rows([2, 10, 11, 12, 3], [(0,), (1, 2)], mask_id=4)
    assert rows.tolist() == [[2, 4, 11, 12, 3], [2, 10, 4, 4, 3]]


def test_impact_matrix_reads_each_pair_in_both_directions():
    masks = pm.mask_sets(3)  # (0,) (1,) (2,) (0,1) (0,2) (1,2)
    readings = np.full((6, 2, 2), np.nan)
    readings[0, 0], readings[1, 0], readings[2, 0] = [0, 0], [1, 1], [5, 5]
    readings[3] = [[3, 4], [1, 2]]  # {0,1} masked: reading at 0, reading at 1
    readings[4] = [[0, 1], [5, 5]]
    readings[5] = [[1, 1], [5, 7]]
    impact = pm.impact_matrix(readings, masks, 3)
    np.testing.assert_allclose(impact, [[0, 5, 1], [1, 0, 0], [0, 2, 0]])
    prob = pm.impact_matrix(readings[..., :1], masks, 3, "prob")  # signed drop of the first coordinate
    np.testing.assert_allclose(prob, [[0, -3, 0], [0, 0, 0], [0, 0, 0]])
    adjacent = pm.impact_matrix(readings[[0, 1, 2, 3, 5]], pm.mask_sets(3, "adjacent"), 3)
    assert np.isnan(adjacent[0, 2]) and np.isnan(adjacent[2, 0]) and adjacent[2, 1] == 2


# segmentation and trees on hand-made matrices -------------------------------------------------------

def block_matrix(groups, inside=10.0, across=1.0):
    """Impacts `inside` between tokens of the same group, `across` otherwise, 0 on the diagonal."""
    labels = [g for g, size in enumerate(groups) for _ in range(size)]
    impact = np.array([[inside if a == b else across for b in labels] for a in labels])
    np.fill_diagonal(impact, 0.0)
    return impact


def test_gap_scores_average_both_directions():
    impact = np.array([[0, 4, 9], [2, 0, 1], [9, 7, 0]], dtype=float)
    np.testing.assert_allclose(pm.gap_scores(impact), [3.0, 4.0])


def test_segmentation_cuts_where_neighbours_hardly_depend_on_each_other():
    impact = block_matrix([2, 3, 1])
    starts = pm.word_starts(pm.gap_scores(impact), threshold=5.0)
    assert starts == [0, 2, 5]
    assert pm.char_words("大肠杆菌是", [(i, i + 1) for i in range(5)], [0, 4]) == ["大肠杆菌", "是"]
    assert pm.word_starts(pm.gap_scores(impact), threshold=0.5) == [0]  # everything joined
    assert pm.word_starts(pm.gap_scores(impact), threshold=50) == [0, 1, 2, 3, 4, 5]


def test_segmentation_never_cuts_inside_a_wordpiece_word():
    scores = [0.0, 0.0, 0.0]
    assert pm.word_starts(scores, 1.0, keep_together=[False, True, False]) == [0, 1, 3]


def test_words_are_character_spans_with_spaces_outside():
    text = " NBA 2019赛季 hi"
    offsets = [(1, 4), (5, 9), (9, 10), (10, 11), (12, 14)]
    assert pm.char_words(text, offsets, [0, 1, 2, 4]) == ["NBA", "2019", "赛季", "hi"]
    assert pm.char_words(text, offsets, [0, 4]) == ["NBA 2019赛季", "hi"]
    assert pm.char_words("  ", [], [0]) == [] and pm.char_words("\x00", [], [0]) == ["\x00"]


def test_word_impact_is_the_block_mean():
    impact = np.arange(16, dtype=float).reshape(4, 4)
    words = pm.word_impact(impact, [0, 1, 3])
    assert words[0, 1] == pytest.approx((1 + 2) / 2) and words[1, 0] == pytest.approx((4 + 8) / 2)
    assert words[1, 2] == pytest.approx((7 + 11) / 2) and words[2, 2] == 0


def test_tree_splits_between_the_blocks_first():
    impact = block_matrix([2, 2])
    assert pm.split_tree(impact, list("abcd")) == [["a", "b"], ["c", "d"]]
    # (a b) binds tighter than c does to them; d is loosest
    impact = np.array([[0, 9, 4, 1], [9, 0, 4, 1], [4, 4, 0, 1], [1, 1, 1, 0]], dtype=float)
    assert pm.split_tree(impact, list("abcd")) == [[["a", "b"], "c"], "d"]
    assert pm.split_tree(impact.T[::-1, ::-1].copy(), list("dcba")) == ["d", ["c", ["b", "a"]]]
    assert pm.split_tree(np.zeros((1, 1)), ["词"]) == "词" and pm.split_tree(np.zeros((0, 0)), []) is None


def test_tree_split_uses_within_minus_cross_block_means():
    impact = np.array([[0, 6, 0], [2, 0, 3], [0, 1, 0]], dtype=float)
    # k=1: 0 + (3+1)/4 - (6+0)/2 - (2+0)/2 = -3;  k=2: (6+2)/4 + 0 - (0+3)/2 - (0+1)/2 = 0
    assert pm.best_split(impact) == 2
    impact[0, 1] = impact[1, 0] = 0.0  # now a binds to nothing: k=1 scores 1 - 0 - 0 = 1 > 0 - 2 = -2
    assert pm.best_split(impact) == 1


# the segmentation score ----------------------------------------------------------------------------

def test_segmentation_scores_by_hand():
    gold = [["北京", "是", "首都"], ["上海"]]
    pred = [["北", "京是", "首都"], ["上海"]]
    # sentence 1: spans (0,1) (1,3) (3,5) vs (0,2) (2,3) (3,5): one right; sentence 2: one of one
    scores = pm.segmentation_scores(gold, pred)
    assert scores["correct"] == 2 and scores["pred_words"] == 4 and scores["gold_words"] == 4
    assert scores["precision"] == scores["recall"] == scores["f1"] == pytest.approx(0.5)
    scores = pm.segmentation_scores([["北京", "是"]], [["北京是"]])
    assert (scores["precision"], scores["recall"]) == (0.0, 0.0) and scores["f1"] == 0.0
    scores = pm.segmentation_scores([["a b", "c"]], [["a b", " ", "c"]])  # spaces do not count
    assert scores["gold_words"] == 2 and scores["pred_words"] == 2 and scores["correct"] == 2
    scores = pm.segmentation_scores([["a b", "c"]], [["a", "bc"]])
    assert scores["pred_words"] == 2 and scores["correct"] == 0


def test_segmentation_scores_refuse_different_texts():
    with pytest.raises(ValueError, match="sentence 2"):
        pm.segmentation_scores([["a"], ["bc"]], [["a"], ["b", "d"]])
    with pytest.raises(ValueError, match="2 gold sentences but 1"):
        pm.segmentation_scores([["a"], ["b"]], [["a"]])
    assert pm.segmentation_scores([[]], [[]])["f1"] == 0.0


def test_reading_sentences_and_references(tmp_path):
    from common.io import DataError
    plain = tmp_path / "in.txt"
    plain.write_text("\ufeff北京是首都\r\n\r\n上海\n", encoding="utf-8")
    assert pm.read_sentences(plain) == [(1, "北京是首都"), (2, ""), (3, "上海")]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('\ufeff{"text": "北京", "id": 1}\n\n{"text": "上海"}\n', encoding="utf-8")
    assert pm.read_sentences(jsonl) == [(1, "北京"), (3, "上海")]
    jsonl.write_text('{"text": "北京"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2: field 'text'"):
        pm.read_sentences(jsonl)
    reference = tmp_path / "ref.txt"
    reference.write_text("北京 是 首都\n\n上海\n", encoding="utf-8")
    sentences = pm.read_sentences(plain)
    assert pm.reference_words(reference, sentences, plain) == [["北京", "是", "首都"], [], ["上海"]]
    reference.write_text("北京 是 首府\n\n上海\n", encoding="utf-8")
    with pytest.raises(DataError, match="ref.txt, line 1: words spell '北京是首府'"):
        pm.reference_words(reference, sentences, plain)
    reference.write_text("北京 是 首都\n", encoding="utf-8")
    with pytest.raises(DataError, match="ref.txt: 1 lines, but .*in.txt has 3 sentences"):
        pm.reference_words(reference, sentences, plain)


# the tiny MLM checkpoint -----------------------------------------------------------------------------

TEXTS = ["北京是中国的首都", "上海是一个大城市", "NBA 2019赛季 plan"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tf):
    from common.tiny_bert import write_tiny_checkpoint
    # "playing" gives the vocabulary its letters (and ##letters) but not the word "plan"
    texts = TEXTS[:2] + ["NBA 2019赛季 playing"]
    return write_tiny_checkpoint(str(tmp_path_factory.mktemp("perturbed_masking_bert")), texts, seed=5,
                                 with_mlm=True)


def folder_config(paths, family="bert"):
    from common.model import checkpoint_config
    return checkpoint_config(os.path.dirname(paths["vocab_path"]), family)


@pytest.fixture(scope="module")
def probe(checkpoint):
    return pm.load(folder_config(checkpoint))


def reference_impact(probe, ids):
    """F[i, j] computed the slow, obvious way: one model call per masked input."""
    model, mask_id = probe.model, probe.mask_id
    wrapped = np.array([probe.tokenizer.wrap(ids)[0]])

    def hidden_at(i, masked):
        row = wrapped.copy()
        row[0, [p + 1 for p in masked]] = mask_id
        return np.asarray(model.predict_on_batch([row, np.zeros_like(row)]))[0, i + 1]

    n = len(ids)
    singles = [hidden_at(i, [i]) for i in range(n)]
    return np.array([[np.linalg.norm(singles[i] - hidden_at(i, [i, j])) if i != j else 0.0 for j in range(n)]
                     for i in range(n)])


def test_impact_matrix_shape_determinism_and_batching(probe):
    ids = probe.tokenizer.encode("北京是中国").ids
    impact = probe.impact(ids)
    assert impact.shape == (5, 5) and not np.isnan(impact).any()
    assert (np.diag(impact) == 0).all() and (impact[~np.eye(5, dtype=bool)] > 0).all()
    np.testing.assert_array_equal(probe.impact(ids), impact)
    np.testing.assert_allclose(reference_impact(probe, ids), impact, rtol=1e-4, atol=1e-7)
    one_at_a_time = pm.PerturbedMasking(probe.model, probe.tokenizer, batch_size=1)
    np.testing.assert_allclose(one_at_a_time.impact(ids), impact, rtol=1e-4, atol=1e-7)
    adjacent = probe.impact(ids, "adjacent")
    t = np.arange(4)
    np.testing.assert_allclose(adjacent[t, t + 1], impact[t, t + 1], rtol=1e-4, atol=1e-7)
    assert np.isnan(adjacent[0, 2])


def test_every_character_is_in_exactly_one_word(probe):
    for text in TEXTS:
        impact = probe.impact(probe.tokenizer.encode(text).ids)
        for threshold in np.quantile(pm.gap_scores(impact), [0.0, 0.5, 1.0]):
            parsed = probe.parse(text, threshold)
            assert "".join(parsed["words"]).replace(" ", "") == text.replace(" ", "")
            assert all(word == word.strip() and word for word in parsed["words"])
            assert flatten(parsed["tree"]) == parsed["words"]


def flatten(tree):
    return [tree] if isinstance(tree, str) else [leaf for part in tree for leaf in flatten(part)]


def test_threshold_extremes_and_wordpiece_words(probe):
    text = TEXTS[2]
    assert probe.tokenizer.encode(text).tokens == ["nba", "2019", "赛", "季", "p", "##l", "##a", "##n"]
    assert probe.parse(text, threshold=0.0)["words"] == [text]
    assert probe.parse(text, threshold=1e9)["words"] == ["NBA", "2019", "赛", "季", "plan"]
    segment_only = probe.parse(text, threshold=1e9, tree=False)
    assert segment_only["tree"] is None and segment_only["words"] == ["NBA", "2019", "赛", "季", "plan"]
    assert probe.parse("", 1.0) == {"text": "", "words": [], "tree": None}


def test_prob_representation_uses_the_mlm_head(checkpoint, probe):
    probs = pm.load(folder_config(checkpoint), representation="prob")
    ids = probe.tokenizer.encode("上海是一个").ids
    impact = probs.impact(ids)
    assert impact.shape == (5, 5) and not np.isnan(impact).any() and np.abs(impact).max() < 1
    # the reading is the MLM probability of the original token at the masked position
    row = np.array([probe.tokenizer.wrap(ids)[0]])
    row[0, 1] = probe.mask_id
    hidden = np.asarray(probs.model.predict_on_batch([row, np.zeros_like(row)]))[0, 1]
    full = probs.readings(probe.tokenizer.wrap(ids)[0], [(0,)])
    assert full[0, 0, 0] == pytest.approx(float(probs.mlm_probs(hidden[None])[0, ids[0]]), rel=1e-5)


def test_prob_representation_needs_a_checkpoint_with_the_mlm_head(tmp_path, tf):
    from common.config import ConfigError
    from common.tiny_bert import write_tiny_checkpoint
    paths = write_tiny_checkpoint(str(tmp_path), ["北京"], seed=0)
    with pytest.raises(ConfigError, match="cls/predictions/transform/dense/kernel.*MLM head"):
        pm.load(folder_config(paths), representation="prob")
    assert pm.load(folder_config(paths)).parse("北京", 1.0)["words"] == ["北", "京"]


def test_command_writes_records_and_prints_the_scores_last(checkpoint, probe, tmp_path, capsys, monkeypatch):
    from common.io import DataError
    folder = os.path.dirname(checkpoint["vocab_path"])

    def load_once(model_cfg, representation, batch_size):
        # the module's probe stands in for a second load of the same files (seconds saved)
        assert model_cfg == folder_config(checkpoint) and representation == "hidden"
        return probe
    monkeypatch.setattr(pm, "load", load_once)
    sentences = tmp_path / "in.txt"
    sentences.write_text("北京是中国的首都\n上海是一个大城市\n", encoding="utf-8")
    reference = tmp_path / "ref.txt"
    reference.write_text("北京 是 中国 的 首都\n上海 是 一个 大城市\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    pm.main(["--checkpoint", folder, "--input", str(sentences), "--reference", str(reference),
             "--out", str(out), "--threshold", "1e9"])
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in records] == ["北京是中国的首都", "上海是一个大城市"]
    assert records[0]["words"] == list("北京是中国的首都")  # threshold above every score: characters
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # gold has 9 words, 16 single characters predicted; right: 是 的 (sentence 1) and 是 (sentence 2)
    assert last["correct"] == 3 and last["pred_words"] == 16 and last["gold_words"] == 9
    assert last["f1"] == pytest.approx(2 * 3 / (16 + 9)) and last["reference"] == str(reference)

    pm.main(["--checkpoint", folder, "--input", str(sentences), "--no-tree", "--threshold", "0"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[0]) == {"text": "北京是中国的首都", "words": ["北京是中国的首都"], "tree": None}
    assert json.loads(lines[-1])["reference"] == "jieba" and json.loads(lines[-1])["pred_words"] == 2

    long = tmp_path / "long.txt"
    long.write_text("北京\n" + "北" * 600 + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="long.txt, line 2: field 'text': 600 tokens"):
        pm.main(["--checkpoint", folder, "--input", str(long), "--no-tree"])
    with pytest.raises(SystemExit):
        pm.main(["--checkpoint", folder, "--input", str(sentences), "--representation", "prob"])
    assert "--threshold is required" in capsys.readouterr().err
