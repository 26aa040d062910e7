"""`make bench`: every track's speed as ratios, in one run.

    python bench/run.py [--quick] [--tracks ie_relation,mrc,...,encoder] [--batch 32] [--maxlen 128]
                        [--layers 6 --hidden 256 --heads 4 --intermediate 1024] [--repeats 3]
                        [--peer-python PATH] [--results bench/results.jsonl]

On a random BERT of a realistic size (default 6 layers x 256, 4 heads, intermediate 1024, a
21,128-token vocabulary covering the track's samples), batch 32, sequence length 128:
  <track>  train: real loop / bare train_on_batch      target >= 0.9   (bench/track_speed.py)
  <track>  predict: pipeline / bare forward            target >= 0.8   (read, encode, model, decode, write)
  dialog, semantic_parsing  decode: batched / one at a time   target >= 4
  encoder  train step, real loop, inference / peer    target >= 1.2   (HF transformers on PyTorch, bench/peer.py)
  encoder  recompute on / off: speed, activation memory (no target; bench/recompute.py)
Every ratio is ours / reference of two rates, each the median of runs that alternate (ours,
reference, ours, ...). Each track runs in a process of its own. Every row is appended to the
results file as one JSON object (with the machine, the commit, the date and the settings), and a
table is printed at the end. `--quick` (a 2-layer x 128 model, length 64, batch 16, a few steps,
two alternated runs each) finishes in under 5 minutes on a 2-core machine; its ratios are rough.
The peer needs a Python with torch and transformers (`pip install -r requirements-bench.txt`, best in
a virtualenv of its own): --peer-python, else this Python or <repo>/.venv-bench/bin/python if either
has them; otherwise the peer is skipped with a note.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import report  # noqa: E402  (after the path: run as a script)
from bench.track_speed import ROW_PREFIX  # noqa: E402
from bench.workload import TRACKS  # noqa: E402

ENCODER = "encoder"   # the peer comparison and recompute: one model, not a track
FULL = dict(layers=6, hidden=256, heads=4, intermediate=1024, vocab_size=21128, maxlen=128, batch=32, warmup=2,
            steps=8, repeats=3, copies=4, decode_examples=32, target_len=32)
QUICK = dict(FULL, layers=2, hidden=128, heads=2, intermediate=512, maxlen=64, batch=16, steps=4, repeats=2,
             copies=2, decode_examples=16, target_len=16)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small model, few steps, two runs each (< 5 min)")
    parser.add_argument("--tracks", default=",".join(TRACKS + [ENCODER]),
                        help=f"comma-separated, from {', '.join(TRACKS + [ENCODER])} (default: all)")
    for key in FULL:
        parser.add_argument("--" + key.replace("_", "-"), type=int, dest=key,
                            help=f"default {FULL[key]} ({QUICK[key]} with --quick)")
    parser.add_argument("--peer-python", help="a Python with torch and transformers for the peer; 'none' skips it")
    parser.add_argument("--results", default=os.path.join(ROOT, "bench", "results.jsonl"))
    args = parser.parse_args(argv)
    tracks = [t.strip() for t in args.tracks.split(",") if t.strip()]
    unknown = [t for t in tracks if t not in TRACKS + [ENCODER]]
    if unknown:
        parser.error(f"unknown track(s) {', '.join(unknown)}: choose from {', '.join(TRACKS + [ENCODER])}")
    settings = dict(QUICK if args.quick else FULL)
    settings.update({k: getattr(args, k) for k in FULL if getattr(args, k) is not None})
    if any(value < 1 for value in settings.values()):
        parser.error("every size, count and --warmup must be >= 1")
    if settings["hidden"] % settings["heads"]:
        parser.error("--hidden must be a multiple of --heads")
    return args, tracks, settings


def worker_rows(command, track, measure):
    """Rows a worker process prints (its other output passes through); a failed worker gives a row
    saying so, and the run goes on."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    rows = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env) as process:
        for line in process.stdout:
            if line.startswith(ROW_PREFIX):
                rows.append(json.loads(line[len(ROW_PREFIX):]))
                print(report.summary(rows[-1]), flush=True)
            else:
                sys.stdout.write(line)
                sys.stdout.flush()
    if process.returncode:
        rows.append(report.row(track, measure, None, None,
                               note=f"failed: the worker exited with code {process.returncode} (its output is above)"))
    return rows


