"""`make demo`: the whole pipeline of every track on the bundled samples, with a tiny random BERT.

1. writes a tiny Google-format checkpoint whose vocab covers every sample text (runs/tiny_bert);
2. for each track that exists: train on the sample train set (dev evaluated each epoch), predict the
   sample train, dev and test sets, score train and dev with the track's official metric.
The checkpoint is random, so the scores only show that the pipeline learns (train) and every step
runs; a random 2-layer model cannot generalise to the held-out dev sentences. Per-track demo settings live in the
`[demo]` section of each track's config.toml.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
TRACKS = ["ie_relation", "ie_event", "mrc", "dialog", "semantic_parsing"]


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def sample_texts(samples_dir):
    """Every string in every JSON / JSON Lines sample file: the tiny vocab must cover all of them."""
    texts = []
    for folder, _, files in sorted(os.walk(samples_dir)):
        for name in sorted(files):
            if not name.endswith((".json", ".jsonl")):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                content = f.read()
            try:
                records = [json.loads(content)]
            except json.JSONDecodeError:
                records = [json.loads(line) for line in content.splitlines() if line.strip()]
            for record in records:
                texts.extend(strings_in(record))
    return texts


def run(command):
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(result.stdout)
    if result.returncode:
        raise SystemExit(f"demo step failed ({result.returncode}): {' '.join(command)}")
    return result.stdout


def run_track(track, model_dir, runs):
    from common.config import load_config
    config_path = os.path.join(track, "config.toml")
    demo = load_config(config_path).get("demo", {})
    out_dir = os.path.join(runs, track)
    shared = [f"model.dir={model_dir}", "model.maxlen=64", f"train.out_dir={out_dir}",
              f"data.dir=data/samples/{track}"]
    shared += list(demo.get("overrides", []))
    py = [sys.executable, "-m"]
    run(py + [f"{track}.train", "--config", config_path] + shared)
    scores = {}
    for split in ("train", "dev", "test"):  # train: did it fit?  dev: held out.  test: a submission
        gold = demo[split]
        pred = os.path.join(out_dir, f"{split}_{demo.get('prediction_name', 'pred.json')}")
        run(py + [f"{track}.predict", "--config", config_path, "--input", gold, "--out", pred] + shared)
        if split != "test":
            output = run(py + [f"{track}.evaluate", gold, pred])
            scores[split] = json.loads(output.strip().splitlines()[-1])
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="output folder (default: runs)")
    parser.add_argument("tracks", nargs="*", help="tracks to run (default: every track that exists)")
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    from common import backend
    from common.tiny_bert import write_tiny_checkpoint
    backend.setup(seed=0)

    tracks = args.tracks or [t for t in TRACKS if os.path.isfile(os.path.join(ROOT, t, "train.py"))]
    model_dir = os.path.join(args.runs, "tiny_bert")
    paths = write_tiny_checkpoint(model_dir, sample_texts(os.path.join(ROOT, "data", "samples")))
    print(f"tiny checkpoint: {paths['checkpoint_path']}", flush=True)
    summary = {}
    for track in tracks:
        start = time.time()
        summary[track] = run_track(track, model_dir, args.runs)
        print(f"== {track}: {json.dumps(summary[track], ensure_ascii=False)} ({time.time() - start:.0f} s)",
              flush=True)
    if not tracks:
        print("no track exists yet: only the tiny checkpoint was written")
    print("\ndemo scores of the tiny random BERT on the samples (train = fitted, dev = held out):")
    for track, scores in summary.items():
        print(f"  {track:<17} " + "   ".join(f"{split}: {json.dumps(s)}" for split, s in scores.items()))


if __name__ == "__main__":
    main()
