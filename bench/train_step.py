"""Benchmark: training examples/s of the real loop against a bare step, and against HF transformers.

On one model (default 6 layers x 256, 4 heads, batch 32, length 128, a per-token 2-class head, dropout
0.1, AdamW with decay + warm-up from common/optim.py, the architecture only, random weights):
- bare: `model.train_on_batch` on one fixed batch, in a Python loop;
- fit: `common.training.train` (Keras fit over a `Batches` stream with the progress bar, the evaluator
  callback committing the epoch, TensorBoard) on the same shapes;
- peer (optional, `--torch-python`): the same architecture in HF transformers on PyTorch (BertModel +
  Linear, torch.optim.AdamW, dropout 0.1), run in that interpreter as a subprocess.
The measurements alternate in short bursts (bare, fit, peer; the order rotates every round) and the
medians are reported, with the ratios taken per round (the machine may be shared: ratios within one
round are what compare). The peer process stays up between its bursts.

    python bench/train_step.py [--rounds 3] [--steps 8] [--torch-python /work/venv-bench/bin/python]

For a harness: `build_model(shape)`, then `measure_bare(model, shape, steps)`, `measure_fit(model, shape,
steps, out_dir=None, **train_changes)`, `Peer(torch_python, shape).measure(steps)` (or
`measure_peer(torch_python, shape, steps)`) each return a `Speed` (.examples_per_s, .examples_per_cpu_s);
use separate models for bare and fit. Columns ending in _cpu are examples per CPU-second.
"""
import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Shape:
    layers: int = 6
    hidden: int = 256
    heads: int = 4
    batch: int = 32
    length: int = 128
    vocab: int = 21128
    labels: int = 2
    dropout: float = 0.1


@dataclasses.dataclass(frozen=True)
class Speed:
    """`examples` trained in `seconds` of wall time, using `cpu_seconds` of this process's CPU time (all
    threads). On a shared machine wall time swings with the load; CPU time per example swings less
    (it also counts threads that spin while waiting, a real cost when cores are shared)."""
    examples: int
    seconds: float
    cpu_seconds: float

    @property
    def examples_per_s(self):
        return self.examples / self.seconds

    @property
    def examples_per_cpu_s(self):
        return self.examples / self.cpu_seconds


def _write_architecture(folder, shape):
    from common.tiny_bert import bert_config
    with open(os.path.join(folder, "bert_config.json"), "w") as f:
        json.dump(bert_config(shape.vocab, shape.hidden, shape.layers, shape.heads, 4 * shape.hidden,
                              max(512, shape.length)), f)
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                          + [f"t{i}" for i in range(shape.vocab - 5)]) + "\n")


def build_model(shape=Shape()):
    """Encoder (common.model.build_encoder, random weights) + a per-token Dense head: logits."""
    sys.path.insert(0, ROOT)
    from common import backend
    backend.setup(seed=0)
    import keras
    from common.model import build_encoder, checkpoint_config
    folder = tempfile.mkdtemp()
    _write_architecture(folder, shape)
    encoder = build_encoder(checkpoint_config(folder, dropout=shape.dropout, attention_dropout=shape.dropout),
                            load_checkpoint=False)
    return keras.models.Model(encoder.inputs, keras.layers.Dense(shape.labels)(encoder.output))


def loss():
    import keras
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def train_config(out_dir, shape, steps, **changes):
    from common.config import TrainConfig
    values = dict(out_dir=str(out_dir), epochs=1, batch_size=shape.batch, learning_rate=1e-5,
                  warmup_proportion=0.1, weight_decay=0.01, ema_momentum=0.0, grad_accum_steps=1, seed=0,
                  flooding=0.0, logit_adjust_tau=0.0, epoch_repeats=1, strategy="default")
    values.update(changes)
    return TrainConfig(**values)


