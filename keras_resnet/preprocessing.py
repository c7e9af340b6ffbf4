"""Input preprocessing that travels with the weights.

Each registry entry records the preprocessing its weights expect:

* ``caffe`` (keras.applications / the paper's Caffe models): RGB -> BGR, subtract the
  ImageNet BGR mean, no scaling (inputs 0-255);
* ``torch`` (torchvision): scale to [0, 1], subtract the RGB mean, divide by the std.

:func:`preprocess_input` applies one of them to a batch of RGB images;
:func:`load_pretrained` returns a model with the function that turns raw images, as a
dataset stores them, into that model's input (resize, centre crop, normalise);
``build(..., include_preprocessing=...)`` puts the normalisation inside the model
(stock layers only), so that it takes raw 0-255 RGB images -- what a TFLite app has.
"""

from __future__ import annotations

import numpy as np

MODES = ("caffe", "torch")


def _settings(weights=None, mode=None) -> dict:
    """The registry's preprocessing record for a weights tag, or for a mode (the
    numbers live in the registry only)."""
    from .pretrained.registry import load_registry

    if (weights is None) == (mode is None):
        raise ValueError("give exactly one of weights= (a registry tag such as "
                         "'resnet50.imagenet') or mode= ('caffe' or 'torch')")
    entries, _ = load_registry()
    if weights is not None:
        if weights not in entries:
            raise ValueError(f"unknown weights tag {weights!r}; known tags: "
                             f"{', '.join(entries)}")
        p = dict(entries[weights].preprocessing)
        if p["mode"] == "pixel_mean":  # weights trained here: a stored mean image
            from .pretrained.registry import pixel_mean

            p["mean"] = pixel_mean(entries[weights])
        return p
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return next(e.preprocessing for e in entries.values()
                if e.preprocessing["mode"] == mode)


def resolve_preprocessing(include_preprocessing, model_name: str, weights):
    """The settings for ``build(include_preprocessing=...)``: ``None`` (off), or a
    dict with ``channel_order``, ``scale``, ``mean``, ``std`` (``mean``/``std`` may be
    per channel or per pixel, ``(H, W, C)``)."""
    if include_preprocessing is None or include_preprocessing is False:
        return None
    if include_preprocessing is True:
        from .pretrained.registry import resolve

        if not isinstance(weights, str) or weights.endswith((".h5", ".pth", ".pt")) \
                or "/" in weights:
            raise ValueError(
                "include_preprocessing=True takes its settings from the weights' registry "
                f"entry, but weights={weights!r} is not a registry tag; pass the settings "
                "instead: include_preprocessing='caffe' or 'torch', a tag such as "
                "'resnet50.imagenet', or a dict with scale, mean, std, channel_order")
        return dict(_settings(weights=resolve(model_name, weights).tag))
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
        "include_preprocessing must be False, True, 'caffe', 'torch', a weights tag or a "
        f"dict; got {include_preprocessing!r}")


def preprocessing_layers(x, settings: dict, data_format: str):
    """Apply ``settings`` inside a Keras graph: ``preprocess_normalize`` (a Rescaling
    layer: cast to float, ``x * scale / std - mean / std``) and, for BGR weights,
    ``preprocess_bgr`` (a frozen 1x1 convolution that reverses the channel order).
    The arithmetic equals :func:`preprocess_input` up to float rounding."""
    from keras import layers

    mean = np.asarray(settings["mean"], "float32")
    std = np.ones_like(mean) if settings["std"] is None else np.asarray(settings["std"],
                                                                       "float32")
    scale = np.float32(settings["scale"]) / std
    offset = -mean / std
    bgr = settings["channel_order"] == "BGR"
    if bgr and offset.ndim == 1:  # the mean is listed in BGR order; the input is RGB
        scale, offset = scale[::-1], offset[::-1]
    if data_format == "channels_first":  # per-channel (C,) -> (C, 1, 1); (H, W, C) -> (C, H, W)
        scale, offset = (a.reshape(-1, 1, 1) if a.ndim == 1 else
                         np.moveaxis(a, -1, 0) if a.ndim == 3 else a for a in (scale, offset))
    x = layers.Rescaling(scale=scale.copy(), offset=offset.copy(),
                         name="preprocess_normalize")(x)
    if bgr:
        channels = x.shape[-1 if data_format == "channels_last" else 1]
        flip = np.eye(channels, dtype="float32")[::-1].reshape(1, 1, channels, channels)
        conv = layers.Conv2D(channels, 1, use_bias=False, data_format=data_format,
                             trainable=False, name="preprocess_bgr")
        x = conv(x)
        conv.set_weights([flip])
    return x


