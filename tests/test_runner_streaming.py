"""Bounded, streamed inference: outputs of a long input go through chunk by chunk and are decoded as
they come; an untrained model that scores everything positive cannot make predict run away."""
import time

import numpy as np
import pytest

from common.runner import run_sorted, stream_sorted
from conftest import SAMPLES, make_track


def test_stream_sorted_yields_in_order_and_runs_one_chunk_at_a_time():
    examples = ["x" * n for n in (5, 1, 4, 2, 9, 3, 7)]
    calls = []

    def call(batch):
        calls.append([len(e) for e in batch])
        return [len(e) * 10 for e in batch]

    stream = stream_sorted(examples, 2, call, chunk=4)
    assert next(stream) == 50 and calls == [[1, 2], [4, 5]]  # only the first chunk has run, sorted inside
    assert [50, *stream] == run_sorted(examples, 2, call) == [10 * len(e) for e in examples]
    with pytest.raises(ValueError):
        next(stream_sorted(examples, 0, call))


def test_mrc_windows_of_a_long_context_share_its_encoding_and_stream(sample_vocab):
    from mrc import data

    class Flat:
        calls = 0

        def predict_on_batch(self, inputs):
            Flat.calls += 1
            return np.zeros(inputs[0].shape + (2,), dtype="float32")

    track = make_track("mrc", f"model.vocab_path={sample_vocab}", "model.maxlen=64", "data.max_answer_len=20",
                       "predict.batch_size=2")
    context = "蜂蜜不宜用开水冲泡，因为高温会破坏其中的酶和维生素。" * 600   # ~16,000 characters
    questions = [data.Question("q1", "蜂蜜用多少度的水冲", context), data.Question("q2", "问", "短")]
    windows = track.encode(questions, with_targets=False)
    assert len(windows) > 400
    assert all(w.offsets is windows[0].offsets for w in windows[:-1]) and "token_ids" not in vars(windows[0])
    question = [track.tokenizer.cls_id, *track.tokenizer.encode("蜂蜜用多少度的水冲").ids, track.tokenizer.sep_id]
    assert windows[6].token_ids[:len(question)] == question and len(windows[6].token_ids) == len(windows[6]) == 64
    outputs = track.infer(Flat(), windows)
    next(outputs)
    assert Flat.calls == 64 < len(windows) / 2  # one chunk of 64 batches so far
    (qid, answer), short = track.predict(Flat(), questions, windows)
    assert qid == "q1" and answer in context and 0 < len(answer) <= 20 and short == ("q2", "短")


class AllPositive:
    """An untrained ie_relation model at its worst: every cell of every channel positive. Called in
    the graph (ie_relation.model.build_selector), it counts its calls in a variable."""

    def __init__(self, n_channels):
        from common import backend
        tf = backend.setup()
        self.n_channels, self.counter = n_channels, tf.Variable(0)

    @property
    def calls(self):
        return int(self.counter.numpy())

    def __call__(self, inputs, training=False):
        import tensorflow as tf
        self.counter.assign_add(1)
        batch, length = tf.shape(inputs[0])[0], tf.shape(inputs[0])[1]
        return tf.ones([batch, self.n_channels, length, length])


def test_ie_relation_predict_is_bounded_per_record_on_a_long_text(sample_vocab):
    track = make_track("ie_relation", f"data.dir={SAMPLES}/ie_relation", f"model.vocab_path={sample_vocab}",
                       "model.maxlen=64", "predict.batch_size=1", "predict.max_record_spos=300")
    text = "《寒江雪》是林知远执导，周慕白、乔安主演的武侠电影" * 150   # ~3,800 characters, ~120 windows
    records = [{"text": text, "spo_list": []}, {"text": "乔安在《寒江雪》中饰演女侠柳如烟", "spo_list": []}]
    windows = track.encode(records, with_targets=False)
    assert len(windows) > 100 and "token_ids" not in vars(windows[0])  # cut from the encoding when asked
    model = AllPositive(track.schema.n_channels)
    next(track.infer(model, windows))
    assert model.calls < len(windows) * 0.6  # lazy: the rest runs as the decoder asks for it
    started = time.perf_counter()
    rows = track.predict(model, records, windows)
    assert time.perf_counter() - started < 10  # ~1 s: a few milliseconds per window
    assert [len(row["spo_list"]) for row in rows] == [300, 256]  # per record, per window (max_spos)
    for row in rows:
        assert all(s["subject"] in row["text"] and all(v in row["text"] for v in s["object"].values())
                   for s in row["spo_list"])
