"""common.seq2seq: pairs and the target-only loss, the batched decoder (on a scorer written out by
hand), and the model: tiny checkpoint with its MLM head, cached scorer = full recompute."""
import numpy as np
import pytest

from common import seq2seq
from common.seq2seq import Constraint, Settings, banned_by_ngrams, collate, generate

END = 1
V = 8


class TableScorer(seq2seq.Scorer):
    """Log-probabilities from a table: row = (source's first token, last prefix token or -1)."""
    vocab_size = V

    def __init__(self, table):
        self.table = table           # {(first source token, last token): {token: prob}}; default uniform
        self.calls = []

    def start(self, sources):
        self.sources = sources

    def step(self, inputs, parents, prefixes):
        self.calls.append(len(inputs))
        out = np.zeros(prefixes.shape[:2] + (V,))
        for a, index in enumerate(inputs):
            for b in range(prefixes.shape[1]):
                last = int(prefixes[a, b, -1]) if prefixes.shape[2] else -1
                probs = self.table.get((self.sources[index][0], last))
                row = np.full(V, 1e-3)
                if probs:
                    for token, p in probs.items():
                        row[token] = p
                out[a, b] = np.log(row / row.sum())
        return out


def decode(table, sources, **settings):
    return generate(TableScorer(table), sources, Settings(**settings), END)


# A source starting with 0: greedy takes 2 (0.5) and then is stuck with a flat 0.3 end; beam search
# finds 3 (0.4) then end (0.95): 0.4 * 0.95 > 0.5 * 0.3.
TRAP = {(0, -1): {2: 0.5, 3: 0.4}, (0, 2): {END: 0.3, 4: 0.3, 5: 0.3}, (0, 3): {END: 0.95},
        (0, 4): {END: 0.9}, (0, 5): {END: 0.9}}


def test_collate_targets_the_positions_before_each_target_token():
    (tokens, segments, positions), labels = collate([([2, 5, 6, 3], [7, 3]), ([2, 5, 3], [6, 7, 3])])
    assert tokens.tolist() == [[2, 5, 6, 3, 7, 3], [2, 5, 3, 6, 7, 3]]
    assert segments.tolist() == [[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1]]
    assert positions.tolist() == [[3, 4, 0], [2, 3, 4]] and labels.tolist() == [[7, 3, 0], [6, 7, 3]]
    assert all(tokens[i, p + 1] == l for i in range(2) for p, l in zip(positions[i], labels[i]) if l)
    with pytest.raises(ValueError, match="needs a target"):
        collate([([2, 3], [])])


def test_ngram_ban_lists_the_tokens_that_would_repeat_an_ngram():
    assert sorted(banned_by_ngrams([4, 5, 6, 4, 5], 3)) == [6]
    assert sorted(banned_by_ngrams([4, 5, 4], 2)) == [5]
    assert banned_by_ngrams([4, 5], 3) == [] and sorted(banned_by_ngrams([4, 5, 4], 1)) == [4, 5]


def test_beam_search_finds_what_greedy_misses():
    greedy = decode(TRAP, [[0]], strategy="greedy", max_len=5)[0]
    beam = decode(TRAP, [[0]], strategy="beam", beam_size=2, max_len=5, length_penalty=0.0)[0]
    assert greedy.tokens[0] == 2 and beam.tokens == [3]
    assert beam.score == pytest.approx(np.log(0.4 / 0.906) + np.log(0.95 / 0.957), abs=1e-3)
    assert beam.score > greedy.score


def test_length_limits_and_the_end_token():
    loop = {(0, -1): {4: 0.9}, (0, 4): {4: 0.5, END: 0.5}}
    assert decode(loop, [[0]], strategy="greedy", max_len=9)[0].tokens in ([4], [4, 4])
    assert decode(loop, [[0]], strategy="greedy", min_len=5, max_len=9)[0].tokens == [4] * 5
    stuck = {(0, -1): {4: 0.9}, (0, 4): {4: 0.9}}
    cut = decode(stuck, [[0]], strategy="beam", beam_size=3, max_len=6)[0]
    assert cut.tokens == [4] * 6 and END not in cut.tokens
    no_room = generate(TableScorer(stuck), [[0], [0]], Settings(strategy="greedy", max_len=6), END, max_lens=[0, 2])
    assert [h.tokens for h in no_room] == [[], [4, 4]]


