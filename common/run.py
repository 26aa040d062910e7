"""A run folder describes itself, and its training state changes in one atomic step.

Training writes into `train.out_dir`:
    config.toml         the resolved config (track file + user file + command-line overrides)
    bert_config.json    the checkpoint's architecture (the weights are in best.weights.h5)
    vocab.txt           the checkpoint's vocabulary
    <label schema>      the label file the output layer was built from (e.g. schema.json), if any
    current             link to epochs/<n>: the state committed after epoch n
    epochs/<n>/         best.weights.h5, resume.npz, history.jsonl of that state
    best.weights.h5, resume.npz, history.jsonl   links to current/<name>, for people and tools
                        (a run of the older layout has them as files: read, resumed, then relinked)
    logs/               TensorBoard logs
    train.lock          while a training runs: its pid and host

Commit protocol (`commit_state`): the files of an epoch are written into a fresh folder epochs/<n>
(each fsync'ed), then `current` is switched to it by one rename, then older epoch folders are
removed. A kill at any instant leaves `current` naming a complete, consistent set (best weights,
resume state and history of the same epoch); what a killed commit left (a half-written epochs/<n>,
temp files) is removed by the next training (`tidy`). Readers open files through `current`.

The lock (`locked`): one training per run folder; a second one is refused with one line, a lock left
by a process that no longer runs is taken over.

`open_run` rebuilds a track from such a folder: the model, training and label settings are the run's,
so `predict` needs no repeated architecture overrides; it may only change what it reads and writes
(`data.*` but the label file, `predict.*`, and `train.out_dir` to name the run).
"""
import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import shutil
import socket

from common.config import ConfigError, display_path, load_config, replace, to_toml
from common.io import atomic_write, fsync_folder, process_running, remove_stale_temps, temp_path

log = logging.getLogger(__name__)

CONFIG = "config.toml"
BERT_CONFIG = "bert_config.json"
VOCAB = "vocab.txt"
WEIGHTS = "best.weights.h5"
RESUME = "resume.npz"
HISTORY = "history.jsonl"
STATE_FILES = (WEIGHTS, RESUME, HISTORY)
CURRENT = "current"
EPOCHS = "epochs"
LOCK = "train.lock"

PREDICT_SECTIONS = ("data", "predict")   # what predict may change; the rest is fixed by the run


