"""Each bert4keras-on-TF-2.21 fix of common/compat.py, with proof that the unfixed path breaks."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.conftest import ROOT

UNFIXED_PRELUDE = textwrap.dedent("""
    import os
    os.environ["TF_USE_LEGACY_KERAS"] = "1"; os.environ["TF_KERAS"] = "1"
    import tensorflow as tf
""")


def run_unfixed(code):
    """Run `code` with bert4keras imported without common.compat."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-c", UNFIXED_PRELUDE + textwrap.dedent(code)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def small_config(tmp_path, **extra):
    import json
    config = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=32, hidden_act="gelu", max_position_embeddings=32, type_vocab_size=2,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **extra)
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_unfixed_stack_breaks_as_documented():
    """Fixes 1, 2 and 6 are needed: without them bert4keras fails or initialises wrongly here."""
    result = run_unfixed("""
        import json, tempfile, numpy as np
        from bert4keras.models import build_transformer_model
        try:
            from bert4keras.optimizers import Adam
            Adam(1e-3)
            print("OPTIMISER OK")
        except AttributeError as e:
            print("OPTIMISER BROKEN", e)
        d = tempfile.mkdtemp()
        json.dump(dict(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=32, hidden_act="gelu", max_position_embeddings=32,
                       type_vocab_size=2), open(d + "/c.json", "w"))
        bert = build_transformer_model(d + "/c.json", None, return_keras_model=False)
        w = {v.name: v.numpy() for v in bert.model.weights if "MultiHead" in v.name and "kernel" in v.name}
        print("QKV EQUAL" if all(np.array_equal(x, list(w.values())[0]) for x in w.values()) else "QKV DISTINCT")
        try:
            bert.save_weights_as_checkpoint(d + "/ckpt")
            print("SAVE OK")
        except Exception as e:
            print("SAVE BROKEN", type(e).__name__)
    """)
    assert "OPTIMISER BROKEN" in result.stdout and "_set_hyper" in result.stdout, result.stderr[-2000:]
    assert "QKV EQUAL" in result.stdout
    assert "SAVE BROKEN" in result.stdout


def test_optimisers_work_on_legacy_base(tf):
    import keras
    from bert4keras import optimizers as o
    cls = o.extend_with_exponential_moving_average(
        o.extend_with_piecewise_linear_lr(o.extend_with_weight_decay(o.Adam, "W"), "WL"), "WLE")
    optimizer = cls(learning_rate=0.1, weight_decay_rate=0.01, lr_schedule={0: 1.0}, ema_momentum=0.5)
    assert isinstance(optimizer, keras.optimizers.legacy.Optimizer)
    var = tf.Variable([1.0, -1.0])
    optimizer.apply_gradients([(tf.constant([1.0, -1.0]), var)])
    assert np.all(np.abs(var.numpy()) < 1.0)  # it moved against the gradient


def test_checkpoint_reloads_bit_identically(tf, tmp_path):
    from bert4keras.models import build_transformer_model
    from common.compat import save_checkpoint
    config = small_config(tmp_path)
    bert = build_transformer_model(config, None, return_keras_model=False)
    save_checkpoint(bert, str(tmp_path / "bert_model.ckpt"))
    reloaded = build_transformer_model(config, str(tmp_path / "bert_model.ckpt"), return_keras_model=False)
    before = {w.name: w.numpy() for w in bert.model.weights}
    after = {w.name: w.numpy() for w in reloaded.model.weights}
    assert before.keys() == after.keys()
    assert max(float(np.abs(before[k] - after[k]).max()) for k in before) == 0.0
    names = [n for n, _ in tf.train.list_variables(str(tmp_path / "bert_model.ckpt"))]
    assert "bert/encoder/layer_0/attention/self/query/kernel" in names  # Google-BERT names
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]  # atomic: no temp files left


def test_generator_lists_are_fed_as_separate_inputs(tf, tmp_path):
    from bert4keras.models import build_transformer_model
    from common.compat import fit_generator_items
    model = build_transformer_model(small_config(tmp_path), None)
    model.add_loss(tf.reduce_mean(model.output ** 2))
    model.compile(optimizer="sgd")
    ids = np.ones((2, 5), "int32")

    def batches():
        while True:
            yield [ids, np.zeros_like(ids)], None

    with pytest.raises(ValueError, match="expects 2 input"):
        model.fit(batches(), steps_per_epoch=1, verbose=0)
    model.compile(optimizer="sgd")
    history = model.fit(fit_generator_items(batches()), steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_random_init_is_distinct_and_seeded(tf, tmp_path):
    from bert4keras.models import build_transformer_model
    from common import backend
    config = small_config(tmp_path)

    def kernels(seed):
        backend.set_seed(seed)
        model = build_transformer_model(config, None)
        return [w.numpy() for w in model.weights if "MultiHead" in w.name and "kernel" in w.name]

    first = kernels(7)
    assert len(first) == 8  # q, k, v, o of two layers
    assert all(not np.array_equal(first[0], k) for k in first[1:])
    assert all(np.array_equal(a, b) for a, b in zip(first, kernels(7)))
    assert not np.array_equal(first[0], kernels(8)[0])
    assert 0.01 < float(np.std(first[0])) < 0.03  # truncated normal, stddev 0.02
