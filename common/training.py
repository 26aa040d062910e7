"""The training loop every track uses: Keras `fit` on a batch generator, plus

- an evaluator callback that runs the track's dev evaluation (decode + official metric) each epoch,
  with EMA weights when EMA is on, and commits the epoch's state to the run folder in one atomic
  step (common/run.py): the best weights, `resume.npz` and `history.jsonl` always belong together;
- one training per run folder (a lock); a fresh training forgets the folder's earlier state;
- resume: `resume.npz` holds the last epoch's weights, optimiser state (moments, step, EMA,
  accumulated gradients), the random generator state and the history. Every epoch's batches are
  drawn from (seed, epoch) and every dropout mask from TensorFlow's global random generator
  (common/compat.py), so `--resume` continues exactly as if never interrupted: on the same machine
  a run killed and resumed ends with the weights of an uninterrupted one, bit for bit
  (tests/test_training_faults.py);
- a full disk or a damaged resume file ends in one error line, the committed state untouched;
- TensorBoard logs (`logs/`; after a resume the epochs between the last commit and the kill appear
  twice), a tqdm progress bar, fixed seeds.
"""
import json
import logging
import math
import os
import random
import zipfile

import numpy as np

from common import compat, run
from common.config import ConfigError, display_path
from common.io import DataError

log = logging.getLogger(__name__)


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


def weights_h5(model):
    """The bytes `model.save_weights("x.weights.h5")` writes, built in memory. HDF5 writing straight
    to a full disk fails inside C with a cascade of errors and can crash the process; writing these
    bytes fails with one OSError."""
    from tf_keras.src.saving import saving_lib

    class Capture:  # H5IOStore hands the finished file to an archive's writestr
        def writestr(self, name, data):
            self.data = data

    capture = Capture()
    store = saving_lib.H5IOStore("model.weights.h5", archive=capture, mode="w")
    saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="",
                           visited_trackables=set())
    store.close()
    return capture.data


def _resume_writer(model, optimizer, state):
    """A writer of resume.npz: the last weights, the optimiser state, the random state and `state`."""
    arrays = {f"model_{i}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"optim_{i}": w for i, w in enumerate(optimizer.get_weights())})
    arrays["rng"] = compat.random_state()
    state = dict(state, n_model=len(model.get_weights()), n_optim=len(optimizer.get_weights()))
    return lambda f: np.savez(f, state=np.array(json.dumps(state)), **arrays)


def _load_resume(path, model, optimizer):
    """Restore weights, optimiser and random state from resume.npz; returns the saved state dict."""
    advice = "delete the run folder's current state (or train without --resume) to start afresh"
    try:
        with np.load(path) as data:
            state = json.loads(str(data["state"]))
            weights = [data[f"model_{i}"] for i in range(state["n_model"])]
            optim = [data[f"optim_{i}"] for i in range(state["n_optim"])]
            rng = data["rng"] if "rng" in data.files else None
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError, TypeError) as error:
        raise DataError(path, None, f"damaged resume state ({type(error).__name__}: {error}): {advice}") from None
    try:
        model.set_weights(weights)
    except ValueError as error:
        reason = str(error).splitlines()[0][:200]
        raise ConfigError(f"{display_path(path)} was written for another model ({reason}): resume with the "
                          "[model] config and labels it was trained with") from None
    optimizer._create_all_weights(model.trainable_variables)
    if len(optimizer.get_weights()) != len(optim):
        raise ConfigError(f"{display_path(path)} was written with another optimiser set-up (EMA / gradient "
                          "accumulation / weight decay changed): resume with the same [train] config")
    optimizer.set_weights(optim)
    if rng is None:
        print(f"{display_path(path)} has no random generator state (an older version wrote it): the dropout "
              "masks from here on differ from those of an uninterrupted run", flush=True)
    else:
        compat.set_random_state(rng)
    return state


