"""`make demo`: the whole pipeline of every track on the bundled samples, with a tiny random BERT.

1. writes a tiny Google-format checkpoint whose vocab covers every sample text (runs/tiny_bert);
2. for each track that exists: train on the sample train set, predict the sample train, dev and test
   sets from the run folder, score train and dev with the track's official metric;
3. look inside: an error-analysis page of the dev predictions (<run>/report.html) and integrated
   gradients of the first train inputs (<run>/explain.html: the random model has fitted those, so it
   predicts something to explain; on dev it may predict nothing).
The checkpoint is random, so the scores only show that the pipeline learns (train) and every step
runs; a random 2-layer model cannot generalise to the held-out dev sentences. For the same reason the
epoch kept is the one that fits the train set best (the demo trains with data.dev_file = the train
file): the dev score of a random model is noise, and selecting on it keeps an early, unfitted epoch.
Per-track demo settings live in the `[demo]` section of each track's config.toml.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
TRACKS = ["ie_relation", "ie_event", "mrc", "dialog", "semantic_parsing"]
# Short inputs keep the demo fast on a CPU; the samples are short sentences, and the long ones still
# exercise the windows of the three extraction tracks.
DEMO_MAXLEN = 64
# Explanations: the first records of dev, a few predictions each (a few seconds per track).
EXPLAIN = ["--n", "2", "--max-targets", "6"]


def run(command):
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(result.stdout)
    if result.returncode:
        raise SystemExit(f"demo step failed ({result.returncode}): {' '.join(command)}")
    return result.stdout


def run_track(track, model_dir, runs):
    """Train on the sample train set, predict train, dev and test from the run folder, score train and
    dev (dev with its report page), explain the first train inputs. Returns (scores, pages)."""
    from common.track import track_class as find_track
    track_class = find_track(track)
    demo = _demo_settings(track_class)
    out_dir = os.path.join(runs, track)
    train_settings = [f"model.dir={model_dir}", f"model.maxlen={DEMO_MAXLEN}", f"train.out_dir={out_dir}",
                      f"data.dir={os.path.dirname(demo.train)}", f"data.dev_file={os.path.basename(demo.train)}",
                      *demo.overrides]
    py = [sys.executable, "-m"]
    run(py + [f"{track}.train"] + train_settings)
    scores = {}
    for split in ("train", "dev", "test"):  # train: did it fit?  dev: held out.  test: a submission
        gold = getattr(demo, split)
        pred = os.path.join(out_dir, f"{split}_{track_class.submission_name}")
        run(py + [f"{track}.predict", "--run", out_dir, "--input", gold, "--out", pred])
        if split != "test":
            report = ["--report", os.path.join(out_dir, "report.html")] if split == "dev" else []
            output = run(py + [f"{track}.evaluate", gold, pred, *report])
            scores[split] = json.loads(output.strip().splitlines()[-1])
    explained = os.path.join(out_dir, "explain.html")
    run(py + [f"{track}.explain", "--run", out_dir, "--input", demo.train, "--out", explained, *EXPLAIN])
    return scores, [os.path.join(out_dir, "report.html"), explained]


def _demo_settings(track_class):
    from common.config import load_config
    return load_config(track_class.config_class).demo


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="output folder (default: runs)")
    parser.add_argument("tracks", nargs="*", help="tracks to run (default: every track that exists)")
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    from common import backend
    from common.tiny_bert import sample_texts, write_tiny_checkpoint
    backend.setup(seed=0)

    tracks = args.tracks or [t for t in TRACKS if os.path.isfile(os.path.join(ROOT, t, "train.py"))]
    model_dir = os.path.join(args.runs, "tiny_bert")
    paths = write_tiny_checkpoint(model_dir, sample_texts(os.path.join(ROOT, "data", "samples")), with_mlm=True)
    print(f"tiny checkpoint: {paths['checkpoint_path']}", flush=True)
    summary, pages = {}, {}
    for track in tracks:
        start = time.time()
        summary[track], pages[track] = run_track(track, model_dir, args.runs)
        print(f"== {track}: {json.dumps(summary[track], ensure_ascii=False)} ({time.time() - start:.0f} s)",
              flush=True)
    if not tracks:
        print("no track exists yet: only the tiny checkpoint was written")
    print("\ndemo scores of the tiny random BERT on the samples (train = fitted, dev = held out):")
    for track, scores in summary.items():
        print(f"  {track:<17} " + "   ".join(f"{split}: {json.dumps(s)}" for split, s in scores.items()))
    if pages:
        print("\npages (open in a browser; `make screenshot PAGE=...` renders one to PNG):")
        for track, paths in pages.items():
            print(f"  {track:<17} " + "   ".join(paths))


if __name__ == "__main__":
    main()
