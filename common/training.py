"""The training loop every track uses: Keras `fit` on a batch generator, plus

- an evaluator callback that runs the track's dev evaluation (decode + official metric) each epoch,
  with EMA weights when EMA is on, and keeps the best weights (`best.weights.h5`, atomic);
- resume: `resume.npz` holds the last epoch's weights, optimiser state and history, so `--resume`
  continues from the next epoch as if never interrupted;
- TensorBoard logs (`logs/`), a tqdm progress bar, `history.jsonl`, fixed seeds.
"""
import io
import json
import logging
import math
import os
import random

import numpy as np

from common import compat
from common.io import atomic_write

log = logging.getLogger(__name__)

BEST = "best.weights.h5"
RESUME = "resume.npz"
HISTORY = "history.jsonl"


class Batches:
    """Examples -> batches through a track's `collate(examples) -> (inputs, targets)`.

    Each epoch is a fresh shuffle drawn from (seed, epoch), so a resumed run sees the same batches.
    """

    def __init__(self, examples, batch_size, collate, shuffle=True, seed=0):
        if not examples:
            raise ValueError("no training examples")
        self.examples, self.batch_size, self.collate = examples, int(batch_size), collate
        self.shuffle, self.seed = shuffle, seed

    def __len__(self):
        return math.ceil(len(self.examples) / self.batch_size)

    def epoch(self, epoch=0):
        order = list(range(len(self.examples)))
        if self.shuffle:
            random.Random(f"{self.seed}-{epoch}").shuffle(order)
        for i in range(0, len(order), self.batch_size):
            yield self.collate([self.examples[j] for j in order[i:i + self.batch_size]])

    def forfit(self, start_epoch=0):
        epoch = start_epoch
        while True:
            yield from compat.fit_generator_items(self.epoch(epoch))
            epoch += 1


def ema_weights_applied(model, optimizer):
    """Context manager: the model holds bias-corrected EMA weights inside the block (no-op without EMA)."""
    import contextlib

    @contextlib.contextmanager
    def applied():
        if not hasattr(optimizer, "ema_weights") or not getattr(optimizer, "ema_weights", None):
            yield False
            return
        import keras.backend as K
        backup = K.batch_get_value(optimizer.model_weights)
        averages = K.batch_get_value(optimizer.ema_weights)
        updates = int(K.eval(optimizer.iterations)) // int(getattr(optimizer, "grad_accum_steps", 1))
        scale = 1.0 - np.power(optimizer.ema_momentum, max(updates, 1))
        K.batch_set_value(zip(optimizer.model_weights, [w / scale for w in averages]))
        try:
            yield True
        finally:
            K.batch_set_value(zip(optimizer.model_weights, backup))

    return applied()


def save_weights_atomic(model, path):
    # keep the file suffix: tf_keras picks the weights format from it (".weights.h5" = Keras v3 layout)
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".partial.{name}")
    model.save_weights(tmp)
    os.replace(tmp, path)


