"""The command lines every track has, written once over the track interface (common/track.py):

    python -m <track>.train    [--config FILE] [--resume] [section.key=value ...]
    python -m <track>.predict  [--run DIR] [--input FILE] [--out FILE] [--config FILE] [data.*|predict.*=...]
    python -m <track>.oracle   --gold FILE --out FILE [--vocab FILE] [--labels FILE] [--config FILE] [...]
    python -m <track>.evaluate GOLD PRED [--report FILE]
    python -m <track>.explain  [--run DIR] --input FILE [--n N] [--out FILE] [--steps S] [--max-targets K]

Each `<track>/<command>.py` is a few lines naming its track and its help text. The config is loaded and
checked before TensorFlow is imported, so a mistyped key fails in a second.
"""
import functools
import json
import os
import tempfile
import time

from common import cli
from common.config import ConfigError, display_path, load_config
from common.io import DataError, file_digest

PROBE_BYTES = 1 << 16  # written and synced beside an output before the work: a full disk fails at once


def _load(track, path, labelled, required=False):
    """Records of `path`, with the file's one summary line of what was skipped, dropped or noted;
    `required`: a file without any record is refused, naming it."""
    records, skips = track.load_records(path, labelled=labelled)
    if skips.summary():
        print(f"{os.path.basename(path)}: {skips.summary()}", flush=True)
    if required and not records:
        raise DataError(path, None, "no records (the file is empty)")
    return records


