"""A two-worker ``keras-resnet train`` job (TF_CONFIG, localhost) survives a worker
killed with SIGKILL in the middle of an epoch (issue 16 item 4): the other worker stops
with a clear error, the same command restarted on both workers resumes from the last
backup, no epoch is lost or logged twice, and the final weights equal an uninterrupted
two-worker run's (the training data of epoch e depend on (seed, e) only, so the resumed
run trains on the same batches)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_resnet.numerics import assert_close
from tests.training.test_distribution import free_ports

EPOCHS = 3


def _command(out):
    exe = shutil.which("keras-resnet", path=os.path.dirname(sys.executable))
    # 320 images, global batch 32: 10 steps (a few seconds) per epoch
    return [exe, "train", "--model", "resnet8", "--epochs", str(EPOCHS), "--batch-size", "32",
            "--max-train-examples", "320", "--max-test-examples", "64", "--holdout", "0",
            "--out", str(out), "--log-epochs"]


def _start_job(out, logs):
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    procs = []
    for i in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "TF_CPP_MIN_LOG_LEVEL": "2"}
        procs.append(subprocess.Popen(_command(out), env=env, stdout=open(logs[i], "w"),
                                      stderr=subprocess.STDOUT, start_new_session=True))
    return procs


def _wait(procs, timeout):
    deadline = time.time() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
    return [p.returncode for p in procs]


def _kill_all(procs):
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _epochs_logged(out):
    with open(out / "log.csv") as f:
        return [int(line.split(",")[0]) for line in f.read().split()[1:]]


def _weights(out):
    import keras

    return keras.saving.load_model(out / "model.keras").get_weights()


@pytest.mark.slow
def test_sigkill_of_a_worker_then_restart_resumes_and_equals_an_uninterrupted_run(tmp_path):
    logs = [tmp_path / f"w{i}.log" for i in range(2)]
    procs = []
    try:
        reference = tmp_path / "uninterrupted"
        procs = _start_job(reference, logs)
        assert _wait(procs, 400) == [0, 0], logs[0].read_text()[-3000:]

        out = tmp_path / "faulty"
        procs = _start_job(out, logs)
        deadline = time.time() + 300
        while not list((out / "backup").glob("slot-*.json")):  # epoch 1 is backed up
            assert all(p.poll() is None for p in procs), logs[0].read_text()[-3000:]
            assert time.time() < deadline, "no backup after 300 s"
            time.sleep(0.1)
        time.sleep(0.3)  # into epoch 2 (an epoch takes seconds here)
        assert all(p.poll() is None for p in procs), "the job ended before the kill"
        os.killpg(procs[1].pid, signal.SIGKILL)
        # The surviving worker stops by itself, with the package's error, not a hang.
        assert _wait(procs[:1], 180) == [2], "the surviving worker did not stop"
        text = logs[0].read_text()
        assert "a worker of this multi-worker job stopped" in text, text[-3000:]
        assert "Start every worker again with the same command" in text
        done = _epochs_logged(out)
        assert 1 <= len(done) < EPOCHS

        procs = _start_job(out, logs)  # the same command on both workers
        assert _wait(procs, 400) == [0, 0], logs[0].read_text()[-3000:]
    finally:
        _kill_all(procs)
    chief = logs[0].read_text()
    resumed = int(chief.split("Resumed from the backup after epoch ")[1].split()[0])
    assert resumed == len(done)  # no finished epoch lost
    assert f"Epoch {resumed + 1}/{EPOCHS}" in chief and "Epoch 1/" not in chief
    assert _epochs_logged(out) == list(range(EPOCHS))  # each epoch logged exactly once
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == resumed and metrics["devices"] == 2
    config = json.loads((out / "config.json").read_text())
    assert config["backend"] == "tensorflow" and config["devices"] == 2
    for a, b in zip(_weights(out), _weights(reference)):
        assert_close(a, b, 1e-4, "resumed two-worker run vs uninterrupted")
    assert np.isfinite(metrics["test_accuracy"])