def describe(track, run_dir):
    """Write the resolved config, the label schema and the checkpoint's config and vocab into the run
    folder, each file atomically."""
    from common.model import architecture, vocab_path
    os.makedirs(run_dir, exist_ok=True)
    with atomic_write(os.path.join(run_dir, CONFIG)) as f:
        f.write(to_toml(track.cfg))
    with atomic_write(os.path.join(run_dir, BERT_CONFIG)) as f:  # a HuggingFace config is translated
        json.dump(architecture(track.cfg.model), f, indent=2)
    copies = [(vocab_path(track.cfg.model), VOCAB)]
    if track.label_path():
        copies.append((track.label_path(), os.path.basename(track.label_path())))
    for source, name in copies:
        target = os.path.join(run_dir, name)
        if os.path.abspath(source) != os.path.abspath(target):
            with open(source, "rb") as src, atomic_write(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def check_predict_overrides(track_class, overrides):
    """Refuse command-line overrides of settings a trained run fixes."""
    label_key = track_class.label_file_key
    for item in overrides:
        name = item.split("=", 1)[0].strip()
        section, _, leaf = name.partition(".")
        if name == "train.out_dir" or (section in PREDICT_SECTIONS and leaf != label_key):
            continue
        raise ConfigError(f"command line: {name} is fixed by the trained run (its {CONFIG}); predict takes "
                          f"only data.*, predict.* and train.out_dir overrides"
                          + (f" (the labels are the run's copy of data.{label_key})" if leaf == label_key else ""))


def open_run(track_class, run_dir=None, config_path=None, overrides=()):
    """(track configured as it was trained, run folder). The run is `run_dir`, else the train.out_dir of
    the track's config with `config_path` and `overrides`; data.* / predict.* come from the run's config
    with the user's file and overrides laid over them."""
    config_class = track_class.config_class
    user = load_config(config_class, config_path, overrides)  # names, types and ranges first
    check_predict_overrides(track_class, overrides)
    if run_dir is None:
        run_dir = user.train.out_dir
    saved = os.path.join(run_dir, CONFIG)
    if not os.path.isfile(saved):
        raise ConfigError(f"{display_path(run_dir)}: not a trained run (no {CONFIG}): train first, or name the "
                          f"run folder with --run (default: train.out_dir)")
    trained = load_config(config_class, saved=saved)
    cfg = load_config(config_class, config_path, overrides, saved=saved, path_sections=PREDICT_SECTIONS)
    cfg = replace(cfg, model={"config_path": os.path.join(run_dir, BERT_CONFIG), "checkpoint_path": "",
                              "vocab_path": os.path.join(run_dir, VOCAB)},
                  train={"out_dir": run_dir})
    label_path = None
    if track_class.label_file_key:  # the run's copy of the label file it was trained with
        label_path = os.path.join(run_dir, os.path.basename(getattr(trained.data, track_class.label_file_key)))
    return track_class(cfg, label_path=label_path), run_dir


def load_trained(track, run_dir):
    """The track's model with the run's best weights; a weights/labels mismatch is one clear error."""
    path = state_path(run_dir, WEIGHTS)
    if not os.path.isfile(path):
        raise ConfigError(f"no trained weights at {display_path(path)}: run train first (train.out_dir = {run_dir})")
    model = track.build_model(load_checkpoint=False)
    try:
        model.load_weights(path)
    except ValueError as error:
        labels = f" and {display_path(track.label_path())}" if track.label_path() else ""
        reason = str(error).strip().splitlines()[0][:200]
        raise ConfigError(f"{display_path(path)} does not fit the model that {display_path(os.path.join(run_dir, CONFIG))}"
                          f"{labels} describe ({reason})") from None
    return model


# -- committed training state ------------------------------------------------------------------------

def state_path(run_dir, name):
    """Path of a committed state file (best.weights.h5, resume.npz, history.jsonl), through `current`;
    in a run folder of the older layout (no `current`, the state files at the top), the file there."""
    top = os.path.join(run_dir, name)
    if not os.path.lexists(os.path.join(run_dir, CURRENT)) and os.path.isfile(top) and not os.path.islink(top):
        return top
    return os.path.join(run_dir, CURRENT, name)


def committed_epoch(run_dir):
    """The epoch whose state `current` names, None before the first commit."""
    try:
        return int(os.path.basename(os.readlink(os.path.join(run_dir, CURRENT))))
    except (OSError, ValueError):
        return None


def _switch_link(link, target):
    """Point the symbolic link `link` at `target` in one atomic step (a new link renamed over it)."""
    if os.path.islink(link) and os.readlink(link) == target:
        return
    tmp = temp_path(link)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def link_state_files(run_dir):
    """The links <run>/<name> -> current/<name>, for people and tools (readers use `state_path`)."""
    for name in STATE_FILES:
        _switch_link(os.path.join(run_dir, name), os.path.join(CURRENT, name))


def tidy(run_dir):
    """Remove what killed processes left: temp files, and epoch folders that `current` does not name."""
    remove_stale_temps(run_dir)
    epochs = os.path.join(run_dir, EPOCHS)
    remove_stale_temps(epochs)
    keep = committed_epoch(run_dir)
    for name in os.listdir(epochs) if os.path.isdir(epochs) else ():
        if name.isdigit() and int(name) != keep:
            _remove(os.path.join(epochs, name))


def clear_state(run_dir):
    """Forget the training state of an earlier run (a fresh training): `current`, the epoch folders and
    the state files, including those of the older layout (regular files at the top of the run)."""
    for name in (CURRENT, *STATE_FILES):
        _remove(os.path.join(run_dir, name))
    _remove(os.path.join(run_dir, EPOCHS))
    fsync_folder(run_dir)


def commit_state(run_dir, epoch, writers):
    """Make the state of `epoch` the committed one, in one atomic step. `writers` maps each state file
    name to a function writing its content into a binary file, or to None to keep the committed file
    of that name (hard-linked, e.g. best weights that did not improve). On any error nothing changes
    but a half-written epoch folder, which is removed."""
    stage = os.path.join(run_dir, EPOCHS, str(epoch))
    if committed_epoch(run_dir) == epoch:
        raise RuntimeError(f"epoch {epoch} of {run_dir} is already committed")
    _remove(stage)
    os.makedirs(stage)
    try:
        for name, write in writers.items():
            target = os.path.join(stage, name)
            if write is None:
                _link_or_copy(state_path(run_dir, name), target)
                continue
            with atomic_write(target, "wb") as f:
                write(f)
        fsync_folder(stage)
        fsync_folder(os.path.dirname(stage))
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _switch_link(os.path.join(run_dir, CURRENT), os.path.join(EPOCHS, str(epoch)))  # the commit
    fsync_folder(run_dir)
    link_state_files(run_dir)
    tidy(run_dir)


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        with open(source, "rb") as src, atomic_write(target, "wb") as dst:
            shutil.copyfileobj(src, dst)


# -- one training per run folder ---------------------------------------------------------------------

@contextlib.contextmanager
def locked(run_dir):
    """Hold the training lock of `run_dir` inside the block: a second training of the same folder is
    refused (ConfigError naming the holder); a lock whose process has ended is taken over, with a
    warning. Released when the block ends, also on an error. The lock is an flock on train.lock, which
    the kernel releases when its process dies; the file records the holder's pid, host and start."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, LOCK)
    fd = _acquire(path, run_dir)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def check_free(run_dir):
    """Raise the ConfigError of `locked` now if another training holds `run_dir` (taking over and
    releasing a stale lock); the training itself then takes the lock for good. A folder that does not
    exist yet is free (and is not made here: a training refused for its data leaves nothing behind)."""
    if not os.path.isdir(run_dir):
        return
    with locked(run_dir):
        pass


def _holder():
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.datetime.now().isoformat(timespec="seconds")}


def _read_holder(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        return json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (ValueError, UnicodeDecodeError):
        return {}


def _describe_holder(holder):
    if not holder:
        return "a process that left no record"
    return f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}"


def _acquire(path, run_dir):
    for _ in range(10):  # retried only when the holder removed the file between our open and lock
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            previous = _lock_fd(fd, path, run_dir)
        except BaseException:
            os.close(fd)
            raise
        if previous is _RETRY:
            os.close(fd)
            continue
        if previous:
            log.warning("%s: taking over the lock of a training that is no longer running (%s)",
                        display_path(run_dir), _describe_holder(previous))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(_holder()).encode("utf-8"))
        os.fsync(fd)
        return fd
    raise ConfigError(f"{display_path(run_dir)}: could not take the training lock {LOCK}")


_RETRY = object()


def _lock_fd(fd, path, run_dir):
    """Lock the open lock file: returns the previous (ended) holder's record, {} if none, or _RETRY."""
    in_use = f"{display_path(run_dir)} is in use by another training"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ConfigError(f"{in_use} ({_describe_holder(_read_holder(fd))}): wait for it to end, or train "
                          "into another train.out_dir") from None
    except OSError:  # a filesystem without flock: judge by the recorded pid
        holder = _read_holder(fd)
        if holder and holder.get("pid") != os.getpid() and (
                holder.get("host") != socket.gethostname() or process_running(int(holder.get("pid", 0)))):
            raise ConfigError(f"{in_use} ({_describe_holder(holder)}): wait for it to end, or remove "
                              f"{display_path(path)} if that process is gone") from None
        return holder
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        same = False
    return _read_holder(fd) if same else _RETRY
