"""One serving form for any Keras image model, shared by every export and the Predictor.

A user's model may be a functional ResNet, a ``keras.Sequential`` that nests one, a
backbone whose outputs are a dict, or a model built under a mixed-precision policy.
:func:`serving_model` turns each of them into the same thing: a functional model with
one named image input (``images``, any batch size) and a dict of named float32
outputs. Every exporter writes that model, every runtime's outputs are compared with
it by name, and :class:`Signature` records what the caller needs to read them back.

Mixed precision: converters take float32 graphs (Keras' ONNX export requires a float32
policy; the TFLite converter fails on float16 convolutions), so a model with any
non-float32 layer policy is rebuilt from its config with float32 policies and the same
weights. The artifact is then a float32 file; it is compared with the user's
(mixed-precision) model at :func:`policy_rtol`.
"""

from __future__ import annotations

import dataclasses
import re

import typing
import warnings

import numpy as np

from ..pretrained.transforms import as_preprocessing

INPUT_NAME = "images"
# TensorFlow's rule for name scopes (tf.name_scope), which layer names become on export
_SCOPE_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
# what every format takes as a tensor / signature argument name
_INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FLOAT32_RTOL = 1e-4

# Relative tolerance (the project's rule, numerics.within_tolerance) between a float32
# artifact and the same weights computed under a mixed policy. Measured here on
# ResNet-20 (28x28) and ResNet-18 (64x64) with randomised BatchNorm statistics, 16
# random images: feature maps under mixed_float16 differ from float32 by at most
# 1.5e-3 x max|ref| (probabilities 9e-5), under mixed_bfloat16 by 1.5e-2 (3e-3); the
# bounds leave at least 4x room, and tests/deploy/test_user_models.py checks both policies.
POLICY_RTOL = {"float32": FLOAT32_RTOL, "mixed_float16": 1e-2, "float16": 1e-2,
               "mixed_bfloat16": 6e-2, "bfloat16": 6e-2}


@dataclasses.dataclass(frozen=True)
class Signature:
    """What a served model takes and returns.

    Attributes:
        input_name: the input's name in every artifact (``"images"``).
        input_shape: ``(H, W, C)`` (or ``(C, H, W)`` for channels_first), no batch axis;
            ``None`` where a size is free.
        input_dtype: ``"float32"``, or ``"uint8"`` for raw-image artifacts.
        output_names: names of the outputs, in the model's order.
        structure: ``"tensor"`` (one output, returned as an array), ``"dict"`` (the
            model returns a dict, e.g. a backbone's ``C2``..``C5``) or ``"list"``.
        policy: the model's dtype policy name (``"float32"``, ``"mixed_float16"``...).
        data_format: ``"channels_last"`` or ``"channels_first"``: the model's own layers'
            layout (not the global Keras setting, which may have changed since).
    """

    input_name: str
    input_shape: tuple
    input_dtype: str
    output_names: tuple
    structure: str
    policy: str
    data_format: str = "channels_last"

    @property
    def channels(self):
        return self.input_shape[0 if self.data_format == "channels_first" else -1]

    @property
    def rtol(self) -> float:
        return policy_rtol(self.policy)

    def pack(self, outputs: dict):
        """Outputs by name -> the structure the Keras model returns."""
        if self.structure == "tensor":
            return outputs[self.output_names[0]]
        if self.structure == "list":
            return [outputs[k] for k in self.output_names]
        return {k: outputs[k] for k in self.output_names}


def policy_rtol(policy: str) -> float:
    return POLICY_RTOL.get(policy, POLICY_RTOL["mixed_bfloat16"])


def _all_layers(model):
    return model._flatten_layers(include_self=False, recursive=True)


def model_data_format(model) -> str:
    """The layout the model's own layers compute in (the first layer that has a
    ``data_format``), else Keras' global setting."""
    import keras

    for layer in _all_layers(model):
        fmt = getattr(layer, "data_format", None)
        if fmt in ("channels_last", "channels_first"):
            return fmt
    return keras.config.image_data_format()


def model_policy(model) -> str:
    """The one non-float32 policy among the model's layers, or ``"float32"``."""
    names = {getattr(l.dtype_policy, "name", "float32") for l in _all_layers(model)
             if not l.__class__.__name__ == "InputLayer"}
    names.discard("float32")
    if len(names) > 1:
        raise ValueError(f"the model mixes dtype policies {sorted(names)}; export a model "
                         "built under one policy")
    return names.pop() if names else "float32"


