"""The encoder against a peer: the same BERT in HuggingFace transformers on PyTorch (CPU).

Both sides: random weights, token ids without padding, a per-token 2-class head (Dense / Linear on
the last hidden states), dropout 0.1 on, AdamW (weight decay 0.01), the same batch and length.
- ours, train step: `train_on_batch` of common.model.build_encoder + the head, common/optim.py's
  optimiser; ours, real loop: the same model through common.training.train (progress bar and
  TensorBoard on, the end of the epoch not timed); ours, inference: `predict_on_batch`;
- peer (in a Python with torch and transformers, as a subprocess: `--peer-python`): BertModel + a
  Linear head, torch.optim.AdamW, forward + backward + step; inference under torch.no_grad in eval mode.
The runs alternate (ours, peer, ours, peer, ...), each with untimed warm-up steps; medians are kept.

    python bench/peer.py --settings '{...}' --peer-python PATH     (bench/run.py runs it)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_peer_python(candidates):
    """The first interpreter of `candidates` that imports torch and transformers, else None."""
    for python in candidates:
        if not python or not os.path.isfile(python):
            continue
        try:
            found = subprocess.run([python, "-c", "import torch, transformers"], capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError):
            continue
        if found.returncode == 0:
            return python
    return None


def torch_side(settings):
    """Peer: {"train": examples/s, "infer": examples/s} of one timed run; runs in the torch Python."""
    import torch
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    s = settings
    config = BertConfig(vocab_size=s["vocab_size"], hidden_size=s["hidden"], num_hidden_layers=s["layers"],
                        num_attention_heads=s["heads"], intermediate_size=s["intermediate"],
                        max_position_embeddings=512, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    encoder, head = BertModel(config, add_pooling_layer=False), torch.nn.Linear(s["hidden"], 2)
    parameters = list(encoder.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=1e-5, weight_decay=0.01)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, s["vocab_size"], (s["batch"], s["maxlen"]), generator=generator)
    segments, mask = torch.zeros_like(ids), torch.ones_like(ids)
    labels = torch.randint(0, 2, (s["batch"], s["maxlen"]), generator=generator)
    loss_function = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        logits = head(encoder(input_ids=ids, token_type_ids=segments, attention_mask=mask).last_hidden_state)
        loss = loss_function(logits.reshape(-1, 2), labels.reshape(-1))
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def infer():
        with torch.no_grad():
            return head(encoder(input_ids=ids, token_type_ids=segments, attention_mask=mask).last_hidden_state)

    encoder.train()
    rates = {"train": _rate(step, s), "threads": torch.get_num_threads()}
    encoder.eval()
    rates["infer"] = _rate(infer, s)
    return rates


def _rate(call, settings):
    for _ in range(settings["warmup"]):
        call()
    start = time.perf_counter()
    for _ in range(settings["steps"]):
        call()
    return settings["batch"] * settings["steps"] / (time.perf_counter() - start)


def peer_run(python, settings):
    """One peer measurement in a fresh process of `python`."""
    result = subprocess.run([python, os.path.abspath(__file__), "--torch-side", "--settings", json.dumps(settings)],
                            capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"the peer failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ours(settings, workdir):
    """(train step, real loop, infer) callables of our side, each returning examples/s of one run."""
    sys.path.insert(0, ROOT)
    import keras
    import numpy as np
    from bench.recompute import write_config
    from bench.train_step import step_clock
    from common import training
    from common.config import TrainConfig
    from common.model import build_encoder, checkpoint_config
    from common.optim import build_optimizer
    s = settings
    folder = os.path.join(workdir, "bert")
    os.makedirs(folder)
    write_config(folder, s["layers"], s["hidden"], s["heads"], s["vocab_size"], s["maxlen"], s["intermediate"])
    encoder = build_encoder(checkpoint_config(folder, maxlen=s["maxlen"], dropout=0.1, attention_dropout=0.1),
                            load_checkpoint=False)
    model = keras.models.Model(encoder.inputs, keras.layers.Dense(2)(encoder.output))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    steps = s["warmup"] + s["steps"]

    def train_cfg(out_dir):
        return TrainConfig(out_dir=out_dir, epochs=1, batch_size=s["batch"], learning_rate=1e-5,
                           warmup_proportion=0.1, weight_decay=0.01, ema_momentum=0.0, grad_accum_steps=1, seed=0,
                           flooding=0.0, logit_adjust_tau=0.0, epoch_repeats=1, strategy="default")

    model.compile(loss=loss, optimizer=build_optimizer(train_cfg(workdir), total_steps=steps))
    rng = np.random.default_rng(0)
    ids = rng.integers(5, s["vocab_size"], size=(s["batch"], s["maxlen"]))
    x, y = (ids, np.zeros_like(ids)), rng.integers(0, 2, size=(s["batch"], s["maxlen"]))

    def step():
        return _rate(lambda: model.train_on_batch(x, y), s)

    def real_loop():
        rows = [rng.integers(5, s["vocab_size"], size=s["maxlen"]) for _ in range(s["batch"] * steps)]

        def collate(batch):
            token_ids = np.stack(batch)
            return [token_ids, np.zeros_like(token_ids)], token_ids % 2

        clock = step_clock(s["warmup"])
        out_dir = tempfile.mkdtemp(dir=workdir)
        training.train(model, loss, training.Batches(rows, s["batch"], collate, seed=0), train_cfg(out_dir),
                       extra_callbacks=[clock])
        return clock.speed(s["batch"] * s["steps"]).examples_per_s

    def infer():
        return _rate(lambda: model.predict_on_batch(x), s)

    return step, real_loop, infer


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--settings", required=True)
    parser.add_argument("--peer-python", help="a Python with torch and transformers")
    parser.add_argument("--torch-side", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = json.loads(args.settings)
    if args.torch_side:
        print(json.dumps(torch_side(settings)))
        return
    sys.path.insert(0, ROOT)
    from bench.report import median, row
    from bench.track_speed import emit
    from common import backend
    backend.setup(seed=0)
    with tempfile.TemporaryDirectory(prefix="bench_peer_") as workdir:
        step, real_loop, infer = ours(settings, workdir)
        runs = {"step": [], "loop": [], "infer": [], "peer_train": [], "peer_infer": []}
        threads = None
        for _ in range(settings["repeats"]):
            runs["step"].append(step())
            peer = peer_run(args.peer_python, settings)
            runs["peer_train"].append(peer["train"])
            runs["peer_infer"].append(peer["infer"])
            threads = peer["threads"]
            runs["loop"].append(real_loop())
            runs["infer"].append(infer())
    size = f"{settings['layers']}x{settings['hidden']}, batch {settings['batch']}, length {settings['maxlen']}"
    note = f"HF transformers on PyTorch ({threads} threads), {size}, per-token 2-class head, AdamW, dropout 0.1"
    emit(row("encoder", "train step (train_on_batch) / peer", median(runs["step"]), median(runs["peer_train"]), 1.2,
             unit="ex/s", runs=runs, note=note))
    emit(row("encoder", "train, real loop / peer", median(runs["loop"]), median(runs["peer_train"]), 1.2,
             unit="ex/s", runs=runs))
    emit(row("encoder", "inference (predict_on_batch) / peer", median(runs["infer"]), median(runs["peer_infer"]), 1.2,
             unit="ex/s", runs=runs))


if __name__ == "__main__":
    main()