def test_no_repeat_ngram_blocking():
    repeat = {(0, -1): {4: 0.9}, (0, 4): {5: 0.9}, (0, 5): {4: 0.9, 6: 0.05}, (0, 6): {END: 0.9}}
    assert decode(repeat, [[0]], strategy="greedy", max_len=6)[0].tokens == [4, 5, 4, 5, 4, 5]
    blocked = decode(repeat, [[0]], strategy="greedy", max_len=6, no_repeat_ngram=2)[0].tokens
    assert blocked[:3] == [4, 5, 4] and all(blocked[i:i + 2] != blocked[j:j + 2]
                                            for i in range(len(blocked) - 1) for j in range(i))


class Alternate(Constraint):
    """After an even token an odd one and vice versa; the first must be even; end after 3 tokens."""

    def __init__(self):
        self.starts = []

    def start(self, index):
        self.starts.append(index)
        return ()

    def allowed(self, state):
        if len(state) == 3:
            return [END]
        parity = 0 if not state or state[-1] % 2 else 1
        return np.array([t % 2 == parity and t not in (0, END) for t in range(V)])

    def advance(self, state, token):
        return state + (token,)


def test_a_constraint_decides_each_beams_next_tokens():
    constraint = Alternate()
    for strategy in ("beam", "greedy", "sample"):
        outs = generate(TableScorer(TRAP), [[0], [5], [0, 1]], Settings(strategy=strategy, max_len=6), END, constraint)
        for out in outs:
            assert len(out.tokens) == 3 and out.tokens[0] % 2 == 0
            assert all((a + b) % 2 == 1 for a, b in zip(out.tokens, out.tokens[1:]))
    assert constraint.starts[:3] == [0, 1, 2]
    nothing = generate(TableScorer(TRAP), [[0]], Settings(), END, type("No", (Constraint,), {"allowed": lambda s, x: []})())
    assert nothing[0].tokens == [] and nothing[0].score == -np.inf


def random_table(seed):
    rng = np.random.default_rng(seed)
    return {(s, last): dict(enumerate(rng.dirichlet(np.full(V, 0.3)))) for s in range(4) for last in range(-1, V)}


@pytest.mark.parametrize("strategy", ["beam", "greedy", "sample"])
def test_batched_decoding_equals_one_source_at_a_time(strategy):
    table = random_table(1)
    sources = [[0], [1, 2], [2], [3, 3, 3], [0, 9]]
    settings = dict(strategy=strategy, beam_size=3, max_len=7, top_k=4, top_p=0.9, seed=5, no_repeat_ngram=2)
    scorer = TableScorer(table)
    together = generate(scorer, sources, Settings(**settings), END)
    assert len(set(scorer.calls)) > 1                       # sources left the batch as they finished
    alone = [decode(table, [s], **settings)[0] for s in sources]
    assert [h.tokens for h in together] == [h.tokens for h in alone]
    assert np.allclose([h.score for h in together], [h.score for h in alone])
    assert all(END not in h.tokens for h in together)


def test_sampling_is_seeded_and_top_k_1_is_greedy():
    table, sources = random_table(2), [[0], [1], [2], [3]]
    first = decode(table, sources, strategy="sample", seed=3, max_len=8)
    assert [h.tokens for h in first] == [h.tokens for h in decode(table, sources, strategy="sample", seed=3, max_len=8)]
    others = [decode(table, sources, strategy="sample", seed=s, max_len=8) for s in range(4, 10)]
    assert any([h.tokens for h in o] != [h.tokens for h in first] for o in others)
    greedy = decode(table, sources, strategy="greedy", max_len=8)
    assert [h.tokens for h in decode(table, sources, strategy="sample", top_k=1, seed=9, max_len=8)] == \
        [h.tokens for h in greedy]


def test_settings_refuse_bad_values():
    with pytest.raises(ValueError, match="strategy"):
        Settings(strategy="nucleus")
    with pytest.raises(ValueError, match="top_p"):
        Settings(top_p=0.0)


# -- the model --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_cfg(tiny_checkpoint):
    from common.model import checkpoint_config
    import os
    return checkpoint_config(os.path.dirname(tiny_checkpoint["config_path"]), maxlen=64)