def check_model(model):
    """A clear error for anything the exporters cannot serve; returns the input tensor."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(model).__name__}; build one with "
                        "keras_resnet.build(...) or keras_resnet.load_pretrained(tag)")
    try:
        inputs = model.inputs
    except AttributeError:
        inputs = None
    if not inputs:
        raise ValueError(
            f"model {model.name!r} has no defined input (a subclassed model, or a Sequential "
            "without keras.Input): build it on keras.Input((H, W, C)), e.g. "
            "keras.Sequential([keras.Input((32, 32, 3)), ...])")
    if len(inputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(inputs)} inputs; the exporters and "
                         "the Predictor serve image models with one input")
    if len(inputs[0].shape) != 4:
        raise ValueError(f"model {model.name!r} takes inputs of shape {inputs[0].shape}; "
                         "expected a batch of images (N, H, W, C)")
    layers = list(_all_layers(model))
    # (the input layer is replaced by the serving input, so its name does not matter)
    bad = [l.name for l in [model, *layers] if not _SCOPE_NAME.match(l.name)
           and l.__class__.__name__ != "InputLayer"]
    if bad:
        raise ValueError(f"names {bad} (of model {model.name!r} or its layers) are not valid "
                         "TensorFlow name scopes, which every exporter needs: use letters, "
                         "digits and _ . - / only (e.g. rename 'dense one' to 'dense_one')")
    return inputs[0]


def float32_copy(model):
    """The same network and weights with every layer's policy set to float32."""
    import keras

    def fix(obj):
        if isinstance(obj, dict):
            if obj.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and \
                    isinstance(obj.get("config"), dict):
                return {**obj, "config": {**obj["config"], "name": "float32"}}
            return {k: ("float32" if k == "dtype" and isinstance(v, str)
                        and v in POLICY_RTOL else fix(v)) for k, v in obj.items()}
        if isinstance(obj, list):
            return [fix(v) for v in obj]
        return obj

    config = fix(keras.saving.serialize_keras_object(model))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    # The config was made a moment ago from the caller's own live model, not read from a
    # file: Lambda layers may be rebuilt (safe_mode=False), and the model's own layer
    # classes are handed over, so a custom class need not be registered.
    classes = {l.__class__.__name__: l.__class__ for l in _all_layers(model)}
    try:
        with keras.saving.custom_object_scope(classes):
            copy = keras.saving.deserialize_keras_object(config, safe_mode=False)
    except Exception as e:
        raise ValueError(
            f"model {model.name!r} runs under the {model_policy(model)!r} policy; the "
            "exporters rebuild it in float32 from its config, which failed "
            f"({type(e).__name__}: {str(e).strip().splitlines()[0][:200]}). Give its "
            "custom layers a get_config() that rebuilds them, or build the model under "
            "the float32 policy to export it") from None
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights([np.asarray(w, "float32") for w in model.get_weights()])
    return copy


def is_augmentation(layer) -> bool:
    """Keras' random preprocessing layers (``RandomFlip``, ``RandomRotation``,
    ``RandomCrop``...): they change images in training only and are the identity at
    inference."""
    import keras

    base = getattr(keras.layers, "RandomFlip", None)
    kind = layer.__class__.__name__
    return kind.startswith("Random") and (base is None or any(
        c.__name__ in ("BaseImagePreprocessingLayer", "TFDataLayer")
        for c in type(layer).__mro__))


def without_augmentation(model):
    """``model`` with every augmentation layer (:func:`is_augmentation`) replaced by
    ``Identity``, which is what it computes at inference, sharing all other layers
    and their weights; ``model`` itself when it has none. A model built as Keras'
    transfer-learning guide builds one (a ``Sequential`` of ``RandomFlip`` /
    ``RandomRotation`` in front of the network) then converts and serves like any
    other: the converters need not see the random ops."""
    import keras

    if not any(is_augmentation(l) for l in _all_layers(model)):
        return model

    def clone(layer):
        if is_augmentation(layer):
            return keras.layers.Identity(name=layer.name)
        return layer  # shared: same weights

    try:
        return keras.models.clone_model(model, clone_function=clone, recursive=True)
    except Exception as e:  # noqa: BLE001 - a subclassed model cannot be cloned
        names = [l.name for l in _all_layers(model) if is_augmentation(l)]
        raise ValueError(
            f"model {model.name!r} holds data-augmentation layers {names}, the identity at "
            f"inference, and could not be rebuilt without them ({type(e).__name__}: "
            f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}): build an "
            "inference model that skips them") from None


