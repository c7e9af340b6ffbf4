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

from ..preprocessing import DATA_FORMATS, MODES, Preprocessing  # noqa: F401 (re-exported)
from . import registry


def preprocessing_of(entry: registry.WeightsEntry) -> Preprocessing:
    """The :class:`~keras_resnet.Preprocessing` a registry entry's weights expect: its
    normalisation (a stored per-pixel mean read from its file), the size it was trained
    at (weights trained here), and its publisher's evaluation resize, crop and
    interpolation."""
    record = {k: v for k, v in entry.preprocessing.items() if k != "mean_file"}
    if record["mode"] == "pixel_mean":  # weights trained here: a stored mean image
        record["mean"] = registry.pixel_mean(entry)
    if entry.input_shape:
        record["input_size"] = tuple(entry.input_shape[:2])
    elif entry.resize is not None:
        record.update(resize=entry.resize, crop=entry.crop,
                      interpolation=entry.interpolation)
    return Preprocessing.from_metadata(record)


def _settings(weights=None, mode=None) -> Preprocessing:
    """The :class:`~keras_resnet.Preprocessing` of a weights tag, or of a mode."""
    if (weights is None) == (mode is None):
        raise ValueError("give exactly one of weights= (a registry tag such as "
                         "'resnet50.imagenet') or mode= ('caffe', 'torch' or 'tf')")
    if weights is not None:
        entries, _ = registry.load_registry()
        return preprocessing_of(_entry(weights, entries))
    return Preprocessing.from_mode(mode)


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


def as_preprocessing(settings) -> Preprocessing:
    """``settings`` as a :class:`~keras_resnet.Preprocessing`: one itself, a mode
    (``"caffe"``, ``"torch"``, ``"tf"``), a weights tag, or a dict of ``scale``,
    ``mean``, ``std``, ``channel_order`` (missing keys: no scaling, zero mean, no std,
    RGB).

    Raises:
        ValueError: anything else, an unknown tag, unknown keys.
    """
    if isinstance(settings, str) and settings not in MODES:
        return _settings(weights=settings)  # a tag: the registry's record
    if isinstance(settings, (Preprocessing, str, dict)):
        return Preprocessing.coerce(settings)
    raise ValueError(
        "expected preprocessing settings: a Preprocessing, 'caffe', 'torch', 'tf', a "
        f"weights tag or a dict with scale, mean, std, channel_order; got {settings!r}")


def resolve_preprocessing(include_preprocessing, model_name: str, weights):
    """What ``build(include_preprocessing=...)`` puts in the model: None (off), or a
    :class:`~keras_resnet.Preprocessing` (``True``: the one of ``weights``, a registry
    tag; or ``include_preprocessing`` itself as :func:`as_preprocessing` reads it).

    Raises:
        ValueError: ``True`` with weights that are not a registry tag, or settings
            :func:`as_preprocessing` refuses.
    """
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
                "'resnet50.imagenet', a keras_resnet.Preprocessing, or a dict with scale, "
                "mean, std, channel_order")
        return preprocessing_of(resolved)
    if isinstance(include_preprocessing, (str, dict, Preprocessing)):
        return as_preprocessing(include_preprocessing)
    raise ValueError(
        "include_preprocessing must be False, True, 'caffe', 'torch', 'tf', a weights tag, "
        f"a keras_resnet.Preprocessing or a dict; got {include_preprocessing!r}")


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
    import keras  # imported on first use: ``import keras_resnet`` does not import Keras

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
    p = _settings(weights=weights) if weights is not None else _settings(mode=mode or "caffe")
    return p.apply(x, data_format, in_place=True)
