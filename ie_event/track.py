"""ie_event on the track interface (common/track.py): DuEE records -> windows -> positive cells -> events."""
import functools
import logging

from common.io import write_jsonl
from common.runner import run_sorted
from common.tokenize import sentence_inputs
from common.track import Track
from ie_event import data, decode, metric
from ie_event.config import IEEventConfig

log = logging.getLogger(__name__)


class IEEvent(Track):
    name = "ie_event"
    metric = metric
    config_class = IEEventConfig
    monitor = "f1"
    submission_name = "duee_pred.json"
    label_file_key = "schema_file"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cells = None  # (model, traced cell selector): traced once per model, reused every epoch

    @functools.cached_property
    def schema(self):
        return data.load_schema(self.label_path(), self.cfg.model.links_per_event_type,
                                self.cfg.model.events_per_argument)

    def load_records(self, path, labelled=True):
        return data.load_records(path, self.schema, labelled=labelled, on_error=self.cfg.data.on_error)

    def encode(self, records, with_targets=True):
        return data.encode_records(records, self.tokenizer, self.schema, self.cfg.model.maxlen,
                                   self.cfg.data.window_step, with_targets=with_targets, lost=self.lost)

    def collate(self, windows):
        return data.collate(windows, self.schema.n_heads, self.tokenizer.pad_id)

    def build_model(self, load_checkpoint=True):
        from ie_event.model import build_model
        return build_model(self.cfg.model, self.schema, load_checkpoint=load_checkpoint, seed=self.cfg.train.seed)

    def build_loss(self, windows):
        from ie_event.model import build_loss
        return build_loss(self.cfg.train, windows, self.schema.n_heads)

    def infer(self, model, windows):
        """Per window: (int32 array (n, 3) of positive cells (head, i, j), float32 array (n,) of their
        logits), at most predict.max_cells of them (compact arrays: a long input holds many windows)."""
        import numpy as np
        predict = self.cfg.predict
        if self._cells is None or self._cells[0] is not model:
            from ie_event.model import positive_cells
            self._cells = (model, positive_cells(model, predict.threshold, predict.max_cells))
        select = self._cells[1]
        crowded = []

        def cells(batch):
            where, scores, per_window = select(*sentence_inputs([w.token_ids for w in batch], self.tokenizer.pad_id))
            crowded.extend(n for n in per_window.tolist() if n > predict.max_cells)
            bounds = np.searchsorted(where[:, 0], np.arange(len(batch) + 1))
            return [(where[a:b, 1:], scores[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

        outputs = run_sorted(windows, predict.batch_size, cells, length=lambda w: len(w.token_ids))
        if crowded:
            log.warning("%d window(s) had more than predict.max_cells = %d positive cells (up to %d): kept the best",
                        len(crowded), predict.max_cells, max(crowded))
        return outputs

    def perfect_output(self, window):
        return window.targets, None

    def decode(self, records, windows, outputs):
        limits = decode.Limits(self.cfg.predict.max_arguments, self.cfg.predict.max_events)
        return decode.decode_windows(records, windows, outputs, self.schema, limits)

    def write_submission(self, path, rows):
        write_jsonl(path, rows)

    def score(self, records, rows):
        """The metric over the records that have a gold (placeholders of skipped lines have none)."""
        kept = [(record, row) for record, row in zip(records, rows) if not record.skipped]
        return metric.score(data.gold_arguments([r for r, _ in kept]), data.predicted_arguments([w for _, w in kept]))

    explanation_note = ("A prediction is one argument of one window, (event type, role, span); its target is "
                        "the logit of the span's cell in the role's span head.")

    def explanation_subjects(self, model, records, max_targets=8):
        """One subject per window; its arguments (positive span cells) ranked by their logit."""
        from common.explain import Subject, Target, layout
        meanings, subjects = self.schema.head_meanings(), []
        windows = self.encode(records, with_targets=False)
        for window, (cells, scores) in zip(windows, self.infer(model, windows)):
            n = len(window.offsets)
            arguments = sorted(((float(score), head, i, j) for (head, i, j), score in zip(cells.tolist(), scores.tolist())
                                if meanings[head][0] == "span" and 1 <= i <= j <= n), reverse=True)
            record = records[window.record]
            targets = []
            for _, head, i, j in arguments[:max_targets]:
                event_type, role = meanings[head][1]
                argument = record.text[window.offsets[i - 1][0]:window.offsets[j - 1][1]]
                targets.append(Target(f"{event_type} · {role}: {argument}", _cell(head, i, j), tuple(range(i, j + 1))))
            encoding = self.tokenizer.encode_cached(record.text)
            first = encoding.offsets.index(window.offsets[0]) if window.offsets else 0
            tokens, offsets, text = layout("[CLS]", (record.text, encoding.tokens[first:first + n], window.offsets),
                                           "[SEP]")
            part = "" if n == len(encoding) else f", tokens {first + 1}-{first + n} of {len(encoding)}"
            subjects.append(Subject(f"{record.id}{part}", window.token_ids, [0] * len(window.token_ids), targets,
                                    tokens, offsets, text, left_out=len(arguments) - len(targets)))
        return subjects


def _cell(head, i, j):
    """Target: the logit of one cell of the stacked heads (batch, heads, L, L)."""
    def target(logits):
        return logits[:, head, i, j]
    return target
