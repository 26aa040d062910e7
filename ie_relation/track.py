"""ie_relation on the track interface (common/track.py): DuIE 2.0 records -> windows -> pointer cells -> SPOs."""
import functools
import json
import os
import zipfile

import numpy as np

from common.io import atomic_write_all
from common.runner import stream_sorted
from common.tokenize import sentence_inputs
from common.track import Track
from ie_relation import data, decode, metric
from ie_relation.config import IERelationConfig


def zip_path(path):
    """The zip submission beside a JSON Lines submission."""
    return os.path.splitext(path)[0] + ".zip"


class IERelation(Track):
    name = "ie_relation"
    metric = metric
    config_class = IERelationConfig
    monitor = "f1"
    submission_name = "duie_pred.json"
    label_file_key = "schema_file"

    @functools.cached_property
    def schema(self):
        return data.load_schema(self.label_path())

    def load_records(self, path, labelled=True):
        return data.load_records(path, self.schema, labelled=labelled, on_error=self.cfg.data.on_error)

    def encode(self, records, with_targets=True):
        return data.encode_records(records, self.tokenizer, self.schema, self.cfg.model.maxlen,
                                   self.cfg.data.window_step, with_targets=with_targets, lost=self.lost)

    def collate(self, windows):
        return (sentence_inputs([w.token_ids for w in windows], self.tokenizer.pad_id),
                data.collate_targets(windows, self.schema.n_channels))

    def build_model(self, load_checkpoint=True):
        from ie_relation.model import build_model
        return build_model(self.cfg.model, self.schema, load_checkpoint=load_checkpoint)

    def build_loss(self, windows):
        from ie_relation.model import build_loss
        return build_loss(self.cfg.train, windows, self.schema.n_channels)

    def infer(self, model, windows):
        """Per window, lazily: its SPOs as character spans, decoded batch by batch right after the
        forward pass. The model's graph keeps the best spans and the links between them
        (ie_relation.model.build_selector), so the dense scores never leave it."""
        p = self.cfg.predict
        select = self._selector(model)

        def spos(batch):
            selections = select(sentence_inputs([w.token_ids for w in batch], self.tokenizer.pad_id),
                                [len(w) - 2 for w in batch])
            return [decode.char_spos(window, decode.selection_spos(selection, self.schema, p.max_spos))
                    for window, selection in zip(batch, selections)]

        # longest first: the first batch shows at once whether the largest one fits in memory
        return stream_sorted(windows, p.batch_size, spos, length=lambda w: -len(w))

    def _selector(self, model):
        """The graph selection of `model`, traced once per model (training evaluates the same model
        every epoch)."""
        cached = self.__dict__.get("_selector_of")
        if cached is None or cached[0] is not model:
            from ie_relation.model import build_selector
            p = self.cfg.predict
            cached = (model, build_selector(model, self.schema.n_links, p.max_spans, p.entity_threshold,
                                            p.link_threshold))
            self.__dict__["_selector_of"] = cached
        return cached[1]

    def _window_spos(self, window, scores):
        p = self.cfg.predict
        return decode.char_spos(window, decode.window_spos(scores, len(window) - 2, self.schema, p.max_spans,
                                                           p.max_spos, p.entity_threshold, p.link_threshold))

    def perfect_output(self, window):
        return self._window_spos(window, decode.perfect_scores(window, self.schema.n_channels))

    def decode(self, records, windows, outputs):
        return decode.merge(records, windows, outputs, self.schema, self.cfg.predict.max_record_spos)

    def write_submission(self, path, rows):
        """JSON Lines at `path` and the zip the organisers' scorer takes beside it (same name, .zip),
        replaced as a pair: the old zip goes first and the new one comes last, so a zip beside the JSON
        Lines file always holds the same predictions (a killed write leaves no zip, never a stale one)."""
        payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
        with atomic_write_all([path, zip_path(path)], "wb") as (lines, packed):
            lines.write(payload)
            with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(os.path.basename(path), payload)

    def score(self, records, rows):
        """The official metric over the records that have a gold (placeholders of skipped lines have none)."""
        gold = [(r, row) for r, row in zip(records, rows) if not data.is_placeholder(r)]
        return metric.score_records([r for r, _ in gold], [row for _, row in gold])

    explanation_note = ("A prediction is one SPO of one window; its target is the sum of the logits of its "
                        "cells (subject and object spans, the head and tail links joining them).")

    def explanation_subjects(self, model, records, max_targets=8):
        """One subject per window; its SPOs ranked by their summed logit."""
        from common.explain import Subject, Target, layout
        p, subjects = self.cfg.predict, []
        for window in self.encode(records, with_targets=False):
            inputs = sentence_inputs([window.token_ids], self.tokenizer.pad_id)
            scores = np.asarray(model.predict_on_batch(inputs))[0]
            spos = decode.window_spos(scores, len(window) - 2, self.schema, p.max_spans, p.max_spos,
                                      p.entity_threshold, p.link_threshold)
            ranked = sorted(((sum(float(scores[c]) for c in decode.spo_cells(spo, self.schema)), spo) for spo in spos),
                            key=lambda pair: -pair[0])
            text = records[window.record]["text"]
            targets = [Target(_spo_label(text, decode.char_spos(window, [spo])[0]),
                              _cells_sum(decode.spo_cells(spo, self.schema)), _spo_positions(spo))
                       for _, spo in ranked[:max_targets]]
            tokens, offsets, shown_text = layout(
                "[CLS]", (text, window.encoding.tokens[window.start:window.end], window.offsets), "[SEP]")
            part = "" if window.end - window.start == len(window.encoding) else \
                f", tokens {window.start + 1}-{window.end} of {len(window.encoding)}"
            subjects.append(Subject(f"record {window.record + 1}{part}", window.token_ids, [0] * len(window),
                                    targets, tokens, offsets, shown_text, left_out=len(ranked) - len(targets)))
        return subjects


def _spo_label(text, spo):
    """How an SPO with character spans reads: predicate: subject → object (, slot = value)."""
    predicate, (s0, s1), obj = spo
    values = dict(obj)
    a, b = values.pop(data.MAIN)
    extra = "".join(f", {slot} = {text[x:y]}" for slot, (x, y) in sorted(values.items()))
    return f"{predicate}: {text[s0:s1]} → {text[a:b]}{extra}"


def _spo_positions(spo):
    """Model positions of an SPO's subject and object spans."""
    _, subject, obj = spo
    return tuple(p for head, tail in (subject, *(span for _, span in obj)) for p in range(head, tail + 1))


def _cells_sum(cells):
    """Target: the sum of the logits at `cells` ((channel, head, tail) model positions)."""
    def target(scores):
        import tensorflow as tf
        return tf.add_n([scores[:, channel, head, tail] for channel, head, tail in cells])
    return target
