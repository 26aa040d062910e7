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
  twice), a tqdm progress bar, fixed seeds;
- one device or many (`train.strategy`, common/backend.py), below.

The input is an endless stream of batches, epoch after epoch, so it never runs dry: with gradient
accumulation a cycle may span the end of an epoch, and its stored gradient is part of resume.npz.
(A finite input that ends inside a cycle would apply part of the stored gradient.)

Several replicas (mirrored: the GPUs of a machine; multi_worker: those of several machines):
- the global batch is train.batch_size, split evenly over the replicas (a batch size that does not
  split evenly is refused), and every batch is full: the last batch of an epoch is topped up with the
  epoch's first examples. A step's loss is then the mean of the replicas' batch losses, which is the
  global batch's loss for a loss averaged over examples (every track's), so a mirrored run follows the
  single-device run on the same batches (to float rounding; tests/test_training_strategy.py);
- the model must be built inside `strategy_scope(train_cfg)` (commands.train does);
- multi_worker: every worker runs the same command with the same config, data and checkpoint (checked
  at the start: a digest of the settings, the first batch, the weights and the optimiser state must be
  equal everywhere). Only the chief (common.backend.cluster_task) takes the lock, writes the run folder,
  evaluates and writes TensorBoard logs. It evaluates and saves the best weights from a copy of the model
  outside the strategy (`local_model()`): Keras's inference on the distributed model, and reading its
  metrics (which saving the model does), would be collective ops the other workers never join; the other workers write nothing anywhere and wait at
  the next step's all-reduce while the chief evaluates. With --resume every worker reads resume.npz
  from its own train.out_dir (a shared folder, or a copy of the chief's). If a worker stops, the others
  stop with one error line about ten seconds later (TensorFlow's heartbeat), not hang.
"""
import contextlib
import hashlib
import itertools
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
    With `full`, the last batch of an epoch is topped up with the epoch's first examples (several
    replicas need every batch to split evenly); otherwise it holds what is left.
    """

    def __init__(self, examples, batch_size, collate, shuffle=True, seed=0, full=False):
        if not examples:
            raise ValueError("no training examples")
        self.examples, self.batch_size, self.collate = examples, int(batch_size), collate
        self.shuffle, self.seed, self.full = shuffle, seed, full

    def __len__(self):
        return math.ceil(len(self.examples) / self.batch_size)

    def filled(self):
        """These batches with every batch full."""
        return Batches(self.examples, self.batch_size, self.collate, self.shuffle, self.seed, full=True)

    def order(self, epoch=0):
        """The example indices of `epoch`, batch after batch."""
        order = list(range(len(self.examples)))
        if self.shuffle:
            random.Random(f"{self.seed}-{epoch}").shuffle(order)
        if self.full:
            order = list(itertools.islice(itertools.cycle(order), len(self) * self.batch_size))
        return order

    def epoch(self, epoch=0):
        order = self.order(epoch)
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
            def __init__(self, evaluate, out_dir, monitor, mode, state, writer, ties, local=None):
                super().__init__()
                self.evaluate, self.out_dir, self.monitor, self.mode = evaluate, out_dir, monitor, mode
                self.state, self.writer, self.ties, self.local = state, writer, ties, local

            def on_epoch_end(self, epoch, logs=None):
                optimizer = self.model.optimizer
                best_writer = None
                with ema_weights_applied(self.model, optimizer):
                    if self.local is None:
                        metrics = dict(self.evaluate(self.model)) if self.evaluate else {}
                    else:  # multi_worker: the chief alone evaluates and saves, from the model outside the
                        # strategy (reading the distributed model's metrics would be a collective op)
                        self.local.set_weights(self.model.get_weights())
                        metrics = dict(outside_strategy(self.evaluate, self.local)) if self.evaluate else {}
                    value = float(metrics.get(self.monitor, -(logs or {}).get("loss", 0.0)))
                    improved = better(value, self.state.get("best"), self.mode, self.ties)
                    if improved:
                        data = weights_h5(self.model if self.local is None else self.local)
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


def outside_strategy(function, *args):
    """function(*args) in a thread of its own: `fit` runs its callbacks inside the strategy's scope, and
    Keras's predict there would distribute (multi_worker: collective ops, which would wait for the
    other workers forever); a scope holds for its thread only."""
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


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


def strategy_scope(train_cfg):
    """The scope to build the model in: that of train.strategy (a no-op for "default")."""
    from common import backend
    return backend.distribution(train_cfg.strategy).scope()


def train(model, loss, batches, train_cfg, evaluate=None, monitor="f1", mode="max", resume=False,
          progress=True, tensorboard=True, extra_callbacks=(), keep_later_on_tie=False, prepare=None,
          local_model=None, fingerprint=""):
    """Compile and fit `model` on `batches`; returns the list of per-epoch records.

    `evaluate(model) -> dict of metrics` is called after every epoch; the weights scoring best on
    `monitor` are kept in <out_dir>/best.weights.h5. With `resume`, training continues after the last
    committed epoch (<out_dir>/resume.npz: weights, optimiser and random state, history); without it,
    the folder's earlier training state is forgotten. `prepare()`, if given, runs once the run folder
    is locked and its state settled, before the first step (commands.train writes the run's
    description there). `keep_later_on_tie`: an epoch scoring as well as the best replaces it.

    Under train.strategy (see the module's doc) `model` is built inside `strategy_scope(train_cfg)`.
    multi_worker: `local_model()` builds the same architecture outside the strategy, for the chief's
    evaluation (needed with `evaluate`); `fingerprint` is text the workers must agree on besides what
    is checked here (commands.train: a digest of the training file). The chief returns the history,
    the other workers their resume state's history (empty without --resume).
    """
    from common import backend
    from common.optim import build_optimizer
    tf = backend.setup(seed=train_cfg.seed, strategy=train_cfg.strategy)
    strategy = backend.distribution(train_cfg.strategy)
    multi = train_cfg.strategy == "multi_worker"
    task = backend.cluster_task(required=True) if multi else backend.ClusterTask()
    _check_built_in_scope(model, strategy, train_cfg.strategy)
    batches = replica_batches(batches, strategy.num_replicas_in_sync)
    if multi and local_model is None:
        raise ValueError("train.strategy = multi_worker: the chief evaluates and saves from local_model(), "
                         "which is missing")
    if train_cfg.strategy != "default":
        print(describe_placement(strategy, task, batches.batch_size), flush=True)

    out_dir = train_cfg.out_dir
    epochs = train_cfg.epochs
    # a model outside the strategy for the chief's evaluation, built before anything enters its scope
    local = local_model() if multi and task.chief else None
    with run.locked(out_dir) if task.chief else contextlib.nullcontext(), _peers_reported(tf, task):
        if task.chief:
            run.tidy(out_dir)
        with strategy.scope():
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
            elif task.chief:
                if os.path.isfile(run.state_path(out_dir, run.RESUME)):
                    print(f"starting afresh: the earlier training state of {display_path(out_dir)} is dropped "
                          "(--resume would have continued it)", flush=True)
                run.clear_state(out_dir)
        if prepare is not None and task.chief:
            prepare()
        if multi:
            same_everywhere(strategy, _digest(train_cfg, batches, model, optimizer, state, fingerprint))
            if not task.chief:  # its own dropout masks: a stream derived from the chief's and its index
                compat.seed_random(_derived_seed(compat.random_state(), task.index))
        if state["epoch"] >= epochs:
            return state["history"]

        callbacks = [progress_callback(len(batches))] if progress else []
        if task.chief:
            writer = tf.summary.create_file_writer(os.path.join(out_dir, "logs", "eval")) if tensorboard else None
            # the progress bar first: it is closed before the evaluator prints (or fails) at an epoch's end
            callbacks.append(Evaluator(evaluate, out_dir, monitor, mode, state, writer, keep_later_on_tie, local))
            if tensorboard:
                import keras
                callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "logs"), update_freq="epoch",
                                                             write_graph=False, profile_batch=0))
        model.fit(batches.forfit(state["epoch"]), steps_per_epoch=len(batches), epochs=epochs,
                  initial_epoch=state["epoch"], callbacks=callbacks + list(extra_callbacks), verbose=0)
        if multi:  # the others wait for the chief's last commit: all end together, none reported lost
            same_everywhere(strategy, "the end")
    return state["history"]