def _history_writer(history):
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in history)
    return lambda f: f.write(text.encode("utf-8"))


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
                best_writer = None
                with ema_weights_applied(self.model, optimizer):
                    metrics = dict(self.evaluate(self.model)) if self.evaluate else {}
                    value = float(metrics.get(self.monitor, -(logs or {}).get("loss", 0.0)))
                    improved = better(value, self.state.get("best"), self.mode, self.ties)
                    if improved:
                        data = weights_h5(self.model)
                        best_writer = lambda f: f.write(data)  # noqa: E731
                record = {"epoch": epoch + 1, "loss": (logs or {}).get("loss"), **metrics,
                          "best": value if improved else self.state["best"], "saved": improved}
                state = dict(self.state, epoch=epoch + 1, history=self.state["history"] + [record])
                if improved:
                    state.update(best=value, best_epoch=epoch + 1)
                self.commit(epoch + 1, {run.WEIGHTS: best_writer,
                                        run.RESUME: _resume_writer(self.model, optimizer, state),
                                        run.HISTORY: _history_writer(state["history"])})
                self.state.update(state)
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

            def commit(self, epoch, writers):
                try:
                    run.commit_state(self.out_dir, epoch, writers)
                except OSError as error:
                    kept = run.committed_epoch(self.out_dir)
                    then = (f"{display_path(self.out_dir)} keeps epoch {kept}: free space, then continue with "
                            "--resume" if kept else "free space, then train again")
                    raise OSError(error.errno, f"{error.strerror or error}: could not save epoch {epoch} "
                                               f"({then})") from None

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
          progress=True, tensorboard=True, extra_callbacks=(), keep_later_on_tie=False, prepare=None):
    """Compile and fit `model` on `batches`; returns the list of per-epoch records.

    `evaluate(model) -> dict of metrics` is called after every epoch; the weights scoring best on
    `monitor` are kept in <out_dir>/best.weights.h5. With `resume`, training continues after the last
    committed epoch (<out_dir>/resume.npz: weights, optimiser and random state, history); without it,
    the folder's earlier training state is forgotten. `prepare()`, if given, runs once the run folder
    is locked and its state settled, before the first step (commands.train writes the run's
    description there). `keep_later_on_tie`: an epoch scoring as well as the best replaces it.
    """
    from common import backend
    from common.optim import build_optimizer
    tf = backend.setup(seed=train_cfg.seed)

    out_dir = train_cfg.out_dir
    epochs = train_cfg.epochs
    with run.locked(out_dir):
        run.tidy(out_dir)
        optimizer = build_optimizer(train_cfg, total_steps=epochs * len(batches))
        model.compile(loss=loss, optimizer=optimizer)
        # slots made now, not inside the first step: creating variables there makes TF trace it twice
        optimizer._create_all_weights(model.trainable_variables)
        state = {"epoch": 0, "best": None, "history": []}
        if resume:
            resume_path = run.state_path(out_dir, run.RESUME)
            if not os.path.isfile(resume_path):
                raise ConfigError(f"--resume: {display_path(out_dir)} has no committed epoch (nothing to resume)")
            state = _load_resume(resume_path, model, optimizer)
            print(f"resuming after epoch {state['epoch']} (best {monitor} = {state['best']})", flush=True)
        else:
            if os.path.isfile(run.state_path(out_dir, run.RESUME)):
                print(f"starting afresh: the earlier training state of {display_path(out_dir)} is dropped "
                      "(--resume would have continued it)", flush=True)
            run.clear_state(out_dir)
        if prepare is not None:
            prepare()
        if state["epoch"] >= epochs:
            return state["history"]

        writer = tf.summary.create_file_writer(os.path.join(out_dir, "logs", "eval")) if tensorboard else None
        # the progress bar first: it is closed before the evaluator prints (or fails) at an epoch's end
        callbacks = [progress_callback(len(batches))] if progress else []
        callbacks.append(Evaluator(evaluate, out_dir, monitor, mode, state, writer, keep_later_on_tie))
        if tensorboard:
            import keras
            callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "logs"), update_freq="epoch",
                                                         write_graph=False, profile_batch=0))
        model.fit(batches.forfit(state["epoch"]), steps_per_epoch=len(batches), epochs=epochs,
                  initial_epoch=state["epoch"], callbacks=callbacks + list(extra_callbacks), verbose=0)
    return state["history"]


def load_best(model, out_dir):
    path = run.state_path(out_dir, run.WEIGHTS)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no trained weights at {path}: run train first (train.out_dir = {out_dir})")
    model.load_weights(path)
    return model