def test_tiny_checkpoint_has_an_mlm_head_and_a_headless_one_still_loads(tiny_cfg, tiny_checkpoint, tmp_path, caplog):
    import shutil
    from bert4keras.models import build_transformer_model
    from common import compat
    from common.model import checkpoint_config, has_mlm_head
    assert has_mlm_head(tiny_checkpoint["checkpoint_path"])
    for name in ("bert_config.json", "vocab.txt"):
        shutil.copy(tiny_checkpoint[{"bert_config.json": "config_path", "vocab.txt": "vocab_path"}[name]], tmp_path / name)
    encoder_only = build_transformer_model(str(tmp_path / "bert_config.json"), tiny_checkpoint["checkpoint_path"],
                                           return_keras_model=False)
    compat.save_checkpoint(encoder_only, str(tmp_path / "bert_model.ckpt"))
    assert not has_mlm_head(str(tmp_path / "bert_model.ckpt"))
    with caplog.at_level("WARNING"):
        model = seq2seq.build_model(checkpoint_config(str(tmp_path), maxlen=64))
    assert "no MLM head" in caplog.text
    word = model.get_layer("Embedding-Token").embeddings.numpy()
    assert np.array_equal(word, encoder_only.model.get_layer("Embedding-Token").embeddings.numpy())


def test_target_loss_is_the_mean_over_target_tokens(tf):
    logits = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("float32")
    labels = np.array([[4, 2, 0], [1, 0, 0]])
    per_example = seq2seq.target_loss(tf.constant(labels), tf.constant(logits)).numpy()
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -(logp[0, 0, 4] + logp[0, 1, 2] + logp[1, 0, 1]) / 3
    assert per_example.mean() == pytest.approx(expected, rel=1e-5)
    logits[0, 2] += 100.0                           # a padded position changes nothing
    assert seq2seq.target_loss(tf.constant(labels), tf.constant(logits)).numpy().mean() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("application", ["unilm", "lm"])
def test_cached_scorer_equals_full_recompute(tiny_cfg, application):
    model = seq2seq.build_model(tiny_cfg, application)
    vocab = model.output_shape[-1]
    rng = np.random.default_rng(0)
    sources = [[2] + rng.integers(5, vocab, n).tolist() + [3] for n in (5, 11, 3)]
    full, cached = seq2seq.FullScorer(model), seq2seq.CachedScorer(model, application)
    full.start(sources)
    cached.start(sources)
    inputs, rows, parents = np.arange(3), 2, None
    prefixes = np.zeros((3, rows, 0), dtype="int64")
    seen = []
    for t in range(4):
        expected, got = full.step(inputs, parents, prefixes), cached.step(inputs, parents, prefixes)
        assert got.shape == expected.shape == (len(inputs), rows, vocab)
        np.testing.assert_allclose(got, expected, atol=1e-4)
        seen.append(expected[0, 0])
        parents = rng.integers(0, rows, (len(inputs), rows))
        prefixes = np.concatenate([prefixes[np.arange(len(inputs))[:, None], parents],
                                   rng.integers(5, vocab, (len(inputs), rows, 1))], axis=2)
        if t == 1:                                   # the second source is done: it leaves the batch
            keep = np.array([True, False, True])
            inputs, prefixes, parents = inputs[keep], prefixes[keep], parents[keep]
    assert max(np.abs(a - b).max() for a, b in zip(seen, seen[1:])) > 1e-3   # prefixes matter


def test_generate_on_the_model_batched_equals_alone(tiny_cfg):
    model = seq2seq.build_model(tiny_cfg, "unilm")
    rng = np.random.default_rng(1)
    vocab = model.output_shape[-1]
    sources = [[2] + rng.integers(5, vocab, n).tolist() + [3] for n in (4, 9, 6)]
    settings = Settings(strategy="beam", beam_size=3, max_len=6, no_repeat_ngram=2)
    for scorer in (seq2seq.CachedScorer(model), seq2seq.FullScorer(model)):
        together = generate(scorer, sources, settings, end_id=3)
        alone = [generate(scorer, [s], settings, end_id=3)[0] for s in sources]
        assert [h.tokens for h in together] == [h.tokens for h in alone]
        assert all(0 < len(h.tokens) <= 6 for h in together)
