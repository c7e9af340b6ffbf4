"""tf.distribute: MirroredStrategy on 2 logical CPU devices and two-process
MultiWorkerMirroredStrategy on localhost, each equal to a single-device run with the
same global batch (a BN-free model; see tests/dist_worker.py)."""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from keras_resnet.numerics import assert_close
from tests.paths import ROOT as REPO, TESTS

SCRIPT = str(TESTS / "dist_worker.py")
ROOT = str(REPO)


def run_job(mode, out, env=None, timeout=300):
    env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    env.pop("TF_CONFIG", None) if "TF_CONFIG" not in (env or {}) else None
    return subprocess.Popen([sys.executable, SCRIPT, mode, str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def finish(proc, timeout=300):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"distributed job timed out:\n{out[-3000:]}")
    assert proc.returncode == 0, out[-3000:]
    return out


def weights(path):
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    finish(run_job("single", out))
    return weights(out / "single.npz")


def test_mirrored_strategy_on_two_logical_cpus_equals_one_device(single, tmp_path):
    text = finish(run_job("mirrored2", tmp_path))
    assert "done mirrored2 2" in text  # two replicas in sync
    for a, b in zip(weights(tmp_path / "mirrored2.npz"), single):
        assert_close(a, b, 1e-5, "2-replica MirroredStrategy vs one device")


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_worker_processes_train_one_model(single, tmp_path):
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    procs = []
    try:
        for i in range(2):
            config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
            procs.append(run_job("worker", tmp_path, {"TF_CONFIG": json.dumps(config)}))
        outputs = [finish(p, timeout=400) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    assert all("done worker 2" in o for o in outputs)
    # Only the chief (worker 0) wrote the result, its log and its checkpoints.
    # (worker 1's run folder, run-1, was never created)
    assert sorted(os.listdir(tmp_path)) == ["ids-0.json", "ids-1.json", "run-0", "worker.npz"]
    assert (tmp_path / "run-0" / "checkpoints" / "last.weights.h5").exists()
    with open(tmp_path / "run-0" / "log.csv") as f:
        assert [line.split(",")[0] for line in f.read().split()[1:]] == ["0", "1"]
    ids = [json.loads((tmp_path / f"ids-{i}.json").read_text()) for i in range(2)]
    assert not set(ids[0]) & set(ids[1])  # disjoint shards
    assert sorted(ids[0] + ids[1]) == list(range(64))  # that cover the data
    for a, b in zip(weights(tmp_path / "worker.npz"), single):
        assert_close(a, b, 1e-5, "2-worker MultiWorkerMirroredStrategy vs one process")


@pytest.mark.parametrize("config, workers, chief", [
    (None, 0, True),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, 2, True),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, 2, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1", "b:2"]},
      "task": {"type": "worker", "index": 0}}, 2, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1", "b:2"]}, "task": {"type": "chief"}},
     2, True),
    ({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, 1, True),
])
def test_tf_config_decides_who_writes(config, workers, chief, monkeypatch):
    from keras_resnet.training.strategy import is_chief, num_workers

    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert num_workers() == workers
    assert is_chief() is chief


def test_malformed_tf_config_is_a_clear_error(monkeypatch):
    from keras_resnet.training.strategy import is_chief

    monkeypatch.setenv("TF_CONFIG", "{cluster: worker}")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        is_chief()
