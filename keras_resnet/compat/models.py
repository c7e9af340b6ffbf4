"""keras-resnet 0.2.0's ``keras_resnet.models``, graph for graph.

    import keras, keras_resnet.models
    inputs = keras.Input((None, None, 3))
    backbone = keras_resnet.models.ResNet50(inputs, include_top=False, freeze_bn=True)
    c2, c3, c4, c5 = backbone.outputs        # strides 4, 8, 16, 32

Every constructor takes 0.2.0's arguments with 0.2.0's defaults and builds 0.2.0's
layers with 0.2.0's names, in 0.2.0's order:

* ``ResNet2D(inputs, blocks, block, include_top=True, classes=1000, freeze_bn=True,
  numerical_names=None, ...)``: ``block`` is a block function of
  :mod:`keras_resnet.compat.blocks` (``basic_2d``, ``bottleneck_2d``) or any function with
  their calling convention (the strings ``"basic"`` / ``"bottleneck"`` are accepted too);
* ``ResNet2D18`` ... ``ResNet2D200`` (and their 0.2.0 aliases ``ResNet``, ``ResNet18``
  ... ``ResNet200``): ``(inputs, blocks=None, include_top=True, classes=1000,
  freeze_bn=False, ...)``;
* ``FPN2D`` / ``FPN2D18`` ... ``FPN2D200`` (five outputs P2-P6, ``freeze_bn=True``);
* ``TimeDistributedResNet`` / ``...18`` ... ``...200`` (``freeze_bn=True``).

The stem is 0.2.0's: ``conv1`` a 7x7/2 ``Conv2D`` with ``padding="same"`` (Keras'
default initializer), ``bn_conv1``, ``conv1_relu``, ``pool1`` a 3x3/2 max pool with
``padding="same"``; with the top, ``pool5`` (global average) and ``fc1000`` (softmax).
Without it the model's outputs are the last block of each stage (C2-C5). Extra
arguments go to ``keras.Model`` (``name=...``). BatchNormalization is
:class:`keras_resnet.layers.BatchNormalization`, ``freeze`` as in 0.2.0 (and lasting:
``model.trainable = True`` does not thaw it).

Differences that Keras 3 forces, each an error or a documented change, never a quiet
one: 0.2.0's model constructors were ``keras.Model`` subclasses; here they are
functions returning a ``keras.Model`` (the same graph, layers and outputs; only
``isinstance(m, ResNet2D50)`` differs), because a Keras 3 model subclass cannot rebuild
itself from a saved file. ``ResNet1D*`` and ``ResNet3D*`` never built in 0.2.0 (their
stems give ``Conv1D`` / ``Conv3D`` the 2-D kernel ``(7, 7)``): they raise
:class:`~keras_resnet.compat.blocks.NeverBuiltError`, and so do
``TimeDistributedResNet50`` and deeper (see
:func:`keras_resnet.compat.blocks.time_distributed_bottleneck_2d`).

Weights saved from 0.2.0 models (``model.save_weights``, HDF5) load with
``model.load_weights(path)`` (by layer order) and ``load_weights(path, by_name=True)``.
:func:`name_map` maps this package's own layer names (keras.applications' scheme) to
0.2.0's.
"""

from __future__ import annotations

import keras
from keras import layers

from ..arch.layers import BatchNormalization
from ..arch.specs import get_spec
from . import blocks as _blocks
from .blocks import NeverBuiltError, block_names

# 0.2.0's blocks per stage and its numerical_names (letters "a", "b", ... or "a", "b1",
# "b2", ... per stage) for each depth; None: 0.2.0 leaves numerical_names unset, which
# means numbers in every stage.
DEPTHS = {
    18: ([2, 2, 2, 2], "basic", None),
    34: ([3, 4, 6, 3], "basic", None),
    50: ([3, 4, 6, 3], "bottleneck", [False, False, False, False]),
    101: ([3, 4, 23, 3], "bottleneck", [False, True, True, False]),
    152: ([3, 8, 36, 3], "bottleneck", [False, True, True, False]),
    200: ([3, 24, 36, 3], "bottleneck", [False, True, True, False]),
}
BLOCK_FUNCTIONS = {"basic": _blocks.basic_2d, "bottleneck": _blocks.bottleneck_2d}
BLOCKS = tuple(BLOCK_FUNCTIONS)
# Earlier versions of this shim named numerical_names per depth here.
NUMERICAL_NAMES = {d: tuple(n if n is not None else [True] * 4)
                   for d, (_, _, n) in DEPTHS.items()}