def check_writable(path):
    """Make the folder of `path` and write, sync and remove a probe file in it, so that an unwritable
    folder or a full disk fails now, in one line, rather than after the whole inference."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OSError(f"cannot write {path}: it is a folder")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".probe-", suffix=".tmp")
        try:
            os.write(fd, bytes(PROBE_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as error:
        raise OSError(f"cannot write {path}: {error.strerror or error}") from None


def train(track, resume=False, progress=True, tensorboard=True):
    """Train `track` on its train file, evaluating on its dev file after every epoch; returns the
    history (one record per epoch). The run folder (train.out_dir) describes itself (common.run).
    An empty train or dev file, or a train file that gives no training example, is refused naming it."""
    from common import backend, run, training
    cfg = track.cfg
    multi = cfg.train.strategy == "multi_worker"
    chief = backend.cluster_task(required=True).chief if multi else True
    if chief:  # only the chief takes the run folder (under multi_worker the others write nothing)
        run.check_free(cfg.train.out_dir)  # refuse at once if another training runs there, not after encoding
    backend.setup(seed=cfg.train.seed, strategy=cfg.train.strategy)  # the strategy before any other op
    train_path, dev_path = track.data_file("train"), track.data_file("dev")
    train_records = _load(track, train_path, labelled=True, required=True)
    dev_records = _load(track, dev_path, labelled=True, required=True) if chief else []  # the chief evaluates
    examples = track.encode(train_records, with_targets=True)
    print(f"train: {track.describe_encoding(train_records, examples)}", flush=True)
    if not examples:
        raise DataError(train_path, None, f"no training examples ({track.describe_encoding(train_records, examples)})")
    dev_examples = track.encode(dev_records, with_targets=False)
    with training.strategy_scope(cfg.train):
        model = track.build_model(load_checkpoint=True)
    loss = track.build_loss(examples)

    def evaluate(trained):
        return track.score(dev_records, track.predict(trained, dev_records, dev_examples))

    batches = training.Batches(examples * cfg.train.epoch_repeats, cfg.train.batch_size, track.collate,
                               seed=cfg.train.seed)
    # an epoch scoring as well as the best replaces it: early on, a small dev set scores 0 for several epochs
    return training.train(model, loss, batches, cfg.train, evaluate, monitor=track.monitor, mode="max",
                          resume=resume, progress=progress, tensorboard=tensorboard, keep_later_on_tie=True,
                          prepare=functools.partial(run.describe, track, cfg.train.out_dir),  # under the lock
                          local_model=functools.partial(track.build_model, load_checkpoint=False),
                          fingerprint=file_digest(train_path) if multi else "")


def predict(track, run_dir, source, out):
    """Predict every record of `source` with the run's best weights and write the submission. `out` is
    checked writable before anything is read or run."""
    from common import backend, run
    check_writable(out)
    backend.setup()
    records = _load(track, source, labelled=False)
    model = run.load_trained(track, run_dir)
    started = time.perf_counter()
    rows = track.predict(model, records)
    seconds = time.perf_counter() - started
    track.write_submission(out, rows)
    print(f"{len(records)} records in {seconds:.1f} s ({len(records) / max(seconds, 1e-9):.1f}/s) -> {out}",
          flush=True)
    return rows


def explain(track, run_dir, source, out, limit=5, steps=None, max_targets=None):
    """Integrated gradients of the run's predictions on the first `limit` records of `source`: one
    HTML page (common.pages.explanation_page) with a block per prediction, each with its completeness
    error. Returns {"inputs", "predictions", "seconds", "seconds_per_input", "max_completeness_error",
    "mean_completeness_error"}; one line says the same."""
    from common import backend, run
    from common.explain import DEFAULT_STEPS, explain_subject
    from common.pages import explanation_page, write_page
    check_writable(out)
    backend.setup()
    steps = steps or DEFAULT_STEPS
    max_targets = max_targets or track.explanation_targets
    records = _load(track, source, labelled=False, required=True)[:limit]
    model = run.load_trained(track, run_dir)
    subjects = track.explanation_subjects(model, records, max_targets)
    items, errors = [], []
    started = time.perf_counter()
    for subject in subjects:
        item, results = explain_subject(model, subject, steps)
        items.append(item)
        errors += [result.completeness_error for result in results]
    seconds = time.perf_counter() - started
    summary = {"inputs": len(subjects), "predictions": len(errors), "seconds": round(seconds, 2),
               "seconds_per_input": round(seconds / max(len(subjects), 1), 3),
               "max_completeness_error": max(errors, default=None),
               "mean_completeness_error": sum(errors) / len(errors) if errors else None}
    measured = (f"completeness error: max {100 * summary['max_completeness_error']:.3g}%, "
                f"mean {100 * summary['mean_completeness_error']:.3g}%" if errors else "nothing predicted")
    note = (f"Integrated gradients of {display_path(run_dir)} on {display_path(source)} "
            f"({len(records)} records): zero baseline on the token-embedding output, {steps} midpoint steps. "
            f"{track.explanation_note} Colour: each token's share of F(x) - F(baseline). "
            f"{len(subjects)} inputs, {len(errors)} predictions in {seconds:.1f} s; {measured}.")
    write_page(out, explanation_page(f"{track.name}: integrated gradients", items, note))
    print(f"{len(subjects)} inputs, {len(errors)} predictions explained in {seconds:.1f} s "
          f"({summary['seconds_per_input']:.2f} s per input); {measured} -> {out}", flush=True)
    return summary


def write_report(track_class, path, metrics, rows, gold, pred):
    """The error-analysis page of `rows` (track.ReportRows) with `metrics` on top, written atomically;
    one line names it (before the metric line, which stays last on stdout)."""
    from common.pages import report_page, write_page
    title = f"{track_class.name}: {os.path.basename(pred)} against {os.path.basename(gold)}"
    write_page(path, report_page(title, metrics, rows.classes, rows.examples, note=rows.note,
                                 class_title=rows.class_title))
    print(f"report: {len(rows.classes)} classes, {len(rows.examples)} examples -> {path}", flush=True)


def oracle(track, gold, out):
    """Gold -> targets -> the real decoder -> submission -> official metric (the representation's ceiling).
    Every record of `gold` is answered (a skipped one with nothing), and the score is the official
    metric of that submission against the gold file as it is."""
    check_writable(out)
    records = _load(track, gold, labelled=True, required=True)
    track.lost.clear()
    track.write_submission(out, track.oracle(records))
    lost = ", ".join(f"{k} {v}" for k, v in sorted(track.lost.items()) if v) or "nothing"
    print(f"{len(records)} records; not representable: {lost}", flush=True)
    return track.official_format(type(track).evaluate_files(gold, out))


# -- command lines ---------------------------------------------------------------------------------

def train_command(track_class, doc, argv=None):
    parser = cli.parser(f"{track_class.name}.train", doc)
    parser.add_argument("--resume", action="store_true", help="continue after the last finished epoch")
    args = parser.parse_args(argv)
    track = track_class(load_config(track_class.config_class, args.config, args.overrides))
    from common.backend import cluster_task
    from common.training import best_record
    history = train(track, resume=args.resume)
    task = cluster_task() if track.cfg.train.strategy == "multi_worker" else None
    if task is not None and not task.chief:
        print(f"worker {task.index} of {task.count}: done (the chief's run folder holds the result)", flush=True)
        return
    best = best_record(history)
    print(json.dumps({"best_epoch": best.get("epoch"), **{k: v for k, v in best.items()
                                                          if k not in ("epoch", "loss", "best", "saved")}},
                     ensure_ascii=False))


def predict_command(track_class, doc, argv=None):
    parser = cli.parser(f"{track_class.name}.predict", doc)
    parser.add_argument("--run", help="trained run folder (default: train.out_dir of the config)")
    parser.add_argument("--input", help="file to predict (default: predict.input, else <data.dir>/<data.test_file>)")
    parser.add_argument("--out", help=f"submission path (default: predict.out, else <run>/{track_class.submission_name})")
    args = parser.parse_args(argv)
    from common.run import open_run
    track, run_dir = open_run(track_class, args.run, args.config, args.overrides)
    cfg = track.cfg
    source = args.input or cfg.predict.input or track.data_file("test")
    out = args.out or cfg.predict.out or os.path.join(run_dir, track_class.submission_name)
    predict(track, run_dir, source, out)


def oracle_command(track_class, doc, argv=None):
    parser = cli.parser(f"{track_class.name}.oracle", doc)
    parser.add_argument("--gold", required=True, help="labelled file in the official format")
    parser.add_argument("--out", required=True, help="where to write the oracle's submission")
    parser.add_argument("--vocab", help="vocab.txt (default: the vocabulary of the config's [model])")
    if track_class.label_file_key:
        parser.add_argument("--labels", help="label schema (default: beside --gold, else in data.dir)")
    args = parser.parse_args(argv)
    cfg = load_config(track_class.config_class, args.config, args.overrides)
    track = track_class(cfg, label_path=_oracle_labels(track_class, cfg, args), vocab_path=_oracle_vocab(cfg, args))
    result = oracle(track, args.gold, args.out)
    print(json.dumps(result, ensure_ascii=False))
    return result


def _oracle_labels(track_class, cfg, args):
    """--labels, else the label schema beside --gold, else the one in data.dir (Track.label_path)."""
    if not track_class.label_file_key:
        return None
    if args.labels:
        return args.labels
    beside = os.path.join(os.path.dirname(os.path.abspath(args.gold)), getattr(cfg.data, track_class.label_file_key))
    return beside if os.path.isfile(beside) else None


def _oracle_vocab(cfg, args):
    """--vocab, else the vocabulary of the config's [model]; a missing file is one clear error."""
    from common.model import vocab_path
    path = args.vocab or vocab_path(cfg.model)
    if not os.path.isfile(path):
        how = "--vocab" if args.vocab else "model.dir or model.vocab_path (in the config or as an override), or --vocab"
        raise ConfigError(f"{display_path(path)}: no such vocabulary file; set {how}")
    return path


def add_report_option(parser):
    parser.add_argument("--report", metavar="FILE", help="also write an error-analysis page (HTML): per-class "
                                                         "P/R/F1 and the worst examples, gold beside prediction")


def evaluate_command(track_class, doc, argv=None):
    parser = cli.parser(f"{track_class.name}.evaluate", doc, config=False)
    parser.add_argument("gold", help="labelled file in the official format")
    parser.add_argument("pred", help="submission file")
    add_report_option(parser)
    args = parser.parse_args(argv)
    if args.report:
        check_writable(args.report)
    result = track_class.official_format(track_class.evaluate_files(args.gold, args.pred))
    if args.report:
        write_report(track_class, args.report, result, track_class.report_rows(args.gold, args.pred),
                     args.gold, args.pred)
    print(json.dumps(result, ensure_ascii=False))
    return result


def explain_command(track_class, doc, argv=None):
    parser = cli.parser(f"{track_class.name}.explain", doc)
    parser.add_argument("--run", help="trained run folder (default: train.out_dir of the config)")
    parser.add_argument("--input", required=True, help="file of records in the official format (labels not needed)")
    parser.add_argument("--n", type=int, default=5, help="explain the first N records (default 5)")
    parser.add_argument("--out", help="HTML page (default: <run>/explain.html)")
    parser.add_argument("--steps", type=int, help="integration steps (default 32: completeness error < 1%%)")
    parser.add_argument("--max-targets", type=int, help="predictions explained per model input (default "
                                                         f"{track_class.explanation_targets})")
    args = parser.parse_args(argv)
    if args.n < 1 or any(value is not None and value < 1 for value in (args.steps, args.max_targets)):
        parser.error("--n, --steps and --max-targets must be >= 1")
    from common.run import open_run
    track, run_dir = open_run(track_class, args.run, args.config, args.overrides)
    out = args.out or os.path.join(run_dir, "explain.html")
    return explain(track, run_dir, args.input, out, args.n, args.steps, args.max_targets)


def command(kind, track_class, doc):
    """`main(argv=None)` of `python -m <track>.<kind>`, kind = train | predict | oracle | evaluate | explain."""
    commands = {"train": train_command, "predict": predict_command, "oracle": oracle_command,
                "evaluate": evaluate_command, "explain": explain_command}
    return functools.partial(commands[kind], track_class, doc)
