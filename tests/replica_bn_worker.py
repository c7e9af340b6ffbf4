"""Run in a fresh process with two logical CPU devices (set before TensorFlow starts):
BatchNormalization statistics under a 2-replica MirroredStrategy. Prints one JSON line."""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras_resnet  # noqa: E402,F401  (oneDNN as in every run)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_resnet.training.strategy import sync_moving_statistics  # noqa: E402

out = sys.argv[1]
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

# 1. the copies drift apart (each replica sees its half of the batch), and the sync
#    gives every replica their average
with strategy.scope():
    inputs = keras.Input((4,))
    bn = keras.layers.BatchNormalization(momentum=0.0)
    model = keras.Model(inputs, keras.layers.Dense(2)(bn(inputs)))
    model.compile("sgd", "mse")
x = np.concatenate([np.zeros((4, 4)), np.full((4, 4), 10.0)]).astype("float32")
model.fit(x, np.zeros((8, 2), "float32"), batch_size=8, epochs=1, verbose=0, shuffle=False)
before = [c.numpy().tolist() for c in bn.moving_mean.value.values]
synced = sync_moving_statistics(model, strategy)
after = [c.numpy().tolist() for c in bn.moving_mean.value.values]

# 2. train() under the strategy: metrics.json is the saved model's own score
from keras_resnet.data import load_split  # noqa: E402
from keras_resnet.evaluation import evaluate  # noqa: E402
from keras_resnet.training import train  # noqa: E402
from keras_resnet.zoo import load_trained  # noqa: E402

result = train("resnet8", "embedded", epochs=1, batch_size=32, max_train_examples=256,
               max_test_examples=200, holdout=0, out=out, verbose=0, plot=False,
               strategy=strategy)
trained = load_trained(out)
test = load_split("embedded", "test").sample(200, seed=0)  # the images train() scored
again = evaluate(trained.model, test, "cifar", trained.pixel_mean, progress=False)
print(json.dumps({"before": before, "after": after, "synced": synced,
                  "metrics": result["test_accuracy"], "reloaded": again["top1_accuracy"],
                  "devices": result["devices"]}))
