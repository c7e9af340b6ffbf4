"""What a training run feeds its network: the input size and its source
(:func:`resolve_input`), the normalisation that pretrained weights bring
(:func:`weights_normalisation`), the ImageNet training transform at a crop size
(:func:`train_sizes`), and batches that split evenly over JAX devices
(:func:`even_batches`)."""

from __future__ import annotations

import numpy as np

from .. import rundir
from ..data.augment import IMAGENET_CROP, IMAGENET_SCALE_RANGE
from ..pretrained import registry
from ..pretrained.loading import default_shape_for
from ..pretrained.transforms import resolve_preprocessing
from ..pretrained.weights import Weights, resolve_weights
from .config import check_image_size

# TensorFlow is imported inside even_batches: under the JAX backend it must not start
# before run.py has hidden the GPUs from it.


def resolve_input(spec, train_split, image_size=None, weights_shape=None):
    """``(input_shape, resize, why)``: what the network takes, the ImageNet family's
    evaluation resize (None for CIFAR), and where the size came from (for the log).

    CIFAR family (a fixed size): ``image_size``; else the size the weights were trained
    at (fine-tuning: the filters see objects at the scale they learnt; on
    examples/finetune_folder.py's 32x32 photos the shipped 28x28 ResNet-20 reached
    90.75% fine-tuned at 28x28 and 86.5% at 32x32, 6 epochs each); else the data's size
    when all images share one; else the family's 32x32. ImageNet family: a square crop
    of ``image_size`` (default 224, the paper's), the evaluation resize 256/224 of it.
    Channels: the weights' (grey weights read grey images), else the data's (image
    folders: 3).

    Raises:
        ValueError: a non-square ImageNet-family size, a size that is not 2 positive
            integers, or (CIFAR family, no size given) images all smaller than the
            network's total stride.
    """
    check_image_size(image_size, spec.family)  # TrainConfig's check, for direct callers
    image_size = tuple(image_size) if image_size is not None else None
    channels = int(weights_shape[-1]) if weights_shape else int(train_split.image_shape[-1])
    if spec.family == "imagenet":
        crop = image_size[0] if image_size else spec.default_input_shape[0]
        why = "--image-size" if image_size else "the ImageNet family's size"
        return (crop, crop, channels), rundir.imagenet_resize(crop), why
    native = tuple(train_split.image_shape[:2])
    if image_size:
        hw, why = image_size, "--image-size"
    elif weights_shape:
        hw, why = tuple(weights_shape[:2]), "the weights' size"
    elif None not in native:
        hw, why = native, "the data's size"
        if min(hw) < spec.total_stride:
            raise ValueError(
                f"the images of {train_split.name} are all {hw[0]}x{hw[1]}, smaller than "
                f"{spec.name} takes (at least {spec.total_stride}x{spec.total_stride}, its "
                f"total stride): pass --image-size H W (image_size=(H, W)) to resize them, "
                f"e.g. --image-size 32 32")
    else:
        hw, why = tuple(spec.default_input_shape[:2]), "the CIFAR family's size"
    return (*hw, channels), None, why


def weights_shape(spec, weights):
    """The input shape registry weights record (None for files and ImageNet tags)."""
    return default_shape_for(spec.name, weights) if weights else None


def weights_normalisation(spec, weights, input_shape):
    """How a registry tag's own input normalisation survives fine-tuning by ``train``.

    Returns ``(pixel_mean, in_model)``. Tags trained with a per-pixel mean keep it as
    the run's pixel mean (at another size: its per-channel average) and ``in_model`` is
    None. Tags with another normalisation (keras.applications' Caffe mode, torchvision's
    mean/std) get a zero pixel mean, so the data pipeline hands the network ``x / 255``
    exactly as for every run, and ``in_model``: settings for
    :func:`~keras_resnet.arch.builder.preprocessing_layers` that take ``x / 255`` to what
    the weights expect (the tag's scale times 255, its mean/std and channel order). Those
    layers hold no variables, are saved in ``model.keras`` and are exported with it, so
    ``predict``, ``evaluate`` and every export read the run as any other.
    Files and non-tags: ``(None, None)``.
    """
    try:
        resolved = resolve_weights(weights, spec.name)
    except ValueError:
        return None, None  # build gives the error
    if not isinstance(resolved, Weights):
        return None, None
    entry = resolved.entry
    if entry.preprocessing.get("mode") == "pixel_mean":
        mean = registry.pixel_mean(entry)
        if tuple(mean.shape) != tuple(input_shape):
            mean = np.broadcast_to(mean.mean(axis=(0, 1)), input_shape).astype("float32")
        return mean, None
    settings = resolve_preprocessing(True, spec.name, entry.tag)
    if settings.mean.ndim > 1:  # a per-pixel mean under another mode: nothing registers one
        raise ValueError(f"train --weights {weights!r}: per-pixel means are read only in "
                         "'pixel_mean' mode; fine-tune these weights in Python")
    in_model = settings.replace(scale=settings.scale * 255.0)
    return np.zeros(input_shape, "float32"), in_model


def even_batches(ds, devices: int, *, pad: bool):
    """Batches whose size is a multiple of ``devices`` (JAX splits each batch evenly).

    ``pad=False`` (training) trims a batch to a multiple (a last short batch loses at
    most ``devices - 1`` images; an empty one is dropped); ``pad=True`` (evaluation)
    pads with zero images of weight 0, so accuracies count every real image exactly.
    """
    import tensorflow as tf

    if devices == 1:
        return ds
    if not pad:
        def trim(x, y):
            k = tf.shape(y)[0] // devices * devices
            return x[:k], y[:k]

        return ds.map(trim).filter(lambda x, y: tf.shape(y)[0] > 0).prefetch(tf.data.AUTOTUNE)

    def padded(x, y):
        n = tf.shape(y)[0]
        k = (devices - n % devices) % devices
        x = tf.pad(x, tf.concat([[[0, k]], tf.zeros([tf.rank(x) - 1, 2], "int32")], 0))
        weights = tf.concat([tf.ones([n]), tf.zeros([k])], 0)
        return x, tf.pad(y, [[0, k]]), weights

    return ds.map(padded).prefetch(tf.data.AUTOTUNE)


def train_sizes(family, crop):
    """The ImageNet training transform for a crop size: the paper's [256, 480] scale
    range at 224, in proportion at other sizes."""
    if family != "imagenet":
        return {}
    lo, hi = (round(crop * s / IMAGENET_CROP) for s in IMAGENET_SCALE_RANGE)
    return {"imagenet_crop": crop, "imagenet_scale_range": (lo, hi)}
