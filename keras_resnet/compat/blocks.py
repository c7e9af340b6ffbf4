"""keras-resnet 0.2.0's ``keras_resnet.blocks``: residual block functions in its
calling convention, layer for layer as 0.2.0 builds them.

``basic_2d(filters, stage=0, block=0, kernel_size=3, numerical_name=False,
stride=None, freeze_bn=False)`` returns a function of one tensor; the models of
:mod:`keras_resnet.compat.models` call a block as
``block(features, stage_id, block_id, numerical_name=..., freeze_bn=...)``, so any
function with that convention (0.2.0's own, or a user's) can be passed as ``block``.

What 0.2.0 builds, and what is kept exactly:

* names: ``res{stage}{block}_branch2a`` ... (``stage`` 0 -> ``"2"``; ``block`` 0 ->
  ``"a"``, or ``"b{block}"`` with ``numerical_name``), ``bn...``, ``padding...``,
  ``res{stage}{block}`` for the addition and ``..._relu``;
* the stride: 2 in the first block of every stage but the first, on the first
  convolution of the residual branch (the 3x3 of a basic block, the first 1x1 of a
  bottleneck, "v1") and on the shortcut;
* a projection shortcut (1x1 conv + BN) in the first block of *every* stage, also
  where the shape does not change (0.2.0's ResNet-18/34 conv2_x);
* explicit ``ZeroPadding`` of 1 before each 3x3 convolution ("valid");
* BatchNormalization epsilon 1e-5, Keras' default momentum 0.99, on axis 3 (1 for
  channels first) in 2-D, -1 (1) in 1-D; ``kernel_initializer="he_normal"``; no biases.

Some of 0.2.0 never built, also under the Keras 2 it was written for: its 3-D blocks
where they give ``Conv3D`` the 2-D kernel ``(1, 1)`` (every bottleneck, the first basic
block of a stage) and the first time-distributed bottleneck block of a stage. Here those
raise :class:`NeverBuiltError`, which says so; the rest builds as in 0.2.0.

This module also keeps the names that ``keras_resnet.blocks`` had in this package's
0.1.0 (the builder's block functions of :mod:`keras_resnet.arch.blocks`).
"""

from __future__ import annotations

import keras
from keras import layers

from ..arch.blocks import (  # noqa: F401  (0.1.0's keras_resnet.blocks)
    BLOCK_FUNCTIONS, LayerOptions, basic_block, bottleneck_block, conv_bn,
    conv_kernel_initializer, residual_unit, shortcut, stem, zero_pad_shortcut)
from ..arch.layers import BatchNormalization

KERNEL_INITIALIZER = "he_normal"  # 0.2.0's blocks; its stems keep Keras' default


def block_names(stage: int, block: int, numerical_name: bool) -> tuple[str, str]:
    """0.2.0's ``(stage_char, block_char)``: stage 0 -> ``"2"``; block 0 -> ``"a"``,
    block 3 -> ``"d"``, or ``"b3"`` with ``numerical_name``."""
    block_char = f"b{block}" if block > 0 and numerical_name else chr(ord("a") + block)
    return str(stage + 2), block_char


def _default_stride(stage, block, stride):
    if stride is None:
        return 1 if block != 0 or stage == 0 else 2
    return stride


def _bn_axis(rank: int) -> int:
    """0.2.0's BN axis: 3 (channels last) / 1 for 2-D, 3-D and time-distributed maps
    (for 3-D maps 3 is a spatial axis: 0.2.0's choice, kept), -1 / 1 for 1-D ones."""
    channels_last = keras.config.image_data_format() == "channels_last"
    if rank == 1:
        return -1 if channels_last else 1
    return 3 if channels_last else 1


def _bn(axis, freeze_bn, name):
    return BatchNormalization(axis=axis, epsilon=1e-5, freeze=freeze_bn, name=name)


class NeverBuiltError(NotImplementedError):
    """A part of keras-resnet 0.2.0 that could not be built under any Keras (its code
    passes arguments Keras rejects); this package does not invent a meaning for it."""


def _never_built(what, why, instead):
    raise NeverBuiltError(f"keras-resnet 0.2.0's {what} never built, under Keras 2 as "
                          f"under Keras 3: {why}. {instead}")


_CONV = {1: layers.Conv1D, 2: layers.Conv2D, 3: layers.Conv3D}
_PAD = {1: layers.ZeroPadding1D, 2: layers.ZeroPadding2D, 3: layers.ZeroPadding3D}


