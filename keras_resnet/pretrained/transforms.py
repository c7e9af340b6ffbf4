"""Input preprocessing that travels with the weights.

Each registry entry records the preprocessing its weights expect:

* ``caffe`` (keras.applications / the paper's Caffe models): RGB -> BGR, subtract the
  ImageNet BGR mean, no scaling (inputs 0-255);
* ``torch`` (torchvision): scale to [0, 1], subtract the RGB mean, divide by the std;

and keras.applications' third mode is known too:

* ``tf``: scale to [-1, 1] (``x / 127.5 - 1``), keras.applications' ``imagenet_utils``.

:func:`preprocess_input` applies one of them to RGB images, with the signature and the
behaviour of keras.applications' (``preprocess_input(x, data_format=None)``, Caffe mode
by default as ``keras.applications.resnet.preprocess_input``); it runs on numpy arrays
and, through ``keras.ops``, on any backend's tensors and on symbolic ones (``keras.Input``
in a ``Lambda`` layer, ``tf.data.Dataset.map``). :func:`resolve_preprocessing` gives the
settings that ``build(..., include_preprocessing=...)`` puts inside the model
(:func:`keras_resnet.arch.builder.preprocessing_layers`), so that it takes raw 0-255 RGB
images -- what a TFLite app has. :func:`keras_resnet.load_pretrained` returns a model
with the function that turns raw images into its input.
"""

from __future__ import annotations

import sys
import types

import numpy as np

from . import registry

MODES = ("caffe", "torch", "tf")
DATA_FORMATS = ("channels_first", "channels_last")

# keras.applications' "tf" mode (keras/src/applications/imagenet_utils.py): x / 127.5 - 1,
# any number of channels. The other modes' numbers live in the registry, beside the
# weights that need them.
_TF_MODE = {"mode": "tf", "channel_order": "RGB", "scale": 1 / 127.5, "mean": 1.0,
            "std": None}


def _settings(weights=None, mode=None) -> dict:
    """The registry's preprocessing record for a weights tag, or for a mode (the
    numbers live in the registry only)."""
    if (weights is None) == (mode is None):
        raise ValueError("give exactly one of weights= (a registry tag such as "
                         "'resnet50.imagenet') or mode= ('caffe', 'torch' or 'tf')")
    entries, _ = registry.load_registry()
    if weights is not None:
        entry = _entry(weights, entries)
        p = dict(entry.preprocessing)
        if p["mode"] == "pixel_mean":  # weights trained here: a stored mean image
            p["mean"] = registry.pixel_mean(entry)
        return p
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "tf":
        return dict(_TF_MODE)
    return next(e.preprocessing for e in entries.values()
                if e.preprocessing["mode"] == mode)


def _entry(tag, entries):
    """The registry entry of a full tag (``"resnet18.tv_in1k"``) or of an architecture
    and an alias (``"resnet18.imagenet"``: the weights ``weights="imagenet"`` loads)."""
    if not isinstance(tag, str):
        raise ValueError(f"weights must be a registry tag such as 'resnet50.imagenet', "
                         f"got {tag!r}")
    if tag in entries:
        return entries[tag]
    arch, _, alias = tag.partition(".")
    if alias:
        try:
            return registry.resolve(arch, alias)
        except ValueError:
            pass
    raise ValueError(f"unknown weights tag {tag!r}; known tags: {', '.join(entries)}")


def resolve_preprocessing(include_preprocessing, model_name: str, weights):
    """The settings for ``build(include_preprocessing=...)``: ``None`` (off), or a
    dict with ``channel_order``, ``scale``, ``mean``, ``std`` (``mean``/``std`` may be
    per channel or per pixel, ``(H, W, C)``)."""
    if include_preprocessing is None or include_preprocessing is False:
        return None
    if include_preprocessing is True:
        # the one rule (registry.resolve_weights_arg): unknown tags, missing files raise
        resolved = registry.resolve_weights_arg(weights, model_name)
        if not isinstance(resolved, registry.WeightsEntry):
            raise ValueError(
                "include_preprocessing=True takes its settings from the weights' registry "
                f"entry, but weights={weights!r} is not a registry tag; pass the settings "
                "instead: include_preprocessing='caffe', 'torch' or 'tf', a tag such as "
                "'resnet50.imagenet', or a dict with scale, mean, std, channel_order")
        return dict(_settings(weights=resolved.tag))
    if isinstance(include_preprocessing, str):
        if include_preprocessing in MODES:
            return dict(_settings(mode=include_preprocessing))
        return dict(_settings(weights=include_preprocessing))
    if isinstance(include_preprocessing, dict):
        p = {"channel_order": "RGB", "scale": 1.0, "mean": 0.0, "std": None,
             **include_preprocessing}
        unknown = set(p) - {"mode", "channel_order", "scale", "mean", "std"}
        if unknown:
            raise ValueError(f"unknown preprocessing keys {sorted(unknown)}; allowed: "
                             "channel_order, scale, mean, std")
        if p["channel_order"] not in ("RGB", "BGR"):
            raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {p['channel_order']!r}")
        return p
    raise ValueError(
        "include_preprocessing must be False, True, 'caffe', 'torch', 'tf', a weights tag "
        f"or a dict; got {include_preprocessing!r}")


