"""Benchmark: recompute (gradient checkpointing) memory and time, and the bare training reference.

For a 6-layer, 256-wide BERT at sequence length 256 (the architecture only, random weights):
1. the real training path (common.model.build_encoder, common.optim, common.training.Batches through
   model.fit) with recompute off and on: peak memory and time per step at one batch size;
2. the largest batch each mode fits into a memory budget (default: the peak of recompute off at the
   base batch), by doubling then bisection;
3. a bare `train_on_batch` loop on fixed arrays (same model and optimiser): the examples/s every
   track's training loop is held to (>= 0.9x).
Each measurement runs in a fresh process; peak memory is the process's peak resident set size
(ru_maxrss), so numbers include TensorFlow's own footprint (reported separately as `base`).

    python bench/recompute.py [--batch 32] [--budget-gb X] [--steps 4] [--quick]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_config(folder, layers, hidden, heads, vocab_size, maxlen, intermediate=None):
    from common.tiny_bert import bert_config
    with open(os.path.join(folder, "bert_config.json"), "w") as f:
        json.dump(bert_config(vocab_size, hidden, layers, heads, intermediate or 4 * hidden, max(512, maxlen)), f)
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                          + [f"t{i}" for i in range(vocab_size - 5)]) + "\n")


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB on Linux


def worker(args):
    """One measurement in this process; prints one JSON line."""
    sys.path.insert(0, ROOT)
    from common import backend
    backend.setup(seed=0)
    import keras
    import numpy as np
    from common.config import TrainConfig
    from common.model import build_encoder, checkpoint_config
    from common.optim import build_optimizer
    from common.training import Batches

    folder = tempfile.mkdtemp()
    write_config(folder, args.layers, args.hidden, args.heads, args.vocab, args.maxlen)
    encoder = build_encoder(checkpoint_config(folder, dropout=0.1, attention_dropout=0.1, recompute=args.mode == "on"),
                            load_checkpoint=False)
    model = keras.models.Model(encoder.inputs, keras.layers.Dense(2)(encoder.output))
    steps = args.steps
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=build_optimizer(TrainConfig(
                      out_dir=folder, epochs=1, batch_size=args.batch, learning_rate=1e-5, warmup_proportion=0.1,
                      weight_decay=0.01, ema_momentum=0.0, grad_accum_steps=1, seed=0, flooding=0.0,
                      logit_adjust_tau=0.0, epoch_repeats=1, strategy="default"), total_steps=steps))
    rng = np.random.default_rng(0)
    base = peak_rss_gb()
    n = args.batch
    if args.mode == "bare":
        ids = rng.integers(5, args.vocab, size=(n, args.maxlen))
        x, y = (ids, np.zeros_like(ids)), rng.integers(0, 2, size=(n, args.maxlen))
        model.train_on_batch(x, y)  # tracing
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        elapsed = time.perf_counter() - start
    else:
        examples = [rng.integers(5, args.vocab, size=args.maxlen) for _ in range(n * (steps + 1))]

        def collate(batch):
            ids = np.stack(batch)
            return [ids, np.zeros_like(ids)], ids % 2

        batches = Batches(examples, n, collate, seed=0)

        class Clock(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if batch == 1:  # batch 0 includes tracing
                    self.start = time.perf_counter()

            def on_train_end(self, logs=None):
                self.elapsed = time.perf_counter() - self.start

        clock = Clock()
        model.fit(batches.forfit(), steps_per_epoch=steps + 1, epochs=1, verbose=0, callbacks=[clock])
        elapsed = clock.elapsed
    print(json.dumps({"mode": args.mode, "batch": n, "step_s": elapsed / steps,
                      "examples_per_s": n * steps / elapsed, "peak_gb": peak_rss_gb(), "base_gb": base}))


def measure(args, mode, batch, steps=None):
    command = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--batch", str(batch),
               "--steps", str(steps or args.steps), "--layers", str(args.layers), "--hidden",
               str(args.hidden), "--heads", str(args.heads), "--maxlen", str(args.maxlen),
               "--vocab", str(args.vocab)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        if "MemoryError" in result.stderr or result.returncode in (-9, 137):
            return None
        raise RuntimeError(result.stderr[-3000:])
    row = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"  {mode:>4} batch {batch:>4}: {row['step_s']:.3f} s/step, {row['examples_per_s']:.1f} ex/s, "
          f"peak {row['peak_gb']:.2f} GB (base {row['base_gb']:.2f})", flush=True)
    return row


def largest_batch(args, mode, budget, start):
    """Largest batch whose peak stays within `budget` GB: doubling from `start`, then bisection to ~6%."""
    def fits(batch):
        row = measure(args, mode, batch, steps=1)
        return row is not None and row["peak_gb"] <= budget

    low, high, probe = 0, None, start
    while high is None:
        if fits(probe):
            low, probe = probe, probe * 2
        else:
            high = probe
    while high - low > max(1, low // 16):
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--budget-gb", type=float, default=None,
                        help="memory budget for the largest-batch search (default: peak of recompute off)")
    parser.add_argument("--quick", action="store_true", help="skip the largest-batch search")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--maxlen", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=21128)
    parser.add_argument("--worker", choices=["off", "on", "bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.mode = args.worker
        return worker(args)

    print(f"model: {args.layers} layers, hidden {args.hidden}, seq {args.maxlen}, batch {args.batch}")
    rows = {mode: measure(args, mode, args.batch) for mode in ("bare", "off", "on")}
    off, on, bare = rows["off"], rows["on"], rows["bare"]
    summary = {
        "step_s": {m: round(r["step_s"], 3) for m, r in rows.items()},
        "peak_gb": {m: round(r["peak_gb"], 2) for m, r in rows.items()},
        "activation_gb": {m: round(r["peak_gb"] - r["base_gb"], 2) for m, r in rows.items()},
        "recompute_time_ratio": round(on["step_s"] / off["step_s"], 3),
        "fit_vs_bare_examples_per_s": round(off["examples_per_s"] / bare["examples_per_s"], 3),
    }
    if not args.quick:
        budget = args.budget_gb or off["peak_gb"]
        print(f"largest batch within {budget:.2f} GB:")
        best = {m: largest_batch(args, m, budget, args.batch) for m in ("off", "on")}
        summary.update(budget_gb=round(budget, 2), largest_batch=best,
                       batch_ratio=round(best["on"] / max(best["off"], 1), 2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