def _make_block(rank, bottleneck, filters, stage, block, kernel_size, numerical_name,
                stride, freeze_bn):
    pad = _PAD[rank]
    stride = _default_stride(stage, block, stride)
    axis = _bn_axis(rank)
    s, b = block_names(stage, block, numerical_name)
    n = f"{s}{b}"
    kind = f"{'bottleneck' if bottleneck else 'basic'}_{rank}d"

    def conv_layer(width, kernel, strides, name):
        if rank == 3 and kernel == 1:  # 0.2.0 wrote (1, 1) here, which Conv3D refuses
            _never_built(f"{kind} ({name})", "it passes the 2-D kernel (1, 1) to Conv3D",
                         "Build 3-D networks from keras.layers.Conv3D directly.")
        return _CONV[rank](width, kernel, strides=strides, use_bias=False, name=name,
                           kernel_initializer=KERNEL_INITIALIZER)

    def f(x):
        if bottleneck:
            y = conv_layer(filters, 1, stride, f"res{n}_branch2a")(x)
            y = _bn(axis, freeze_bn, f"bn{n}_branch2a")(y)
            y = layers.Activation("relu", name=f"res{n}_branch2a_relu")(y)
            y = pad(padding=1, name=f"padding{n}_branch2b")(y)
            y = conv_layer(filters, kernel_size, 1, f"res{n}_branch2b")(y)
            y = _bn(axis, freeze_bn, f"bn{n}_branch2b")(y)
            y = layers.Activation("relu", name=f"res{n}_branch2b_relu")(y)
            y = conv_layer(filters * 4, 1, 1, f"res{n}_branch2c")(y)
            y = _bn(axis, freeze_bn, f"bn{n}_branch2c")(y)
            out = filters * 4
        else:
            y = pad(padding=1, name=f"padding{n}_branch2a")(x)
            y = conv_layer(filters, kernel_size, stride, f"res{n}_branch2a")(y)
            y = _bn(axis, freeze_bn, f"bn{n}_branch2a")(y)
            y = layers.Activation("relu", name=f"res{n}_branch2a_relu")(y)
            y = pad(padding=1, name=f"padding{n}_branch2b")(y)
            y = conv_layer(filters, kernel_size, 1, f"res{n}_branch2b")(y)
            y = _bn(axis, freeze_bn, f"bn{n}_branch2b")(y)
            out = filters
        if block == 0:
            short = conv_layer(out, 1, stride, f"res{n}_branch1")(x)
            short = _bn(axis, freeze_bn, f"bn{n}_branch1")(short)
        else:
            short = x
        y = layers.Add(name=f"res{n}")([y, short])
        return layers.Activation("relu", name=f"res{n}_relu")(y)

    return f


def basic_2d(filters, stage=0, block=0, kernel_size=3, numerical_name=False, stride=None,
             freeze_bn=False):
    """0.2.0's two-dimensional basic block: two 3x3 convolutions (the first strides),
    each after a ``ZeroPadding2D(1)``, with BN; a projection shortcut in block 0.

    Args:
        filters: width of both convolutions (and of the block's output).
        stage, block: 0-based positions; they give the names and the default stride.
        kernel_size: of both convolutions.
        numerical_name: name blocks after the first ``b1, b2, ...`` instead of letters.
        stride: default 2 in block 0 of stages after the first, else 1.
        freeze_bn: :class:`keras_resnet.layers.BatchNormalization` with ``freeze``.

    Returns:
        A function mapping a 4-D tensor to the block's output.
    """
    return _make_block(2, False, filters, stage, block, kernel_size, numerical_name,
                       stride, freeze_bn)


def bottleneck_2d(filters, stage=0, block=0, kernel_size=3, numerical_name=False,
                  stride=None, freeze_bn=False):
    """0.2.0's two-dimensional bottleneck block: 1x1 (strides) -> 3x3 -> 1x1 with
    ``4 * filters`` outputs, BN after each; a projection shortcut in block 0. Arguments
    as :func:`basic_2d`."""
    return _make_block(2, True, filters, stage, block, kernel_size, numerical_name,
                       stride, freeze_bn)


def basic_1d(filters, stage=0, block=0, kernel_size=3, numerical_name=False, stride=None,
             freeze_bn=False):
    """0.2.0's one-dimensional basic block (``Conv1D``, ``ZeroPadding1D``; BN on the
    last axis): inputs ``(N, steps, channels)``. Arguments as :func:`basic_2d`."""
    return _make_block(1, False, filters, stage, block, kernel_size, numerical_name,
                       stride, freeze_bn)


def bottleneck_1d(filters, stage=0, block=0, kernel_size=3, numerical_name=False,
                  stride=None, freeze_bn=False):
    """0.2.0's one-dimensional bottleneck block. Arguments as :func:`basic_2d`."""
    return _make_block(1, True, filters, stage, block, kernel_size, numerical_name,
                       stride, freeze_bn)


def basic_3d(filters, stage=0, block=0, kernel_size=3, numerical_name=False, stride=None,
             freeze_bn=False):
    """0.2.0's three-dimensional basic block, as 0.2.0 wrote it: BN over axis 3 (a
    spatial axis of ``(N, D, H, W, C)``), and a shortcut ``Conv3D(filters, (1, 1))`` that
    Keras refuses, so block 0 (and so every 0.2.0 3-D model) never built; other blocks
    build as there. Arguments as :func:`basic_2d`.

    Raises:
        NeverBuiltError: when called on a tensor with ``block=0``.
    """
    return _make_block(3, False, filters, stage, block, kernel_size, numerical_name,
                       stride, freeze_bn)


