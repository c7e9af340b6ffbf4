"""The keras-resnet 0.2.0 shim is 0.2.0: its own tests, its graphs, its weights files.

Reference data (tests/fixtures/keras_resnet_0_2_0/) was written by the original 0.2.0 from
PyPI under Keras 2.15 / TensorFlow 2.15 with scripts/keras_resnet_0_2_0_reference.py:
the structure of every 0.2.0 model that builds, the errors of those that do not, and
small networks built by 0.2.0's own model and block code (block widths / 16) with
their weights saved by 0.2.0 and their outputs at five image sizes.
"""

import copy
import functools
import gzip
import json
import os
import re

import keras
import numpy as np
import pytest

import keras_resnet
import keras_resnet.blocks
import keras_resnet.classifiers
import keras_resnet.models
from keras_resnet.compat.blocks import NeverBuiltError
from keras_resnet.numerics import assert_close
from tests.paths import FIXTURES

DATA = str(FIXTURES / "keras_resnet_0_2_0")


@functools.lru_cache(maxsize=1)
def reference():
    with gzip.open(os.path.join(DATA, "structure.json.gz"), "rt") as f:
        return json.load(f)


# ---------------------------------------------------------------------------------
# 0.2.0's own tests/test_models.py and tests/conftest.py, unchanged but for the
# cache below (the structure tests reuse the models these tests build).
@pytest.fixture(scope="module")
def x():
    shape = (224, 224, 3)

    return keras.layers.Input(shape)


_BUILT = {}


def _build(name, x):
    if name not in _BUILT:
        _BUILT[name] = getattr(keras_resnet.models, name)(x)
    return _BUILT[name]


class TestResNet18:
    def test_constructor(self, x):
        model = _build("ResNet2D18", x)

        assert len(model.layers) == 87


class TestResNet34:
    def test_constructor(self, x):
        model = _build("ResNet2D34", x)

        assert len(model.layers) == 159


class TestResNet50:
    def test_constructor(self, x):
        model = _build("ResNet2D50", x)

        assert len(model.layers) == 191


@pytest.mark.slow
class TestResNet101:
    def test_constructor(self, x):
        model = _build("ResNet2D101", x)

        assert len(model.layers) == 378


@pytest.mark.slow
class TestResNet152:
    def test_constructor(self, x):
        model = _build("ResNet2D152", x)

        assert len(model.layers) == 565


@pytest.mark.slow
class TestResNet200:
    def test_constructor(self, x):
        model = _build("ResNet2D200", x)

        assert len(model.layers) == 741


def test_the_counts_are_what_0_2_0_gives():
    """The numbers in the tests above are what the original package gave."""
    assert reference()["test_models_layer_counts"] == {
        "ResNet2D18": 87, "ResNet2D34": 159, "ResNet2D50": 191, "ResNet2D101": 378,
        "ResNet2D152": 565, "ResNet2D200": 741}