def _named(model, y):
    """(structure, {name: tensor}) for the model's symbolic output ``y``."""
    if isinstance(y, dict):
        return "dict", dict(y)
    names = list(getattr(model, "output_names", None) or [])
    if isinstance(y, (list, tuple)):
        if len(names) != len(y):
            names = [f"output_{i}" for i in range(len(y))]
        return "list", dict(zip(names, y))
    name = names[0] if names else (model.layers[-1].name if model.layers else "output_0")
    return "tensor", {name: y}


def serving_model(model, *, input_name: str = INPUT_NAME, raw_uint8: bool = False,
                  batch_size: int | None = None):
    """``(serving, signature)``: a functional float32 model over ``model`` with one input
    named ``input_name`` and a dict of float32 outputs named like the model's.

    Args:
        model: any ``keras.Model`` with one 4-D image input (functional, Sequential,
            nested, dict outputs, mixed precision).
        raw_uint8: the input is uint8 images, cast to float32 inside; only for a model
            that normalises its input itself (``include_preprocessing``).
        batch_size: fix the batch axis (TFLite); ``None``: any batch.

    Raises:
        TypeError, ValueError: for a model the exporters cannot serve (said which and why).
    """
    import keras

    tensor = check_model(model)
    if not isinstance(input_name, str) or not _INPUT_NAME.match(input_name):
        raise ValueError(f"input_name must be letters, digits and _ (not starting with a "
                         f"digit), e.g. 'images'; got {input_name!r}")
    # (the model's own input layer is replaced by the serving input: its name is free)
    taken = {l.name for l in _all_layers(model)
             if l.__class__.__name__ != "InputLayer"} | {model.name}
    if input_name in taken:
        raise ValueError(f"input_name {input_name!r} is also the name of model "
                         f"{model.name!r} or one of its layers; names in the served graph "
                         "must be unique: pass another input_name=")
    if str(getattr(tensor, "dtype", "float32")) == "uint8":
        raw_uint8 = True  # the model itself takes uint8 images
    elif raw_uint8 and not any(l.name == "preprocess_normalize" for l in _all_layers(model)):
        raise ValueError("raw_uint8=True needs a model that normalises its input itself: "
                         "build it with include_preprocessing=... (or pass "
                         "include_preprocessing= to the export)")
    policy = model_policy(model)
    inner = float32_copy(model) if policy != "float32" else model
    inner = without_augmentation(inner)
    shape = tuple(tensor.shape[1:])
    dtype = "uint8" if raw_uint8 else "float32"
    # uint8 images go in as they are: the model's preprocess_normalize (a Rescaling
    # layer) casts them to float first
    images = keras.Input(shape, batch_size=batch_size, dtype=dtype, name=input_name)
    structure, outputs = _named(model, inner(images))
    # float32 casts named so that they cannot collide with the model's own layers
    cast, n = "serving_out", 0
    while any(name.startswith(cast) for name in taken):
        n += 1
        cast = f"serving{n}_out"
    outputs = {k: keras.layers.Activation("linear", dtype="float32", name=f"{cast}_{i}")(v)
               for i, (k, v) in enumerate(outputs.items())}
    serving = keras.Model(images, outputs, name=f"{model.name}_serving")
    return serving, Signature(input_name, shape, dtype, tuple(outputs), structure, policy,
                              model_data_format(model))