def _save_resume(path, model, optimizer, state):
    buffer = io.BytesIO()
    arrays = {f"model_{i}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"optim_{i}": w for i, w in enumerate(optimizer.get_weights())})
    np.savez(buffer, state=np.array(json.dumps(state)), **arrays)
    with atomic_write(path, "wb") as f:
        f.write(buffer.getvalue())


def _load_resume(path, model, optimizer):
    data = np.load(path)
    state = json.loads(str(data["state"]))
    model.set_weights([data[f"model_{i}"] for i in range(state["n_model"])])
    optimizer._create_all_weights(model.trainable_variables)
    if len(optimizer.get_weights()) != state["n_optim"]:
        raise ValueError(f"{path} was written with another optimiser set-up (EMA / gradient "
                         "accumulation / weight decay changed): resume with the same [train] config")
    optimizer.set_weights([data[f"optim_{i}"] for i in range(state["n_optim"])])
    return state


def better(value, best, mode, ties=False):
    """Is `value` an improvement on `best`? With `ties`, an equal value counts as one."""
    if best is None or (ties and value == best):
        return True
    return value > best if mode == "max" else value < best


def best_record(history):
    """The record of the epoch whose weights are kept in best.weights.h5 ({} before any)."""
    return next((row for row in reversed(history) if row.get("saved")), {})


class Evaluator:
    """Keras callback: evaluate, keep the best weights, write the resume state and logs."""

    def __new__(cls, *args, **kwargs):
        import keras

        class _Evaluator(keras.callbacks.Callback):
            def __init__(self, evaluate, out_dir, monitor, mode, state, writer, ties):
                super().__init__()
                self.evaluate, self.out_dir, self.monitor, self.mode = evaluate, out_dir, monitor, mode
                self.state, self.writer, self.ties = state, writer, ties

            def on_epoch_end(self, epoch, logs=None):
                optimizer = self.model.optimizer
                with ema_weights_applied(self.model, optimizer):
                    metrics = dict(self.evaluate(self.model)) if self.evaluate else {}
                    value = float(metrics.get(self.monitor, -(logs or {}).get("loss", 0.0)))
                    improved = better(value, self.state.get("best"), self.mode, self.ties)
                    if improved:
                        save_weights_atomic(self.model, os.path.join(self.out_dir, BEST))
                        self.state.update(best=value, best_epoch=epoch + 1)
                record = {"epoch": epoch + 1, "loss": (logs or {}).get("loss"), **metrics,
                          "best": self.state["best"], "saved": improved}
                self.state["epoch"] = epoch + 1
                self.state.setdefault("history", []).append(record)
                self.state.update(n_model=len(self.model.get_weights()),
                                  n_optim=len(optimizer.get_weights()))
                _save_resume(os.path.join(self.out_dir, RESUME), self.model, optimizer, self.state)
                with atomic_write(os.path.join(self.out_dir, HISTORY)) as f:
                    for row in self.state["history"]:
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
                if self.writer is not None:
                    import tensorflow as tf
                    with self.writer.as_default(step=epoch + 1):
                        for key, val in record.items():
                            if isinstance(val, (int, float)) and not isinstance(val, bool):
                                tf.summary.scalar(f"eval/{key}", val)
                    self.writer.flush()
                shown = ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in record.items())
                print(f"[epoch {epoch + 1}] {shown}", flush=True)

        return _Evaluator(*args, **kwargs)


def progress_callback(steps):
    import keras
    from tqdm.auto import tqdm

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.bar = tqdm(total=steps, desc=f"epoch {epoch + 1}", unit="batch", leave=False)

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update(1)
            if logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{logs['loss']:.4f}")

        def on_epoch_end(self, epoch, logs=None):
            self.bar.close()

    return Progress()


def train(model, loss, batches, train_cfg, evaluate=None, monitor="f1", mode="max", resume=False,
          progress=True, tensorboard=True, extra_callbacks=(), keep_later_on_tie=False):
    """Compile and fit `model` on `batches`; returns the list of per-epoch records.

    `evaluate(model) -> dict of metrics` is called after every epoch; the weights scoring best on
    `monitor` are kept in <out_dir>/best.weights.h5. With `resume`, training continues after the last
    completed epoch recorded in <out_dir>/resume.npz (model weights, optimiser state, best score).
    `keep_later_on_tie`: an epoch scoring as well as the best replaces it (longer-trained weights).
    """
    from common import backend
    from common.optim import build_optimizer
    tf = backend.setup(seed=train_cfg.seed)

    out_dir = train_cfg.out_dir
    os.makedirs(out_dir, exist_ok=True)
    epochs = train_cfg.epochs
    optimizer = build_optimizer(train_cfg, total_steps=epochs * len(batches))
    model.compile(loss=loss, optimizer=optimizer)

    state = {"epoch": 0, "best": None, "history": []}
    resume_path = os.path.join(out_dir, RESUME)
    if resume:
        if not os.path.exists(resume_path):
            raise FileNotFoundError(f"--resume: no {resume_path} (nothing to resume)")
        state = _load_resume(resume_path, model, optimizer)
        print(f"resuming after epoch {state['epoch']} (best {monitor} = {state['best']})", flush=True)
        if state["epoch"] >= epochs:
            return state["history"]
    else:
        for stale in (RESUME, HISTORY):  # a fresh run must not inherit an older run's files
            if os.path.exists(os.path.join(out_dir, stale)):
                os.remove(os.path.join(out_dir, stale))

    writer = tf.summary.create_file_writer(os.path.join(out_dir, "logs", "eval")) if tensorboard else None
    callbacks = [Evaluator(evaluate, out_dir, monitor, mode, state, writer, keep_later_on_tie)]
    if tensorboard:
        import keras
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "logs"), update_freq="epoch",
                                                     write_graph=False, profile_batch=0))
    if progress:
        callbacks.append(progress_callback(len(batches)))
    model.fit(batches.forfit(state["epoch"]), steps_per_epoch=len(batches), epochs=epochs,
              initial_epoch=state["epoch"], callbacks=callbacks + list(extra_callbacks), verbose=0)
    return state["history"]


def load_best(model, out_dir):
    path = os.path.join(out_dir, BEST)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no trained weights at {path}: run train first (train.out_dir = {out_dir})")
    model.load_weights(path)
    return model