def _check_inputs(inputs, rank=4):
    if not keras.backend.is_keras_tensor(inputs):
        raise ValueError("inputs must be a Keras tensor, e.g. keras.Input((None, None, 3)) "
                         "(keras-resnet 0.2.0's models take the input tensor, not a shape)")
    if len(inputs.shape) != rank:
        raise ValueError(f"inputs must have rank {rank} (batch axis included), got shape "
                         f"{tuple(inputs.shape)}")


def _block_function(block, table=BLOCK_FUNCTIONS):
    if isinstance(block, str):
        if block not in table:
            raise ValueError(f"block must be a block function such as "
                             f"keras_resnet.blocks.basic_2d, or one of {tuple(table)}; got "
                             f"{block!r}")
        return table[block]
    if not callable(block):
        raise ValueError(f"block must be a block function such as "
                         f"keras_resnet.blocks.basic_2d, got {block!r}")
    return block


def _numerical(numerical_names, blocks):
    if numerical_names is None:
        return [True] * len(blocks)
    if len(numerical_names) != len(blocks):
        raise ValueError(f"numerical_names needs one entry per stage of blocks "
                         f"({len(blocks)}), got {len(numerical_names)}")
    return list(numerical_names)


def _stages(x, blocks, block, numerical_names, freeze_bn):
    """0.2.0's loop: ``blocks[i]`` blocks of width 64 * 2**i; the last of each stage is
    an output."""
    features, outputs = 64, []
    for stage_id, iterations in enumerate(blocks):
        for block_id in range(iterations):
            x = block(features, stage_id, block_id,
                      numerical_name=(block_id > 0 and numerical_names[stage_id]),
                      freeze_bn=freeze_bn)(x)
        features *= 2
        outputs.append(x)
    return outputs


def _stem(inputs, freeze_bn):
    axis = 3 if keras.config.image_data_format() == "channels_last" else 1
    x = layers.Conv2D(64, (7, 7), strides=(2, 2), use_bias=False, name="conv1",
                      padding="same")(inputs)
    x = BatchNormalization(axis=axis, epsilon=1e-5, freeze=freeze_bn, name="bn_conv1")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    return layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="pool1")(x)


def _check_classes(include_top, classes):
    if include_top and (isinstance(classes, bool) or not isinstance(classes, int)
                        or classes < 1):
        raise ValueError(f"classes must be an integer >= 1 with include_top=True, got "
                         f"{classes!r}")


def ResNet2D(inputs, blocks, block, include_top=True, classes=1000, freeze_bn=True,
             numerical_names=None, *args, **kwargs):
    """keras-resnet 0.2.0's generic two-dimensional ResNet.

    Args:
        inputs: a Keras tensor ``(N, H, W, C)`` (``keras.Input``).
        blocks: blocks per stage, e.g. ``[2, 2, 2, 2]``; stage ``i`` is 64 * 2**i wide.
        block: a block function (``keras_resnet.blocks.basic_2d``, ``bottleneck_2d``,
            or one with their calling convention); ``"basic"`` / ``"bottleneck"`` too.
        include_top: ``pool5`` + ``fc1000`` (softmax over ``classes``); without it the
            outputs are the four stage outputs.
        classes: classifier size (include_top only).
        freeze_bn: frozen BatchNormalization everywhere (0.2.0: True here, False in the
            named constructors).
        numerical_names: per stage, name blocks ``b1, b2, ...`` instead of letters;
            default numbers everywhere.
        *args, **kwargs: passed to ``keras.Model`` (e.g. ``name``).

    Returns:
        A ``keras.Model``.

    Raises:
        ValueError: ``inputs`` not a rank-4 Keras tensor, an unknown ``block``,
            ``numerical_names`` of the wrong length, ``classes`` < 1 with the top.
    """
    _check_inputs(inputs)
    block = _block_function(block)
    blocks = list(blocks)
    numerical_names = _numerical(numerical_names, blocks)
    _check_classes(include_top, classes)
    x = _stem(inputs, freeze_bn)
    outputs = _stages(x, blocks, block, numerical_names, freeze_bn)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="pool5")(outputs[-1])
        x = layers.Dense(classes, activation="softmax", name="fc1000")(x)
        return keras.Model(inputs, x, *args, **kwargs)
    return keras.Model(inputs, outputs, *args, **kwargs)


