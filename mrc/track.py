"""mrc on the track interface (common/track.py): questions -> context windows -> start/end logits -> answers."""
import numpy as np

from common.io import write_json
from common.runner import stream_sorted
from common.track import Track
from mrc import data, decode, metric
from mrc.config import MRCConfig


class MRC(Track):
    name = "mrc"
    config_class = MRCConfig
    monitor = "f1"
    submission_name = "test_predictions.json"

    def load_records(self, path, labelled=True):
        return data.load(path, self.cfg.data.on_error, with_answers=labelled, locate=labelled)

    def encode(self, records, with_targets=True):
        d = self.cfg.data
        return data.encode_records(records, self.tokenizer, self.cfg.model.maxlen, d.window_step, d.max_question_len,
                                   d.max_answer_len, with_targets=with_targets, lost=self.lost)

    def collate(self, windows):
        return data.collate(windows)

    def build_model(self, load_checkpoint=True):
        from mrc.model import build_model
        return build_model(self.cfg.model, self.tokenizer.sep_id, load_checkpoint=load_checkpoint)

    def build_loss(self, windows):
        from mrc.model import build_loss
        return build_loss(self.cfg.train)

    def infer(self, model, windows):
        """Per window, lazily: its (sequence, 2) start/end logits. Windows stream through the model chunk
        by chunk and `decode` keeps only each question's best span, so a long context never holds the
        logits of all its windows."""
        def logits(batch):
            inputs, _ = data.collate(batch)
            out = np.asarray(model.predict_on_batch(inputs))
            return [row[:len(w)] for w, row in zip(batch, out)]

        return stream_sorted(windows, self.cfg.predict.batch_size, logits, length=len)

    def perfect_output(self, window):
        return decode.perfect_logits(window)

    def decode(self, records, windows, outputs):
        return decode.decode(records, windows, outputs, self.cfg.data.max_answer_len)

    def write_submission(self, path, rows):
        write_json(path, dict(rows), indent=1)

    def score(self, records, rows):
        """The official metric over the questions that have a gold (not placeholders of skipped ones)."""
        scores = metric.evaluate(data.gold_answers(records), dict(rows))
        return {"f1": scores["F1"], "em": scores["EM"]}

    @classmethod
    def evaluate_files(cls, gold_path, pred_path):
        return metric.evaluate_files(gold_path, pred_path)

    @classmethod
    def official_format(cls, metrics):
        return metric.official_format(metrics)
