"""Training on several replicas (train.strategy; common/backend.py, common/training.py, commands.train).

The mrc track through commands.train on 12 sample questions (one window each, 3 batches of 4 an epoch)
for 2 epochs, with AdamW + weight decay + warm-up schedule + EMA + gradient accumulation over 2 batches
(a cycle spans the end of epoch 1): on one device in this process (the reference), with `mirrored` over
2 logical CPU devices in a fresh process, and with `multi_worker` in two worker processes on 127.0.0.1.
The weights and optimiser state in resume.npz, and the dev scores, equal the reference's to float
rounding; resume.npz loads into every replica; only the chief writes the run folder.
"""
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT, make_track, sample

TOLERANCE = 1e-5
TRAIN = ["model.maxlen=256", "model.dropout=0", "model.attention_dropout=0", "train.epochs=2", "train.batch_size=4",
         "train.learning_rate=1e-3", "train.warmup_proportion=0.25", "train.weight_decay=0.01",
         "train.ema_momentum=0.9", "train.grad_accum_steps=2"]


# -- pure Python --------------------------------------------------------------------------------------

def test_full_batches_top_up_the_last_batch_with_the_epochs_first_examples():
    from common.training import Batches
    plain = Batches(list(range(10)), 4, list, seed=3)
    full = plain.filled()
    assert len(full) == len(plain) == 3
    for epoch in range(3):
        order = plain.order(epoch)
        assert full.order(epoch) == order + order[:2]
        assert [len(b) for b in full.epoch(epoch)] == [4, 4, 4] and [len(b) for b in plain.epoch(epoch)] == [4, 4, 2]
    assert Batches([7], 4, list).filled().order(0) == [0, 0, 0, 0]  # fewer examples than a batch


def test_batch_size_must_split_evenly_over_the_replicas():
    from common.config import ConfigError
    from common.training import Batches, replica_batches
    batches = Batches(list(range(10)), 6, list)
    assert replica_batches(batches, 1) is batches
    assert replica_batches(batches, 2).full and replica_batches(batches, 3).batch_size == 6
    with pytest.raises(ConfigError, match="train.batch_size = 6 does not split evenly over the 4 replicas"):
        replica_batches(batches, 4)


def test_the_input_stream_never_runs_dry():
    # an accumulation cycle may span the end of an epoch: the stream goes on with the next epoch's batches
    import itertools
    from common.training import Batches
    batches = Batches(list(range(5)), 2, lambda examples: (examples, len(examples)), seed=1)
    stream = [(list(x), n) for x, n in itertools.islice(batches.forfit(1), 7)]
    assert stream == [b for e in (1, 2, 3) for b in batches.epoch(e)][:7]


def test_cluster_task_follows_tf_config(monkeypatch):
    from common.backend import cluster_task
    from common.config import ConfigError

    def task(cluster, kind, index):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}}))
        return cluster_task(required=True)

    workers = {"worker": ["10.0.0.1:2222", "10.0.0.2:2222", "10.0.0.3:2222"]}
    assert [(t.index, t.count, t.chief) for t in (task(workers, "worker", i) for i in range(3))] == \
        [(0, 3, True), (1, 3, False), (2, 3, False)]
    with_chief = {"chief": ["10.0.0.9:2222"], **workers}
    assert task(with_chief, "chief", 0).chief and not task(with_chief, "worker", 0).chief
    assert task(with_chief, "worker", 2).index == 3
    with pytest.raises(ConfigError, match="TF_CONFIG is not a cluster naming this task"):
        task(workers, "worker", 3)
    with pytest.raises(ConfigError, match="tasks of type evaluator are not supported"):
        task({**workers, "evaluator": ["10.0.0.4:2222"]}, "worker", 0)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not a cluster"):
        cluster_task()
    monkeypatch.delenv("TF_CONFIG")
    assert cluster_task().chief and cluster_task().count == 1
    with pytest.raises(ConfigError, match="multi_worker needs TF_CONFIG"):
        cluster_task(required=True)


