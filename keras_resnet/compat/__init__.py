"""The API of the old ``keras-resnet`` 0.2.0 package (used by keras-retinanet), as a
thin shim over this package's network table and frozen BatchNormalization.

    import keras, keras_resnet.models
    inputs = keras.Input((None, None, 3))
    backbone = keras_resnet.models.ResNet50(inputs, include_top=False, freeze_bn=True)
    c2, c3, c4, c5 = backbone.outputs        # strides 4, 8, 16, 32

Layers carry 0.2.0's names (``conv1``, ``bn_conv1``, ``res2a_branch2a``,
``bn2a_branch2a``, ``res4b22_branch2c``, ...), so weight files saved from 0.2.0 models
load by name (``model.load_weights(path, by_name=True)`` for legacy ``.h5`` files).
The graph is 0.2.0's too, which differs from :func:`keras_resnet.build` in two places
kept for fidelity: pool1 uses ``padding="same"`` (asymmetric on even sizes), and the
first unit of every stage has a projection shortcut, also in ResNet-18/34 where
conv2's first unit does not change the shape. New code should use
:func:`keras_resnet.build` or :func:`keras_resnet.ResNet50`.
"""

from __future__ import annotations

import keras
from keras import layers

from ..arch.blocks import conv_kernel_initializer
from ..arch.layers import BatchNormalization
from ..arch.specs import get_spec

# 0.2.0 names blocks with letters (res4a, res4b, ...) except where numerical_names
# says numbers (res4a, res4b1, res4b2, ...), which it used for the deep stages of
# ResNet-101/152 as the original Caffe models do, and everywhere in ResNet-18/34.
NUMERICAL_NAMES = {
    18: (True, True, True, True),
    34: (True, True, True, True),
    50: (False, False, False, False),
    101: (False, True, True, False),
    152: (False, True, True, False),
}
BLOCKS = ("basic", "bottleneck")


def block_name(stage: int, block: int, numerical: bool) -> str:
    """0.2.0's unit name: stage 0 / block 0 -> ``"2a"``; with numerical names
    block 3 of stage 2 -> ``"4b3"``."""
    letter = f"b{block}" if block > 0 and numerical else chr(ord("a") + block)
    return f"{stage + 2}{letter}"


def _conv(x, filters, kernel, strides, name, pad):
    if pad:
        x = layers.ZeroPadding2D(pad, name=f"padding{name}")(x)
    return layers.Conv2D(filters, kernel, strides=strides, use_bias=False,
                         kernel_initializer=conv_kernel_initializer(),
                         name=f"res{name}")(x)


def _bn(x, name, freeze_bn, axis):
    return BatchNormalization(freeze=freeze_bn, axis=axis, epsilon=1e-5, name=f"bn{name}")(x)


def _unit(x, filters, stage, block, numerical, freeze_bn, kind, axis):
    n = block_name(stage, block, numerical)
    stride = 2 if block == 0 and stage > 0 else 1
    if kind == "bottleneck":
        y = _conv(x, filters, 1, stride, f"{n}_branch2a", 0)
        y = layers.Activation("relu", name=f"res{n}_branch2a_relu")(
            _bn(y, f"{n}_branch2a", freeze_bn, axis))
        y = _conv(y, filters, 3, 1, f"{n}_branch2b", 1)
        y = layers.Activation("relu", name=f"res{n}_branch2b_relu")(
            _bn(y, f"{n}_branch2b", freeze_bn, axis))
        y = _bn(_conv(y, 4 * filters, 1, 1, f"{n}_branch2c", 0), f"{n}_branch2c",
                freeze_bn, axis)
        out = 4 * filters
    else:
        y = _conv(x, filters, 3, stride, f"{n}_branch2a", 1)
        y = layers.Activation("relu", name=f"res{n}_branch2a_relu")(
            _bn(y, f"{n}_branch2a", freeze_bn, axis))
        y = _bn(_conv(y, filters, 3, 1, f"{n}_branch2b", 1), f"{n}_branch2b", freeze_bn, axis)
        out = filters
    if block == 0:
        shortcut = _bn(_conv(x, out, 1, stride, f"{n}_branch1", 0), f"{n}_branch1",
                       freeze_bn, axis)
    else:
        shortcut = x
    y = layers.Add(name=f"res{n}")([y, shortcut])
    return layers.Activation("relu", name=f"res{n}_relu")(y)


