"""Keras 3 citizenship: mixed precision, the JAX backend, channels-first."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.numerics import assert_close
from tests.helpers import images


@pytest.fixture
def policy():
    def set_policy(name):
        keras.mixed_precision.set_global_policy(name)

    yield set_policy
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_outputs_float32_probabilities(policy, name):
    policy(name)
    model = keras_resnet.ResNet20(input_shape=(32, 32, 3))
    compute = name.split("_")[1]
    assert model.get_layer("conv2_block1_1_conv").compute_dtype == compute
    assert model.get_layer("conv2_block1_1_conv").kernel.dtype == "float32"
    assert model.get_layer("predictions").compute_dtype == "float32"
    y = model(images((4, 32, 32, 3)))
    assert str(y.dtype) == "<dtype: 'float32'>" or "float32" in str(y.dtype)
    y = keras.ops.convert_to_numpy(y)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-5)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(images((8, 32, 32, 3)), np.arange(8) % 10, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


_JAX_SCRIPT = r"""
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
import keras, numpy as np
import keras_resnet
from keras_resnet.numerics import max_abs_error
assert keras.backend.backend() == "jax"
cases = json.loads(sys.argv[1])
report = {}
for c in cases:
    data = np.load(c["npz"])
    x, y_tf = data["x"], data["y"]
    model = keras_resnet.build(c["name"], input_shape=tuple(c["shape"]),
                               classifier_activation=None, weights=c["weights"], **c["options"])
    y = np.asarray(model(x, training=False))
    # channels-first: the same weights, transposed images
    keras.config.set_image_data_format("channels_first")
    h, w, ch = c["shape"]
    cf = keras_resnet.build(c["name"], input_shape=(ch, h, w), classifier_activation=None,
                            weights=c["weights"], **c["options"])
    keras.config.set_image_data_format("channels_last")
    y_cf = np.asarray(cf(np.transpose(x, (0, 3, 1, 2)), training=False))
    # one training step runs and changes the weights (basic blocks: compiling ResNet-50's
    # train step under XLA costs ~40 s of the suite and exercises the same Keras ops)
    loss, moved = float("nan"), None
    if c["train"]:
        model.compile(optimizer="sgd",
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        before = model.get_layer("conv1_conv").kernel.numpy().copy()
        loss = float(model.train_on_batch(x, np.arange(len(x)) % 10))
        moved = float(np.max(np.abs(model.get_layer("conv1_conv").kernel.numpy() - before)))
    report[c["name"]] = {"jax": y.tolist(), "channels_first": y_cf.tolist(),
                         "loss": loss, "moved": moved}
print("REPORT" + json.dumps(report))
"""


def test_jax_backend_matches_tensorflow_and_supports_channels_first(tmp_path):
    pytest.importorskip("jax")
    cases = []
    for name, shape, options in [("resnet20", (32, 32, 3), {}),
                                 ("resnet18", (64, 64, 3), {"stride_placement": "v1.5"}),
                                 ("resnet50", (64, 64, 3), {})]:
        model = keras_resnet.build(name, input_shape=shape, classifier_activation=None,
                                   **options)
        # Random BN statistics, so that the comparison covers them too.
        rng = np.random.default_rng(1)
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                n = layer.gamma.shape[0]
                layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n),
                                   rng.normal(0, 0.1, n), rng.uniform(0.5, 1.5, n)])
        weights = str(tmp_path / f"{name}.weights.h5")
        model.save_weights(weights)
        x = images((2, *shape))
        np.savez(tmp_path / f"{name}.npz", x=x, y=keras.ops.convert_to_numpy(model(x)))
        cases.append({"name": name, "shape": shape, "options": options, "weights": weights,
                      "npz": str(tmp_path / f"{name}.npz"), "train": name != "resnet50"})
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _JAX_SCRIPT, json.dumps(cases)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.split("REPORT", 1)[1])
    for case in cases:
        r = report[case["name"]]
        y_tf = np.load(case["npz"])["y"]
        assert_close(np.array(r["jax"]), y_tf, rtol=1e-4, what=f"{case['name']} JAX vs TF")
        assert_close(np.array(r["channels_first"]), y_tf, rtol=1e-4,
                     what=f"{case['name']} channels_first vs channels_last")
        if case["train"]:
            assert np.isfinite(r["loss"]) and r["moved"] > 0