def test_multi_worker_without_tf_config_is_one_error_line(monkeypatch, tmp_path, capsys):
    from mrc import train
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit, match="error: train.strategy = multi_worker needs TF_CONFIG"):
        from common import cli
        cli.run(train.main, ["train.strategy=multi_worker", f"train.out_dir={tmp_path / 'run'}"])
    assert not (tmp_path / "run").exists()


# -- the same training on one device, two mirrored replicas and two workers ------------------------------

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """12 train questions and 4 dev questions of the mrc sample."""
    folder = tmp_path_factory.mktemp("mrc_small")
    with open(sample("mrc", "train.json"), encoding="utf-8") as f:
        questions = [(p["context"], qa) for article in json.load(f)["data"] for p in article["paragraphs"]
                     for qa in p["qas"]]
    for name, part in (("train.json", questions[:12]), ("dev.json", questions[12:16])):
        paragraphs = [{"context": context, "qas": [qa]} for context, qa in part]
        (folder / name).write_text(json.dumps({"data": [{"title": "", "paragraphs": paragraphs}]},
                                              ensure_ascii=False), encoding="utf-8")
    return str(folder)


def overrides(bert, data, out_dir):
    return [f"model.dir={bert}", f"data.dir={data}", f"train.out_dir={out_dir}", *TRAIN]


@pytest.fixture(scope="module")
def reference(tiny_bert, data_dir, tmp_path_factory):
    """One device, in this process: (the run's resume.npz, the run folder's names)."""
    from common import commands
    out_dir = tmp_path_factory.mktemp("reference") / "run"
    track = make_track("mrc", *overrides(tiny_bert("mrc"), data_dir, out_dir))
    examples = track.encode(track.load_records(os.path.join(data_dir, "train.json"))[0])
    assert len(examples) == 12  # 3 full batches: the replicas see the reference's batches
    commands.train(track, progress=False, tensorboard=False)
    return resume_file(out_dir), sorted(os.listdir(out_dir))


def resume_file(out_dir):
    from common import run
    return run.state_path(str(out_dir), run.RESUME)


def replica_gap(settings, out_dir):
    """Build the run's model and optimiser in its strategy, load its resume.npz, and return the largest
    difference between the file and any replica's copy of any variable (and the number of replicas)."""
    from common import backend, training
    from common.optim import build_optimizer
    track = make_track("mrc", *settings)
    strategy = backend.distribution(track.cfg.train.strategy)
    with strategy.scope():
        model = track.build_model(load_checkpoint=False)
        optimizer = build_optimizer(track.cfg.train, total_steps=6)
        model.compile(loss=track.build_loss([]), optimizer=optimizer)
        optimizer._create_all_weights(model.trainable_variables)
        training._load_resume(resume_file(out_dir), model, optimizer)
    with np.load(resume_file(out_dir)) as data:
        arrays = [data[f"model_{i}"] for i in range(len(model.weights))]
        arrays += [data[f"optim_{i}"] for i in range(len(optimizer.weights))]
    variables = [*model.weights, *optimizer.weights]
    gaps = [float(np.max(np.abs(np.asarray(copy.numpy(), "float64") - array)))
            for variable, array in zip(variables, arrays, strict=True)
            for copy in strategy.experimental_local_results(variable)]
    return max(gaps), len(strategy.experimental_local_results(variables[0]))


def compare(path, reference_path):
    """Largest difference of weights and optimiser state; the two histories (equal epochs and scores)."""
    with np.load(path) as ours, np.load(reference_path) as theirs:
        state, expected = json.loads(str(ours["state"])), json.loads(str(theirs["state"]))
        assert (state["n_model"], state["n_optim"]) == (expected["n_model"], expected["n_optim"])
        keys = [f"model_{i}" for i in range(state["n_model"])] + [f"optim_{i}" for i in range(state["n_optim"])]
        gap = max(float(np.max(np.abs(ours[k].astype("float64") - theirs[k]))) for k in keys)
    for row, other in zip(state["history"], expected["history"], strict=True):
        assert row["epoch"] == other["epoch"] and row["f1"] == pytest.approx(other["f1"], abs=1e-6), (row, other)
    return gap


