"""Integrated gradients on the tiny random BERT: completeness, padding, chunking, a head whose
attributions are known in closed form, and the hook leaving the model as it was."""
import os

import numpy as np
import pytest

from common.explain import integrated_gradients

TEXT = "北京是中国的首都"
READ = (2, 5)  # positions the closed-form head reads


@pytest.fixture(scope="module")
def explained(tiny_checkpoint):
    """One model with three heads on one encoder: per-token softmax, global pointer, and a head
    reading only the token embeddings at READ, 0.5 * sum_p (v . E_p)^2, whose attributions are known:
    token p gets (v . E_p)^2 / 2 exactly (the integrand is linear in alpha), every other token 0."""
    import keras
    import tensorflow as tf
    from bert4keras.layers import GlobalPointer

    from common.model import build_encoder, checkpoint_config
    from common.tokenize import OffsetTokenizer

    encoder = build_encoder(checkpoint_config(os.path.dirname(tiny_checkpoint["vocab_path"])))
    tokens = encoder.get_layer("Embedding-Token")
    direction = np.random.default_rng(0).normal(size=(tokens.output_dim, 1)).astype("float32") * 3

    def quadratic(embedded):
        read = tf.gather(embedded, list(READ), axis=1)  # (batch, 2, hidden)
        return 0.5 * tf.reduce_sum(tf.square(tf.matmul(read, direction)), axis=(1, 2))

    probabilities = keras.layers.Dense(4, activation="softmax", name="tags")(encoder.output)
    pointer = GlobalPointer(2, 16, name="pointer")(encoder.output)
    closed_form = keras.layers.Lambda(quadratic, name="closed_form")(tokens.output)
    model = keras.Model(encoder.inputs, [probabilities, pointer, closed_form])

    tokenizer = OffsetTokenizer(tiny_checkpoint["vocab_path"])
    token_ids, segment_ids = tokenizer.wrap(tokenizer.encode(TEXT).ids)
    embeddings = tokens.embeddings.numpy()[token_ids]
    expected = np.zeros(len(token_ids))
    for p in READ:
        expected[p] = 0.5 * float(embeddings[p] @ direction[:, 0]) ** 2
    return model, token_ids, segment_ids, expected


TARGETS = [lambda out: out[0][:, 3, 1],        # tag 1 of token 3
           lambda out: out[1][:, 0, 2, 4],     # entity type 0 spanning tokens 2..4
           lambda out: out[1][:, 1, 1, 1],
           lambda out: out[2]]


def test_completeness_error_is_below_one_percent_for_softmax_and_pointer_heads(explained):
    model, token_ids, segment_ids, _ = explained
    results = integrated_gradients(model, token_ids, segment_ids, TARGETS[:3])
    for result in results:
        assert result.value != pytest.approx(result.baseline_value, abs=1e-4)  # a real change to explain
        assert result.completeness_error < 0.01
        assert result.attributions.shape == (len(token_ids),)
        assert np.sum(result.attributions) == pytest.approx(result.value - result.baseline_value, rel=0.01)


def test_closed_form_head_gets_exactly_its_known_attributions(explained):
    model, token_ids, segment_ids, expected = explained
    result = integrated_gradients(model, token_ids, segment_ids, TARGETS[3], steps=4)
    assert result.baseline_value == pytest.approx(0, abs=1e-7)
    assert result.value == pytest.approx(expected.sum(), rel=1e-5)
    # the right Riemann sum would be (steps + 1) / (2 steps) instead of 1/2: 25% off at 4 steps
    assert result.attributions == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert np.count_nonzero(result.attributions) == len(READ)


def test_padding_changes_nothing_on_the_real_tokens_and_pads_get_zero(explained):
    model, token_ids, segment_ids, _ = explained
    plain = integrated_gradients(model, token_ids, segment_ids, TARGETS)
    padded = integrated_gradients(model, token_ids + [0] * 6, segment_ids + [0] * 6, TARGETS)
    n = len(token_ids)
    for a, b in zip(plain, padded):
        assert b.attributions[:n] == pytest.approx(a.attributions, rel=1e-4, abs=1e-6)
        assert not b.attributions[n:].any()
        assert b.value == pytest.approx(a.value, rel=1e-5)
        assert b.baseline_value == pytest.approx(a.baseline_value, rel=1e-5)


def test_chunking_and_explaining_targets_together_give_the_same_result(explained):
    model, token_ids, segment_ids, _ = explained
    together = integrated_gradients(model, token_ids, segment_ids, TARGETS, steps=6, chunk=6)
    one_step_per_call = integrated_gradients(model, token_ids, segment_ids, TARGETS, steps=6, chunk=1)
    for index, target in enumerate(TARGETS):
        alone = integrated_gradients(model, token_ids, segment_ids, target, steps=6, chunk=4)
        for other in (alone, one_step_per_call[index]):
            assert other.attributions == pytest.approx(together[index].attributions, rel=1e-4, abs=1e-7)
            assert other.value == pytest.approx(together[index].value, rel=1e-6)


def test_more_steps_shrink_the_completeness_error(explained):
    model, token_ids, segment_ids, _ = explained
    coarse, fine = (integrated_gradients(model, token_ids, segment_ids, TARGETS[1], steps=s) for s in (2, 16))
    assert fine.completeness_error < coarse.completeness_error / 4


def test_model_is_unchanged_afterwards_also_when_a_target_is_wrong(explained):
    import tensorflow as tf
    model, token_ids, segment_ids, _ = explained
    inputs = [np.array([token_ids]), np.array([segment_ids])]
    before = model(inputs, training=False)[1].numpy()
    with pytest.raises(ValueError, match="one scalar per batch row"):
        integrated_gradients(model, token_ids, segment_ids, [TARGETS[0], lambda out: out[1][:, 0]])
    with pytest.raises(ValueError, match="does not depend"):
        integrated_gradients(model, token_ids, segment_ids, lambda out: tf.ones_like(out[0][:, 0, 0]), steps=1)
    assert "call" not in vars(model.get_layer("Embedding-Token"))
    assert model(inputs, training=False)[1].numpy() == pytest.approx(before)
    integrated_gradients(model, token_ids, segment_ids, TARGETS[0], steps=1)  # and it can be hooked again


def test_encoder_nested_as_a_sub_model_is_found_and_explained_alike(explained):
    import keras
    model, token_ids, segment_ids, _ = explained
    outer = keras.Model(model.inputs, model(model.inputs)[0])
    direct = integrated_gradients(model, token_ids, segment_ids, TARGETS[0], steps=8)
    nested = integrated_gradients(outer, token_ids, segment_ids, lambda out: out[:, 3, 1], steps=8)
    assert nested.attributions == pytest.approx(direct.attributions, rel=1e-5, abs=1e-8)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="positions"):
        integrated_gradients(None, [2, 5, 3], [0, 0], lambda out: out)
    with pytest.raises(ValueError, match="no targets"):
        integrated_gradients(None, [2, 3], [0, 0], [])