def _examples(shape, count, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    return [rng.integers(5, shape.vocab, size=shape.length) for _ in range(count)]


def _collate(batch):
    import numpy as np
    ids = np.stack(batch)
    return [ids, np.zeros_like(ids)], ids % 2


def step_clock(warmup):
    """A Keras callback timing the steps of a fit after the first `warmup` (they trace): `speed(examples)`
    of those steps, and `epoch_end` seconds from the last step to the end of training (the evaluator's
    commit: a per-epoch cost, kept apart)."""
    import keras

    class StepClock(keras.callbacks.Callback):
        def on_train_batch_begin(self, step, logs=None):
            if step == warmup:
                self.start, self.cpu = time.perf_counter(), time.process_time()

        def on_train_batch_end(self, step, logs=None):
            self.end, self.cpu_end = time.perf_counter(), time.process_time()

        def on_train_end(self, logs=None):
            self.epoch_end = time.perf_counter() - self.end

        def speed(self, examples):
            return Speed(examples, self.end - self.start, self.cpu_end - self.cpu)

    return StepClock()


def measure_bare(model, shape=Shape(), steps=8):
    """The Speed of `model.train_on_batch` on one fixed batch, compiled with common/optim's AdamW
    (once: a model kept for this measure is traced on its first call only)."""
    from common.optim import build_optimizer
    x, y = _collate(_examples(shape, shape.batch))
    x = tuple(x)
    if getattr(model, "_bench_bare", None) is not model.optimizer or model.optimizer is None:
        model.compile(loss=loss(), optimizer=build_optimizer(train_config("unused", shape, steps), 10 ** 6))
        model._bench_bare = model.optimizer
        model.train_on_batch(x, y)  # tracing
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return Speed(shape.batch * steps, time.perf_counter() - start, time.process_time() - cpu)


def measure_fit(model, shape=Shape(), steps=8, out_dir=None, **train_changes):
    """The Speed of common.training.train (progress bar, evaluator, TensorBoard) over `steps` batches
    after the first (which traces); the epoch-end commit is outside the clock."""
    from common import training
    clock = step_clock(warmup=1)
    out_dir = out_dir or tempfile.mkdtemp()
    batches = training.Batches(_examples(shape, shape.batch * (steps + 1)), shape.batch, _collate, seed=0)
    import io
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        training.train(model, loss(), batches, train_config(out_dir, shape, steps + 1, **train_changes),
                       evaluate=lambda m: {"f1": 0.0}, extra_callbacks=[clock])
    return clock.speed(shape.batch * steps)


PEER = r"""
import json, sys, time
import torch
from transformers import BertConfig, BertModel
shape = json.loads(sys.argv[1])
torch.manual_seed(0)
config = BertConfig(vocab_size=shape["vocab"], hidden_size=shape["hidden"], num_hidden_layers=shape["layers"],
                    num_attention_heads=shape["heads"], intermediate_size=4 * shape["hidden"],
                    hidden_dropout_prob=shape["dropout"], attention_probs_dropout_prob=shape["dropout"],
                    max_position_embeddings=max(512, shape["length"]))
class Tagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bert = BertModel(config, add_pooling_layer=False)
        self.head = torch.nn.Linear(shape["hidden"], shape["labels"])
    def forward(self, ids, segments):
        return self.head(self.bert(input_ids=ids, token_type_ids=segments).last_hidden_state)
model = Tagger().train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
generator = torch.Generator().manual_seed(0)
ids = torch.randint(5, shape["vocab"], (shape["batch"], shape["length"]), generator=generator)
segments, labels = torch.zeros_like(ids), ids % 2
def step():
    optimizer.zero_grad()
    logits = model(ids, segments)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, shape["labels"]), labels.reshape(-1))
    loss.backward()
    optimizer.step()
step()
print(json.dumps({"ready": True, "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)
for line in sys.stdin:  # one request per line: the number of steps to time
    steps = int(line)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    print(json.dumps({"examples": shape["batch"] * steps, "seconds": time.perf_counter() - start,
                      "cpu_seconds": time.process_time() - cpu}), flush=True)
"""


class Peer:
    """The same architecture in HF transformers on PyTorch, in `torch_python` (a subprocess kept
    between measurements, so that they can alternate with ours in short bursts). A context manager."""

    def __init__(self, torch_python, shape=Shape()):
        self.process = subprocess.Popen([torch_python, "-c", PEER, json.dumps(dataclasses.asdict(shape))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env=dict(os.environ))
        self.info = self._reply()

    def _reply(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise RuntimeError(f"the peer ({self.process.args[0]}) ended with code {self.process.returncode}")
        return json.loads(line)

    def measure(self, steps):
        """Examples/s over `steps` training steps."""
        self.process.stdin.write(f"{steps}\n")
        self.process.stdin.flush()
        return Speed(**self._reply())

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def isa_environment(isa):
    """Environment capping oneDNN (TensorFlow, PyTorch), MKL and ATen at `isa` ("avx2", "avx512_core"...);
    read when those libraries load, so set it before TensorFlow is imported."""
    return {"ONEDNN_MAX_CPU_ISA": isa.upper(), "DNNL_MAX_CPU_ISA": isa.upper(),
            "MKL_ENABLE_INSTRUCTIONS": isa.upper().replace("_CORE", ""), "ATEN_CPU_CAPABILITY": isa.lower()[:6]}


def measure_peer(torch_python, shape=Shape(), steps=8):
    """The Speed of the same architecture in HF transformers on PyTorch (in `torch_python`; the
    instruction-set caps of this process's environment apply there too)."""
    with Peer(torch_python, shape) as peer:
        return peer.measure(steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--torch-python", default="", help="a Python with torch + transformers (the peer)")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--isa", default="", help="cap both stacks' kernels at an instruction set, e.g. avx2 "
                        "(oneDNN, MKL and ATen), to measure an AVX2 machine's behaviour on an AVX-512 one")
    parser.add_argument("--threads", type=int, default=0, help="threads of both stacks (default: theirs, one "
                        "per core); 1 compares per-core efficiency, which a shared machine's load disturbs least")
    args = parser.parse_args(argv)
    if args.threads:  # read when TensorFlow and PyTorch start: set before either does
        os.environ.update(OMP_NUM_THREADS=str(args.threads), TF_NUM_INTRAOP_THREADS=str(args.threads),
                          TF_NUM_INTEROP_THREADS="1")
    if args.isa:
        os.environ.update(isa_environment(args.isa))
    shape = Shape(layers=args.layers, hidden=args.hidden, heads=max(1, args.hidden // 64), batch=args.batch,
                  length=args.length)
    bare_model, fit_model = build_model(shape), build_model(shape)
    measures = {"bare": lambda: measure_bare(bare_model, shape, args.steps),
                "fit": lambda: measure_fit(fit_model, shape, args.steps)}
    rows = []
    with (Peer(args.torch_python, shape) if args.torch_python else contextlib.nullcontext()) as peer:
        if peer is not None:
            measures["peer"] = lambda: peer.measure(args.steps)
            print(json.dumps({"peer": peer.info}), flush=True)
        names = list(measures)
        for round_ in range(args.rounds):
            row = {"round": round_}
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:  # the order rotates
                speed = measures[name]()
                row[name], row[f"{name}_cpu"] = speed.examples_per_s, speed.examples_per_cpu_s
            for a, b in [("fit", "bare"), ("fit", "peer"), ("bare", "peer")]:
                if b in row:
                    row[f"{a}/{b}"], row[f"{a}/{b}_cpu"] = row[a] / row[b], row[f"{a}_cpu"] / row[f"{b}_cpu"]
            rows.append(row)
            print(json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)
    summary = {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0] if key != "round"}
    print(json.dumps({"median": summary, "shape": dataclasses.asdict(shape), "steps": args.steps,
                      "threads": args.threads or "default", "isa": args.isa or "native"}))
    return summary


if __name__ == "__main__":
    main()