def bottleneck_3d(filters, stage=0, block=0, kernel_size=3, numerical_name=False,
                  stride=None, freeze_bn=False):
    """0.2.0's three-dimensional bottleneck block; its 1x1 convolutions are
    ``Conv3D(filters, (1, 1))``, which Keras refuses, so it never built.

    Raises:
        NeverBuiltError: when called on a tensor.
    """
    return _make_block(3, True, filters, stage, block, kernel_size, numerical_name,
                       stride, freeze_bn)


def time_distributed_basic_2d(filters, stage=0, block=0, kernel_size=3,
                              numerical_name=False, stride=None, freeze_bn=False):
    """0.2.0's time-distributed basic block: :func:`basic_2d` applied to each frame of
    ``(N, T, H, W, C)``, every layer a ``TimeDistributed`` wrapper carrying 0.2.0's name
    (the wrapped layers are unnamed, as there). Arguments as :func:`basic_2d`."""
    stride = _default_stride(stage, block, stride)
    axis = _bn_axis(2)
    s, b = block_names(stage, block, numerical_name)
    n = f"{s}{b}"
    td = layers.TimeDistributed

    def conv(width, kernel, strides):
        return layers.Conv2D(width, kernel, strides=strides, use_bias=False,
                             kernel_initializer=KERNEL_INITIALIZER)

    def bn():
        return BatchNormalization(axis=axis, epsilon=1e-5, freeze=freeze_bn)

    def f(x):
        y = td(layers.ZeroPadding2D(padding=1), name=f"padding{n}_branch2a")(x)
        y = td(conv(filters, kernel_size, stride), name=f"res{n}_branch2a")(y)
        y = td(bn(), name=f"bn{n}_branch2a")(y)
        y = td(layers.Activation("relu"), name=f"res{n}_branch2a_relu")(y)
        y = td(layers.ZeroPadding2D(padding=1), name=f"padding{n}_branch2b")(y)
        y = td(conv(filters, kernel_size, 1), name=f"res{n}_branch2b")(y)
        y = td(bn(), name=f"bn{n}_branch2b")(y)
        if block == 0:
            short = td(conv(filters, (1, 1), stride), name=f"res{n}_branch1")(x)
            short = td(bn(), name=f"bn{n}_branch1")(short)
        else:
            short = x
        y = layers.Add(name=f"res{n}")([y, short])
        return td(layers.Activation("relu"), name=f"res{n}_relu")(y)

    return f


def time_distributed_bottleneck_2d(filters, stage=0, block=0, kernel_size=3,
                                   numerical_name=False, stride=None, freeze_bn=False):
    """0.2.0's time-distributed bottleneck block. Its shortcut BN (block 0) is Keras' own
    ``BatchNormalization`` given 0.2.0's ``freeze`` argument, which Keras rejects, so
    block 0 -- and every 0.2.0 model with this block (TimeDistributedResNet50 and
    deeper) -- never built; other blocks build as there. Arguments as :func:`basic_2d`.

    Raises:
        NeverBuiltError: when called on a tensor with ``block=0``.
    """
    stride = _default_stride(stage, block, stride)
    axis = _bn_axis(2)
    s, b = block_names(stage, block, numerical_name)
    n = f"{s}{b}"
    td = layers.TimeDistributed

    def conv(width, kernel, strides):
        return layers.Conv2D(width, kernel, strides=strides, use_bias=False,
                             kernel_initializer=KERNEL_INITIALIZER)

    def bn():
        return BatchNormalization(axis=axis, epsilon=1e-5, freeze=freeze_bn)

    def f(x):
        y = td(conv(filters, (1, 1), stride), name=f"res{n}_branch2a")(x)
        y = td(bn(), name=f"bn{n}_branch2a")(y)
        y = td(layers.Activation("relu"), name=f"res{n}_branch2a_relu")(y)
        y = td(layers.ZeroPadding2D(padding=1), name=f"padding{n}_branch2b")(y)
        y = td(conv(filters, kernel_size, 1), name=f"res{n}_branch2b")(y)
        y = td(bn(), name=f"bn{n}_branch2b")(y)
        y = td(layers.Activation("relu"), name=f"res{n}_branch2b_relu")(y)
        y = td(conv(filters * 4, (1, 1), 1), name=f"res{n}_branch2c")(y)
        y = td(bn(), name=f"bn{n}_branch2c")(y)
        if block == 0:
            _never_built(
                "time_distributed_bottleneck_2d with block=0 (and so "
                "TimeDistributedResNet50 and deeper)", "its shortcut passes freeze= to "
                "keras.layers.BatchNormalization, which takes no such argument",
                "time_distributed_basic_2d (TimeDistributedResNet18/34) builds.")
        y = layers.Add(name=f"res{n}")([y, x])
        return td(layers.Activation("relu"), name=f"res{n}_relu")(y)

    return f