def _named(depth, family, kind):
    default_blocks, block_kind, numerical_names = DEPTHS[depth]

    if family == "ResNet2D":
        def make(inputs, blocks=None, include_top=True, classes=1000, freeze_bn=False,
                 *args, **kwargs):
            return ResNet2D(inputs, default_blocks if blocks is None else blocks,
                            block=BLOCK_FUNCTIONS[block_kind], include_top=include_top,
                            classes=classes, freeze_bn=freeze_bn,
                            numerical_names=numerical_names, *args, **kwargs)
        doc = (f"keras-resnet 0.2.0's ResNet{depth}: ``{family}{depth}(inputs, "
               "blocks=None, include_top=True, classes=1000, freeze_bn=False, **kwargs)``"
               f"; {block_kind} blocks {default_blocks}. See :func:`ResNet2D`.")
    elif family == "FPN2D":
        def make(inputs, blocks=None, *args, **kwargs):
            return FPN2D(inputs, default_blocks if blocks is None else blocks,
                         block=BLOCK_FUNCTIONS[block_kind],
                         numerical_names=numerical_names, *args, **kwargs)
        doc = (f"keras-resnet 0.2.0's FPN2D{depth}(inputs, blocks=None, **kwargs) (BN "
               f"frozen by default); {block_kind} blocks {default_blocks}. See :func:`FPN2D`.")
    else:  # TimeDistributedResNet
        td_block = {"basic": _blocks.time_distributed_basic_2d,
                    "bottleneck": _blocks.time_distributed_bottleneck_2d}[block_kind]

        def make(inputs, blocks=None, include_top=True, classes=1000, *args, **kwargs):
            return TimeDistributedResNet(inputs, default_blocks if blocks is None else blocks,
                                         block=td_block, include_top=include_top,
                                         classes=classes, *args, **kwargs)
        doc = (f"keras-resnet 0.2.0's TimeDistributedResNet{depth}(inputs, blocks=None, "
               "include_top=True, classes=1000, **kwargs) (BN frozen, as there); "
               f"{block_kind} blocks {default_blocks}. See :func:`TimeDistributedResNet`.")
    make.__name__ = make.__qualname__ = kind
    make.__doc__ = doc
    return make


def FPN2D(inputs, blocks, block, freeze_bn=True, numerical_names=None, *args, **kwargs):
    """keras-resnet 0.2.0's ResNet feature pyramid: the C2-C5 of :func:`ResNet2D`, each
    reduced to 256 channels by a 1x1 convolution (``c{k}_reduced``), the coarser level
    bilinearly upsampled (``p{k}_upsampled``) and added (``p{k}_merged``), a 3x3
    convolution on P2-P4 (``p2``..``p4``), and P6 a 2x2/2 max pool of P5
    (``p6``). Outputs ``[P2, P3, P4, P5, P6]``; as in 0.2.0, P5 is ``c5_reduced``
    itself and the sizes must halve exactly (inputs divisible by 32).

    Raises:
        ValueError: as :func:`ResNet2D`; ``blocks`` not four stages.
    """
    _check_inputs(inputs)
    block = _block_function(block)
    blocks = list(blocks)
    if len(blocks) != 4:
        raise ValueError(f"FPN2D needs four stages (C2-C5), got blocks={blocks}")
    numerical_names = _numerical(numerical_names, blocks)
    x = _stem(inputs, freeze_bn)
    c2, c3, c4, c5 = _stages(x, blocks, block, numerical_names, freeze_bn)

    def conv(kernel, name):
        return layers.Conv2D(filters=256, kernel_size=kernel, strides=1, padding="same",
                             name=name)

    def up(name):
        return layers.UpSampling2D(interpolation="bilinear", name=name, size=(2, 2))

    p5 = conv(1, "c5_reduced")(c5)
    up5 = up("p5_upsampled")(p5)
    p4 = layers.Add(name="p4_merged")([up5, conv(1, "c4_reduced")(c4)])
    up4 = up("p4_upsampled")(p4)
    p4 = conv(3, "p4")(p4)
    p3 = layers.Add(name="p3_merged")([up4, conv(1, "c3_reduced")(c3)])
    up3 = up("p3_upsampled")(p3)
    p3 = conv(3, "p3")(p3)
    p2 = layers.Add(name="p2_merged")([up3, conv(1, "c2_reduced")(c2)])
    p2 = conv(3, "p2")(p2)
    p6 = layers.MaxPooling2D(strides=2, name="p6")(p5)
    return keras.Model(inputs, [p2, p3, p4, p5, p6], *args, **kwargs)