def preprocess_input(x, weights: str | None = None, mode: str | None = None):
    """Normalise RGB images with values 0-255, channels last (``(..., H, W, 3)``), the
    way the given weights (or mode) expect. Returns float32 numpy."""
    p = _settings(weights, mode)
    x = np.asarray(x, dtype="float32")
    if p["mode"] == "pixel_mean":
        mean = p["mean"]
        if x.shape[-len(mean.shape):] != mean.shape and x.shape[-2:] == mean.shape[:2]:
            x = x[..., None]  # (N, H, W) grayscale
        if x.shape[-len(mean.shape):] != mean.shape:
            raise ValueError(f"weights {weights!r} take images of shape {mean.shape} "
                             f"(H, W, C), got {x.shape}")
        return x * np.float32(p["scale"]) - mean
    if x.ndim < 3 or x.shape[-1] != 3:
        raise ValueError(f"expected RGB images with 3 channels last, got shape {x.shape}")
    if p["channel_order"] == "BGR":
        x = x[..., ::-1]
    x = x * np.float32(p["scale"]) - np.asarray(p["mean"], "float32")
    if p["std"] is not None:
        x = x / np.asarray(p["std"], "float32")
    return x


def resize_and_crop(images, resize: int, crop: int):
    """Resize so the shorter side is ``resize`` (bilinear), then take the centre
    ``crop`` x ``crop`` square. ``images``: (H, W, C) or (N, H, W, C)."""
    import keras

    x = np.asarray(images)
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"expected an image (H, W, C) or a batch (N, H, W, C), got {x.shape}")
    h, w = x.shape[1:3]
    scale = resize / min(h, w)
    size = (max(crop, round(h * scale)), max(crop, round(w * scale)))
    x = keras.ops.convert_to_numpy(
        keras.ops.image.resize(x.astype("float32"), size, interpolation="bilinear",
                               antialias=True))
    top, left = (size[0] - crop) // 2, (size[1] - crop) // 2
    x = x[:, top:top + crop, left:left + crop]
    return x[0] if single else x


def load_pretrained(tag: str, **build_options):
    """``(model, preprocess)`` for a registry tag such as ``"resnet50.imagenet"``.

    ``preprocess`` takes raw uint8 RGB images as stored, (H, W, 3) or (N, H, W, 3),
    any size, and returns the batch the model expects (resized, centre-cropped,
    normalised). Grayscale (H, W) or (N, H, W, 1) images are repeated to RGB. With
    ``include_preprocessing=True`` the model normalises by itself and ``preprocess``
    only resizes and crops (values stay 0-255).
    """
    from .builder import build
    from .pretrained.registry import load_registry

    entries, _ = load_registry()
    if tag not in entries:
        raise ValueError(f"unknown weights tag {tag!r}; known tags: {', '.join(entries)}")
    entry = entries[tag]
    normalise = not build_options.get("include_preprocessing")
    if entry.preprocessing["mode"] == "pixel_mean":  # trained here, at a fixed size
        build_options.setdefault("input_shape", entry.input_shape)
        build_options.setdefault("classes", entry.classes)
        model = build(entry.arch, weights=tag, **build_options)

        def preprocess_fixed(images):
            """uint8 images at the trained size: (H, W), (H, W, C), (N, H, W[, C])."""
            x = np.asarray(images)
            h, w, c = entry.input_shape
            if x.shape in ((h, w), (h, w, c)):
                x = x[None]
            if normalise:
                return preprocess_input(x, weights=tag)
            return (x[..., None] if x.ndim == 3 else x).astype("float32")

        return model, preprocess_fixed
    model = build(entry.arch, weights=tag, **build_options)

    def preprocess(images):
        x = np.asarray(images)
        if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] not in (1, 3)):
            x = x[..., None]  # (H, W) or (N, H, W)
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        x = resize_and_crop(x, entry.resize, entry.crop)
        if x.ndim == 3:
            x = x[None]
        return preprocess_input(x, weights=tag) if normalise else x.astype("float32")

    return model, preprocess
