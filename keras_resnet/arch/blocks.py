"""The building blocks: conv-BN(-ReLU), basic and bottleneck residual functions, and
the three shortcut options. Stock Keras layers only, every layer named in
keras.applications' scheme, so models save and load without custom objects and run
on every Keras 3 backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
from keras import layers

from .specs import Unit


@dataclass(frozen=True)
class LayerOptions:
    """Settings shared by every layer of one model."""

    data_format: str = "channels_last"
    bn_epsilon: float = 1e-5
    bn_momentum: float = 0.9
    zero_init_residual: bool = False
    kernel_regularizer: Any = None
    stride_placement: str = "1x1"
    downsample: str = "conv"

    @property
    def channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1


def conv_kernel_initializer():
    # He et al. 2015 ("Delving deep") normal init, fan-out mode as torchvision uses.
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )


def conv_bn(x, filters, kernel_size, strides, name, opts: LayerOptions, *, relu=True,
            zero_gamma=False, dilation=1):
    """``{name}_conv`` -> ``{name}_bn`` -> ``{name}_relu``.

    A strided convolution wider than 1x1 gets explicit symmetric zero padding
    (``{name}_pad``) as in Caffe and PyTorch; Keras' ``padding="same"`` would pad
    only the bottom/right of an even-sized input and shift every feature map. A
    dilated one (stride 1, odd kernel) is padded ``dilation * (k - 1) / 2`` on every
    side by ``"same"``, as PyTorch's ``padding=dilation``.
    """
    padding = "same"
    if strides > 1 and kernel_size > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, data_format=opts.data_format,
                                 name=f"{name}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        use_bias=False,
        data_format=opts.data_format,
        kernel_initializer=conv_kernel_initializer(),
        kernel_regularizer=opts.kernel_regularizer,
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(
        axis=opts.channel_axis,
        epsilon=opts.bn_epsilon,
        momentum=opts.bn_momentum,
        gamma_initializer="zeros" if zero_gamma else "ones",
        name=f"{name}_bn",
    )(x)
    if relu:
        x = layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def basic_block(x, unit: Unit, opts: LayerOptions):
    """Two 3x3 convolutions (ResNet-18/34 and the CIFAR nets); the first one strides."""
    x = conv_bn(x, unit.width, 3, unit.stride, f"{unit.name}_1", opts,
                dilation=unit.first_dilation)
    return conv_bn(x, unit.out_channels, 3, 1, f"{unit.name}_2", opts, relu=False,
                   zero_gamma=opts.zero_init_residual, dilation=unit.dilation)


def bottleneck_block(x, unit: Unit, opts: LayerOptions):
    """1x1 reduce, 3x3, 1x1 expand (x4); the stride sits on the first 1x1 (v1, the
    paper) or on the 3x3 (v1.5, torchvision)."""
    s1, s3 = (unit.stride, 1) if opts.stride_placement == "1x1" else (1, unit.stride)
    x = conv_bn(x, unit.width, 1, s1, f"{unit.name}_1", opts)
    x = conv_bn(x, unit.width, 3, s3, f"{unit.name}_2", opts, dilation=unit.first_dilation)
    return conv_bn(x, unit.out_channels, 1, 1, f"{unit.name}_3", opts, relu=False,
                   zero_gamma=opts.zero_init_residual)


BLOCK_FUNCTIONS = {"basic": basic_block, "bottleneck": bottleneck_block}


def zero_pad_shortcut(x, unit: Unit, opts: LayerOptions):
    """Option A: parameter-free identity with stride-2 subsampling and zero channels.

    Subsampling is a 1x1 max pool with stride 2 (it picks every second pixel, the
    same pixels a strided 1x1 convolution reads). The new channels are zeros appended
    after the existing ones, done by a ZeroPadding2D that is told the opposite data
    format, so that its second padded axis is the channel axis.
    """
    if unit.stride > 1:
        x = layers.MaxPooling2D(1, strides=unit.stride, data_format=opts.data_format,
                                name=f"{unit.name}_0_pool")(x)
    extra = unit.out_channels - unit.in_channels
    if extra:
        if opts.data_format == "channels_last":  # (N, H, W, C): pad axes W and C
            x = layers.ZeroPadding2D(((0, 0), (0, extra)), data_format="channels_first",
                                     name=f"{unit.name}_0_pad")(x)
        else:  # (N, C, H, W): pad axes C and H
            x = layers.ZeroPadding2D(((0, extra), (0, 0)), data_format="channels_last",
                                     name=f"{unit.name}_0_pad")(x)
    return x


def avg_down(x, unit: Unit, opts: LayerOptions):
    """ResNet-D's downsampling before the projection's 1x1 conv (``{name}_0_pool``).

    Stride 2: a 2x2 average pool, ``"same"``: on an odd size the last row/column
    averages the pixels that exist, which is PyTorch's ``ceil_mode=True,
    count_include_pad=False`` (timm's ``nn.AvgPool2d``). In a dilated stage (stride 1)
    timm pools 2x2 with stride 1 after zero-padding the bottom/right by one (its
    ``AvgPool2dSame``, which counts those zeros), reproduced here exactly."""
    if unit.stride > 1:
        return layers.AveragePooling2D(2, strides=unit.stride, padding="same",
                                       data_format=opts.data_format,
                                       name=f"{unit.name}_0_pool")(x)
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), data_format=opts.data_format,
                             name=f"{unit.name}_0_pad")(x)
    return layers.AveragePooling2D(2, strides=1, data_format=opts.data_format,
                                   name=f"{unit.name}_0_pool")(x)


def shortcut(x, unit: Unit, opts: LayerOptions):
    if unit.shortcut == "identity":
        return x
    if unit.shortcut == "projection":
        stride = unit.stride
        if opts.downsample == "avg" and (unit.stride > 1 or unit.dilation > 1):
            x, stride = avg_down(x, unit, opts), 1
        return conv_bn(x, unit.out_channels, 1, stride, f"{unit.name}_0", opts,
                       relu=False)
    if unit.shortcut == "pad":
        return zero_pad_shortcut(x, unit, opts)
    raise ValueError(f"unknown shortcut kind {unit.shortcut!r}")


def residual_unit(x, unit: Unit, block: str, opts: LayerOptions):
    """y = relu(F(x) + shortcut(x)); a plain unit (shortcut None) is y = relu(F(x))."""
    if unit.shortcut is None:
        y = BLOCK_FUNCTIONS[block](x, unit, opts)
    else:  # shortcut first, as keras.applications orders its layers
        s = shortcut(x, unit, opts)
        y = layers.Add(name=f"{unit.name}_add")([s, BLOCK_FUNCTIONS[block](x, unit, opts)])
    return layers.Activation("relu", name=f"{unit.name}_out")(y)


def stem(x, family: str, filters: int, opts: LayerOptions, kind: str = "7x7"):
    """ImageNet: 7x7/2 conv + 3x3/2 max pool (conv1, pool1); the deep stem (ResNet-C/D)
    has three 3x3 convs instead, ``filters/2``, ``filters/2``, ``filters`` wide, the
    first strided (conv1_1, conv1_2, conv1_3). CIFAR: 3x3 conv (conv1)."""
    if family == "cifar":
        return conv_bn(x, filters, 3, 1, "conv1", opts)
    if kind == "deep":
        x = conv_bn(x, filters // 2, 3, 2, "conv1_1", opts)
        x = conv_bn(x, filters // 2, 3, 1, "conv1_2", opts)
        x = conv_bn(x, filters, 3, 1, "conv1_3", opts)
    else:
        x = conv_bn(x, filters, 7, 2, "conv1", opts)
    # Zero padding equals PyTorch's -inf padding here: the input is post-ReLU (>= 0).
    x = layers.ZeroPadding2D(1, data_format=opts.data_format, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, data_format=opts.data_format,
                               name="pool1_pool")(x)
