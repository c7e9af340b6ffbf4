"""How training is spread over devices, chosen automatically for the Keras backend.

TensorFlow backend (tf.distribute):

* ``TF_CONFIG`` naming more than one worker: ``MultiWorkerMirroredStrategy`` (each
  worker runs the same command; the chief, worker 0, writes checkpoints and logs).
* otherwise ``MirroredStrategy`` over all visible GPUs; with none it runs on the CPU
  (one replica), so the same code path serves a laptop and a GPU server.

JAX backend (``keras.distribution``): ``DataParallel`` over every device of the backend
(``keras.distribution.list_devices()``); one device needs no distribution. Each batch
is split along its first axis over the devices and the program is compiled for the
whole batch, so BatchNormalization sees the global batch (as on one device).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json


def cluster_resolver():
    """TensorFlow's reader of ``TF_CONFIG`` (the cluster and this process's task).

    Raises:
        ValueError: ``TF_CONFIG`` is set but is not JSON.
    """
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    try:
        resolver.cluster_spec()
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}); it should look like "
                         '{"cluster": {"worker": ["host1:port", ...]}, '
                         '"task": {"type": "worker", "index": 0}}') from None
    return resolver


def num_workers() -> int:
    return len(cluster_resolver().cluster_spec().as_dict().get("worker", []))


def is_chief() -> bool:
    """Worker 0 (or a "chief" task) writes files; other workers do not."""
    resolver = cluster_resolver()
    cluster = resolver.cluster_spec().as_dict()
    if not resolver.task_type or len(cluster.get("worker", [])) <= 1:
        return True
    if "chief" in cluster:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and (resolver.task_id or 0) == 0


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


@dataclasses.dataclass
class Placement:
    """Where a training run computes.

    Attributes:
        backend: ``keras.backend.backend()``.
        devices: replicas in sync (TensorFlow) or devices the batch is split over (JAX).
        description: one line for the run's log.
        strategy: the tf.distribute strategy (TensorFlow backend), else None.
        distribution: the ``keras.distribution`` object (JAX, several devices), else None.
        on_cpu: True when every device the run computes on is a CPU.
    """

    backend: str
    devices: int
    description: str
    strategy: object = None
    distribution: object = None
    on_cpu: bool = False

    def build_scope(self):
        """The scope to create the model and optimiser in."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def run_scope(self):
        """The scope for the whole run (JAX: the distribution is Keras' global one for
        the duration, as ``fit`` and ``evaluate`` read it; restored afterwards)."""
        if self.distribution is None:
            yield
            return
        import keras

        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(self.distribution)
        try:
            yield
        finally:
            keras.distribution.set_distribution(previous)


def choose_placement(strategy=None) -> Placement:
    """The :class:`Placement` for the current Keras backend (see the module docstring).

    Args:
        strategy: a tf.distribute strategy to use instead of the automatic one
            (TensorFlow backend only).

    Raises:
        ValueError: ``strategy`` under another backend; a multi-worker ``TF_CONFIG``
            under JAX (tf.distribute's cluster protocol); a backend other than
            TensorFlow or JAX (the input pipelines are tf.data, which the torch
            backend would have to copy through the host; not supported here).
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        strategy = strategy or choose_strategy()
        try:
            on_cpu = all("CPU" in d.upper().rsplit("/", 1)[-1]
                         for d in strategy.extended.worker_devices)
        except RuntimeError:  # the default strategy has no device list
            import tensorflow as tf

            on_cpu = not tf.config.list_logical_devices("GPU")
        return Placement(backend, strategy.num_replicas_in_sync, describe(strategy),
                         strategy=strategy, on_cpu=on_cpu)
    if strategy is not None:
        raise ValueError(f"strategy= takes a tf.distribute strategy, which needs "
                         f"KERAS_BACKEND=tensorflow (the backend is {backend}); under JAX "
                         "training uses keras.distribution.DataParallel over all devices")
    if backend != "jax":
        raise ValueError(f"training runs on the tensorflow and jax Keras backends, not "
                         f"{backend!r}: set KERAS_BACKEND=tensorflow or jax")
    if num_workers() > 1:
        raise ValueError("TF_CONFIG names several workers, which is TensorFlow's "
                         "multi-worker protocol: run multi-worker jobs with "
                         "KERAS_BACKEND=tensorflow (under JAX, one process uses all of its "
                         "devices with keras.distribution.DataParallel)")
    devices = keras.distribution.list_devices()
    on_cpu = all(d.lower().startswith("cpu") for d in devices)
    if len(devices) == 1:
        return Placement(backend, 1, f"JAX on one device ({devices[0]})", on_cpu=on_cpu)
    distribution = keras.distribution.DataParallel(devices=devices)
    return Placement(backend, len(devices),
                     f"keras.distribution.DataParallel over {len(devices)} JAX devices "
                     f"({', '.join(devices)})", distribution=distribution, on_cpu=on_cpu)



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


def sync_moving_statistics(model, strategy) -> int:
    """Average every BatchNormalization layer's moving mean and variance over the
    replicas of ``strategy`` and give each replica the average. Returns how many
    variables were averaged (0 with one replica or no strategy).

    Under tf.distribute each replica updates its own copy of these (non-trainable,
    not aggregated) statistics from its own share of the batch, so the copies drift
    apart; the saved model holds replica 0's, while an evaluation under the strategy
    runs each replica's own: the two scores differed (the issue's 0.358 vs 0.354).
    Averaging makes the copies equal, so the reported metrics are the saved model's.
    The mean of the replicas' moving variances leaves out the spread of their means
    (at most a few per cent of it here); ``keras.layers.BatchNormalization(synchronized=True)``
    (global batch statistics every step) would avoid that at an all-reduce per layer
    per step. Under MultiWorkerMirroredStrategy every worker must call this (it is a
    collective)."""
    import keras
    import tensorflow as tf

    if strategy is None or strategy.num_replicas_in_sync < 2:
        return 0
    variables = [v.value for layer in model._flatten_layers(include_self=False, recursive=True)
                 if isinstance(layer, keras.layers.BatchNormalization) and layer.built
                 for v in (layer.moving_mean, layer.moving_variance)]
    if not variables:
        return 0
    # read in replica context: each replica's own copy, reduced across all replicas
    # (all workers' too) in one all-reduce per variable
    local = strategy.run(lambda: [tf.identity(v) for v in variables])
    for variable, per_replica in zip(variables, local):
        variable.assign(strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None))
    return len(variables)
