"""semantic_parsing on the track interface (common/track.py): questions -> [question; database] ->
constrained seq2seq -> SQL wordpieces -> one SQL query per question.

The databases (data.schema_file, data.content_file) are read from data.dir whenever the track runs,
training or predicting: a test set may bring databases the model never saw. They are not part of the
run folder.
"""
import os

from common.config import ConfigError, data_path, load_config
from common.io import atomic_write
from common.runner import run_sorted
from common.track import Track
from semantic_parsing import data, decode, metric
from semantic_parsing.config import SemanticParsingConfig
from semantic_parsing.grammar import Vocabulary, detokenize

MIN_SOURCE = 16   # tokens left for question and database at least


class SemanticParsing(Track):
    name = "semantic_parsing"
    metric = metric
    config_class = SemanticParsingConfig
    monitor = "exact_match"
    submission_name = "test_predictions.sql"

    def __init__(self, cfg, label_path=None, vocab_path=None):
        super().__init__(cfg, label_path, vocab_path)
        if cfg.model.maxlen - cfg.data.max_sql_len < MIN_SOURCE:
            raise ConfigError(f"model.maxlen = {cfg.model.maxlen} leaves {cfg.model.maxlen - cfg.data.max_sql_len} "
                              f"tokens for question and database after data.max_sql_len = {cfg.data.max_sql_len}; "
                              f"at least {MIN_SOURCE} are needed")
        self._databases = None
        self._vocabularies = {}
        self._spelling = None
        self._executor = None
        self._scorer = None

    # -- resources -------------------------------------------------------------------------------

    @property
    def databases(self):
        """{db_id: Database} of data.dir (cells too when data.content_file is set)."""
        if self._databases is None:
            from semantic_parsing.schema import load_databases
            self._databases = load_databases(data_path(self.cfg.data, "schema"), self.content_path())
        return self._databases

    def content_path(self):
        return data_path(self.cfg.data, "content") if self.cfg.data.content_file else None

    @property
    def spelling(self):
        if self._spelling is None:
            self._spelling = decode.Spelling(self.tokenizer)
        return self._spelling

    def start_state(self, db_id, values):
        """The decoder's start state for a question on `db_id` that offers the value literals `values`."""
        if db_id not in self._vocabularies:
            self._vocabularies[db_id] = Vocabulary(self.databases[db_id])
        return decode.new_state(self.databases[db_id], values, self.spelling, self._vocabularies[db_id],
                                limit_values=self.cfg.data.limit_values)

    def executor(self):
        """The sandboxed SQLite runner of data.dir's databases, or None without a content file."""
        if self._executor is None and self.content_path():
            self._executor = make_executor(self.databases, self.content_path(), self.cfg.data)
        return self._executor

    # -- the pipeline ----------------------------------------------------------------------------

    def load_records(self, path, labelled=True):
        return data.load_records(path, labelled=labelled, on_error=self.cfg.data.on_error, databases=self.databases)

    def encode(self, records, with_targets=True):
        samples = []
        for record in records:
            db = self.databases[record.db_id]
            start = (lambda values, db_id=record.db_id: self.start_state(db_id, values)) if with_targets else None
            sample = data.encode(record, db, self.tokenizer, self.cfg.data, self.cfg.model.maxlen, start, self.lost)
            if sample is not None:
                samples.append(sample)
        return samples

    def collate(self, samples):
        from semantic_parsing.model import collate
        return collate(samples)

    def build_model(self, load_checkpoint=True):
        from semantic_parsing.model import build_model
        self._scorer = None
        return build_model(self.cfg.model, load_checkpoint=load_checkpoint)

    def build_loss(self, samples):
        from semantic_parsing.model import build_loss
        return build_loss(self.cfg.train)

    def scorer(self, model):
        """The decoding scorer of `model` (cached keys and values for bert / roberta), made once."""
        if self._scorer is None or self._scorer[0] is not model:
            from common.seq2seq import scorer_for
            self._scorer = (model, scorer_for(model, self.cfg.model, "unilm"))
        return self._scorer[1]

    def infer(self, model, samples, constrained=True):
        """Per sample: the generated wordpiece ids (end marker left out). `constrained=False` decodes
        without the grammar (for measuring what the constraint costs; such output may not parse)."""
        from semantic_parsing import model as sql_model
        settings = sql_model.settings(self.cfg.predict, self.cfg.data.max_sql_len)
        scorer = self.scorer(model)

        def run(batch):
            starts = [self.start_state(s.db_id, s.values) for s in batch] if constrained else None
            return sql_model.generate(scorer, batch, starts, settings, self.tokenizer.sep_id)

        return run_sorted(samples, self.cfg.predict.batch_size, run, length=len)

    def perfect_output(self, sample):
        return sample.target[:-1]

    def decode(self, records, samples, outputs):
        """One (question_id, SQL) row per record, in record order; every SQL parses. A record without
        a sample (its gold query could not be a target) gets the shortest query of its database."""
        by_question = {s.question_id: (s, output) for s, output in zip(samples, outputs)}
        rows = []
        for record in records:
            sample, output = by_question.get(record.question_id, (None, ()))
            state = self.start_state(record.db_id, sample.values if sample else ())
            tokens, _ = decode.read_back(output, state)
            rows.append((record.question_id, detokenize(tokens)))
        return rows

    def write_submission(self, path, rows):
        write_submission(path, rows)

    def score(self, records, rows):
        gold = {r.question_id: (r.query, r.db_id) for r in records if r.query is not None}
        return metric.score(gold, dict(rows), self.databases, self.executor())

    @classmethod
    def evaluate_files(cls, gold_path, pred_path):
        return evaluate_files(gold_path, pred_path)

    explanation_note = ("A prediction is one generated SQL wordpiece; its target is its log-probability given the "
                        "question, the database and the wordpieces generated before it (teacher forcing). Shown: "
                        "the attributions of the question and database tokens (the wordpieces generated before "
                        "stay whole along the path, so the source's attributions add up to the change).")
    explanation_targets = 32

    def explanation_subjects(self, model, records, max_targets=32):
        """One subject per question: the first `max_targets` wordpieces of its constrained decoding."""
        from common.explain import layout
        from common.seq2seq import explanation_subject
        samples = self.encode(records, with_targets=False)
        outputs = list(self.infer(model, samples))
        rows = self.decode(records, samples, outputs)
        token_of = {i: token for token, i in self.tokenizer.vocab.items()}
        subjects = []
        for record, sample, ids, (_, sql) in zip(records, samples, outputs, rows):
            _, serialised = data.source_parts(record, self.databases[record.db_id], self.tokenizer, self.cfg.data,
                                              self.cfg.model.maxlen)
            question, schema = (self.tokenizer.encode(text) for text in (serialised.question, serialised.schema))
            display = layout("[CLS]", (serialised.question, question.tokens, question.offsets), "[SEP]",
                             (serialised.schema, schema.tokens, schema.offsets), "[SEP]")
            if len(display[0]) != len(sample.source):
                raise AssertionError(f"question {record.question_id}: the serialised text does not give the source")
            labels = [f"wordpiece {k + 1}: {token_of[i]}" for k, i in enumerate(ids)]
            subjects.append(explanation_subject(f"{record.question_id}: {record.question} → {sql}", sample.source,
                                                ids, labels, display, max_targets))
        return subjects

    @classmethod
    def report_rows(cls, gold_path, pred_path, table=None):
        """ReportRows per SQL component; the databases found as `evaluate_files` finds them."""
        from semantic_parsing import report
        return report.report_rows(gold_path, pred_path, schema_path(gold_path, table))


