"""Reference data from the original keras-resnet 0.2.0 (PyPI), for the 0.2.0 shim's tests.

Run it with the original package under a Keras 2 stack, in a throwaway environment
(never in this project's):

    python3.11 -m venv /tmp/k2 && /tmp/k2/bin/pip install tensorflow==2.15.1 keras-resnet==0.2.0
    /tmp/k2/bin/python scripts/keras_resnet_0_2_0_reference.py tests/fixtures/keras_resnet_0_2_0
    /tmp/k2/bin/python scripts/keras_resnet_0_2_0_reference.py --full /tmp/resnet2d50_0_2_0

It writes (default mode; what tests/compat/test_compat_0_2_0.py reads):

* ``structure.json.gz``: every 0.2.0 model that builds (ResNet2D18..200, FPN2D18..200,
  TimeDistributedResNet18/34, classifiers.ResNet18/50, a network of the 1-D blocks),
  layer by layer in ``model.layers`` order: name, class, the configuration that defines
  the computation, weight shapes, the layers feeding it, and the model's outputs; the
  results of 0.2.0's own tests/test_models.py (layer counts); and the error each part of
  0.2.0 that does not build raises.
* ``tiny_*.h5`` + ``outputs.npz``: small networks built by 0.2.0's own ``ResNet2D`` /
  ``TimeDistributedResNet`` and block functions, with the block widths divided by 16 so
  the files stay small, random weights (BN statistics included), saved with 0.2.0's
  ``model.save_weights``; their outputs on fixed inputs at several image sizes (even,
  odd, non-square), which the shim must reproduce from those files.

``--full DIR``: a full-size ResNet2D50 (random weights) saved to ``DIR/resnet2d50.h5``
with its C2-C5 at 224x224, 225x225 and 97x131 in ``DIR/outputs.npz`` (100 MB: not
committed; for a one-off check of the shim at full size).

Inputs are ``np.random.default_rng(seed).uniform(-1, 1, shape)`` (float32), which the
tests regenerate; seeds and sizes are in ``INPUTS``.
"""

import argparse
import gzip
import json
import os
import sys
import traceback

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402  (Keras 2: the standalone keras 2.x that TensorFlow 2.15 uses)

import keras_resnet  # noqa: E402  (the original 0.2.0)
import keras_resnet.blocks  # noqa: E402
import keras_resnet.classifiers  # noqa: E402
import keras_resnet.models  # noqa: E402

SIZES = [(224, 224), (225, 225), (97, 131), (64, 64), (33, 47)]
INPUTS = {f"{h}x{w}": 100 + i for i, (h, w) in enumerate(SIZES)}
CONFIG_KEYS = ("filters", "kernel_size", "strides", "padding", "use_bias", "axis",
               "epsilon", "momentum", "center", "scale", "freeze", "pool_size",
               "activation", "units", "size", "interpolation", "dilation_rate", "groups",
               "keepdims")


def inputs(h, w, frames=None, seed=None):
    shape = (2, h, w, 3) if frames is None else (2, frames, h, w, 3)
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def plain(value):
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def layer_config(layer):
    cfg = layer.get_config()
    out = {k: plain(cfg[k]) for k in CONFIG_KEYS if k in cfg}
    for key in ("kernel_initializer", "bias_initializer"):
        if key in cfg and isinstance(cfg[key], dict):
            out[key] = cfg[key]["class_name"]
    return out


def describe(model):
    # 0.2.0's models are Model subclasses, whose get_config has no graph: read it from a
    # functional model over the same tensors
    config = keras.models.Model(model.inputs, model.outputs).get_config()
    inbound = {}
    for entry in config["layers"]:
        nodes = entry.get("inbound_nodes", [])
        inbound[entry["name"]] = [[n[0] for n in node] for node in nodes]
    rows = []
    for layer in model.layers:
        row = {"name": layer.name, "class": type(layer).__name__,
               "config": layer_config(layer),
               "weights": [list(map(int, w.shape)) for w in layer.weights],
               "trainable_weights": len(layer.trainable_weights),
               "inbound": inbound.get(layer.name, [])}
        if isinstance(layer, keras.layers.TimeDistributed):
            row["inner"] = {"class": type(layer.layer).__name__,
                            "config": layer_config(layer.layer)}
        rows.append(row)
    outputs = [t._keras_history.layer.name for t in model.outputs]
    return {"layers": rows, "outputs": outputs, "count_params": int(model.count_params())}


