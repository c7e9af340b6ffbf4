"""A tiny BN-free training job for the distribution tests, run as its own process
(TF_CONFIG and logical devices must be set before TensorFlow starts).

    python tests/dist_worker.py MODE OUT      MODE: single | mirrored2 | worker

BN-free on purpose: with BatchNormalization each replica normalises with its own
half-batch statistics, so a distributed run would not equal a single-device one.
"""

import json
import os
import sys

mode, out = sys.argv[1], sys.argv[2]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if mode == "mirrored2":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

import keras  # noqa: E402
keras.config.disable_traceback_filtering()

from keras_resnet.training.callbacks import RunKeeper  # noqa: E402
from keras_resnet.training.strategy import choose_strategy, is_chief, multi_worker_trainer  # noqa: E402

GLOBAL_BATCH, N = 16, 64
rng = np.random.default_rng(0)
x = rng.normal(size=(N, 8, 8, 2)).astype("float32")
y = rng.integers(0, 3, N).astype("int64")
ids = np.arange(N, dtype="int64")

if mode == "mirrored2":
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) == 2, devices
    strategy = tf.distribute.MirroredStrategy(devices)
elif mode == "worker":
    strategy = choose_strategy()
    assert isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
else:
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")

keras.utils.set_random_seed(1)
with strategy.scope():
    inp = keras.Input((8, 8, 2))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    net = keras.Model(inp, keras.layers.Dense(3)(h))
    model = multi_worker_trainer(net)  # net itself except under MultiWorkerMirroredStrategy
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))

ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
ds = ds.with_options(options)
os.makedirs(out, exist_ok=True)
callbacks = []
if mode == "worker":  # each worker gets its own run folder: only the chief's fills up
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    callbacks.append(RunKeeper(os.path.join(out, f"run-{task}"), chief=is_chief()))
model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=callbacks)

if mode == "worker":
    # Which examples this worker reads: the same sharding fit applies.
    id_ds = tf.data.Dataset.from_tensor_slices(ids).batch(GLOBAL_BATCH).with_options(options)
    seen = []
    for batch in strategy.experimental_distribute_dataset(id_ds):
        for t in strategy.experimental_local_results(batch):
            seen += t.numpy().tolist()
    with open(os.path.join(out, f"ids-{task}.json"), "w") as f:
        json.dump(seen, f)
if is_chief():
    np.savez(os.path.join(out, f"{mode}.npz"), *net.get_weights())
print("done", mode, strategy.num_replicas_in_sync)
