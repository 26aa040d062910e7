"""The interface every track implements: the same names, arguments and order in all five.

    file --load_records--> records --encode--> examples (windows / samples, with targets for training)
         --collate--> batches --model--> outputs (cells / logits / token ids, by `infer`)
         --decode--> rows (the submission) --write_submission--> file
    gold records + rows --score--> metrics;  gold file + submission file --evaluate_files--> metrics

Training's dev evaluation, `predict`, `oracle` and the demo all go through these methods
(`common/commands.py` holds the command lines), so a track is the pipeline above and nothing else:
- `infer` runs the model over examples through `common.runner` (length-sorted batches; `stream_sorted`
  yields the outputs chunk by chunk, so a long input's outputs never pile up);
- `perfect_output` is what a perfect model would output for an example: `decode` of those is the oracle,
  the most the representation can reach.
Looking inside (`python -m <track>.explain`, `python -m <track>.evaluate --report`):
- `explanation_subjects` says what integrated gradients explain: per model input, the token ids, how
  its tokens read, and one target scalar per prediction (common/explain.py);
- `report_rows` turns a gold file and a submission into the error-analysis page's per-class rows and
  examples (common/pages.py).
A track keeps TensorFlow out of its module top levels: importing it is cheap.
"""
import collections
import importlib
from dataclasses import dataclass

from common.config import data_path


@dataclass
class ReportRows:
    """What an error-analysis page shows besides the metrics: rows for `common.pages.class_row`
    (per class P/R/F1 and support), rows for `common.pages.example_row` (every gold example with its
    prediction and a score in [0, 1], the lowest shown first), and a note on how they are counted."""
    classes: list
    examples: list
    note: str = ""
    class_title: str = "class"   # what a class is (predicate, event type · role, ...)


class Track:
    name = ""                 # package name, e.g. "ie_relation"
    config_class = None       # the track's TrackConfig subclass (its <track>/config.py)
    monitor = "f1"            # key of `score`'s result that picks the best weights (higher is better)
    submission_name = ""      # default file name of the submission in the run folder
    label_file_key = None     # [data] key of the label schema the output layer is built from, if any
    metric = None             # the track's metric module (pure Python): evaluate_files(gold_path, pred_path),
                              # and official_format(metrics) when the organisers print them otherwise

    def __init__(self, cfg, label_path=None, vocab_path=None):
        self.cfg = cfg
        self._label_path = label_path
        self._vocab_path = vocab_path
        self._tokenizer = None
        self.lost = collections.Counter()  # what encoding with targets could not express

    # -- resources -------------------------------------------------------------------------------

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from common.model import vocab_path
            from common.tokenize import OffsetTokenizer
            self._tokenizer = OffsetTokenizer(self._vocab_path or vocab_path(self.cfg.model))
        return self._tokenizer

    def label_path(self):
        """The label schema file: explicit, else <data.dir>/<data.<label_file_key>>."""
        if self.label_file_key is None:
            return None
        return self._label_path or data_path(self.cfg.data, self.label_file_key[:-len("_file")])

    def data_file(self, split):
        """<data.dir>/<data.{split}_file>."""
        return data_path(self.cfg.data, split)

    # -- the pipeline ----------------------------------------------------------------------------

    def load_records(self, path, labelled=True):
        """Records of one file in the official format -> (records, SkipCounter of what was dropped).

        One record per input record, in file order. A bad part of a record is dropped and counted, the
        record stays; a record that is not valid raises, or with data.on_error = "skip" is counted and,
        when it has an identity (a text, an id), kept as a placeholder without labels, so that predict
        and the oracle answer every input: a placeholder gives no training example and no gold."""
        raise NotImplementedError

    def encode(self, records, with_targets=True):
        """Records -> model examples; with targets for training and the oracle."""
        raise NotImplementedError

    def collate(self, examples):
        """Training examples -> (model inputs, targets) of one batch."""
        raise NotImplementedError

    def build_model(self, load_checkpoint=True):
        """The Keras model; `load_checkpoint=False` builds the architecture only."""
        raise NotImplementedError

    def build_loss(self, examples):
        """The training loss (with the [train] switches), given the training examples."""
        raise NotImplementedError

    def infer(self, model, examples):
        """One output per example, in order (batched with common.runner; may be a lazy iterator, which
        `decode` consumes once)."""
        raise NotImplementedError

    def perfect_output(self, example):
        """What a perfect model outputs for a training example (the oracle)."""
        raise NotImplementedError

    def decode(self, records, examples, outputs):
        """Outputs of every example (an iterable, used once) -> one submission row per record, in record order."""
        raise NotImplementedError

    def write_submission(self, path, rows):
        """Write rows in the official submission format, atomically."""
        raise NotImplementedError

    def score(self, records, rows):
        """The official metric of rows against gold records (dev evaluation during training)."""
        raise NotImplementedError

    @classmethod
    def evaluate_files(cls, gold_path, pred_path):
        """The official metric of a submission file against a gold file, as the organisers compute it."""
        return cls.metric.evaluate_files(gold_path, pred_path)

    @classmethod
    def official_format(cls, metrics):
        """The metrics as the organisers' scorer prints them (evaluate's last line)."""
        formatter = getattr(cls.metric, "official_format", None)
        return formatter(metrics) if formatter else metrics

    # -- looking inside --------------------------------------------------------------------------

    explanation_note = ""     # what a target is, for the explanation page
    explanation_targets = 8   # default max_targets of `explanation_subjects` (explain --max-targets)

    def explanation_subjects(self, model, records, max_targets=8):
        """What to explain of `records` with a trained `model`: [common.explain.Subject], one per model
        input (a window, a question, a sample), in record order, each with one Target per prediction
        the model makes there (at most `max_targets`, the best first; the rest counted in left_out)
        and its tokens as they read in the record's text. An input that predicts nothing has no target."""
        raise NotImplementedError

    @classmethod
    def report_rows(cls, gold_path, pred_path):
        """ReportRows of a submission file against a gold file, counted as the official metric counts
        (the files are read and checked as `evaluate_files` reads them): `<track>/report.py`, imported
        only when a report is asked for."""
        return importlib.import_module(f"{cls.name}.report").report_rows(gold_path, pred_path)

    # -- compositions every track shares ---------------------------------------------------------

    def predict(self, model, records, examples=None):
        """Submission rows of `records` (examples: their encoding without targets, if already made)."""
        if examples is None:
            examples = self.encode(records, with_targets=False)
        return self.decode(records, examples, self.infer(model, examples))

    def oracle(self, records):
        """Rows a perfect model would produce: gold -> targets -> the real decoder."""
        examples = self.encode(records, with_targets=True)
        return self.decode(records, examples, (self.perfect_output(e) for e in examples))

    def describe_encoding(self, records, examples):
        """One line about an encoded set, with what the targets lost."""
        lost = ", ".join(f"{k} {v}" for k, v in sorted(self.lost.items()) if v)
        return f"{len(records)} records, {len(examples)} examples" + (f"; not representable: {lost}" if lost else "")


def track_class(name):
    """The Track subclass of the track package `name` (its <name>/track.py)."""
    import importlib
    module = importlib.import_module(f"{name}.track")
    found = [value for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, Track) and value is not Track and value.name == name]
    if len(found) != 1:
        raise LookupError(f"{name}/track.py must define exactly one Track subclass named {name!r}")
    return found[0]