def replica_batches(batches, replicas):
    """`batches` for `replicas` replicas: the batch size must split evenly, and every batch is full."""
    if replicas == 1:
        return batches
    if batches.batch_size % replicas:
        raise ConfigError(f"train.batch_size = {batches.batch_size} does not split evenly over the {replicas} "
                          f"replicas of train.strategy: make it a multiple of {replicas}")
    return batches.filled()


def describe_placement(strategy, task, batch_size):
    """One line: replicas, devices, this worker, the batch each replica computes."""
    devices = ", ".join(strategy.extended.worker_devices)
    replicas = strategy.num_replicas_in_sync
    worker = f"worker {task.index} of {task.count}{' (chief)' if task.chief else ''}; " if task.count > 1 else ""
    return (f"{worker}{replicas} replica(s) in sync, here on {devices}; global batch {batch_size} = "
            f"{batch_size // replicas} per replica")


def _check_built_in_scope(model, strategy, name):
    if name != "default" and model.weights and not strategy.extended.variable_created_in_scope(model.weights[0]):
        raise ValueError(f"train.strategy = {name}: build the model inside training.strategy_scope(train_cfg)")


def same_everywhere(strategy, text):
    """Check that every replica of `strategy` holds the same `text` (one all-reduce; every worker must
    call this at the same point). Raises ConfigError on every worker if they differ."""
    import tensorflow as tf
    value = float(int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16))  # 48 bits: exact as float64
    replicas = strategy.num_replicas_in_sync

    def one_hot(context):
        row = np.zeros(replicas)
        row[context.replica_id_in_sync_group] = value
        return tf.constant(row)

    values = strategy.reduce("SUM", strategy.experimental_distribute_values_from_function(one_hot), axis=None)
    values = [int(v) for v in values.numpy()]
    if len(set(values)) > 1:
        raise ConfigError("the workers of this multi_worker training differ in their config, training data, "
                          "checkpoint or resume state (digests by replica: "
                          + ", ".join(f"{v:012x}" for v in values) + "): every worker needs the same files")