def preprocess_input(x, data_format=None, mode=None, weights=None):
    """Normalise images with values 0-255 the way a network's weights expect.

    ``preprocess_input(x)`` and ``preprocess_input(x, data_format)`` are
    keras.applications' ``resnet.preprocess_input``: Caffe mode (RGB -> BGR, minus the
    ImageNet BGR mean 103.939, 116.779, 123.68; no scaling). ``mode=`` picks another of
    keras.applications' modes, ``weights=`` the preprocessing recorded for registered
    weights (``"resnet18.tv_in1k"``, or ``"resnet18.imagenet"`` for what
    ``ResNet18(weights="imagenet")`` loads: torchvision's, so torch mode).

    It computes like keras.applications' ``imagenet_utils.preprocess_input``: numpy in,
    numpy out; a float numpy array is written over (pass ``np.copy(x)`` to keep it), an
    integer one is cast to ``keras.config.floatx()`` first. Any other input goes
    through ``keras.ops`` and stays a tensor of its kind: the active backend's, a
    symbolic one (a ``keras.Input``, also inside a ``Lambda`` layer), or a ``tf.Tensor``
    inside ``tf.data.Dataset.map`` under any backend. Float tensors keep their dtype
    (float16 under mixed precision); integer tensors become ``floatx``.

    Args:
        x: RGB images, values 0-255: one image ``(H, W, C)`` or a batch
            ``(N, H, W, C)`` (``(C, H, W)`` / ``(N, C, H, W)`` channels-first); a numpy
            array, a list, or a tensor. Weights with a stored per-pixel mean take
            ``(..., H, W, C)`` of that mean's size (numpy ``(N, H, W)`` grayscale too).
        data_format: ``"channels_last"`` or ``"channels_first"``; ``None`` uses
            ``keras.config.image_data_format()``.
        mode: ``"caffe"`` (the default when ``weights`` is not given), ``"torch"``
            (scale to [0, 1], minus the RGB mean 0.485, 0.456, 0.406, divided by the std
            0.229, 0.224, 0.225) or ``"tf"`` (``x / 127.5 - 1``).
        weights: a registry tag (see :func:`keras_resnet.list_weights`); not together
            with ``mode``.

    Returns:
        The preprocessed images, same shape; numpy for numpy (or list) input, else a
        tensor of the input's kind.

    Raises:
        ValueError: an unknown ``data_format``, ``mode`` or weights tag, both ``mode``
            and ``weights``, a rank other than 3 or 4, or a channel count (or per-pixel
            mean size) that the preprocessing cannot apply to.
    """
    import keras

    if data_format is None:
        data_format = keras.config.image_data_format()
    elif data_format not in DATA_FORMATS:
        hint = (f"; to use the preprocessing of weights, pass weights={data_format!r}"
                if isinstance(data_format, str) and "." in data_format else "")
        raise ValueError(f"data_format must be None, 'channels_last' or 'channels_first', "
                         f"got {data_format!r}{hint}")
    if mode is not None and weights is not None:
        raise ValueError("give mode= or weights=, not both: weights= uses the mode its "
                         "registry entry records")
    if weights is not None:
        p = _settings(weights=weights)
    else:
        p = _settings(mode=mode or "caffe")
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, p, data_format, keras.config.floatx())
    return _preprocess_tensor(x, p, data_format, keras.config.floatx())


