"""One track's speed ratios, in one process (bench/run.py runs one per track):

1. train: examples/s of the real loop (common.training.train with the track's Batches and collate,
   its loss, common/optim.py's optimiser, the progress bar and TensorBoard on) over a bare
   `train_on_batch` loop on the same model, optimiser and pre-collated batches. The first
   `warmup` steps of each real run are not timed (tracing), nor is the end of the epoch (the evaluator
   commits weights and resume state there: a per-epoch cost, timed apart as `epoch_end_s`); the bare
   loop first runs every batch once untimed (it traces once per batch shape);
2. predict: records/s of the whole pipeline (read the file, encode, infer, decode, write the
   submission) over the bare model calls on the same batches, collated beforehand
   (bench/workload.py forward_batches);
3. dialog, semantic_parsing: track.infer batched (predict.batch_size) over one at a time.
Each pair runs `repeats` times, ours and the reference taking turns; the rates are medians.

    python bench/track_speed.py --track mrc --settings '{"layers": 6, ...}'

Prints each result as a line `BENCH_ROW {json}` (bench/report.py's row).
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ROW_PREFIX = "BENCH_ROW "


def emit(result):
    print(ROW_PREFIX + json.dumps(result, ensure_ascii=False), flush=True)


def training_rates(track, model, loss, examples, settings, workdir):
    """({"ours": [...], "reference": [...]} examples/s, [epoch-end seconds]) of the real and bare loops."""
    from bench.train_step import step_clock
    from common import compat, training
    from common.config import replace
    batch, warmup, steps = settings["batch"], settings["warmup"], settings["steps"]
    examples = (examples * (batch * (warmup + steps) // max(len(examples), 1) + 1))[:batch * (warmup + steps)]
    batches = training.Batches(examples, batch, track.collate, seed=0)
    collated = list(compat.fit_generator_items(batches.epoch(0)))
    epoch_end = []

    def real():
        out_dir = tempfile.mkdtemp(dir=workdir, prefix="run-")
        clock = step_clock(warmup)
        train_cfg = replace(track.cfg, train={"out_dir": out_dir}).train
        training.train(model, loss, batches, train_cfg, evaluate=None, progress=True, tensorboard=True,
                       extra_callbacks=[clock])
        shutil.rmtree(out_dir, ignore_errors=True)
        epoch_end.append(clock.epoch_end)
        return clock.speed(batch * steps).examples_per_s

    def bare():
        # every batch once, untimed: train_on_batch traces anew for each new batch shape (padding, sparse
        # targets), and the real loop's compile before it dropped the traces; fit's input has no fixed shape
        for inputs, targets in collated:
            model.train_on_batch(inputs, targets)
        start = time.perf_counter()
        for inputs, targets in collated[warmup:]:
            model.train_on_batch(inputs, targets)
        return batch * steps / (time.perf_counter() - start)

    from bench.report import alternate
    rates = alternate({"ours": real, "reference": bare}, settings["repeats"])
    return rates, epoch_end


def predict_rates(track, model, input_path, workdir, repeats):
    """{"ours": [...], "reference": [...]} records/s of the pipeline and of the bare model calls."""
    out = os.path.join(workdir, "submission")
    records, _ = track.load_records(input_path, labelled=False)
    examples = track.encode(records, with_targets=False)
    from bench.workload import forward_batches
    call, payloads = forward_batches(track, model, examples)

    def pipeline():
        start = time.perf_counter()
        loaded, _ = track.load_records(input_path, labelled=False)
        track.write_submission(out, track.predict(model, loaded))
        return len(loaded) / (time.perf_counter() - start)

    def bare():
        start = time.perf_counter()
        for payload in payloads:
            call(payload)
        return len(records) / (time.perf_counter() - start)

    pipeline(), bare()  # warm-up: traces every batch shape
    from bench.report import alternate
    return alternate({"ours": pipeline, "reference": bare}, repeats), len(records), len(examples), len(payloads)


def decoding_rates(track, model, examples, repeats):
    """{"ours": [...], "reference": [...]} examples/s of track.infer batched and one at a time."""
    from common.config import replace
    batched, single = track.cfg, replace(track.cfg, predict={"batch_size": 1})

    def infer(cfg):
        def timed():
            track.cfg = cfg
            start = time.perf_counter()
            list(track.infer(model, examples))
            return len(examples) / (time.perf_counter() - start)
        return timed

    infer(batched)(), infer(single)()   # warm-up
    from bench.report import alternate
    rates = alternate({"ours": infer(batched), "reference": infer(single)}, repeats)
    track.cfg = batched
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--track", required=True)
    parser.add_argument("--settings", required=True, help="JSON object of bench/run.py's settings")
    args = parser.parse_args()
    settings = json.loads(args.settings)
    from bench import workload
    from bench.report import median, row
    from common import backend
    backend.setup(seed=0)
    name = args.track
    workdir = tempfile.mkdtemp(prefix=f"bench_{name}_")
    try:
        model_dir = workload.write_checkpoint(os.path.join(workdir, "bert"), name, settings)
        input_path = workload.data_folder(name, os.path.join(workdir, "data"), settings["copies"])
        track = workload.make_track(name, *workload.overrides(name, model_dir, os.path.join(workdir, "data"),
                                                              os.path.join(workdir, "run"), settings))
        size = f"{settings['layers']}x{settings['hidden']}, batch {settings['batch']}, maxlen {track.cfg.model.maxlen}"
        records, _ = track.load_records(input_path, labelled=True)
        examples = track.encode(records, with_targets=True)
        model = track.build_model(load_checkpoint=True)
        loss = track.build_loss(examples)
        thresholds = workload.trained_like_thresholds(track, model, examples)
        if thresholds:
            from common.config import replace
            track.cfg = replace(track.cfg, predict=thresholds)

        rates, epoch_end = training_rates(track, model, loss, examples, settings, workdir)
        emit(row(name, "train: real loop / bare train_on_batch", median(rates["ours"]), median(rates["reference"]),
                 0.9, unit="ex/s", runs=rates, epoch_end_s=median(epoch_end), size=size,
                 note=f"epoch end (evaluator commit, untimed above) {median(epoch_end):.1f} s"))

        rates, n_records, n_examples, n_batches = predict_rates(track, model, input_path, workdir, settings["repeats"])
        reference = "batched generation" if name in workload.GENERATING else "bare forward"
        emit(row(name, f"predict: pipeline / {reference}", median(rates["ours"]), median(rates["reference"]), 0.8,
                 unit="rec/s", runs=rates, records=n_records, inputs=n_examples, batches=n_batches, size=size,
                 thresholds=thresholds, note=f"{n_records} records, {n_examples} model inputs" + (
                     f"; logit thresholds {next(iter(thresholds.values())):.3g} (~50 cells per window, as a "
                     "trained model)" if thresholds else "")))

        if name in workload.GENERATING:
            samples = track.encode(records, with_targets=False)[:settings["decode_examples"]]
            rates = decoding_rates(track, model, samples, settings["repeats"])
            emit(row(name, "decode: batched / one at a time", median(rates["ours"]), median(rates["reference"]), 4.0,
                     unit="ex/s", runs=rates, examples=len(samples), size=size,
                     note=f"{len(samples)} inputs, {track.cfg.predict.strategy} "
                          f"(beam {track.cfg.predict.beam_size}), batch {track.cfg.predict.batch_size}"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
