"""Input preprocessing that travels with the weights.

Each registry entry records the preprocessing its weights expect:

* ``caffe`` (keras.applications / the paper's Caffe models): RGB -> BGR, subtract the
  ImageNet BGR mean, no scaling (inputs 0-255);
* ``torch`` (torchvision): scale to [0, 1], subtract the RGB mean, divide by the std.

:func:`preprocess_input` applies one of them to a batch of RGB images;
:func:`resolve_preprocessing` gives the settings that
``build(..., include_preprocessing=...)`` puts inside the model
(:func:`keras_resnet.arch.builder.preprocessing_layers`, stock layers only), so that it
takes raw 0-255 RGB images -- what a TFLite app has. :func:`keras_resnet.load_pretrained`
returns a model with the function that turns raw images into its input.
"""

from __future__ import annotations

import numpy as np

from . import registry

MODES = ("caffe", "torch")


def _settings(weights=None, mode=None) -> dict:
    """The registry's preprocessing record for a weights tag, or for a mode (the
    numbers live in the registry only)."""
    if (weights is None) == (mode is None):
        raise ValueError("give exactly one of weights= (a registry tag such as "
                         "'resnet50.imagenet') or mode= ('caffe' or 'torch')")
    entries, _ = registry.load_registry()
    if weights is not None:
        if weights not in entries:
            raise ValueError(f"unknown weights tag {weights!r}; known tags: "
                             f"{', '.join(entries)}")
        p = dict(entries[weights].preprocessing)
        if p["mode"] == "pixel_mean":  # weights trained here: a stored mean image
            p["mean"] = registry.pixel_mean(entries[weights])
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
        if not isinstance(weights, str) or weights.endswith((".h5", ".pth", ".pt")) \
                or "/" in weights:
            raise ValueError(
                "include_preprocessing=True takes its settings from the weights' registry "
                f"entry, but weights={weights!r} is not a registry tag; pass the settings "
                "instead: include_preprocessing='caffe' or 'torch', a tag such as "
                "'resnet50.imagenet', or a dict with scale, mean, std, channel_order")
        return dict(_settings(weights=registry.resolve(model_name, weights).tag))
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