def keras_call(model):
    """``model(x, training=False)`` compiled as its backend compiles inference: a
    ``tf.function`` under TensorFlow, ``jax.jit`` of the stateless call under JAX (over
    the weights as they are now), the plain call elsewhere. Takes a numpy batch; returns
    what the model returns, as backend tensors."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        fn = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=False)[0])
        return lambda x: fn(trainable, non_trainable, x)
    return lambda x: model(x, training=False)


def check_preprocessing_fits(p, input_shape: tuple, data_format: str, model_name: str,
                             settings=None):
    """ValueError unless the preprocessing ``p`` (a :class:`~keras_resnet.Preprocessing`)
    is made for images of ``input_shape`` (no batch axis): its channel count, and for a
    per-pixel mean its height and width. ``settings``: what the caller gave (a tag
    or mode is named in the message)."""
    p.check_fits(input_shape, data_format, f"model {model_name!r}",
                 label=repr(settings) if isinstance(settings, str) else None)


def with_preprocessing(model, settings):
    """``model`` behind its input normalisation: the returned model takes raw 0-255
    images (uint8 or float, the shape ``model`` takes), applies ``settings`` with
    :meth:`keras_resnet.Preprocessing.layers`, then ``model``; its outputs
    keep ``model``'s names. What the exports' ``include_preprocessing=`` and
    ``keras-resnet export --include-preprocessing`` use.

    Args:
        settings: a :class:`~keras_resnet.Preprocessing`, ``"caffe"``, ``"torch"``,
            ``"tf"``, a weights tag (its registry record, per-pixel means included), or a dict with ``scale``, ``mean``, ``std``,
            ``channel_order`` (as in the registry; ``mean`` may be an (H, W, C) array).

    Raises:
        ValueError: settings it does not know (says what it takes).
    """
    import keras

    p = as_preprocessing(settings)
    tensor = check_model(model)
    data_format = model_data_format(model)
    check_preprocessing_fits(p, tuple(tensor.shape[1:]), data_format, model.name, settings)
    raw = keras.Input(tuple(tensor.shape[1:]), name="raw_images")
    x = raw
    for layer in p.layers(data_format):
        x = layer(x)
    structure, outputs = _named(model, model(x))
    if structure != "dict":  # keep the inner model's output names
        outputs = {k: keras.layers.Identity(name=k)(v) for k, v in outputs.items()}
    y = {"dict": outputs, "list": list(outputs.values()),
         "tensor": next(iter(outputs.values()))}[structure]
    return keras.Model(raw, y, name=model.name)


def check_batch_shape(x, input_shape, data_format="channels_last", what="images"):
    """Raise ValueError, saying what to change, unless ``x`` (an array) is a non-empty
    batch of ``input_shape`` (no batch axis; ``None`` where a size is free) with real
    numbers in it. ``data_format`` only shapes the hint for a missing channel axis."""
    if x.dtype.kind not in "uif":
        raise ValueError(f"{what}: expected real numbers (float or integer pixels), got "
                         f"dtype {x.dtype}")
    shape = tuple(input_shape)
    if x.ndim != len(shape) + 1 or any(s is not None and s != d
                                       for s, d in zip(shape, x.shape[1:])):
        want = ", ".join("any" if s is None else str(s) for s in shape)
        def fits(dims, want):
            return len(dims) == len(want) and all(s in (None, d) for s, d in zip(want, dims))

        first = data_format == "channels_first"
        channels = shape[0 if first else -1] if shape else None
        no_channel = shape[1:] if first else shape[:-1]
        hint = ""
        if fits(x.shape, shape):
            hint = " (one image? add a batch axis: x[None])"
        elif channels == 1 and fits(x.shape[1:], no_channel):
            axis = "x[:, None]" if first else "x[..., None]"
            hint = f" (grayscale images need a channel axis: {axis})"
        elif channels == 1 and fits(x.shape, no_channel):
            axis = "x[None, None]" if first else "x[None, ..., None]"
            hint = f" (one grayscale image? add a batch and a channel axis: {axis})"
        raise ValueError(f"{what}: expected a batch of shape (N, {want}), got {x.shape}{hint}")
    if len(x) == 0:
        raise ValueError(f"{what}: the batch is empty; give at least one image")


def check_uint8_values(x, what="images"):
    """Raise ValueError unless every value of ``x`` is a whole number in 0..255 (what a
    raw-image input takes); uint8 arrays pass without a look."""
    if x.dtype != np.uint8 and (np.any(x < 0) or np.any(x > 255)
                                or np.any(x != np.round(x))):
        raise ValueError(f"{what}: this model takes raw uint8 images, but the values are "
                         f"not integers in 0..255 (min {x.min():.3g}, max {x.max():.3g}); "
                         "give the images as stored, before any normalisation")


def _first_layer(model):
    """The model's first layer that changes pixel values at inference: looking into
    nested models (a ``Sequential`` around a network, an augmentation block in front of
    it) and past the layers that keep the pixels' scale (augmentation, the identity at
    inference: :func:`is_augmentation`; ``Resizing``, ``CenterCrop``), so that
    Keras' transfer-learning pattern (augmentation, then ``Rescaling``) is seen as
    normalising inside. None for a model without such a layer."""
    import keras

    keeps_scale = tuple(getattr(keras.layers, n) for n in ("Resizing", "CenterCrop")
                        if hasattr(keras.layers, n))
    for layer in getattr(model, "layers", ()):
        if (isinstance(layer, keras.layers.InputLayer) or is_augmentation(layer)
                or isinstance(layer, keeps_scale)):
            continue
        if isinstance(layer, keras.Model):
            inner = _first_layer(layer)
            if inner is None:  # an augmentation block: the network comes after it
                continue
            return inner
        return layer
    return None


def normalises_inside(model) -> bool:
    """Whether the model's first layer after its input rescales or normalises (what
    ``build(..., include_preprocessing=...)`` puts there), looking into nested models
    (a ``Sequential`` around such a model): raw pixels, cast to float, are then its
    input."""
    return first_layer(model).normalises


def _affine(layer):
    """``(scale, offset)`` (float64 arrays, broadcast to one shape) of a ``Rescaling``
    or an adapted ``Normalization`` (``1 / std``, ``-mean / std``): ``x * scale +
    offset`` is what it computes; None for any other layer."""
    import keras

    def arr(v):
        return np.asarray(keras.ops.convert_to_numpy(v), "float64").ravel()

    if isinstance(layer, keras.layers.Rescaling):
        return np.broadcast_arrays(arr(layer.scale), arr(layer.offset))
    variance = getattr(layer, "variance", None)
    if not isinstance(layer, keras.layers.Normalization) or variance is None:
        return None
    spread = np.sqrt(arr(variance))
    scale = 1 / np.maximum(spread, 1e-6)
    return np.broadcast_arrays(scale, -arr(layer.mean) * scale)


# A first layer that multiplies by at most this (or divides by a spread of at least its
# inverse) brings 0-255 into a few units: what build(..., include_preprocessing=...)
# puts there (1/255 to 1/(255 x 0.225) in torch mode). A Rescaling(255) in front of a
# network (inputs in [0, 1]) or a Normalization adapted on data of unit scale is not.
PIXEL_SCALE = 1 / 20


def takes_0_255(model) -> bool:
    """Whether the model normalises 0-255 pixels in its first layer
    (:func:`normalises_inside`, with a scale that brings 0-255 into a few units:
    :data:`PIXEL_SCALE`, or taking off a mean of pixel scale, 1/PIXEL_SCALE or more, as
    caffe mode does at scale 1): floats that look normalised already are then refused
    (:func:`check_raw_pixels`)."""
    return first_layer(model).pixels


# Preprocessed values stay within a few units of zero ([-2.2, 2.7] in torch mode, [-1, 1]
# in tf mode): a batch that never goes above this is not 0-255 pixels, and one that goes
# above it is not preprocessed (caffe mode, on the pixels' own scale, aside).
PIXEL_FLOOR = 20.0


class FirstLayer(typing.NamedTuple):
    """What a model's first value-changing layer (:func:`_first_layer`) says about the
    input values it takes: ``normalises`` (:func:`normalises_inside`), ``pixels``
    (:func:`takes_0_255`: 0-255 pixels, integer or float) and ``bound``: for a first
    layer that rescales or normalises with a scale that does not bring 0-255 into a few
    units (a ``Rescaling(2, offset=-1)`` or ``Rescaling(255)`` for [0, 1] inputs, a
    ``Normalization`` adapted on such data), the highest input value of the scale it
    was made for, :data:`PIXEL_FLOOR` divided by the smallest scale where that is below
    1: above it, values look like raw pixels; ``inf`` otherwise."""

    normalises: bool
    pixels: bool
    bound: float


def first_layer(model) -> FirstLayer:
    """The :class:`FirstLayer` of ``model`` (its first layer found and read once)."""
    import keras

    layer = _first_layer(model)
    normalises = isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization))
    affine = _affine(layer) if normalises else None
    if affine is None or not affine[0].size:
        return FirstLayer(normalises, False, float("inf"))
    scale, offset = np.abs(affine[0]), affine[1]
    # it brings 0-255 into a few units, or takes off a mean of pixel scale (caffe mode:
    # scale 1, offset -mean)
    centre = np.abs(offset / np.where(scale == 0, np.inf, scale))
    pixels = (float(scale.max()) <= PIXEL_SCALE or float(centre.max()) >= 1 / PIXEL_SCALE)
    bound = float("inf")
    if not pixels and float(scale.min()) > 0:
        bound = PIXEL_FLOOR / min(1.0, float(scale.min()))
    return FirstLayer(normalises, pixels, bound)


def raw_pixel_bound(preprocessing) -> float:
    """The highest value :func:`check_preprocessed` lets through for ``preprocessing``:
    the top of :meth:`~keras_resnet.Preprocessing.value_range` plus the range's width,
    and at least :data:`PIXEL_FLOOR`; ``inf`` for None or a preprocessing that leaves
    pixels alone."""
    if preprocessing is None or preprocessing.is_identity:
        return float("inf")
    low, high = preprocessing.value_range()
    return max(high + (high - low), PIXEL_FLOOR)


def looks_like_pixels(low: float, high: float) -> bool:
    """Whether a float batch whose values span ``[low, high]`` can be 0-255 pixels
    without a further look: nothing negative and something above 1, or something above
    :data:`PIXEL_FLOOR` (a resize's overshoot may dip below 0). Batches within [0, 1]
    need :func:`check_raw_pixels`' look at fractions."""
    return (low >= 0 and high > 1) or high > PIXEL_FLOOR


def check_raw_pixels(x, what="images", how="pass the pixels as they are (0-255)"):
    """Raise ValueError where ``x`` (float, for a model that takes 0-255 pixels and
    normalises them in its first layer) looks normalised already, which would run and
    answer for the wrong input:

    * negative values with nothing above :data:`PIXEL_FLOOR`: mean/std or [-1, 1]
      scaling (pixels are never negative; a resize's small overshoot comes with the
      rest of the image's range, up to 255);
    * fractions within [0, 1]: ``x / 255``.

    A batch of whole numbers within [0, 1] (an all-black image) passes; so do NaN and
    inf, which :func:`check_batch` refuses by name."""
    if x.dtype.kind != "f" or not x.size:
        return
    low, high = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(low) and np.isfinite(high)) or looks_like_pixels(low, high):
        return
    if low < 0:
        raise ValueError(
            f"{what}: values in [{low:.3g}, {high:.3g}], but this model takes 0-255 pixels "
            "and normalises them in its first layer: these look normalised already "
            f"(pixels are never negative); {how}")
    if np.any(x != np.round(x)):
        raise ValueError(
            f"{what}: fractions in [{low:.3g}, {high:.3g}], but this model takes 0-255 "
            "pixels and normalises them in its first layer: these look scaled to [0, 1] "
            f"already (x / 255); {how}")


