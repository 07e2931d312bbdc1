"""The distribution is real: replicas and workers do the all-reduce, and agree with one device.

Every training here runs `python -m course.gpt train` (or a small script) in a subprocess:
logical CPU devices must be configured, and MultiWorkerMirroredStrategy created, before
TensorFlow initialises, which it already has in the test process. Each subprocess runs in
its own process group under a hard time limit and is killed with SIGKILL when it runs out
(a multi-worker process waiting for a peer ignores SIGTERM).

Tolerances: float32, a 1-block model, 6 steps of AdamW. Measured differences against the
one-device run are ~1e-6 in the weights and ~1e-7 in the validation loss (the replicas sum
their gradients in a different order); the bands are 2e-5 and 1e-5.
"""

import os
import signal
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from course.environment import quiet_environment
from course.gpt import run_local_workers, run_processes

ROOT = Path(__file__).resolve().parent.parent
TINY = (
    "--layers 1 --heads 2 --d-model 32 --seq-len 16 --global-batch 8 "
    "--precision float32 --val-tokens 2048 --eval-every 0 --learning-rate 3e-3"
).split()
STEPS = ["--steps", "6"]
WEIGHT_TOLERANCE = 2e-5
LOSS_TOLERANCE = 1e-5

pytestmark = pytest.mark.slow


def env():
    return quiet_environment()


def train(*args, timeout=300):
    [result] = run_processes(
        [[sys.executable, "-m", "course.gpt", "train", *args]], [env()], timeout, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def val_loss(result) -> float:
    assert result.last_line.startswith("val_loss="), result.stdout[-2000:]
    return float(result.last_line.split("=", 1)[1])


def weights(path) -> dict:
    found = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(
            lambda name, item: (
                found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    assert found
    return found


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    out = tmp_path_factory.mktemp("one_device")
    result = train(*TINY, *STEPS, "--strategy", "default", "--quiet", "--out", str(out))
    return val_loss(result), weights(out / "model.weights.h5")


def test_mirrored_two_cpu_replicas_equal_one_device(one_device, tmp_path):
    result = train(
        *TINY, *STEPS, "--strategy", "mirrored", "--replicas", "2", "--out", str(tmp_path)
    )
    assert "2 replica(s) in sync, per-replica batch 4" in result.stdout
    loss, w = one_device
    assert abs(val_loss(result) - loss) < LOSS_TOLERANCE
    assert max_difference(weights(tmp_path / "model.weights.h5"), w) < WEIGHT_TOLERANCE


FIT_SCRIPT = """
from tinyllm.distributed import configure_cpu_replicas, fit_dataset, make_strategy
configure_cpu_replicas(2)
import keras, numpy as np
from course.data import load_text
from tinyllm.text_data import prepare_text
from tinyllm.gpt import GPT, GPTConfig
data = prepare_text(load_text(), 16)
config = GPTConfig(data.vocabulary_size, 16, 1, 2, 32)
finals = []
for kind in ("default", "mirrored"):
    strategy = make_strategy(kind)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = GPT(config)
        model.compile(keras.optimizers.AdamW(3e-3),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(fit_dataset(data.train_ids, 16, 8, seed=0, steps=6), epochs=1, verbose=0)
    finals.append(([w.numpy() for w in model.weights], history.history["loss"][-1]))
    print(kind, strategy.num_replicas_in_sync)
print("max_dw", max(float(np.abs(a - b).max()) for a, b in zip(finals[0][0], finals[1][0])))
print("dloss", abs(finals[0][1] - finals[1][1]))
"""


def test_fit_under_mirrored_strategy_equals_one_device():
    [result] = run_processes([[sys.executable, "-c", FIT_SCRIPT]], [env()], 300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert lines["mirrored"] == "2"
    assert float(lines["max_dw"]) < WEIGHT_TOLERANCE
    assert float(lines["dloss"]) < LOSS_TOLERANCE


def test_two_workers_agree_with_each_other_and_with_one_device(one_device, tmp_path):
    results = run_local_workers(
        [*TINY, *STEPS, "--out", str(tmp_path), "--peer-timeout", "240"],
        workers=2,
        timeout=300,
        env=env(),
    )
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    chief, worker = (val_loss(r) for r in results)
    loss, w = one_device
    assert abs(chief - worker) < 1e-7
    assert abs(chief - loss) < LOSS_TOLERANCE
    chief_weights = weights(tmp_path / "model.weights.h5")
    assert max_difference(chief_weights, weights(tmp_path / "worker_1" / "model.weights.h5")) < 1e-7
    assert max_difference(chief_weights, w) < WEIGHT_TOLERANCE
    assert "2 replica(s) in sync, per-replica batch 4" in results[0].stdout


def test_a_worker_whose_peer_never_comes_is_bounded():
    """Worker 0 of 2 alone: with --peer-timeout it exits by itself (status 1, saying where it
    waited); with the watchdog off (0) it waits until the harness kills its process group with
    SIGKILL."""
    start = time.monotonic()
    (gives_up,) = run_local_workers(
        [*TINY, *STEPS, "--peer-timeout", "20"], workers=2, start=[0], timeout=120, env=env()
    )
    assert gives_up.returncode == 1, (gives_up.returncode, gives_up.stderr[-2000:])
    assert "waiting for the 2 workers of TF_CONFIG; giving up after 20 s" in gives_up.stderr
    assert "Timeout" in gives_up.stderr and "make_strategy" in gives_up.stderr  # where it waited
    (killed,) = run_local_workers(
        [*TINY, *STEPS, "--peer-timeout", "0"], workers=2, start=[0], timeout=25, env=env()
    )
    assert killed.killed and "val_loss" not in killed.stdout
    with pytest.raises(ProcessLookupError):
        os.killpg(killed.pid, 0)  # nothing of its group is left
    assert time.monotonic() - start < 180


def test_a_killed_run_resumes_and_ends_where_an_uninterrupted_one_does(tmp_path):
    """SIGKILL after the first checkpoint, start again with the same --out: the run resumes from the
    checkpoint (weights, AdamW moments, step) and, since batches are a function of the step, ends
    where an uninterrupted run ends (measured: identical to ~1e-7)."""
    import subprocess

    args = [*TINY, "--steps", "300", "--checkpoint-every", "20", "--quiet"]
    interrupted, uninterrupted = tmp_path / "interrupted", tmp_path / "uninterrupted"
    command = [sys.executable, "-m", "course.gpt", "train", *args, "--out", str(interrupted)]
    process = subprocess.Popen(
        command,
        env=env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    marker = interrupted / "checkpoints" / "checkpoint"
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    assert not (interrupted / "model.weights.h5").exists()

    resumed = train(*args, "--out", str(interrupted))
    completed = train(*args, "--out", str(uninterrupted))
    assert abs(val_loss(resumed) - val_loss(completed)) < LOSS_TOLERANCE
    assert (
        max_difference(
            weights(interrupted / "model.weights.h5"), weights(uninterrupted / "model.weights.h5")
        )
        < WEIGHT_TOLERANCE
    )
    # already at the total: nothing to do, same result
    again = train(*args, "--out", str(interrupted))
    assert val_loss(again) == val_loss(resumed)
