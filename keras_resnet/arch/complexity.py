"""Parameter and FLOP counts, two independent ways.

* :func:`spec_complexity` works from a :class:`ResNetSpec` alone (pure Python, no
  model is built), so ``keras-resnet models`` can list every network instantly.
* :func:`model_complexity` walks the layers of a built Keras model.

The tests check that both agree for every registered network, and that both agree
with the paper's and torchvision's published numbers.

FLOPs here are multiply-adds (MACs) of convolutions and the classifier, as the
paper's Table 1 counts them ("FLOPs" there are multiply-adds); BatchNorm, ReLU,
additions and pooling are not counted. Achieved-GFLOP/s figures elsewhere count
2 FLOPs per multiply-add.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .specs import ResNetSpec


@dataclass(frozen=True)
class Complexity:
    params: int  # trainable parameters (conv kernels, BN gamma/beta, fc)
    non_trainable: int  # BN moving mean and variance
    weights: int  # conv and fc kernels only: how the paper's Table 6 counts
    macs: int  # multiply-adds of convs + fc for one image
    feature_shapes: dict = field(default_factory=dict)  # "conv1".."convN" -> (H, W, C)


def _down(size, stride):
    # Every strided op in these nets (7x7/2 pad 3, 3x3/2 pad 1, 1x1/2, max pool 3/2
    # pad 1, option-A subsampling) gives ceil(size / stride).
    return None if size is None else -(-size // stride)


class _Tally:
    def __init__(self):
        self.params = self.stats = self.weights = self.macs = 0

    def conv(self, h, w, k, cin, cout, stride):
        """A bias-free conv followed by BN; returns the output size."""
        h, w = _down(h, stride), _down(w, stride)
        kernel = k * k * cin * cout
        self.weights += kernel
        self.params += kernel + 2 * cout  # + BN gamma, beta
        self.stats += 2 * cout  # BN moving mean, variance
        if h is not None and w is not None:
            self.macs += h * w * kernel
        return h, w


def spec_complexity(spec: ResNetSpec, input_shape=None, classes=None,
                    include_top=True) -> Complexity:
    """Count parameters and multiply-adds of ``spec`` without building it.

    ``input_shape`` is channels-last ``(H, W, C)``; ``None`` sizes give ``macs=0``.
    """
    h, w, c = input_shape or spec.default_input_shape
    classes = spec.default_classes if classes is None else classes
    t = _Tally()
    shapes = {}
    if spec.family == "imagenet" and spec.stem == "deep":
        half = spec.stem_width // 2
        h, w = t.conv(h, w, 3, c, half, 2)
        h, w = t.conv(h, w, 3, half, half, 1)
        h, w = t.conv(h, w, 3, half, spec.stem_width, 1)
        h, w = _down(h, 2), _down(w, 2)  # pool1
    elif spec.family == "imagenet":
        h, w = t.conv(h, w, 7, c, spec.stem_width, 2)
        h, w = _down(h, 2), _down(w, 2)  # pool1
    else:
        h, w = t.conv(h, w, 3, c, spec.stem_width, 1)
    shapes["conv1"] = (h, w, spec.stem_width)
    for unit in spec.units():
        if unit.shortcut == "projection":  # strided 1x1, or (ResNet-D) pool then 1x1:
            t.conv(h, w, 1, unit.in_channels, unit.out_channels, unit.stride)  # same count
        if spec.block == "basic":
            h2, w2 = t.conv(h, w, 3, unit.in_channels, unit.width, unit.stride)
            h2, w2 = t.conv(h2, w2, 3, unit.width, unit.out_channels, 1)
        else:
            s1, s3 = (unit.stride, 1) if spec.stride_placement == "1x1" else (1, unit.stride)
            h2, w2 = t.conv(h, w, 1, unit.in_channels, unit.width, s1)
            h2, w2 = t.conv(h2, w2, 3, unit.width, unit.width, s3)
            h2, w2 = t.conv(h2, w2, 1, unit.width, unit.out_channels, 1)
        h, w = h2, w2
        shapes[f"conv{unit.stage}"] = (h, w, unit.out_channels)
    if include_top:
        fc = spec.num_features * classes
        t.weights += fc
        t.params += fc + classes
        t.macs += fc
    return Complexity(t.params, t.stats, t.weights, t.macs, shapes)


def model_complexity(model) -> Complexity:
    """Count parameters and multiply-adds of a built Keras model (static input size)."""
    weights = macs = 0
    for layer in _leaf_layers(model):
        kernel, layer_macs = _layer_counts(layer, model.name)
        weights += kernel
        macs += layer_macs
    return Complexity(_size(model.trainable_weights), _size(model.non_trainable_weights),
                      weights, macs)


def stage_table(model) -> list[dict]:
    """Per-stage rows for a model built by this package: ``stage`` (``stem``,
    ``conv2``, ..., ``head``), ``output_shape``, ``params`` (trainable) and ``macs``."""
    rows: dict[str, dict] = {}
    for layer in _leaf_layers(model):
        if not layer.weights and not layer.name.startswith(("conv", "pool", "avg", "max")):
            continue  # the input layer
        prefix = layer.name.split("_")[0]
        stage = {"conv1": "stem", "pool1": "stem"}.get(prefix, prefix)
        if layer.name in ("avg_pool", "max_pool", "predictions"):
            stage = "head"
        row = rows.setdefault(stage, {"stage": stage, "params": 0, "macs": 0})
        row["params"] += _size(layer.trainable_weights)
        row["macs"] += _layer_counts(layer, model.name)[1]
        row["output_shape"] = tuple(layer.output.shape[1:])
    return list(rows.values())


def _layer_counts(layer, model_name):
    """(kernel weights, multiply-adds) of one conv or dense layer; (0, 0) otherwise."""
    import keras

    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
        return 0, 0
    kernel = math.prod(layer.kernel.shape)
    out = layer.output.shape[1:]
    if isinstance(layer, keras.layers.Conv2D) and layer.data_format == "channels_first":
        spatial = out[1:]
    else:
        spatial = out[:-1]
    if any(d is None for d in spatial):
        raise ValueError(
            f"{model_name} has a dynamic input size; build it with a fixed input_shape "
            "to count FLOPs"
        )
    return kernel, math.prod(spatial) * kernel


def parameter_count(model) -> int:
    """The model's parameters as torchvision and timm count them and the README's model
    table lists them: every weight, trainable or frozen, except BatchNormalization's
    moving mean and variance (statistics the gradient never updates). Keras'
    ``count_params()`` counts those too: 1,376 more for ``resnet20``
    (tests/arch/test_builder.py)."""
    stats = {id(v) for layer in _leaf_layers(model)
             for v in (getattr(layer, "moving_mean", None),
                       getattr(layer, "moving_variance", None)) if v is not None}
    return _size(v for v in model.weights if id(v) not in stats)


def _size(variables):
    return sum(math.prod(v.shape) for v in variables)


def _leaf_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _leaf_layers(layer)
        else:
            yield layer