# A preprocessing whose output for 0-255 pixels goes below this takes a mean off (torch,
# tf and caffe modes, a per-pixel mean): its images have negative values somewhere.
SCALED_MARGIN = 0.1
# From this many images on, a batch within [0, 1] with nothing negative for such a
# preprocessing is refused (x / 255 without the mean); fewer get a warning: a single very
# bright photo can stay above the mean everywhere.
SCALED_MIN_IMAGES = 8


def takes_negatives(preprocessing) -> bool:
    """Whether ``preprocessing`` (or None) makes some 0-255 pixels into values below
    ``-SCALED_MARGIN``: it subtracts a mean, and its images are never all >= 0."""
    return (preprocessing is not None and not preprocessing.is_identity
            and preprocessing.value_range()[0] < -SCALED_MARGIN)


def check_preprocessed(x, preprocessing, what="images", how="preprocess them first"):
    """Raise ValueError where ``x`` (float, for a network that takes ``preprocessing``'s
    output) holds values no 0-255 pixel becomes, which would run and answer for the
    wrong input:

    * above :func:`raw_pixel_bound`: raw pixels cast to float (0-255 where e.g.
      torch-mode values lie in [-2.2, 2.7]); caffe-mode values share the pixels' scale
      and are not told apart from them;
    * within [0, 1], fractions, nothing negative, for a preprocessing that subtracts a
      mean (:func:`takes_negatives`): pixels scaled by 1/255 with the mean (and std)
      left out, the usual mistake; from :data:`SCALED_MIN_IMAGES` images on, a warning
      below that.

    A preprocessing that leaves pixels alone checks nothing."""
    if preprocessing is None or preprocessing.is_identity or x.dtype.kind != "f" or not x.size:
        return
    low, high = preprocessing.value_range()
    top = float(np.max(x))  # NaN and inf are refused by check_batch, with their name
    if np.isfinite(top) and top > raw_pixel_bound(preprocessing):
        raise ValueError(
            f"{what}: values up to {top:.4g}, but {preprocessing.mode} preprocessing makes "
            f"pixels 0-255 into [{low:.3g}, {high:.3g}]: these look like raw pixels cast to "
            f"float; {how}")
    bottom = float(np.min(x))
    if (takes_negatives(preprocessing) and 0 <= bottom and top <= 1
            and np.any(x != np.round(x))):
        message = (
            f"{what}: values in [{bottom:.3g}, {top:.3g}], none negative, but "
            f"{preprocessing.mode} preprocessing makes pixels 0-255 into [{low:.3g}, "
            f"{high:.3g}] (it subtracts a mean): these look like pixels scaled to [0, 1] "
            f"(x / 255) with the mean left out; {how}")
        images = len(x) if x.ndim == 4 else 1
        if images >= SCALED_MIN_IMAGES:
            raise ValueError(message)
        warnings.warn(f"{message} (from {SCALED_MIN_IMAGES} images on this is an error)",
                      stacklevel=3)