def TimeDistributedResNet(inputs, blocks, block, include_top=True, classes=1000,
                          freeze_bn=True, *args, **kwargs):
    """keras-resnet 0.2.0's time-distributed ResNet: every layer of a ResNet applied to
    each frame of ``(N, T, H, W, C)`` through ``TimeDistributed`` wrappers named as the
    2-D layers. Its stem is 0.1.0's (``padding_conv1`` + a 'valid' 7x7/2 ``conv1``), and
    a stage's blocks are numbered when it has more than 6 (as 0.2.0 decides).

    Args:
        block: ``keras_resnet.blocks.time_distributed_basic_2d`` (or a function with its
            calling convention; ``"basic"`` too).

    Raises:
        ValueError: ``inputs`` not a rank-5 Keras tensor, an unknown ``block``,
            ``classes`` < 1 with the top.
        NeverBuiltError: with the bottleneck block, as in 0.2.0.
    """
    _check_inputs(inputs, rank=5)
    block = _block_function(block, {"basic": _blocks.time_distributed_basic_2d,
                                    "bottleneck": _blocks.time_distributed_bottleneck_2d})
    blocks = list(blocks)
    _check_classes(include_top, classes)
    axis = 3 if keras.config.image_data_format() == "channels_last" else 1
    td = layers.TimeDistributed
    x = td(layers.ZeroPadding2D(padding=3), name="padding_conv1")(inputs)
    x = td(layers.Conv2D(64, (7, 7), strides=(2, 2), use_bias=False), name="conv1")(x)
    x = td(BatchNormalization(axis=axis, epsilon=1e-5, freeze=freeze_bn), name="bn_conv1")(x)
    x = td(layers.Activation("relu"), name="conv1_relu")(x)
    x = td(layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same"), name="pool1")(x)
    features, outputs = 64, []
    for stage_id, iterations in enumerate(blocks):
        for block_id in range(iterations):
            x = block(features, stage_id, block_id, numerical_name=(blocks[stage_id] > 6),
                      freeze_bn=freeze_bn)(x)
        features *= 2
        outputs.append(x)
    if include_top:
        x = td(layers.GlobalAveragePooling2D(), name="pool5")(x)
        x = td(layers.Dense(classes, activation="softmax"), name="fc1000")(x)
        return keras.Model(inputs, x, *args, **kwargs)
    return keras.Model(inputs, outputs, *args, **kwargs)


def _never_built_model(kind, conv):
    def make(inputs, blocks=None, include_top=True, classes=1000, freeze_bn=False, *args,
             **kwargs):
        raise NeverBuiltError(
            f"keras-resnet 0.2.0's {kind} never built, under Keras 2 as under Keras 3: "
            f"its stem passes the 2-D kernel (7, 7) and strides (2, 2) to {conv}, which "
            f"Keras refuses. keras_resnet.blocks.basic_1d / bottleneck_1d build 1-D "
            "blocks as 0.2.0 wrote them.")
    make.__name__ = make.__qualname__ = kind
    make.__doc__ = (f"keras-resnet 0.2.0's {kind}; it never built (its stem gives {conv} "
                    "a 2-D kernel).\n\nRaises:\n    NeverBuiltError: always.")
    return make


ResNet2D18 = _named(18, "ResNet2D", "ResNet2D18")
ResNet2D34 = _named(34, "ResNet2D", "ResNet2D34")
ResNet2D50 = _named(50, "ResNet2D", "ResNet2D50")
ResNet2D101 = _named(101, "ResNet2D", "ResNet2D101")
ResNet2D152 = _named(152, "ResNet2D", "ResNet2D152")
ResNet2D200 = _named(200, "ResNet2D", "ResNet2D200")

FPN2D18 = _named(18, "FPN2D", "FPN2D18")
FPN2D34 = _named(34, "FPN2D", "FPN2D34")
FPN2D50 = _named(50, "FPN2D", "FPN2D50")
FPN2D101 = _named(101, "FPN2D", "FPN2D101")
FPN2D152 = _named(152, "FPN2D", "FPN2D152")
FPN2D200 = _named(200, "FPN2D", "FPN2D200")

TimeDistributedResNet18 = _named(18, "TimeDistributedResNet", "TimeDistributedResNet18")
TimeDistributedResNet34 = _named(34, "TimeDistributedResNet", "TimeDistributedResNet34")
TimeDistributedResNet50 = _named(50, "TimeDistributedResNet", "TimeDistributedResNet50")
TimeDistributedResNet101 = _named(101, "TimeDistributedResNet", "TimeDistributedResNet101")
TimeDistributedResNet152 = _named(152, "TimeDistributedResNet", "TimeDistributedResNet152")
TimeDistributedResNet200 = _named(200, "TimeDistributedResNet", "TimeDistributedResNet200")

ResNet1D = _never_built_model("ResNet1D", "Conv1D")
ResNet1D18 = _never_built_model("ResNet1D18", "Conv1D")
ResNet1D34 = _never_built_model("ResNet1D34", "Conv1D")
ResNet1D50 = _never_built_model("ResNet1D50", "Conv1D")
ResNet1D101 = _never_built_model("ResNet1D101", "Conv1D")
ResNet1D152 = _never_built_model("ResNet1D152", "Conv1D")
ResNet1D200 = _never_built_model("ResNet1D200", "Conv1D")
ResNet3D = _never_built_model("ResNet3D", "Conv3D")
ResNet3D18 = _never_built_model("ResNet3D18", "Conv3D")
ResNet3D34 = _never_built_model("ResNet3D34", "Conv3D")
ResNet3D50 = _never_built_model("ResNet3D50", "Conv3D")
ResNet3D101 = _never_built_model("ResNet3D101", "Conv3D")
ResNet3D152 = _never_built_model("ResNet3D152", "Conv3D")
ResNet3D200 = _never_built_model("ResNet3D200", "Conv3D")

# 0.2.0's backwards-compatible names
ResNet = ResNet2D
ResNet18 = ResNet2D18
ResNet34 = ResNet2D34
ResNet50 = ResNet2D50
ResNet101 = ResNet2D101
ResNet152 = ResNet2D152
ResNet200 = ResNet2D200


def block_name(stage: int, block: int, numerical: bool) -> str:
    """0.2.0's unit name: stage 0 / block 0 -> ``"2a"``; with numerical names
    block 3 of stage 2 -> ``"4b3"``."""
    return "".join(block_names(stage, block, numerical))


def name_map(depth: int) -> dict[str, str]:
    """This package's layer names (``keras_resnet.build``, keras.applications' scheme)
    -> 0.2.0's, for every layer with weights, e.g. ``conv2_block1_1_conv`` ->
    ``res2a_branch2a``. (0.2.0's ResNet-18/34 also have a projection on conv2's first
    unit, ``res2a_branch1``, which ours lack; its stem conv pads 'same', ours
    symmetrically, so the same weights give other outputs at the borders.)"""
    spec = get_spec(f"resnet{depth}")
    mapping = {"conv1_conv": "conv1", "conv1_bn": "bn_conv1", "predictions": "fc1000"}
    branches = "abc"
    for unit in spec.units():
        n = block_name(unit.stage - 2, unit.index - 1,
                       NUMERICAL_NAMES[depth][unit.stage - 2])
        if unit.shortcut == "projection":
            mapping[f"{unit.name}_0_conv"] = f"res{n}_branch1"
            mapping[f"{unit.name}_0_bn"] = f"bn{n}_branch1"
        for i in range(1, 3 if spec.block == "basic" else 4):
            mapping[f"{unit.name}_{i}_conv"] = f"res{n}_branch2{branches[i - 1]}"
            mapping[f"{unit.name}_{i}_bn"] = f"bn{n}_branch2{branches[i - 1]}"
    return mapping
