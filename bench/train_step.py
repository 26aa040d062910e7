"""Benchmark: training examples/s of the real loop against a bare step, and against HF transformers.

On one model (default 6 layers x 256, 4 heads, batch 32, length 128, a per-token 2-class head, dropout
0.1, AdamW with decay + warm-up from common/optim.py, the architecture only, random weights):
- bare: `model.train_on_batch` on one fixed batch, in a Python loop;
- fit: `common.training.train` (Keras fit over a `Batches` stream with the progress bar, the evaluator
  callback committing the epoch, TensorBoard) on the same shapes;
- peer (optional, `--torch-python`): the same architecture in HF transformers on PyTorch (BertModel +
  Linear, torch.optim.AdamW, dropout 0.1), run in that interpreter as a subprocess.
The measurements alternate (bare, fit, bare, fit, ...) in one process and the medians are reported,
with the ratio fit/bare taken per round (the machine may be shared: ratios within one round are what
compare).

    python bench/train_step.py [--rounds 3] [--steps 8] [--torch-python /work/venv-bench/bin/python]

For a harness: `build_model(shape)`, `measure_bare(model, shape, steps)`, `measure_fit(model_factory,
shape, steps, out_dir)` and `measure_peer(torch_python, shape, steps)` each return examples/s.
"""
import argparse
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


def measure_bare(model, shape=Shape(), steps=8):
    """Examples/s of `model.train_on_batch` on one fixed batch (compiled with common/optim's AdamW)."""
    from common.optim import build_optimizer
    model.compile(loss=loss(), optimizer=build_optimizer(train_config("unused", shape, steps), steps + 1))
    x, y = _collate(_examples(shape, shape.batch))
    x = tuple(x)
    model.train_on_batch(x, y)  # tracing
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return shape.batch * steps / (time.perf_counter() - start)


def measure_fit(model, shape=Shape(), steps=8, out_dir=None, **train_changes):
    """Examples/s of common.training.train (progress bar, evaluator, TensorBoard) over `steps` batches
    after the first (which traces); the epoch-end commit is outside the clock."""
    import keras
    from common import training

    class Clock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.end = time.perf_counter()

    clock = Clock()
    out_dir = out_dir or tempfile.mkdtemp()
    batches = training.Batches(_examples(shape, shape.batch * (steps + 1)), shape.batch, _collate, seed=0)
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        training.train(model, loss(), batches, train_config(out_dir, shape, steps + 1, **train_changes),
                       evaluate=lambda m: {"f1": 0.0}, extra_callbacks=[clock])
    return shape.batch * steps / (clock.end - clock.start)


PEER = r"""
import json, sys, time
import torch
from transformers import BertConfig, BertModel
shape, steps = json.loads(sys.argv[1]), int(sys.argv[2])
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
start = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"examples_per_s": shape["batch"] * steps / (time.perf_counter() - start),
                  "threads": torch.get_num_threads(), "torch": torch.__version__}))
"""


def isa_environment(isa):
    """Environment capping oneDNN (TensorFlow, PyTorch), MKL and ATen at `isa` ("avx2", "avx512_core"...);
    read when those libraries load, so set it before TensorFlow is imported."""
    return {"ONEDNN_MAX_CPU_ISA": isa.upper(), "DNNL_MAX_CPU_ISA": isa.upper(),
            "MKL_ENABLE_INSTRUCTIONS": isa.upper().replace("_CORE", ""), "ATEN_CPU_CAPABILITY": isa.lower()[:6]}


def measure_peer(torch_python, shape=Shape(), steps=8):
    """Examples/s of the same architecture in HF transformers on PyTorch (in `torch_python`; the
    instruction-set caps of this process's environment apply there too)."""
    result = subprocess.run([torch_python, "-c", PEER, json.dumps(dataclasses.asdict(shape)), str(steps)],
                            capture_output=True, text=True, env=dict(os.environ))
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])["examples_per_s"]


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
    args = parser.parse_args(argv)
    if args.isa:
        os.environ.update(isa_environment(args.isa))
    shape = Shape(layers=args.layers, hidden=args.hidden, heads=max(1, args.hidden // 64), batch=args.batch,
                  length=args.length)
    model = build_model(shape)
    rows = []
    for round_ in range(args.rounds):
        row = {"round": round_, "bare": measure_bare(model, shape, args.steps),
               "fit": measure_fit(model, shape, args.steps)}
        if args.torch_python:
            row["peer"] = measure_peer(args.torch_python, shape, args.steps)
        row["fit/bare"] = row["fit"] / row["bare"]
        if "peer" in row:
            row["fit/peer"], row["bare/peer"] = row["fit"] / row["peer"], row["bare"] / row["peer"]
        rows.append(row)
        print(json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)
    summary = {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0] if key != "round"}
    print(json.dumps({"median": summary, "shape": dataclasses.asdict(shape), "steps": args.steps}))
    return summary


if __name__ == "__main__":
    main()