def randomise(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape, name = tuple(w.shape), w.name.split("/")[-1]
            if "gamma" in name:
                values.append(rng.uniform(0.5, 1.5, shape))
            elif "beta" in name or "moving_mean" in name:
                values.append(rng.normal(0, 0.2, shape))
            elif "moving_variance" in name:
                values.append(rng.uniform(0.5, 2.0, shape))
            elif "bias" in name:
                values.append(rng.normal(0, 0.1, shape))
            else:  # a kernel: He-normal scale keeps activations of order one
                fan_in = int(np.prod(shape[:-1]))
                values.append(rng.normal(0, np.sqrt(2.0 / fan_in), shape))
        if values:
            layer.set_weights([v.astype("float32") for v in values])


def narrow(block_fn, divisor=16):
    """0.2.0's block function with ``filters // divisor``: the network keeps 0.2.0's
    stem, names and graph, at a fraction of the weights."""
    def block(filters, stage_id, block_id, **kwargs):
        return block_fn(filters // divisor, stage_id, block_id, **kwargs)
    return block


def tiny_models():
    b = keras_resnet.blocks
    m = keras_resnet.models
    basic = m.ResNet2D(keras.layers.Input((None, None, 3)), [2, 2, 2, 2],
                       block=narrow(b.basic_2d), include_top=False, freeze_bn=False,
                       numerical_names=[False, True, False, True])
    bottleneck = m.ResNet2D(keras.layers.Input((None, None, 3)), [2, 1, 3, 1],
                            block=narrow(b.bottleneck_2d), include_top=True, classes=10,
                            freeze_bn=True, numerical_names=[False, False, True, False])
    td = m.TimeDistributedResNet(keras.layers.Input((2, None, None, 3)), [1, 1, 2, 1],
                                 block=narrow(b.time_distributed_basic_2d),
                                 include_top=True, classes=6)
    x = keras.layers.Input((None, 8))
    y = b.basic_1d(4, stage=0, block=0)(x)
    y = b.basic_1d(4, stage=0, block=1, numerical_name=True)(y)
    y = b.basic_1d(8, stage=1, block=0)(y)
    y = b.bottleneck_1d(4, stage=2, block=0)(y)
    y = b.bottleneck_1d(4, stage=2, block=1)(y)
    one_d = keras.models.Model(x, y)
    return {"tiny_basic": basic, "tiny_bottleneck": bottleneck, "tiny_td": td,
            "tiny_1d": one_d}


def run_inputs(name):
    if name == "tiny_1d":
        return {f"{n}": np.random.default_rng(7 + n).uniform(-1, 1, (2, n, 8))
                .astype("float32") for n in (64, 33)}
    if name == "tiny_td":
        return {k: inputs(h, w, frames=2, seed=INPUTS[k]) for k, (h, w) in
                zip(INPUTS, SIZES) if h <= 97}
    return {k: inputs(h, w, seed=INPUTS[k]) for k, (h, w) in zip(INPUTS, SIZES)}


def errors_of(build):
    try:
        build()
    except Exception as err:  # what 0.2.0 raises, recorded as text
        return f"{type(err).__name__}: {str(err).splitlines()[0]}"
    return None


def default(out):
    os.makedirs(out, exist_ok=True)
    m, b, c = keras_resnet.models, keras_resnet.blocks, keras_resnet.classifiers
    structure, counts = {}, {}
    x = keras.layers.Input((224, 224, 3))  # 0.2.0's tests/conftest.py fixture
    for depth in (18, 34, 50, 101, 152, 200):
        model = getattr(m, f"ResNet2D{depth}")(x)
        counts[f"ResNet2D{depth}"] = len(model.layers)  # 0.2.0's tests/test_models.py
        structure[f"ResNet2D{depth}"] = describe(model)
        structure[f"FPN2D{depth}"] = describe(
            getattr(m, f"FPN2D{depth}")(keras.layers.Input((224, 224, 3))))
    structure["ResNet2D50_notop_frozen"] = describe(
        m.ResNet2D50(keras.layers.Input((None, None, 3)), include_top=False, freeze_bn=True))
    structure["ResNet2D_generic_18"] = describe(
        m.ResNet2D(keras.layers.Input((None, None, 3)), [2, 2, 2, 2], b.basic_2d,
                   include_top=False))
    for depth in (18, 34):
        structure[f"TimeDistributedResNet{depth}"] = describe(
            getattr(m, f"TimeDistributedResNet{depth}")(keras.layers.Input((2, 64, 64, 3))))
    for depth in (18, 50):
        structure[f"classifiers.ResNet{depth}"] = describe(
            getattr(c, f"ResNet{depth}")(keras.layers.Input((224, 224, 3)), 7))
    tiny = tiny_models()
    for name, model in tiny.items():
        structure[name] = describe(model)
    errors = {
        "ResNet1D18": lambda: m.ResNet1D18(keras.layers.Input((224, 3))),
        "ResNet3D18": lambda: m.ResNet3D18(keras.layers.Input((16, 64, 64, 3))),
        "TimeDistributedResNet50": lambda: m.TimeDistributedResNet50(
            keras.layers.Input((2, 64, 64, 3))),
        "basic_3d_block0": lambda: b.basic_3d(8, 0, 0)(keras.layers.Input((8, 8, 8, 4))),
        "basic_3d_block1": lambda: b.basic_3d(4, 0, 1)(keras.layers.Input((8, 8, 8, 4))),
        "bottleneck_3d_block1": lambda: b.bottleneck_3d(4, 0, 1)(
            keras.layers.Input((8, 8, 8, 16))),
        "time_distributed_bottleneck_2d_block1": lambda: b.time_distributed_bottleneck_2d(
            4, 0, 1)(keras.layers.Input((2, 8, 8, 16))),
    }
    errors = {k: errors_of(v) for k, v in errors.items()}
    outputs = {}
    for i, (name, model) in enumerate(tiny.items()):
        randomise(model, seed=i)
        model.save_weights(os.path.join(out, f"{name}.h5"))
        for key, batch in run_inputs(name).items():
            y = model.predict(batch, verbose=0)
            for j, v in enumerate(y if isinstance(y, list) else [y]):
                outputs[f"{name}/{key}/{j}"] = np.asarray(v, "float32")
    np.savez_compressed(os.path.join(out, "outputs.npz"), **outputs)
    about = {"keras": keras.__version__, "python": sys.version.split()[0],
             "keras_resnet": "0.2.0", "inputs": INPUTS, "sizes": SIZES}
    with gzip.open(os.path.join(out, "structure.json.gz"), "wt") as f:
        json.dump({"about": about, "test_models_layer_counts": counts, "errors": errors,
                   "models": structure}, f, sort_keys=True)
    print(json.dumps({"about": about, "counts": counts, "errors": errors}, indent=1))


def full(out):
    os.makedirs(out, exist_ok=True)
    model = keras_resnet.models.ResNet2D50(keras.layers.Input((None, None, 3)),
                                          include_top=False)
    randomise(model, seed=50)
    model.save_weights(os.path.join(out, "resnet2d50.h5"))
    outputs = {}
    for key, (h, w) in zip(INPUTS, SIZES[:3]):
        for j, v in enumerate(model.predict(inputs(h, w, seed=INPUTS[key]), verbose=0)):
            outputs[f"{key}/{j}"] = v
    np.savez_compressed(os.path.join(out, "outputs.npz"), **outputs)
    print("wrote", out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    try:
        (full if args.full else default)(args.out)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
