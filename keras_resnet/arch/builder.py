"""Network assembly: a :class:`ResNetSpec` and checked options give a functional
``keras.Model`` of stock Keras layers. Weights and registry look-ups happen a layer up,
in :func:`keras_resnet.zoo.build`, the public builder; the checks it runs before any
layer is made live here, beside the code whose inputs they check.
"""

from __future__ import annotations

import keras
from keras import layers

from ..io import deep_recursion
from . import blocks
from .specs import ResNetSpec, get_spec

POOLINGS = (None, "avg", "max")


def build_network(spec: ResNetSpec, shape, *, input_tensor=None, include_top=True,
                  pooling=None, classes=1000, classifier_activation="softmax",
                  zero_init_residual=False, weight_decay=0.0, bn_epsilon=1e-5,
                  bn_momentum=0.9, preprocessing=None, name=None):
    """The functional model of ``spec`` (arguments as :func:`keras_resnet.zoo.build`,
    already checked; ``shape`` from :func:`resolve_input_shape`, ``preprocessing`` a
    :class:`keras_resnet.Preprocessing` or None), randomly initialised, in the active image data format."""
    data_format = keras.config.image_data_format()
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
        downsample=spec.downsample,
    )
    if preprocessing is not None:
        x = preprocessing_layers(x, preprocessing, data_format)
    x = blocks.stem(x, spec.family, spec.stem_width, opts, spec.stem)
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

    # Keras walks the graph recursively, a few frames per layer: ResNet-1202 needs ~7,000.
    with deep_recursion(10 * sum(spec.blocks_per_stage) + 1000):
        return keras.Model(inputs, x, name=name or spec.name)


def preprocessing_layers(x, preprocessing, data_format: str):
    """Apply ``preprocessing`` (a :class:`keras_resnet.Preprocessing`, which this layer of
    the package takes as given rather than imports) inside a Keras graph: its
    :meth:`~keras_resnet.Preprocessing.layers`, ``preprocess_normalize`` and, for BGR
    weights, ``preprocess_bgr``. Neither holds a variable, so fine-tuning leaves the
    preprocessing exact."""
    for layer in preprocessing.layers(data_format):
        x = layer(x)
    return x


# --------------------------------------------------------------------- checks
def resolve_spec(model, shortcut, stride_placement, *, stem=None, stem_width=None,
                 downsample=None, output_stride=None) -> ResNetSpec:
    """The spec to build: ``model`` (a registry name or a spec) with the variant options
    that are not None applied (each checked by :class:`ResNetSpec`)."""
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
    if stem is not None:
        changes["stem"] = stem
    if stem_width is not None:
        changes["stem_width"] = stem_width
    if downsample is not None:
        changes["downsample"] = downsample
    if output_stride is not None:
        changes["output_stride"] = output_stride
    return spec.replace(**changes) if changes else spec  # replace validates the options


def check_options(spec, include_top, pooling, classes, zero_init_residual, weight_decay,
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


def resolve_input_shape(spec, input_shape, input_tensor, data_format, include_top=True):
    """Return the input shape without the batch axis, in the active data format.

    Without ``input_shape`` and ``input_tensor`` it is keras.applications' default
    (``imagenet_utils.obtain_input_shape``): any size with 3 channels without the top,
    the family's size with it."""
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
        if not include_top:
            h = w = None
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