def _digest(train_cfg, batches, model, optimizer, state, fingerprint):
    """What every worker must share: settings, data, weights, optimiser state and epoch."""
    import dataclasses
    digest = hashlib.sha256()
    settings = {k: v for k, v in dataclasses.asdict(train_cfg).items() if k != "out_dir"}
    digest.update(json.dumps([settings, len(batches.examples), len(batches), state["epoch"], fingerprint],
                             sort_keys=True).encode("utf-8"))
    import tensorflow as tf
    for array in tf.nest.flatten(next(batches.epoch(state["epoch"]))):
        digest.update(np.ascontiguousarray(array).tobytes())
    for weight in [*model.weights, *optimizer.weights]:  # one at a time: a copy of one array in memory
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()


def _derived_seed(random_state, index):
    return int(np.random.default_rng([*np.asarray(random_state).astype("uint64").tolist(), index])
               .integers(2 ** 62))


@contextlib.contextmanager
def _peers_reported(tf, task):
    """With several workers: a worker that stopped or cannot be reached ends this one with one line."""
    if task.count == 1:
        yield
        return
    lost = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
            tf.errors.DeadlineExceededError)
    try:
        yield
    except lost as error:
        reason = (error.message or str(error)).strip().splitlines()[0][:300]
        raise ConnectionError(f"worker {task.index} of {task.count}: another worker of this multi_worker training "
                              f"stopped or cannot be reached (see its output): {reason}") from None


def load_best(model, out_dir):
    path = run.state_path(out_dir, run.WEIGHTS)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no trained weights at {path}: run train first (train.out_dir = {out_dir})")
    model.load_weights(path)
    return model
