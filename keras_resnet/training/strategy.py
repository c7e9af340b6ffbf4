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



def _first_local(value):
    import tensorflow as tf

    if isinstance(value, tf.distribute.DistributedValues):
        return value.values[0]
    return value


def multi_worker_trainer(model):
    """``model`` unchanged, or under MultiWorkerMirroredStrategy a functional view of it
    (same layers and weights) that ``model.fit`` can drive. See :class:`MultiWorkerModel`."""
    import tensorflow as tf

    if not isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return model
    return _multi_worker_model_class()(model.inputs, model.outputs, name=model.name)


def _multi_worker_model_class():
    import keras
    import tensorflow as tf
    from keras import tree

    class MultiWorkerModel(keras.Model):
        """Works around two places where Keras 3's TensorFlow trainer breaks under
        MultiWorkerMirroredStrategy (keras-team/keras#20585):

        * before the first step it averages one distributed ``(x, y)`` batch with
          ``strategy.reduce`` only to learn the shapes; the multi-worker strategy
          cannot reduce a tuple. Here the first local replica's batch is used;
        * it reduces each step's logs with ``strategy.reduce("MEAN", v, axis=0)``,
          which fails on the scalar metric values. Here the step returns them with a
          leading axis of length 1, which that reduce turns back into scalars.
        """

        def _is_multi_worker(self):
            return isinstance(self._distribute_strategy,
                              tf.distribute.MultiWorkerMirroredStrategy)

        def _maybe_symbolic_build(self, iterator=None, data_batch=None):
            if iterator is None or not self._is_multi_worker():
                return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
            for _, _, it in iterator:
                data_batch = tree.map_structure(_first_local, next(it))
                break
            with self._distribute_strategy.scope():
                self._symbolic_build(data_batch=data_batch)

        def _vector_logs(self, logs):
            if not self._is_multi_worker():
                return logs
            return {k: tf.reshape(v, [1]) if tf.is_tensor(v) and v.shape.rank == 0 else v
                    for k, v in logs.items()}

        def train_step(self, data):
            return self._vector_logs(super().train_step(data))

        def test_step(self, data):
            return self._vector_logs(super().test_step(data))

    return MultiWorkerModel
