"""The predict-time selection in the model's graph (ie_relation.model.build_selector) equals the host
decoder's (decode.select) on every window: same spans in the same order, same links, same SPOs."""
import os

import numpy as np
import pytest

from conftest import make_track, sample
from ie_relation import decode
from ie_relation.data import load_schema


@pytest.fixture(scope="module")
def schema():
    return load_schema(sample("ie_relation", "schema.json"))


def fixed_scores_model(tf, scores):
    """A Keras model [token_ids, segment_ids] -> scores[token_ids[:, 0]] (window w is asked for by id w)."""
    import keras
    table = tf.constant(scores)
    ids = keras.layers.Input((None,), dtype="int32")
    segments = keras.layers.Input((None,), dtype="int32")
    out = keras.layers.Lambda(lambda x: tf.gather(table, x[:, 0]))(ids)
    return keras.models.Model([ids, segments], out)


def assert_same_selection(graph, host):
    for got, want in zip((*graph.subjects, *graph.objects), (*host.subjects, *host.objects)):
        assert got.tolist() == want.tolist()
    assert graph.subject_object.shape == host.subject_object.shape
    assert (graph.subject_object == host.subject_object).all()
    assert (graph.object_object == host.object_object).all()


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_graph_selection_equals_the_host_decoder_with_ties_caps_and_short_windows(tf, schema, threshold):
    from ie_relation.model import build_selector
    rng = np.random.default_rng(3)
    windows, size = 6, 12
    # few distinct values: many ties at the max_spans cut, which both must break by position
    scores = (rng.integers(-4, 5, (windows, schema.n_channels, size, size)) / 2).astype("float32")
    scores[1] = -1.0  # a window with nothing above threshold
    scores[2, decode.OBJECT] = -1.0  # subjects but no object
    n_positions = [10, 10, 10, 3, 1, 7]
    select = build_selector(fixed_scores_model(tf, scores), schema.n_links, 5, threshold, threshold)
    ids = np.tile(np.arange(windows)[:, None], (1, size))
    selections = select([ids, np.zeros_like(ids)], n_positions)
    found = 0
    for w, selection in enumerate(selections):
        host = decode.select(scores[w], n_positions[w], schema.n_links, 5, threshold, threshold)
        assert_same_selection(selection, host)
        spos = decode.selection_spos(selection, schema, 50)
        assert spos == decode.window_spos(scores[w], n_positions[w], schema, 5, 50, threshold, threshold)
        found += len(spos)
    assert found and not decode.selection_spos(selections[1], schema, 50)
    assert len(selections[0].subjects[0]) == 5  # the cap bit


def test_track_predict_equals_dense_decoding_on_a_real_model(tf, tiny_bert, sample_vocab):
    folder = tiny_bert("ie_relation")
    track = make_track("ie_relation", f"data.dir={os.path.dirname(sample('ie_relation', 'train.json'))}",
                       f"model.dir={folder}", "model.maxlen=48", "model.head_size=8", "predict.batch_size=3",
                       "predict.max_spans=6")
    records, _ = track.load_records(sample("ie_relation", "train.json"))
    windows = track.encode(records, with_targets=False)
    model = track.build_model(load_checkpoint=False)
    from common.tokenize import sentence_inputs
    ordered = sorted(windows, key=len, reverse=True)
    dense = []
    for i in range(0, len(ordered), 3):
        batch = ordered[i:i + 3]
        scores = np.asarray(model.predict_on_batch(sentence_inputs([w.token_ids for w in batch])))
        dense += [track._window_spos(w, s) for w, s in zip(batch, scores)]
    graph = list(track.infer(model, windows))
    by_window = dict(zip(map(id, ordered), dense))
    assert graph == [by_window[id(w)] for w in windows] and any(graph)
