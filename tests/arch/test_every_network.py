"""Generic tests over the whole registry: forward, backward, counts, save/load."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet import model_complexity, spec_complexity
from tests.helpers import images

# The deeper ResNet-D nets repeat resnet50d's blocks (checked below) at more depth: their
# counts are checked here like every network's, their forward/backward and reload are
# resnet50d's (suite time: ~1 minute).
SAME_AS_RESNET50D = {"resnet101d", "resnet152d", "resnet200d"}
SWEPT = [n for n in keras_resnet.list_models() if n not in SAME_AS_RESNET50D]
# ResNet-1202 is ResNet-110's unit 200 times per stage: its gradient path is checked on
# resnet110 (51 s of the suite saved); its counts and its save/load (the recursion-depth
# case) are checked below.
BACKWARD = [n for n in SWEPT if n != "resnet1202"]


def _params(name):
    if name == "resnet1202":
        return pytest.param(name, marks=pytest.mark.slow)
    return name


def _small_input(spec):
    return (64, 64, 3) if spec.family == "imagenet" else (32, 32, 3)


@pytest.mark.parametrize("name", BACKWARD)
def test_forward_finite_and_backward_reaches_every_weight(name):
    spec = keras_resnet.get_spec(name)
    shape = _small_input(spec)
    model = keras_resnet.build(name, input_shape=shape, classes=7)
    x = images((2, *shape))
    y = np.array([1, 5])
    with tf.GradientTape() as tape:
        probs = model(x, training=True)
        loss = keras.losses.sparse_categorical_crossentropy(y, probs)
        loss = tf.reduce_mean(loss)
    assert probs.shape == (2, 7) and np.all(np.isfinite(probs.numpy()))
    grads = tape.gradient(loss, model.trainable_weights)
    assert len(grads) == len(model.trainable_weights) > 0
    for var, grad in zip(model.trainable_weights, grads):
        assert grad is not None, f"no gradient for {var.path}"
        g = grad.numpy()
        assert np.all(np.isfinite(g)), var.path
        assert np.any(g != 0), f"zero gradient for {var.path}"


@pytest.mark.parametrize("name", [_params(n) for n in keras_resnet.list_models()])
def test_analytic_counts_equal_built_model(name):
    spec = keras_resnet.get_spec(name)
    built = model_complexity(keras_resnet.build(name))
    analytic = spec_complexity(spec)
    assert (built.params, built.non_trainable, built.weights, built.macs) == (
        analytic.params, analytic.non_trainable, analytic.weights, analytic.macs)


# Models saved in this process are loaded in a fresh one that never imports
# keras_resnet: proof that no custom objects are needed.
_LOADER = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.setrecursionlimit(10000)  # ResNet-1202 has ~4,200 layers
import keras, numpy as np
cases = json.loads(sys.argv[1])
for path, npz, training in cases:
    data = np.load(npz)
    model = keras.saving.load_model(path)
    assert "keras_resnet" not in sys.modules
    out = keras.ops.convert_to_numpy(model(data["x"], training=training))
    err = float(np.max(np.abs(out - data["y"])))
    print(json.dumps({"path": path, "err": err, "name": model.name}), flush=True)
"""


def _save_and_reload(tmp_path, names, variants=None):
    cases = []
    for i, name in enumerate(names):
        options = (variants or {}).get(name, {})
        spec = keras_resnet.get_spec(name)
        model = keras_resnet.build(name, input_shape=_small_input(spec), **options)
        x = images((2, *_small_input(spec)), seed=i)
        # A freshly initialised ResNet-1202 overflows in inference mode (600 residual
        # additions, each roughly doubling the variance, with BN statistics still at
        # their initial values); compare it with batch statistics instead.
        training = name == "resnet1202"
        y = keras.ops.convert_to_numpy(model(x, training=training))
        assert np.all(np.isfinite(y)), name
        path = str(tmp_path / f"{name}.keras")
        model.save(path)
        np.savez(tmp_path / f"{name}.npz", x=x, y=y)
        cases.append((path, str(tmp_path / f"{name}.npz"), training))
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    out = subprocess.run([sys.executable, "-c", _LOADER, json.dumps(cases)], env=env,
                         capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, out.stderr[-3000:]
    results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(names)
    for r, name in zip(results, names):
        assert r["name"] == name
        assert r["err"] == 0.0, f"{name}: outputs differ after reload by {r['err']}"


def test_save_load_keras_format_without_custom_objects(tmp_path):
    names = ["resnet20", "plain20", "resnet18", "resnet50"]
    variants = {"resnet18": {"shortcut": "A"},
                "resnet50": {"stride_placement": "v1.5", "shortcut": "C"}}
    _save_and_reload(tmp_path, names, variants)


# Every layer kind and layout of the registry (with the networks of the test above: basic
# and bottleneck units, both stems, avg-pool shortcuts, plain nets, shortcuts A/B/C):
# deeper nets repeat the same units, and ResNet-1202 is the recursion-depth case (suite
# time: this round trip was 268 s with every network, 251 s with 15).
ACROSS_THE_REGISTRY = ["resnet34", "plain18", "plain50", "resnet18d", "resnet50d", "resnet1202",
                       "plain110"]


@pytest.mark.slow
def test_save_load_across_the_registry(tmp_path):
    assert set(ACROSS_THE_REGISTRY) <= set(SWEPT)
    _save_and_reload(tmp_path, ACROSS_THE_REGISTRY)


def test_load_model_helper_raises_recursion_limit_only_while_loading(tmp_path):
    model = keras_resnet.ResNet20()
    path = tmp_path / "m.keras"
    model.save(path)
    before = sys.getrecursionlimit()
    loaded = keras_resnet.load_model(path)
    assert sys.getrecursionlimit() == before
    x = images((1, 32, 32, 3))
    np.testing.assert_array_equal(model(x), loaded(x))
    with pytest.raises(FileNotFoundError, match="no saved model"):
        keras_resnet.load_model(tmp_path / "absent.keras")