def write_submission(path, rows):
    """`question_id \\t SQL` lines, one per row in order, atomically (white space in a line folded
    to single spaces: the format has one line per question)."""
    with atomic_write(path) as f:
        for question_id, sql in rows:
            f.write(f"{question_id}\t{' '.join(sql.split())}\n")


def make_executor(databases, content_path, data_cfg):
    """execute.Executor on SQLite copies in <data.sqlite_dir>/<one folder per content file>, with the
    [data] query limits."""
    from semantic_parsing.execute import Executor, cache_folder
    return Executor(databases, content_path, cache_folder(data_cfg.sqlite_dir, content_path),
                    **query_limits(data_cfg))


def query_limits(data_cfg):
    return {"time_limit": data_cfg.query_time_limit, "max_rows": data_cfg.query_max_rows,
            "time_now": data_cfg.time_now}


def schema_path(gold_path, table=None, cfg=None):
    """`table`, else data.schema_file beside the gold file, else the one of data.dir."""
    if table is not None:
        return table
    cfg = cfg or load_config(SemanticParsingConfig)
    beside = os.path.join(os.path.dirname(os.path.abspath(gold_path)), cfg.data.schema_file)
    return beside if os.path.isfile(beside) else data_path(cfg.data, "schema")


def evaluate_files(gold_path, pred_path, table=None, content=None, cfg=None):
    """metric.evaluate_files with the schema found as `make eval` finds it: `table` (a db_schema.json),
    else data.schema_file beside the gold file, else the one of data.dir. With `content` (a
    db_content.json; default: data.content_file beside the schema, when there) execution accuracy too,
    on SQLite copies in data.sqlite_dir, each query under the [data] query limits."""
    cfg = cfg or load_config(SemanticParsingConfig)
    table = schema_path(gold_path, table, cfg)
    if content is None and cfg.data.content_file:
        beside = os.path.join(os.path.dirname(os.path.abspath(table)), cfg.data.content_file)
        content = beside if os.path.isfile(beside) else None
    if content is None:
        return metric.evaluate_files(gold_path, pred_path, table)
    from semantic_parsing.execute import cache_folder
    return metric.evaluate_files(gold_path, pred_path, table, content, cache_folder(cfg.data.sqlite_dir, content),
                                 **query_limits(cfg.data))
