"""Evaluation views of the paper (section 3.4 and Table 3-5):

* ``center``: one view. ImageNet nets: shorter side 256, centre 224 crop; CIFAR nets:
  the image as it is.
* ``10crop``: the four corner crops and the centre crop, and their horizontal flips;
  class probabilities averaged over the ten. (CIFAR nets: crops of the image padded by
  4 pixels, the analogue at 32 x 32.)
* ``multiscale``: the paper's fully-convolutional test. The whole image is resized so
  its shorter side is each of {224, 256, 384, 480, 640} and the network is applied to
  it as it is (global average pooling makes the classifier size-agnostic: averaging the
  score map of the convolutionalised classifier is the same linear map); probabilities
  are averaged over the scales. The model must take any input size
  (``input_shape=(None, None, C)``).

Scores are computed by a ``tf.function`` call of the model in inference mode, not
``model.predict``, whose per-call overhead dominates batch-1 work on a CPU.
"""

from __future__ import annotations

import numpy as np

from ..data.augment import (IMAGENET_CROP, IMAGENET_EVAL_RESIZE, eval_map, resize_shorter,
                             to_channels)
from ..data.images import resize_to
from ..numerics import at_chance_level

VIEWS = ("center", "10crop", "multiscale")
MULTISCALE_SIZES = (224, 256, 384, 480, 640)


def ten_crops(image, crop: int):
    """(H, W, C) -> (10, crop, crop, C): 4 corners, centre, then the same flipped."""
    import tensorflow as tf

    h, w = tf.shape(image)[0], tf.shape(image)[1]
    tops = [0, 0, h - crop, h - crop, (h - crop) // 2]
    lefts = [0, w - crop, 0, w - crop, (w - crop) // 2]
    crops = tf.stack([image[t:t + crop, l:l + crop] for t, l in zip(tops, lefts)])
    return tf.concat([crops, tf.reverse(crops, axis=[2])], axis=0)


def _probabilities(model):
    import keras
    import tensorflow as tf

    softmax_inside = getattr(model.layers[-1], "activation", None) is keras.activations.softmax

    @tf.function(reduce_retracing=True)
    def probs(x):
        y = model(x, training=False)
        return tf.cast(y, "float32") if softmax_inside else tf.nn.softmax(tf.cast(y, "float32"))

    return probs


def predict_views(model, split, family: str, pixel_mean, view: str = "center", *,
                  batch_size: int = 128, channels=None, resize=IMAGENET_EVAL_RESIZE,
                  crop=IMAGENET_CROP, scales=MULTISCALE_SIZES, progress=True):
    """Class probabilities ``(N, classes)`` and labels ``(N,)`` for a :class:`Split`
    under an evaluation ``view``."""
    import tensorflow as tf

    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if view == "multiscale" and family != "imagenet":
        raise ValueError("the multi-scale test resizes to 224-640 pixels; it is defined for "
                         "ImageNet networks, not CIFAR-size ones")
    channels = channels or int(pixel_mean.shape[-1])
    mean = tf.constant(pixel_mean, "float32")
    size = tuple(int(d) for d in np.shape(pixel_mean)[:2])  # a CIFAR net's input size
    probs = _probabilities(model)
    source = split.dataset

    if view == "center":
        ds = source.map(eval_map(family, pixel_mean, channels, resize, crop),
                        num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
        run = lambda x: probs(x)  # noqa: E731
    elif view == "10crop":
        def views(image, label):
            image = to_channels(image, channels)
            if family == "imagenet":
                x = resize_shorter(image, resize) / 255.0  # the mean image is at crop size
                return ten_crops(x, crop) - mean, label
            x = tf.cast(resize_to(image, size), "float32") / 255.0 - mean
            x = tf.pad(x, [[4, 4], [4, 4], [0, 0]])
            return ten_crops(x, int(pixel_mean.shape[0])), label

        per = max(1, batch_size // 10)
        ds = source.map(views, num_parallel_calls=tf.data.AUTOTUNE).batch(per)

        def run(x):  # (B, 10, h, w, C) -> mean over the 10 views
            shape = tf.shape(x)
            p = probs(tf.reshape(x, tf.concat([[-1], shape[2:]], 0)))
            return tf.reduce_mean(tf.reshape(p, (shape[0], 10, -1)), axis=1)
    else:
        # The mean image is stored at crop size; at other sizes subtract its
        # per-channel average (a per-pixel mean has no meaning at a new size).
        channel_mean = tf.reduce_mean(mean, axis=(0, 1))

        def scaled(image, label):
            image = to_channels(image, channels)
            return tuple(resize_shorter(image, s) / 255.0 - channel_mean for s in scales), label

        ds = source.map(scaled, num_parallel_calls=tf.data.AUTOTUNE).batch(1)

        def run(xs):
            return tf.reduce_mean(tf.stack([probs(x) for x in xs]), axis=0)

    all_p, all_y = [], []
    bar = None
    if progress:
        import keras

        bar = keras.utils.Progbar(split.size, unit_name="image")
    for x, y in ds.prefetch(tf.data.AUTOTUNE):
        p = run(x)
        all_p.append(np.asarray(p))
        all_y.append(np.asarray(y))
        if bar is not None:
            bar.add(len(all_y[-1]))
    return np.concatenate(all_p), np.concatenate(all_y)


def topk_errors(probabilities, labels, ks=(1, 5)) -> dict:
    """Top-k error rates (fractions), the paper's measure."""
    p = np.asarray(probabilities)
    y = np.asarray(labels).reshape(-1)
    order = np.argsort(-p, axis=1, kind="stable")
    out = {}
    for k in ks:
        k_ = min(k, p.shape[1])
        hit = (order[:, :k_] == y[:, None]).any(axis=1)
        out[f"top{k}_error"] = float(1.0 - hit.mean())
    return out


def evaluate(model, split, family, pixel_mean, view="center", **kwargs) -> dict:
    """Top-1/top-5 error of ``model`` on ``split`` under ``view``; a dict with
    ``top1_error``, ``top5_error`` (None for 5 classes or fewer, where every class is in
    the top 5), ``top1_accuracy``, ``examples``, ``view`` and ``chance_level``. CIFAR-family images of another size than the network's
    (``pixel_mean``'s) are resized to it.

    Warns (UserWarning) when the score is at chance level
    (:func:`keras_resnet.numerics.at_chance_level`, the rule the exports use), the mark
    of a network that is not trained or is not given what it was trained on: another
    dataset or preprocessing, or weights loaded into another architecture."""
    import warnings

    p, y = predict_views(model, split, family, pixel_mean, view, **kwargs)
    # top-5 only means something with more than 5 classes (a 2-class folder would score
    # 0% top-5 error whatever the network does); None otherwise, as training's metrics
    errors = {"top5_error": None, **topk_errors(p, y, ks=(1, 5) if p.shape[1] > 5 else (1,))}
    accuracy = 1.0 - errors["top1_error"]
    chance = at_chance_level(accuracy, p.shape[1], len(y))
    if chance:
        warnings.warn(
            f"the network is at chance level on these {len(y)} images ({accuracy:.1%} "
            f"top-1, {p.shape[1]} classes): it is not trained (enough), or it is not given "
            "what it was trained on (another dataset, image size or preprocessing, or "
            "weights of another architecture)", UserWarning, stacklevel=2)
    return {"view": view, "examples": int(len(y)), **errors, "top1_accuracy": accuracy,
            "chance_level": chance}