def program(code, **values):
    prelude = f"import os, sys\nsys.path[:0] = [{ROOT!r}, {os.path.join(ROOT, 'tests')!r}]\n"
    return prelude + "".join(f"{k} = {v!r}\n" for k, v in values.items()) + textwrap.dedent(code)


MIRRORED = """
    import json
    from common import backend
    tf = backend.setup()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from common import commands
    from conftest import make_track
    from test_training_strategy import replica_gap
    commands.train(make_track("mrc", *settings), progress=False, tensorboard=False)
    print(json.dumps(replica_gap(settings, out_dir)))
"""


def test_mirrored_on_two_devices_equals_one_device(reference, tiny_bert, data_dir, tmp_path):
    out_dir = tmp_path / "run"
    code = program(MIRRORED, settings=overrides(tiny_bert("mrc"), data_dir, out_dir) + ["train.strategy=mirrored"],
                   out_dir=str(out_dir))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 replica(s) in sync, here on /job:localhost/replica:0/task:0/device:CPU:0, " \
           "/job:localhost/replica:0/task:0/device:CPU:1; global batch 4 = 2 per replica" in done.stdout
    resume, names = reference
    assert compare(resume_file(out_dir), resume) < TOLERANCE
    gap, replicas = json.loads(done.stdout.strip().splitlines()[-1])
    assert replicas == 2 and gap == 0.0  # resume.npz loads into both replicas' copies, exactly
    assert sorted(os.listdir(out_dir)) == names


WORKER = """
    import json
    import numpy as np
    from common import commands, training
    from common.config import ConfigError
    from conftest import make_track
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    original = training.train

    def keeping_weights(model, *args, **kwargs):  # the weights each worker ends with
        history = original(model, *args, **kwargs)
        np.savez(os.path.join(side, f"worker{index}.npz"), *model.get_weights())
        return history

    training.train = keeping_weights
    commands.train(make_track("mrc", *settings), progress=False)
    # --resume of the finished run: every worker loads resume.npz and they check that they agree
    print("resumed to", len(commands.train(make_track("mrc", *settings), resume=True, progress=False)), "epochs")
    try:  # a worker with another learning rate: refused everywhere before any step
        commands.train(make_track("mrc", *settings, f"train.learning_rate={1e-3 * (1 + index)}"),
                       resume=True, progress=False)
    except ConfigError as error:
        print("refused:", error)
"""


def free_ports(n):
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_multi_worker_on_two_processes_equals_one_device(reference, tiny_bert, data_dir, tmp_path):
    try:
        ports = free_ports(2)
    except OSError as error:
        pytest.skip(f"no TCP on 127.0.0.1 here, so no collective ops between processes: {error}")
    out_dir = tmp_path / "run"  # one folder for both, as on a shared file system: only the chief writes
    code = program(WORKER, settings=overrides(tiny_bert("mrc"), data_dir, out_dir) + ["train.strategy=multi_worker"],
                   side=str(tmp_path))
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    try:
        for index in range(2):
            env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
            workers.append(subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        outputs = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, out[-2000:] + err[-3000:]
    chief, other = (out for out, _ in outputs)
    assert "worker 0 of 2 (chief); 2 replica(s) in sync" in chief and "worker 1 of 2; 2 replica(s)" in other
    assert "[epoch 2]" in chief and "[epoch" not in other  # the chief alone evaluates
    for out in (chief, other):
        assert "resuming after epoch 2" in out and "resumed to 2 epochs" in out
        assert "refused: the workers of this multi_worker training differ" in out
    resume, names = reference
    assert compare(resume_file(out_dir), resume) < TOLERANCE
    with np.load(tmp_path / "worker0.npz") as first, np.load(tmp_path / "worker1.npz") as second:
        assert all(np.array_equal(first[k], second[k]) for k in first.files)
    # the chief's run folder, as on one device, with TensorBoard logs from the chief alone
    assert sorted(os.listdir(out_dir)) == sorted(names + ["logs"])
    assert sorted(os.listdir(out_dir / "logs")) == ["eval", "train"]
