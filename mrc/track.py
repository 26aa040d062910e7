"""mrc on the track interface (common/track.py): questions -> context windows -> start/end logits -> answers."""
import numpy as np

from common.io import write_json
from common.runner import stream_sorted
from common.track import Track
from mrc import data, decode, metric
from mrc.config import MRCConfig


class MRC(Track):
    name = "mrc"
    metric = metric
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

    explanation_note = ("A prediction is the answer span of one question, in the window where it scores best; "
                        "its target is log p(start) + log p(end), the softmax over the window's candidates.")

    def explanation_subjects(self, model, records, max_targets=8):
        """One subject per question: the window of its answer (nothing predicted for an empty context)."""
        from common.explain import Subject, Target, layout
        windows = self.encode(records, with_targets=False)
        best = {}
        for window, logits in zip(windows, self.infer(model, windows)):
            if window.n_tokens:
                score, first, last = decode.best_span(*decode.window_scores(window, logits), self.cfg.data.max_answer_len)
                if window.record not in best or score > best[window.record][0]:
                    best[window.record] = (score, window, first, last)
        subjects = []
        for index, question in enumerate(records):
            if index not in best:
                continue
            _, window, first, last = best[index]
            offsets = window.offsets[window.first_token:window.first_token + window.n_tokens]
            answer = question.context[offsets[first][0]:offsets[last][1]]
            asked = self.tokenizer.encode_cached(question.question)
            n_asked = len(window.shared.question_ids)
            context = self.tokenizer.encode_cached(question.context)
            tokens, shown, text = layout(
                "[CLS]", (question.question, asked.tokens[:n_asked], asked.offsets[:n_asked]), "[SEP]",
                (question.context, context.tokens[window.first_token:window.first_token + window.n_tokens], offsets),
                "[SEP]")
            start, end = window.context_pos + first, window.context_pos + last
            target = Target(f"answer: {answer}", _span_log_probability(start, end), tuple(range(start, end + 1)))
            token_ids, segment_ids = window.sequence()
            part = "" if window.n_tokens == len(context) else \
                f" (context tokens {window.first_token + 1}-{window.first_token + window.n_tokens} of {len(context)})"
            subjects.append(Subject(f"{question.qid}: {question.question}{part}", token_ids, segment_ids, [target],
                                    tokens, shown, text))
        return subjects


def _span_log_probability(start, end):
    """Target: log p(start) + log p(end) of a span, at sequence positions (logits (batch, sequence, 2);
    the masked positions hold -1e9, so the softmax runs over the window's candidates)."""
    def target(logits):
        import tensorflow as tf
        log_p = tf.nn.log_softmax(logits, axis=1)
        return log_p[:, start, 0] + log_p[:, end, 1]
    return target