def as_image_array(x, what="images"):
    """``x`` (an array, or a list of images) as one numpy array, with a clear error for
    what numpy would stack wrongly or refuse in its own words: file paths (nothing here
    decodes files) and a list of images of different sizes.

    Raises:
        ValueError: paths, or images of different shapes (said with what to do)."""
    import os

    paths = (str, bytes, os.PathLike)
    if isinstance(x, paths) or (isinstance(x, (list, tuple)) and x
                                and isinstance(x[0], paths)):
        raise ValueError(
            f"{what}: got file paths; this takes decoded images (N, H, W, C): read them "
            "first, e.g. keras_resnet.data.images.read_image(path), resized to the input "
            "size with keras_resnet.data.images.resize_to(image, (H, W)); `keras-resnet "
            "predict FILES` reads and classifies files")
    try:
        return np.asarray(x)
    except ValueError as e:
        if not isinstance(x, (list, tuple)):
            raise
        shapes = sorted({tuple(np.shape(i)) for i in x}, key=str)
        raise ValueError(
            f"{what}: a list of images of different shapes ({', '.join(map(str, shapes[:4]))}"
            f"{', ...' if len(shapes) > 4 else ''}): resize each to the input size first, "
            "e.g. keras_resnet.data.images.resize_to(image, (H, W))") from e


