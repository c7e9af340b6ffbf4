"""The one builder: a :class:`ResNetSpec` plus keras.applications-style arguments
give a functional ``keras.Model``. Every argument is checked before any layer is made.
"""

from __future__ import annotations

import contextlib
import os
import sys

import keras
from keras import layers

from . import blocks
from .preprocessing import preprocessing_layers, resolve_preprocessing
from .pretrained.loading import plan_weights
from .specs import ResNetSpec, get_spec

POOLINGS = (None, "avg", "max")


def build(
    model,
    *,
    include_top: bool = True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int | None = None,
    classifier_activation="softmax",
    shortcut: str | None = None,
    stride_placement: str | None = None,
    zero_init_residual: bool = False,
    weight_decay: float = 0.0,
    bn_epsilon: float = 1e-5,
    bn_momentum: float = 0.9,
    include_preprocessing=False,
    name: str | None = None,
):
    """Build a network from its registry name or a :class:`ResNetSpec`.

    Args:
        model: a registry name (``"resnet50"``, ``"ResNet-50"``, ``"plain20"``; see
            :func:`list_models`) or a :class:`ResNetSpec` for a custom layout.
        include_top: whether to add global average pooling and the ``predictions``
            classifier. The top is size-agnostic, so any input size works with it.
        weights: ``None`` (random init); a registry tag (``"imagenet"`` picks the
            model's default source; see ``keras_resnet.pretrained.registry``), fetched
            once into the Keras cache and hash-checked; or a file path: a Keras 3
            ``.weights.h5`` saved from the same architecture, or a keras.applications
            ``.h5`` file (converted on load).
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: ``(H, W, C)`` (channels-last) or ``(C, H, W)`` (channels-first).
            ``H``/``W`` may be ``None`` for any size; defaults to the family's size
            (224x224x3 for ImageNet nets, 32x32x3 for CIFAR nets).
        pooling: without the top, ``None`` returns the last feature map, ``"avg"`` /
            ``"max"`` a global-pooled vector.
        classes: classifier size; defaults to 1000 (ImageNet nets) or 10 (CIFAR nets).
        classifier_activation: activation of ``predictions``; ``None`` gives logits.
            The classifier always computes in float32, also under mixed precision.
        shortcut: ``"A"``, ``"B"`` or ``"C"`` (residual nets only); defaults to the
            paper's choice (B for ImageNet, A for CIFAR).
        stride_placement: ``"1x1"``/``"v1"`` (paper, keras.applications; default) or
            ``"3x3"``/``"v1.5"`` (torchvision).
        zero_init_residual: start the last BN of every residual function at gamma = 0,
            so each unit starts as the identity.
        weight_decay: the paper's (coupled, Caffe-style) weight decay, attached as an
            L2 kernel regularizer of ``weight_decay / 2`` to every conv and the
            classifier, so its gradient is ``weight_decay * w``. It must be set here:
            regularizers set on layers after they are built do nothing.
        bn_epsilon, bn_momentum: BatchNormalization settings; the defaults 1e-5 and
            0.9 equal PyTorch's (eps 1e-5, momentum 0.1 in its convention).
        include_preprocessing: put the input normalisation inside the model, so that
            it takes raw RGB images with values 0-255 (any dtype; uint8 is cast), as a
            TFLite app has them. ``True`` uses the settings recorded for ``weights`` (a
            registry tag); or give ``"caffe"``, ``"torch"``, a weights tag such as
            ``"resnet50.tv_in1k"``, or a dict (``scale``, ``mean``, ``std``,
            ``channel_order``; ``mean``/``std`` per channel or per pixel). Adds the
            layers ``preprocess_normalize`` (and ``preprocess_bgr`` for Caffe weights).
        name: model name; defaults to the spec's name.
    """
    spec = _resolve_spec(model, shortcut, stride_placement)
    if classes is None:
        classes = spec.default_classes
    _check_options(spec, include_top, pooling, classes, zero_init_residual, weight_decay,
                   bn_epsilon, bn_momentum)
    data_format = keras.config.image_data_format()
    shape = _resolve_input_shape(spec, input_shape, input_tensor, data_format)
    channels = shape[-1] if data_format == "channels_last" else shape[0]
    preprocessing = resolve_preprocessing(include_preprocessing, spec.name, weights)
    spec, load_weights = plan_weights(
        spec, weights, include_top=include_top, classes=classes, channels=channels,
        stride_placement_given=stride_placement is not None)

    if input_tensor is None:
        inputs = keras.Input(shape=shape, name="input_layer")
        x = inputs
    elif keras.backend.is_keras_tensor(input_tensor):
        x = input_tensor
        inputs = keras.utils.get_source_inputs(input_tensor)
    else:
        inputs = keras.Input(tensor=input_tensor, shape=shape)
        x = inputs

    regularizer = keras.regularizers.L2(weight_decay / 2.0) if weight_decay else None
    opts = blocks.LayerOptions(
        data_format=data_format,
        bn_epsilon=bn_epsilon,
        bn_momentum=bn_momentum,
        zero_init_residual=zero_init_residual,
        kernel_regularizer=regularizer,
        stride_placement=spec.stride_placement,
    )
    if preprocessing is not None:
        x = preprocessing_layers(x, preprocessing, data_format)
    x = blocks.stem(x, spec.family, spec.stem_width, opts)
    for unit in spec.units():
        x = blocks.residual_unit(x, unit, spec.block, opts)

    if include_top:
        x = layers.GlobalAveragePooling2D(data_format=data_format, name="avg_pool")(x)
        x = layers.Dense(
            classes,
            activation=classifier_activation,
            kernel_regularizer=regularizer,
            dtype="float32",  # probabilities stay float32 under mixed precision
            name="predictions",
        )(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(data_format=data_format, name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(data_format=data_format, name="max_pool")(x)

    with deep_graph_recursion(spec):
        net = keras.Model(inputs, x, name=name or spec.name)
    if load_weights is not None:
        load_weights(net)
    return net


@contextlib.contextmanager
def deep_graph_recursion(spec):
    """Keras walks a functional graph recursively, a few frames per layer; ResNet-1202
    (~4,200 layers) needs more than Python's default limit of 1,000 frames."""
    old = sys.getrecursionlimit()
    needed = 10 * sum(spec.blocks_per_stage) + 1000
    sys.setrecursionlimit(max(old, needed))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


# --------------------------------------------------------------------- checks
def _resolve_spec(model, shortcut, stride_placement) -> ResNetSpec:
    if isinstance(model, ResNetSpec):
        spec = model
    elif isinstance(model, str):
        spec = get_spec(model)
    else:
        raise TypeError(
            f"model must be a registry name or a ResNetSpec, got {type(model).__name__}"
        )
    changes = {}
    if shortcut is not None:
        if not spec.residual:
            raise ValueError(
                f"{spec.name} is a plain network and has no shortcuts; "
                f"shortcut={shortcut!r} applies to residual networks only"
            )
        changes["shortcut"] = shortcut.upper() if isinstance(shortcut, str) else shortcut
    if stride_placement is not None:
        changes["stride_placement"] = stride_placement
    return spec.replace(**changes) if changes else spec  # replace validates the options


def _check_options(spec, include_top, pooling, classes, zero_init_residual, weight_decay,
                   bn_epsilon, bn_momentum):
    if not isinstance(include_top, bool):
        raise ValueError(f"include_top must be True or False, got {include_top!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"classes must be an integer >= 1, got {classes!r}")
    if zero_init_residual and not spec.residual:
        raise ValueError(
            f"zero_init_residual=True needs residual connections; in the plain network "
            f"{spec.name} it would zero every unit's output"
        )
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    if not bn_epsilon > 0:
        raise ValueError(f"bn_epsilon must be > 0, got {bn_epsilon!r}")
    if not 0 <= bn_momentum < 1:
        raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum!r}")


def _resolve_input_shape(spec, input_shape, input_tensor, data_format):
    """Return the input shape without the batch axis, in the active data format."""
    if input_tensor is not None:
        tensor_shape = tuple(input_tensor.shape)
        if len(tensor_shape) != 4:
            raise ValueError(
                f"input_tensor must be a batch of images (rank 4), got shape {tensor_shape}"
            )
        tensor_shape = tuple(None if d is None else int(d) for d in tensor_shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(
                f"input_shape {tuple(input_shape)} disagrees with input_tensor's shape "
                f"{tensor_shape}; pass only one of them"
            )
        input_shape = tensor_shape
    if input_shape is None:
        h, w, c = spec.default_input_shape
        return (h, w, c) if data_format == "channels_last" else (c, h, w)

    try:
        shape = tuple(input_shape)
    except TypeError:
        raise ValueError(f"input_shape must be a tuple like (224, 224, 3), got {input_shape!r}")
    layout = "(H, W, C)" if data_format == "channels_last" else "(C, H, W)"
    if len(shape) != 3:
        raise ValueError(
            f"input_shape must have 3 entries {layout} without the batch axis, got {shape}"
        )
    if data_format == "channels_last":
        h, w, c = shape
    else:
        c, h, w = shape
    if c is None or not isinstance(c, int) or c < 1:
        raise ValueError(f"the channel count must be a known integer >= 1, got {shape} {layout}")
    for d in (h, w):
        if d is not None and (not isinstance(d, int) or d < spec.total_stride):
            raise ValueError(
                f"input_shape {shape} is too small for {spec.name}: height and width must "
                f"be at least {spec.total_stride} (the network's total stride), or None"
            )
    return shape
