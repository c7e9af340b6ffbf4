"""Every entry point in both image data formats: build, backbone, faster_rcnn_split, the
0.2.0 shim. Shapes are checked under TensorFlow (whose CPU kernels cannot run
channels-first convolutions, so only the graph is built there); the numbers under JAX,
where a channels-first network with the same weights must equal the channels-last one
on transposed images."""

import json
import os
import subprocess
import sys

import keras
import pytest

import keras_resnet
import keras_resnet.models


@pytest.fixture
def channels_first():
    keras.config.set_image_data_format("channels_first")
    try:
        yield
    finally:
        keras.config.set_image_data_format("channels_last")


def _shapes(outputs):
    if isinstance(outputs, dict):
        return {k: tuple(v.shape[1:]) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [tuple(v.shape[1:]) for v in outputs]
    return tuple(outputs.shape[1:])


def test_every_entry_point_builds_channels_first(channels_first):
    assert _shapes(keras_resnet.build("resnet18", input_shape=(3, 64, 64),
                                      include_top=False).output) == (512, 2, 2)
    assert _shapes(keras_resnet.ResNet20(input_shape=(1, 28, 28)).output) == (10,)
    bb = keras_resnet.backbone("resnet18")  # default input: (3, None, None) here
    assert tuple(bb.inputs[0].shape[1:]) == (3, None, None)
    fixed = keras_resnet.backbone("resnet50", input_shape=(3, 64, 96))
    assert _shapes(fixed.output) == {"C2": (256, 16, 24), "C3": (512, 8, 12),
                                     "C4": (1024, 4, 6), "C5": (2048, 2, 3)}
    trunk, head = keras_resnet.faster_rcnn_split("resnet18", roi_size=14)
    assert tuple(trunk.output.shape[1:]) == (256, None, None)
    assert tuple(head.inputs[0].shape[1:]) == (256, 14, 14) and _shapes(head.output) == (512,)
    shim = keras_resnet.models.ResNet18(keras.Input((3, 64, 64)), include_top=False)
    assert _shapes(shim.output) == [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2)]


def test_channels_last_is_unchanged():
    trunk, head = keras_resnet.faster_rcnn_split("resnet18", roi_size=7)
    assert tuple(trunk.output.shape[1:]) == (None, None, 256)
    assert tuple(head.inputs[0].shape[1:]) == (7, 7, 256) and _shapes(head.output) == (512,)
    assert tuple(keras_resnet.backbone("resnet18").inputs[0].shape[1:]) == (None, None, 3)


_JAX = r"""
import json, sys
import keras, numpy as np
import keras_resnet, keras_resnet.models

assert keras.backend.backend() == "jax"
rng = np.random.default_rng(0)

def randomise(model):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n),
                               rng.normal(0, 0.1, n), rng.uniform(0.5, 1.5, n)])

def nchw(a):
    return np.transpose(np.asarray(a), (0, 3, 1, 2)) if np.ndim(a) == 4 else np.asarray(a)

def pair(make_last, make_first, x):
    last = make_last()
    randomise(last)
    keras.config.set_image_data_format("channels_first")
    try:
        first = make_first()
    finally:
        keras.config.set_image_data_format("channels_last")
    first.set_weights(last.get_weights())  # kernels are stored the same in both formats
    a, b = last(x, training=False), first(nchw(x), training=False)
    if isinstance(a, dict):
        return max(float(np.max(np.abs(nchw(a[k]) - np.asarray(b[k])))) for k in a)
    if isinstance(a, list):
        return max(float(np.max(np.abs(nchw(p) - np.asarray(q)))) for p, q in zip(a, b))
    return float(np.max(np.abs(nchw(a) - np.asarray(b))))

x = rng.normal(size=(2, 64, 64, 3)).astype("float32")
roi = rng.normal(size=(3, 7, 7, 256)).astype("float32")
errors = {
    "backbone": pair(lambda: keras_resnet.backbone("resnet18"),
                     lambda: keras_resnet.backbone("resnet18"), x),
    "faster_rcnn head": pair(lambda: keras_resnet.faster_rcnn_split("resnet18", roi_size=7)[1],
                             lambda: keras_resnet.faster_rcnn_split("resnet18", roi_size=7)[1],
                             roi),
    "0.2.0 shim": pair(
        lambda: keras_resnet.models.ResNet18(keras.Input((64, 64, 3)), include_top=False),
        lambda: keras_resnet.models.ResNet18(keras.Input((3, 64, 64)), include_top=False), x),
}
print("REPORT" + json.dumps(errors))
"""


def test_channels_first_equals_channels_last_under_jax():
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _JAX], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    errors = json.loads(out.stdout.split("REPORT", 1)[1])
    # (build() itself: tests/arch/test_backends.py, the same comparison)
    assert set(errors) == {"backbone", "faster_rcnn head", "0.2.0 shim"}
    for what, err in errors.items():
        assert err <= 1e-4, (what, err)