# ---------------------------------------------------------------------------------
# Structure: layer for layer against what 0.2.0 built under Keras 2.
def _narrow(block_fn, divisor=16):
    def block(filters, stage_id, block_id, **kwargs):
        return block_fn(filters // divisor, stage_id, block_id, **kwargs)
    return block


def _tiny(name):
    b, m = keras_resnet.blocks, keras_resnet.models
    if name == "tiny_basic":
        return m.ResNet2D(keras.layers.Input((None, None, 3)), [2, 2, 2, 2],
                          block=_narrow(b.basic_2d), include_top=False, freeze_bn=False,
                          numerical_names=[False, True, False, True])
    if name == "tiny_bottleneck":
        return m.ResNet2D(keras.layers.Input((None, None, 3)), [2, 1, 3, 1],
                          block=_narrow(b.bottleneck_2d), include_top=True, classes=10,
                          freeze_bn=True, numerical_names=[False, False, True, False])
    if name == "tiny_td":
        return m.TimeDistributedResNet(keras.layers.Input((2, None, None, 3)), [1, 1, 2, 1],
                                       block=_narrow(b.time_distributed_basic_2d),
                                       include_top=True, classes=6)
    x = keras.layers.Input((None, 8))
    y = b.basic_1d(4, stage=0, block=0)(x)
    y = b.basic_1d(4, stage=0, block=1, numerical_name=True)(y)
    y = b.basic_1d(8, stage=1, block=0)(y)
    y = b.bottleneck_1d(4, stage=2, block=0)(y)
    y = b.bottleneck_1d(4, stage=2, block=1)(y)
    return keras.Model(x, y)


def _ours(name):
    m, c = keras_resnet.models, keras_resnet.classifiers
    if name.startswith("tiny_"):
        return _tiny(name)
    if name == "ResNet2D50_notop_frozen":
        return m.ResNet2D50(keras.layers.Input((None, None, 3)), include_top=False,
                            freeze_bn=True)
    if name == "ResNet2D_generic_18":
        return m.ResNet2D(keras.layers.Input((None, None, 3)), [2, 2, 2, 2],
                          keras_resnet.blocks.basic_2d, include_top=False)
    if name.startswith("TimeDistributed"):
        return getattr(m, name)(keras.layers.Input((2, 64, 64, 3)))
    if name.startswith("classifiers."):
        return getattr(c, name.split(".")[1])(keras.layers.Input((224, 224, 3)), 7)
    if name.startswith("FPN2D"):
        return getattr(m, name)(keras.layers.Input((224, 224, 3)))
    return _build(name, keras.layers.Input((224, 224, 3)))


def _norm(value):
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value


def _inbound(model):
    """Per layer, the names of the layers feeding it (Keras 3's config format)."""
    found = {}

    def history(obj, out):
        if isinstance(obj, dict):
            if obj.get("class_name") == "__keras_tensor__":
                out.append(obj["config"]["keras_history"][0])
                return
            for v in obj.values():
                history(v, out)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                history(v, out)

    for entry in model.get_config()["layers"]:
        nodes = []
        for node in entry.get("inbound_nodes", []):
            names = []
            history(node, names)
            nodes.append(names)
        found[entry["name"]] = nodes
    return found


def _describe(model):
    keys = ("filters", "kernel_size", "strides", "padding", "use_bias", "axis", "epsilon",
            "momentum", "center", "scale", "freeze", "pool_size", "activation", "units",
            "size", "interpolation", "dilation_rate", "groups", "keepdims")

    def config(layer, rank):
        cfg = layer.get_config()
        out = {k: _norm(cfg[k]) for k in keys if k in cfg}
        for key in ("kernel_initializer", "bias_initializer"):
            if key in cfg and isinstance(cfg[key], dict):
                out[key] = cfg[key]["class_name"]
        if "axis" in out:  # Keras 2 stores the axis normalised: a non-negative list
            axis = out["axis"] if isinstance(out["axis"], list) else [out["axis"]]
            out["axis"] = [a % rank for a in axis]
        return out

    inbound = _inbound(model)
    rows = []
    for layer in model.layers:
        inp = layer.input if not isinstance(layer, keras.layers.InputLayer) else None
        rank = 0 if inp is None else len((inp[0] if isinstance(inp, list) else inp).shape)
        inner = getattr(layer, "layer", None)
        row = {"name": layer.name, "class": type(layer).__name__,
               "config": config(layer, rank),
               "weights": [list(w.shape) for w in layer.weights],
               "trainable_weights": len(layer.trainable_weights),
               "inbound": inbound.get(layer.name, [])}
        if isinstance(layer, keras.layers.TimeDistributed):
            row["inner"] = {"class": type(inner).__name__, "config": config(inner, rank - 1)}
        rows.append(row)
    outputs = [t._keras_history[0].name for t in model.outputs]
    return {"layers": rows, "outputs": outputs, "count_params": int(model.count_params())}


_AUTO = re.compile(r"^(input|input_layer|flatten|dense)(_\d+)?$")


def _canonical(description):
    """Keras names unnamed layers by a counter per process (``input_14``,
    ``input_layer_3``, ``flatten_1``): those become ``<Class #k>`` on both sides."""
    rename, seen = {}, {}
    for row in description["layers"]:
        if _AUTO.match(row["name"]):
            k = seen[row["class"]] = seen.get(row["class"], -1) + 1
            rename[row["name"]] = f"<{row['class']} #{k}>"
    for row in description["layers"]:
        row["name"] = rename.get(row["name"], row["name"])
        row["inbound"] = [[rename.get(n, n) for n in node] for node in row["inbound"]]
    description["outputs"] = [rename.get(n, n) for n in description["outputs"]]
    return description


def _reference_rows(name):
    ref = copy.deepcopy(reference()["models"][name])
    for row in ref["layers"]:
        for cfg in [row["config"]] + ([row["inner"]["config"]] if "inner" in row else []):
            if "axis" in cfg and not isinstance(cfg["axis"], list):
                cfg["axis"] = [cfg["axis"]]
        if row["class"] == "InputLayer":
            row["config"] = {}
    return _canonical(ref)


DEEP = ("101", "152", "200")
STRUCTURES = ["ResNet2D18", "ResNet2D34", "ResNet2D50", "ResNet2D101", "ResNet2D152",
              "ResNet2D200", "FPN2D18", "FPN2D50", "ResNet2D50_notop_frozen",
              "ResNet2D_generic_18", "TimeDistributedResNet18", "TimeDistributedResNet34",
              "classifiers.ResNet18", "classifiers.ResNet50", "tiny_basic",
              "tiny_bottleneck", "tiny_td", "tiny_1d"]


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[pytest.mark.slow] if n.endswith(DEEP) else []) for n in STRUCTURES])
def test_graph_is_0_2_0s_layer_for_layer(name):
    """Same layers in the same order, same names and classes, same configuration
    (kernels, strides, padding, initializers, BN axis/epsilon/momentum/freeze...), same
    weight shapes, same inputs to every layer, same outputs, same parameter count."""
    ref = _reference_rows(name)
    model = _ours(name)
    ours = _canonical(_describe(model))
    for row in ours["layers"]:
        if row["class"] == "InputLayer":
            row["config"] = {}
    assert [r["name"] for r in ours["layers"]] == [r["name"] for r in ref["layers"]]
    for mine, theirs in zip(ours["layers"], ref["layers"]):
        assert mine == theirs, (name, mine["name"])
    assert ours["outputs"] == ref["outputs"]
    assert ours["count_params"] == ref["count_params"]


