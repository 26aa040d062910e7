"""ie_event on the track interface (common/track.py): DuEE records -> windows -> positive cells -> events."""
import functools

from common.io import write_jsonl
from common.runner import run_sorted
from common.tokenize import sentence_inputs
from common.track import Track
from ie_event import data, decode, metric
from ie_event.config import IEEventConfig


class IEEvent(Track):
    name = "ie_event"
    config_class = IEEventConfig
    monitor = "f1"
    submission_name = "duee_pred.json"
    label_file_key = "schema_file"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cells = None  # (model, traced cell selector): traced once per model, reused every epoch

    @functools.cached_property
    def schema(self):
        return data.load_schema(self.label_path(), self.cfg.model.links_per_event_type)

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
        """Per window: (positive cells (head, i, j), their logits)."""
        if self._cells is None or self._cells[0] is not model:
            from ie_event.model import positive_cells
            self._cells = (model, positive_cells(model, self.cfg.predict.threshold))
        select = self._cells[1]

        def cells(batch):
            where, scores = select(*sentence_inputs([w.token_ids for w in batch], self.tokenizer.pad_id))
            found = [([], []) for _ in batch]
            for (b, head, i, j), score in zip(where.tolist(), scores.tolist()):
                found[b][0].append((head, i, j))
                found[b][1].append(score)
            return found

        return run_sorted(windows, self.cfg.predict.batch_size, cells, length=lambda w: len(w.token_ids))

    def perfect_output(self, window):
        return window.targets, None

    def decode(self, records, windows, outputs):
        return decode.decode_windows(records, windows, outputs, self.schema, self.cfg.predict.max_arguments)

    def write_submission(self, path, rows):
        write_jsonl(path, rows)

    def score(self, records, rows):
        return metric.score(data.gold_arguments(records), data.predicted_arguments(rows))

    @classmethod
    def evaluate_files(cls, gold_path, pred_path):
        return metric.evaluate_files(gold_path, pred_path)