def ResNet(inputs, blocks, block="bottleneck", include_top=True, classes=1000,
           freeze_bn=True, numerical_names=None, **kwargs):
    """0.2.0's generic constructor: ``blocks`` units per stage, ``block`` one of
    ``"basic"`` / ``"bottleneck"``. Without the top the model's outputs are the
    four stage outputs C2-C5; with it, softmax class probabilities (``fc1000``).
    Extra keyword arguments go to ``keras.Model`` (e.g. ``name``)."""
    if block not in BLOCKS:
        raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
    blocks = list(blocks)
    if numerical_names is None:
        numerical_names = [True] * len(blocks)
    if len(numerical_names) != len(blocks):
        raise ValueError("numerical_names needs one entry per stage in blocks")
    if not keras.backend.is_keras_tensor(inputs):
        raise ValueError("inputs must be a Keras tensor, e.g. keras.Input((None, None, 3))")
    axis = -1 if keras.config.image_data_format() == "channels_last" else 1
    x = layers.ZeroPadding2D(3, name="padding_conv1")(inputs)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False,
                      kernel_initializer=conv_kernel_initializer(), name="conv1")(x)
    x = BatchNormalization(freeze=freeze_bn, axis=axis, epsilon=1e-5, name="bn_conv1")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    outputs = []
    for stage, count in enumerate(blocks):
        for b in range(count):
            x = _unit(x, 64 * 2 ** stage, stage, b, numerical_names[stage], freeze_bn,
                      block, axis)
        outputs.append(x)
    if include_top:
        if classes < 1:
            raise ValueError(f"classes must be >= 1, got {classes}")
        x = layers.GlobalAveragePooling2D(name="pool5")(x)
        x = layers.Dense(classes, activation="softmax", name="fc1000")(x)
        return keras.Model(inputs, x, **kwargs)
    return keras.Model(inputs, outputs, **kwargs)


def _constructor(depth):
    spec = get_spec(f"resnet{depth}")

    def make(inputs, blocks=None, include_top=True, classes=1000, freeze_bn=True, **kwargs):
        return ResNet(inputs, spec.blocks_per_stage if blocks is None else blocks,
                      block=spec.block, include_top=include_top, classes=classes,
                      freeze_bn=freeze_bn, numerical_names=NUMERICAL_NAMES[depth], **kwargs)

    make.__name__ = make.__qualname__ = f"ResNet{depth}"
    make.__doc__ = (f"keras-resnet 0.2.0's ResNet{depth}(inputs, include_top=True, "
                    "classes=1000, freeze_bn=True): see ResNet.")
    return make


ResNet18 = _constructor(18)
ResNet34 = _constructor(34)
ResNet50 = _constructor(50)
ResNet101 = _constructor(101)
ResNet152 = _constructor(152)


def name_map(depth: int) -> dict[str, str]:
    """Our layer names (``keras_resnet.build``, keras.applications' scheme) -> 0.2.0's,
    for every layer with weights, e.g. ``conv2_block1_1_conv`` -> ``res2a_branch2a``.
    ResNet-18/34 here lack 0.2.0's extra conv2 projection (``res2a_branch1``)."""
    spec = get_spec(f"resnet{depth}")
    mapping = {"conv1_conv": "conv1", "conv1_bn": "bn_conv1", "predictions": "fc1000"}
    branches = "abc"
    for unit in spec.units():
        n = block_name(unit.stage - 2, unit.index - 1, NUMERICAL_NAMES[depth][unit.stage - 2])
        if unit.shortcut == "projection":
            mapping[f"{unit.name}_0_conv"] = f"res{n}_branch1"
            mapping[f"{unit.name}_0_bn"] = f"bn{n}_branch1"
        for i in range(1, 3 if spec.block == "basic" else 4):
            mapping[f"{unit.name}_{i}_conv"] = f"res{n}_branch2{branches[i - 1]}"
            mapping[f"{unit.name}_{i}_bn"] = f"bn{n}_branch2{branches[i - 1]}"
    return mapping