def test_every_0_2_0_model_that_builds_is_compared():
    """The reference holds every model the script could build, and all are tested."""
    assert set(reference()["models"]) == set(STRUCTURES) | {
        "FPN2D34", "FPN2D101", "FPN2D152", "FPN2D200"}  # FPN2D18/50's code, deeper


# ---------------------------------------------------------------------------------
# What 0.2.0 could not build: the same parts fail here, with an error that says so.
NEVER_BUILT = {
    "ResNet1D18": lambda: keras_resnet.models.ResNet1D18(keras.layers.Input((224, 3))),
    "ResNet3D18": lambda: keras_resnet.models.ResNet3D18(keras.layers.Input((16, 64, 64, 3))),
    "TimeDistributedResNet50": lambda: keras_resnet.models.TimeDistributedResNet50(
        keras.layers.Input((2, 64, 64, 3))),
    "basic_3d_block0": lambda: keras_resnet.blocks.basic_3d(8, 0, 0)(
        keras.layers.Input((8, 8, 8, 4))),
    "basic_3d_block1": lambda: keras_resnet.blocks.basic_3d(4, 0, 1)(
        keras.layers.Input((8, 8, 8, 4))),
    "bottleneck_3d_block1": lambda: keras_resnet.blocks.bottleneck_3d(4, 0, 1)(
        keras.layers.Input((8, 8, 8, 16))),
    "time_distributed_bottleneck_2d_block1":
        lambda: keras_resnet.blocks.time_distributed_bottleneck_2d(4, 0, 1)(
            keras.layers.Input((2, 8, 8, 16))),
}


@pytest.mark.parametrize("name", sorted(NEVER_BUILT))
def test_what_0_2_0_could_not_build_fails_here_too_and_says_why(name):
    theirs = reference()["errors"][name]
    if theirs is None:  # 0.2.0 built it: so does the shim
        NEVER_BUILT[name]()
        return
    with pytest.raises(NeverBuiltError, match="never built, under Keras 2 as under Keras 3"):
        NEVER_BUILT[name]()


# ---------------------------------------------------------------------------------
# Weights saved by 0.2.0 give 0.2.0's outputs, at every size.
def _inputs(key):
    about = reference()["about"]
    h, w = map(int, key.split("x"))
    return np.random.default_rng(about["inputs"][key]).uniform(-1, 1, (2, h, w, 3)).astype(
        "float32")


def _cases(name):
    outputs = np.load(os.path.join(DATA, "outputs.npz"))
    keys = sorted({k.split("/")[1] for k in outputs.files if k.startswith(name + "/")})
    return outputs, keys


@pytest.mark.parametrize("by_name", [False, True])
@pytest.mark.parametrize("name", ["tiny_basic", "tiny_bottleneck", "tiny_td", "tiny_1d"])
def test_weights_saved_by_0_2_0_give_its_outputs_at_every_size(name, by_name):
    model = _tiny(name)
    model.load_weights(os.path.join(DATA, f"{name}.h5"), by_name=by_name)
    outputs, keys = _cases(name)
    assert len(keys) >= 2
    for key in keys:
        if name == "tiny_1d":
            x = np.random.default_rng(7 + int(key)).uniform(-1, 1, (2, int(key), 8)).astype(
                "float32")
        elif name == "tiny_td":
            h, w = map(int, key.split("x"))
            seed = reference()["about"]["inputs"][key]
            x = np.random.default_rng(seed).uniform(-1, 1, (2, 2, h, w, 3)).astype("float32")
        else:
            x = _inputs(key)
        y = model(x, training=False)
        y = y if isinstance(y, (list, tuple)) else [y]
        expected = [outputs[f"{name}/{key}/{j}"] for j in range(len(y))]
        assert len([k for k in outputs.files if k.startswith(f"{name}/{key}/")]) == len(y)
        for j, (got, want) in enumerate(zip(y, expected)):
            assert_close(keras.ops.convert_to_numpy(got), want, 1e-5,
                         f"{name} at {key}, output {j}")
