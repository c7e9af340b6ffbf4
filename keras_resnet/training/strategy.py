"""The distribution strategy, chosen automatically.

* ``TF_CONFIG`` naming more than one worker: ``MultiWorkerMirroredStrategy`` (each
  worker runs the same command; the chief, worker 0, writes checkpoints and logs).
* otherwise ``MirroredStrategy`` over all visible GPUs; with none it runs on the CPU
  (one replica), so the same code path serves a laptop and a GPU server.
"""

from __future__ import annotations

import json
import os


def cluster_spec() -> dict:
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return config


def num_workers() -> int:
    return len(cluster_spec().get("cluster", {}).get("worker", []))


def is_chief() -> bool:
    """Worker 0 (or a "chief" task) writes files; other workers do not."""
    config = cluster_spec()
    task = config.get("task", {})
    if not task or num_workers() <= 1:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def choose_strategy():
    import tensorflow as tf

    if num_workers() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in cpus[:1]] or None)


def describe(strategy) -> str:
    name = type(strategy).__name__
    return f"{name} with {strategy.num_replicas_in_sync} replica(s)"