def recompute_rows(settings):
    """Recompute on / off on the same encoder (bench/recompute.py's measurement, alternated)."""
    from bench import recompute
    args = argparse.Namespace(layers=settings["layers"], hidden=settings["hidden"], heads=settings["heads"],
                              maxlen=settings["maxlen"], vocab=settings["vocab_size"], steps=settings["steps"])
    runs = report.alternate({mode: (lambda mode=mode: recompute.measure(args, mode, settings["batch"]))
                             for mode in ("on", "off")}, settings["repeats"])
    if any(r is None for rs in runs.values() for r in rs):
        return [report.row(ENCODER, "recompute on / off", None, None, note="out of memory")]

    def med(mode, value):
        return report.median([value(r) for r in runs[mode]])

    speed = {m: med(m, lambda r: r["examples_per_s"]) for m in runs}
    memory = {m: med(m, lambda r: r["peak_gb"] - r["base_gb"]) for m in runs}
    return [report.row(ENCODER, "recompute on / off: training speed", speed["on"], speed["off"], unit="ex/s",
                       note="the price of recompute (no target)"),
            report.row(ENCODER, "recompute on / off: activation memory", memory["on"], memory["off"], unit="GB",
                       note="peak resident memory above TensorFlow's base: lower is better")]


def main(argv=None):
    args, tracks, settings = parse_args(argv)
    started = time.perf_counter()
    machine = report.machine_facts(ROOT)
    print(f"bench: {', '.join(tracks)}; {json.dumps(settings)}; {machine['cpu']}, {machine['cores']} cores, "
          f"AVX-512 {'yes' if machine['avx512'] else 'no'}, load {machine['load']}", flush=True)
    rows = []
    for track in tracks:
        if track == ENCODER:
            continue
        print(f"== {track}", flush=True)
        rows += worker_rows([sys.executable, os.path.join(ROOT, "bench", "track_speed.py"), "--track", track,
                             "--settings", json.dumps(settings)], track, "all")
    if ENCODER in tracks:
        print(f"== {ENCODER}: peer", flush=True)
        peer = args.peer_python
        if peer != "none":
            from bench.peer import find_peer_python
            peer = find_peer_python([peer] if peer else [sys.executable, os.path.join(ROOT, ".venv-bench", "bin",
                                                                                     "python")])
        if peer and peer != "none":
            rows += worker_rows([sys.executable, os.path.join(ROOT, "bench", "peer.py"), "--settings",
                                 json.dumps(settings), "--peer-python", peer], ENCODER, "peer")
        else:
            note = ("skipped (--peer-python none)" if args.peer_python == "none" else
                    "skipped: no Python with torch and transformers found (pip install -r requirements-bench.txt "
                    "in a virtualenv, then --peer-python PATH)")
            print(f"peer: {note}", flush=True)
            rows.append(report.row(ENCODER, "peer (HF transformers on PyTorch)", None, None, 1.2, note=note))
        print(f"== {ENCODER}: recompute", flush=True)
        rows += recompute_rows(settings)
    settings = dict(settings, quick=args.quick, tracks=tracks)
    report.append_results(args.results, rows, machine, settings)
    size = (f"{settings['layers']} layers x {settings['hidden']} ({settings['heads']} heads, intermediate "
            f"{settings['intermediate']}), vocab {settings['vocab_size']}, batch {settings['batch']}, length "
            f"{settings['maxlen']}, {settings['steps']} timed steps, {settings['repeats']} alternated run(s)")
    print(f"\n{'QUICK (small model, few steps: rough ratios): ' if args.quick else ''}{size}; "
          f"{machine['cpu']}, {machine['cores']} cores, AVX-512 {'yes' if machine['avx512'] else 'no'}, "
          f"commit {machine['commit']}")
    print(report.table(rows))
    if report.busy_warning(machine):
        print(report.busy_warning(machine))
    print(f"{len(rows)} results appended to {os.path.relpath(args.results)} in {time.perf_counter() - started:.0f} s")
    return rows


if __name__ == "__main__":
    main()