def _broadcast_constants(p, shape, data_format, what):
    """The channel axis and ``scale``, ``mean``, ``std`` shaped to broadcast against
    images of ``shape`` (rank 3 or 4); checks that they fit."""
    if len(shape) not in (3, 4):
        layout = "(H, W, C)" if data_format == "channels_last" else "(C, H, W)"
        raise ValueError(f"{what}: expected one image {layout} or a batch (N, "
                         f"{layout[1:]}, got shape {tuple(shape)}")
    axis = -1 if data_format == "channels_last" else len(shape) - 3
    # float64 here, cast to the images' dtype when applied: float64 input gets the
    # numbers exactly as keras.applications has them
    mean = np.asarray(p["mean"], "float64")
    std = None if p["std"] is None else np.asarray(p["std"], "float64")
    image = tuple(shape[-3:])
    if mean.ndim == 3:  # a per-pixel mean, stored (H, W, C)
        if data_format == "channels_last":
            want, layout = mean.shape, "H, W, C"
        else:
            want, layout = (mean.shape[2], *mean.shape[:2]), "C, H, W"
        if any(s is not None and s != w for s, w in zip(image, want)):
            raise ValueError(f"{what}: these weights take images of shape {want} "
                             f"({layout}), got {tuple(shape)}")
        if data_format == "channels_first":
            mean = np.moveaxis(mean, -1, 0)
            std = None if std is None else np.moveaxis(std, -1, 0)
        return axis, mean, std
    channels = shape[axis]
    if mean.ndim == 1 and channels is not None and channels != mean.shape[0]:
        layout = "last" if data_format == "channels_last" else "first"
        raise ValueError(
            f"{what}: {p['mode']} preprocessing needs {mean.shape[0]} (RGB) channels, "
            f"channels {layout}, but the images have shape {tuple(shape)} (data_format="
            f"{data_format!r}; pass data_format= if the channels are on the other axis)")
    if data_format == "channels_first":  # (C,) -> (C, 1, 1)
        mean = mean.reshape(-1, 1, 1) if mean.ndim == 1 else mean
        std = std.reshape(-1, 1, 1) if std is not None and std.ndim == 1 else std
    return axis, mean, std


def _preprocess_numpy(x, p, data_format, floatx):
    # keras.applications' numpy path, in place: users' code may rely on it.
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(floatx)
    elif not x.flags.writeable:
        x = x.copy()
    mean_shape = np.shape(p["mean"])
    if (len(mean_shape) == 3 and mean_shape[2] == 1 and data_format == "channels_last"
            and x.shape[-2:] == mean_shape[:2]):
        x = x[..., None]  # (N, H, W) grayscale for weights with a (H, W, 1) mean
    axis, mean, std = _broadcast_constants(p, x.shape, data_format, "preprocess_input")
    if p["channel_order"] == "BGR":
        x = np.flip(x, axis)  # a view: the writes below reach the caller's array
    if p["scale"] != 1:
        x *= np.asarray(p["scale"], x.dtype)
    x -= mean.astype(x.dtype)
    if std is not None:
        x /= std.astype(x.dtype)
    return x


def _preprocess_tensor(x, p, data_format, floatx):
    ops = _ops_for(x)
    axis, mean, std = _broadcast_constants(p, tuple(x.shape), data_format,
                                           "preprocess_input")
    dtype = ops.dtype(x)
    if not dtype.startswith(("float", "bfloat")):
        dtype = floatx
        x = ops.cast(x, dtype)
    if p["channel_order"] == "BGR":
        x = ops.take(x, [2, 1, 0], axis)
    if p["scale"] != 1:
        x = x * ops.constant(p["scale"], dtype)
    x = x - ops.constant(mean, dtype)
    if std is not None:
        x = x / ops.constant(std, dtype)
    return x


def _ops_for(x):
    """The four operations the tensor path needs, for ``x``'s kind of tensor: Keras'
    (``keras.ops``: the active backend's tensors and symbolic ``KerasTensor``s), or
    TensorFlow's for a ``tf.Tensor`` met under another backend -- what
    ``tf.data.Dataset.map`` passes under JAX or PyTorch, where ``keras.ops`` would
    call the wrong library."""
    import keras

    tf = sys.modules.get("tensorflow")
    if (keras.backend.backend() != "tensorflow" and tf is not None
            and isinstance(x, (tf.Tensor, tf.Variable))):
        return types.SimpleNamespace(
            dtype=lambda t: t.dtype.name, cast=tf.cast,
            take=lambda t, indices, axis: tf.gather(t, indices, axis=axis),
            constant=lambda value, dtype: tf.constant(value, dtype=dtype))
    return types.SimpleNamespace(
        dtype=lambda t: keras.backend.standardize_dtype(t.dtype), cast=keras.ops.cast,
        take=lambda t, indices, axis: keras.ops.take(t, indices, axis=axis),
        constant=lambda value, dtype: keras.ops.convert_to_tensor(value, dtype=dtype))
