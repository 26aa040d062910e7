"""What the grammar constraint and batching cost in DuSQL decoding (not a test).

    python bench/sql_decoding.py [--run runs/semantic_parsing] [--input FILE ...] [--repeats 3]

On a trained run (default: the one `make demo` writes) and the same questions (default: the sample
train and dev sets), decodes every question
  * with and without the grammar constraint (greedy, then beam search), and reports the time per
    decoding row-step (one row of the batch advanced by one token: the two decodings may take
    different numbers of steps, the unconstrained one often runs on to the length limit) and the
    constraint's cost: the extra time per row-step over the unconstrained time; plus the time spent
    inside the constraint hook itself (allowed ids, advancing the states), without the decoder's
    masking;
  * constrained and greedy, in batches of --batch-size (default: the run's predict.batch_size) and
    one question at a time.
Each measurement is the fastest of --repeats runs, the compared variants taking turns (the machine
is shared), in wall-clock and CPU seconds; one untimed run first traces the model's functions.
Prints one JSON object.
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def fastest(repeats, runs):
    """{name: (wall seconds, CPU seconds, result)} of the fastest of `repeats` runs of each callable
    in `runs`, the callables taking turns (so that a burst of load on the shared machine hits all)."""
    best = {}
    for _ in range(repeats):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            result = run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if name not in best or wall < best[name][0]:
                best[name] = (wall, min(cpu, best.get(name, (0, cpu))[1]), result)
    return best


def count_row_steps(scorer):
    """Wrap the scorer's step to count the rows it advances; returns the counter (a one-item list)."""
    counted, step = [0], scorer.step

    def counting(inputs, parents, prefixes):
        counted[0] += prefixes.shape[0] * prefixes.shape[1]
        return step(inputs, parents, prefixes)
    scorer.step = counting
    return counted


def hook_seconds(track, model, samples):
    """Seconds spent inside the constraint's allowed() / advance() during one constrained decoding."""
    from semantic_parsing import model as sql_model
    spent = [0.0]
    original = sql_model.grammar_constraint

    def timed(starts):
        inner = original(starts)

        class Timed(type(inner)):
            def allowed(self, state):
                start = time.perf_counter()
                try:
                    return inner.allowed(state)
                finally:
                    spent[0] += time.perf_counter() - start

            def advance(self, state, token):
                start = time.perf_counter()
                try:
                    return inner.advance(state, token)
                finally:
                    spent[0] += time.perf_counter() - start
        return Timed()

    sql_model.grammar_constraint = timed
    try:
        start = time.perf_counter()
        track.infer(model, samples)
        total = time.perf_counter() - start
    finally:
        sql_model.grammar_constraint = original
    return spent[0], total


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--run", default=os.path.join("runs", "semantic_parsing"))
    parser.add_argument("--input", nargs="*", default=[os.path.join("data", "samples", "semantic_parsing", f)
                                                       for f in ("train.json", "dev.json")])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--batch-size", type=int, help="questions per batch (default: the run's predict.batch_size)")
    args = parser.parse_args()
    from common import backend
    backend.setup()
    from common.config import replace
    from common.run import load_trained, open_run
    from semantic_parsing.track import SemanticParsing

    track, run_dir = open_run(SemanticParsing, args.run)
    model = load_trained(track, run_dir)
    records = [r for path in args.input for r in track.load_records(path, labelled=False)[0]]
    samples = track.encode(records, with_targets=False)
    base = track.cfg
    if args.batch_size:
        base = replace(base, predict={"batch_size": args.batch_size})
    report = {"questions": len(samples), "run": run_dir, "batch_size": base.predict.batch_size}
    row_steps = count_row_steps(track.scorer(model))

    for strategy in ("greedy", "beam"):
        track.cfg = replace(base, predict={"strategy": strategy, "beam_size": args.beam_size})
        track.infer(model, samples)                                  # traces the scorer's functions
        steps = {}
        for constrained in (True, False):                            # row-steps of each (deterministic)
            row_steps[0] = 0
            track.infer(model, samples, constrained=constrained)
            steps[constrained] = row_steps[0]
        best = fastest(args.repeats, {c: (lambda c=c: track.infer(model, samples, constrained=c)) for c in (True, False)})
        for constrained, (wall, cpu, outputs) in best.items():
            report[f"{strategy} {'constrained' if constrained else 'unconstrained'}"] = {
                "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "row_steps": steps[constrained],
                "ms_per_row_step": round(wall / steps[constrained] * 1e3, 3),
                "output_wordpieces": sum(len(o) for o in outputs)}
        per_step = {c: best[c][0] / steps[c] for c in best}
        per_step_cpu = {c: best[c][1] / steps[c] for c in best}
        report[f"{strategy}: constraint cost per row-step, share of the unconstrained time (wall / CPU)"] = \
            [round(per_step[True] / per_step[False] - 1, 3), round(per_step_cpu[True] / per_step_cpu[False] - 1, 3)]
        inside, total = min((hook_seconds(track, model, samples) for _ in range(args.repeats)), key=lambda x: x[1])
        report[f"{strategy}: time inside the constraint hook (share of constrained decoding)"] = round(inside / total, 3)

    batched = replace(base, predict={"strategy": "greedy"})
    single = replace(base, predict={"strategy": "greedy", "batch_size": 1})

    def decode_with(cfg):
        track.cfg = cfg
        return track.infer(model, samples)
    best = fastest(args.repeats, {"batched": lambda: decode_with(batched), "single": lambda: decode_with(single)})
    report["greedy constrained, batched: seconds (wall, CPU)"] = [round(best["batched"][0], 3), round(best["batched"][1], 3)]
    report["greedy constrained, one question at a time: seconds (wall, CPU)"] = [round(best["single"][0], 3),
                                                                                  round(best["single"][1], 3)]
    report["batching speed-up (wall)"] = round(best["single"][0] / best["batched"][0], 2)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