def random_images(signature, takes_pixels: bool, n: int, seed: int = 0):
    """``n`` seeded random images as the model takes them, for a check when the caller
    gave none (an export's or the Predictor's verification): uint8 0-255 for a uint8
    input, float32 0-255 for a model that normalises 0-255 pixels in its first layer
    (``takes_pixels``: :func:`takes_0_255`), float32 uniform in [-1, 1] (the scale of a
    preprocessed image) otherwise. A free size (None) is taken as 224. They show a
    conversion that breaks the network, not an accuracy loss on real images."""
    rng = np.random.default_rng(seed)
    shape = (n, *(224 if d is None else d for d in signature.input_shape))
    if signature.input_dtype == "uint8":
        return rng.integers(0, 256, shape).astype("uint8")
    low, high = (0, 255) if takes_pixels else (-1, 1)
    return rng.uniform(low, high, shape).astype("float32")


def check_image_values(x, signature, preprocessing, inside, what, fix):
    """Raise ValueError where the batch ``x`` (numpy) holds values the model never takes,
    values that would run and answer (or calibrate and check a reduced-precision file)
    for the wrong input. One rule set for everything that takes images for a model: the
    Predictor's calls, calibration and verification images; the exporters'
    ``verify_images`` and ``representative_data``.

    * integer pixels for a float model that does not normalise them itself and whose
      ``preprocessing`` is not known, or is not the identity;
    * pixels (integers, or 0-255 floats by :func:`check_preprocessed`) for a model that
      takes ``preprocessing``'s output;
    * normalised floats (:func:`check_raw_pixels`) for a model that normalises 0-255
      pixels in its first layer;
    * integer pixels, or floats above its :attr:`FirstLayer.bound`, for a model whose
      first layer rescales values of another scale (such as [0, 1]).

    Args:
        x: the images (numpy), as the model takes them.
        signature: the model's :class:`Signature` (a uint8 input takes pixels: no check).
        preprocessing: a :class:`~keras_resnet.Preprocessing` or None (not known).
        inside: the model's :class:`FirstLayer` (:func:`first_layer`).
        what: the argument's name, first in every message.
        fix: ``{"preprocess": ..., "unknown": ..., "raw": ...}``: what the caller should
            do when pixels need preprocessing, when nothing says how, and when the
            values look normalised already."""
    if signature.input_dtype == "uint8":
        return
    if inside.pixels:  # takes 0-255 pixels (integer or float) as they are
        check_raw_pixels(x, what, fix["raw"])
        return
    if inside.normalises:  # from values of another scale, such as [0, 1]
        if x.dtype.kind in "iu":
            raise ValueError(
                f"{what}: {x.dtype} pixels, but this model's first layer rescales values of "
                "about unit scale, not 0-255 pixels: pass them scaled as the model was "
                "trained on (e.g. images / 255 for [0, 1] inputs)")
        top = float(np.max(x)) if x.size else 0.0
        if np.isfinite(top) and top > inside.bound:
            raise ValueError(
                f"{what}: values up to {top:.4g}, but this model's first layer rescales "
                f"values of about unit scale (up to {inside.bound:.3g} at most): these look "
                "like raw pixels cast to float; pass them scaled as the model was trained "
                "on (e.g. images / 255 for [0, 1] inputs)")
        return
    if x.dtype.kind in "iu" and preprocessing is None:
        raise ValueError(
            f"{what}: {x.dtype} pixels, but this model takes float32 images and nothing says "
            "how they are made from pixels: give preprocessing= (a weights tag, a run's "
            "load_trained(...).preprocessing or a keras_resnet.Preprocessing) and "
            f"{fix['unknown']}; if the model takes 0-255 values as they are, pass "
            f"{what}.astype('float32')")
    if preprocessing is None:
        return
    if x.dtype.kind in "iu" and not preprocessing.is_identity:
        raise ValueError(f"{what}: {x.dtype} pixels, but this model takes preprocessed float "
                         f"images ({preprocessing.mode} preprocessing): {fix['preprocess']}")
    check_preprocessed(x, preprocessing, what, fix["preprocess"])


