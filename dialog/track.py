"""dialog on the track interface (common/track.py): samples -> (context, goal | reply) pairs -> a UniLM
-> batched decoding -> one re-segmented reply per line.

Records are samples: every bot turn of a session file (train, dev, or any session file given to
predict) and one per test input, in file order; one submission line per record.
"""
from common.config import ConfigError
from common.io import atomic_write
from common.runner import run_sorted
from common.track import Track
from dialog import data, decode, encode, metric
from dialog.config import DialogConfig
from dialog.goals import compact


class Dialog(Track):
    name = "dialog"
    metric = metric
    config_class = DialogConfig
    monitor = "f1"
    submission_name = "predictions.txt"

    def __init__(self, cfg, label_path=None, vocab_path=None):
        super().__init__(cfg, label_path, vocab_path)
        m = cfg.model
        if encode.context_budget(m.maxlen, m.max_target_len) < 16:
            raise ConfigError(f"model.maxlen = {m.maxlen} leaves {encode.context_budget(m.maxlen, m.max_target_len)} "
                              f"context tokens after model.max_target_len = {m.max_target_len}: raise maxlen")
        self._segmenter = None
        self._generator = None

    def load_records(self, path, labelled=True):
        return data.load_samples(path, labelled, self.cfg.data.on_error)

    def encode(self, records, with_targets=True):
        m = self.cfg.model
        try:
            return [encode.encode_sample(i, sample, self.tokenizer, m.maxlen, m.max_target_len, m.history_share,
                                         m.slots, with_targets, self.lost) for i, sample in enumerate(records)]
        except ValueError as error:       # the goals alone do not fit the context budget
            raise ConfigError(f"model.maxlen = {m.maxlen}, model.max_target_len = {m.max_target_len}: {error}") from None

    def collate(self, examples):
        from common import seq2seq
        return seq2seq.collate([(e.source, e.target) for e in examples])

    def build_model(self, load_checkpoint=True):
        from dialog.model import build_model
        return build_model(self.cfg.model, load_checkpoint)

    def build_loss(self, examples):
        from dialog.model import build_loss
        return build_loss(self.cfg.train)

    def infer(self, model, examples):
        """Per example: the generated token ids (goal | reply), the end token left out."""
        from dialog.model import Generator
        if self._generator is None or self._generator.model is not model:
            self._generator = Generator(model, self.cfg, self.tokenizer.sep_id, encode.goal_end_id(self.tokenizer))
        return run_sorted(examples, self.cfg.predict.batch_size, self._generator, length=lambda e: len(e.source))

    def perfect_output(self, example):
        return example.target[:-1]

    def decode(self, records, examples, outputs):
        from dialog.postprocess import Segmenter
        if self._segmenter is None:
            self._segmenter = Segmenter()
        token_of = {i: token for token, i in self.tokenizer.vocab.items()}
        rows = []
        for example, ids in zip(examples, outputs):
            sample = records[example.index]
            spelled = decode.spellings([*example.names, *sample.history, *(x for t in sample.knowledge for x in t)])
            rows.append(decode.decode_reply(example, [token_of[i] for i in ids], self._segmenter, spelled))
        return rows

    def write_submission(self, path, rows):
        with atomic_write(path) as f:
            for row in rows:
                if not row.line.strip() or "\n" in row.line or "\r" in row.line:
                    raise ValueError(f"refusing to write an empty or multi-line response: {row.line!r}")
                f.write(row.line + "\n")

    def score(self, records, rows):
        scores = metric.score([r.line for r in rows], [s.response for s in records])
        result = {key.lower(): value for key, value in scores.items()}
        planned = [(compact(r.goal_type).lower(), compact(s.goal.type).lower()) for r, s in zip(rows, records) if s.goal is not None]
        if planned:
            result["goal_type_acc"] = sum(p == g for p, g in planned) / len(planned)
        return result

    explanation_note = ("A prediction is one generated token (the goal, [MASK], then the reply); its target is "
                        "its log-probability given the context and the tokens generated before it (teacher "
                        "forcing). Shown: the context tokens' attributions (the tokens generated before stay "
                        "whole along the path, so the context's attributions add up to the change).")
    explanation_targets = 32

    def explanation_subjects(self, model, records, max_targets=32):
        """One subject per sample: the first `max_targets` tokens the model generates for it."""
        from common.explain import layout
        from common.seq2seq import explanation_subject
        m = self.cfg.model
        examples = self.encode(records, with_targets=False)
        outputs = list(self.infer(model, examples))
        token_of = {i: token for token, i in self.tokenizer.vocab.items()}
        subjects = []
        for example, ids in zip(examples, outputs):
            sample = records[example.index]
            text, _, _ = encode.source_text(sample, self.tokenizer, m.maxlen, m.max_target_len, m.history_share, m.slots)
            encoding = self.tokenizer.encode_cached(text)
            if [self.tokenizer.cls_id, *encoding.ids, self.tokenizer.sep_id] != example.source:
                raise AssertionError(f"line {sample.line}: the context text does not give the source")
            labels, part = [], "goal"
            for k, token_id in enumerate(ids):
                token = token_of[token_id]
                labels.append(f"{part} token {k + 1}: {token}")
                part = "reply" if token == encode.GOAL_END else part
            generated = decode.tokens_text([token_of[i] if token_of[i] != encode.GOAL_END else " | " for i in ids])
            subjects.append(explanation_subject(
                f"line {sample.line}, turn {sample.turn + 1}: {generated}", example.source, ids,
                labels, layout("[CLS]", (text, encoding.tokens, encoding.offsets), "[SEP]"), max_targets))
        return subjects