# The most images as_batch gathers from a dataset or an iterable: calibration and
# verification take hundreds to a few thousand; more is a dataset meant to be cut.
MAX_GATHERED = 100_000


def as_batch(images, what="images"):
    """``images`` as one numpy batch: an array-like as it is, or the images of a
    ``tf.data.Dataset`` or any other iterable of images or of batches (with or without
    labels: ``(images, labels)`` elements and tensorflow-datasets' ``{"image": ...,
    "label": ...}`` dicts give their images), stacked.

    Raises:
        ValueError: a path (read the images first: the command line's ``--calibration``
            takes a folder), an infinite dataset or more than :data:`MAX_GATHERED`
            images (cut it with ``.take(n)``), elements of different sizes or dtypes."""
    import os

    if isinstance(images, (str, bytes, os.PathLike)):
        raise ValueError(
            f"{what}: got the path {os.fspath(images)!r}; this takes an array of images as "
            "the model takes them (N, H, W, C), or a dataset of them: read a folder with "
            "keras.utils.image_dataset_from_directory (mapped through the model's "
            "preprocessing, if it has one outside), or use the command line's "
            "--calibration FOLDER")
    if isinstance(images, np.ndarray) or np.isscalar(images):
        return images
    if hasattr(images, "shape") and hasattr(images, "dtype"):  # a tensor
        return np.asarray(images)
    gathered = None
    if hasattr(images, "element_spec") and hasattr(images, "cardinality"):  # tf.data
        import tensorflow as tf

        if int(images.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
            raise ValueError(f"{what}: an infinite tf.data.Dataset (repeat()); cut it with "
                             ".take(n), e.g. a few hundred images")
        gathered = images.as_numpy_iterator()
    elif not isinstance(images, (list, tuple)) and hasattr(images, "__iter__"):
        gathered = iter(images)
    if gathered is None:
        try:
            return np.asarray(images)
        except ValueError as e:  # a ragged list
            raise ValueError(f"{what}: the images are not one batch of equal-sized arrays "
                             f"({e}); give an array (N, H, W, C)") from None
    parts, count = [], 0
    for element in gathered:
        if isinstance(element, (tuple, list)) and len(element) in (2, 3):
            element = element[0]  # (images, labels[, weights])
        if isinstance(element, dict):  # tensorflow-datasets' default: {"image", "label"}
            key = next((k for k in ("image", "images") if k in element), None)
            if key is None:
                raise ValueError(f"{what}: the dataset yields dicts with keys "
                                 f"{sorted(element)}, none of them 'image': map it to the "
                                 "images, e.g. ds.map(lambda d: d['<key>'])")
            element = element[key]
        element = np.asarray(element)
        parts.append(element)
        count += len(element) if element.ndim == 4 else 1
        if count > MAX_GATHERED:
            raise ValueError(f"{what}: more than {MAX_GATHERED} images; cut the dataset "
                             "with .take(n) (a few hundred calibrate int8)")
    if not parts:
        raise ValueError(f"{what}: the dataset holds no images")
    ranks = {p.ndim for p in parts}
    try:
        if ranks == {4}:  # batches
            return np.concatenate(parts)
        return np.stack(parts)  # one image per element
    except ValueError as e:
        raise ValueError(f"{what}: the dataset's elements do not form one batch ({e})") from None


def check_batch(x, signature: Signature, what: str = "images"):
    """``x`` as an array of the signature's dtype; a clear error for a wrong shape."""
    x = np.asarray(x)
    check_batch_shape(x, signature.input_shape, signature.data_format, what)
    if signature.input_dtype == "uint8":
        if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
            raise ValueError(f"{what}: contains NaN or infinite values")
        check_uint8_values(x, what)
    with np.errstate(over="ignore", invalid="ignore"):  # refused just below
        cast = x.astype(signature.input_dtype, copy=False)
    # after the cast: float64 values beyond float32's range become inf there
    if cast.dtype.kind == "f" and not np.all(np.isfinite(cast)):
        beyond = "" if x.dtype == cast.dtype else f" (as {cast.dtype})"
        raise ValueError(f"{what}: contains NaN or infinite values{beyond}")
    return cast
