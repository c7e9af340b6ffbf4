"""Image files as every pipeline reads them: TensorFlow's own decoder, one call.

``tf.io.decode_image`` reads PNG, JPEG, BMP and GIF (the first frame), grey, RGB and
RGBA (the alpha channel is dropped), at any bit depth (JPEGs: see :func:`decode`): a 16-bit PNG is decoded at 16
bits and scaled to 8 (``v >> 8``, TensorFlow's ``convert_image_dtype``), where
Keras' ``load_img`` (PIL) hands 16-bit grey values to a uint8 array unscaled and they
wrap around. Training, evaluation and ``predict`` all decode here, so a file gives
the same pixels to each.

:func:`scan_images` decodes every file of a folder once before anything else uses it
(tf.data, in parallel) and names each one that cannot be read, with the decoder's
reason, so a corrupt file is reported as one line before training starts rather than as
a TensorFlow traceback in the middle of an epoch. Keras'
``image_dataset_from_directory`` is not used for folders: it knows one class-folder
layout (not ``train/`` beside ``val/``), has no per-file error, and its file order and
holdout are its own; the folder listing lives in :mod:`.sources`.
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np

# Files at least this many: scan_images shows a progress bar.
SCAN_PROGRESS_MIN_FILES = 1000


def decode(contents, channels: int = 3):
    """Encoded image bytes (a scalar string tensor) -> uint8 ``(H, W, channels)``.

    JPEGs are decoded with libjpeg's accurate integer DCT, the one PIL (and so Keras'
    ``load_img``) uses: TensorFlow's default fast DCT differed from it by up to 14
    levels on a noisy 12 x 10 photo here (tests/data/test_folders.py)."""
    import tensorflow as tf

    def jpeg():
        return tf.io.decode_jpeg(contents, channels=channels, dct_method="INTEGER_ACCURATE")

    def other():
        return tf.io.decode_image(contents, channels=channels, dtype=tf.uint8,
                                  expand_animations=False)

    return tf.cond(tf.io.is_jpeg(contents), jpeg, other)


def decoder_reason(err) -> str:
    """TensorFlow's error as the short reason it gives (``Invalid PNG data, size
    100``), without the op and device wrapping."""
    text = str(getattr(err, "message", None) or err).strip().splitlines()
    text = text[0] if text else type(err).__name__
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text)
    return text.strip() or type(err).__name__


def read_image(path: str, channels: int = 3) -> np.ndarray:
    """One file as uint8 ``(H, W, channels)``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not an image TensorFlow can decode (the reason given).
    """
    import tensorflow as tf

    if not os.path.isfile(path):
        raise FileNotFoundError(f"image {path!r} not found")
    try:
        return decode(tf.io.read_file(path), channels).numpy()
    except (tf.errors.OpError, ValueError) as err:
        raise ValueError(f"{path!r} is not an image file this can read (PNG, JPEG, BMP, "
                         f"GIF): {decoder_reason(err)}") from None


@dataclasses.dataclass(frozen=True)
class ImageScan:
    """What :func:`scan_images` found.

    Attributes:
        sizes: ``(H, W)`` of each readable file by index; None for an unreadable one.
        bad: ``(path, reason)`` of each file that cannot be decoded, in file order.
    """

    sizes: tuple
    bad: tuple

    @property
    def distinct_sizes(self) -> set:
        return {s for s in self.sizes if s is not None}


def scan_images(paths, *, progress: bool = True) -> ImageScan:
    """Decode every file once (tf.data, parallel) and record its size or why it cannot
    be read. Costs one decoding pass over the files; ``progress`` shows a Keras
    progress bar from :data:`SCAN_PROGRESS_MIN_FILES` files on."""
    import tensorflow as tf

    paths = [os.fspath(p) for p in paths]
    if not paths:
        return ImageScan((), ())

    def size_of(i, path):
        image = decode(tf.io.read_file(path))
        return i, tf.shape(image)[:2]

    # ignore_errors drops each element whose decoding fails; the missing indices are the
    # bad files, decoded once more one by one below for the reason.
    ds = (tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), paths))
          .map(size_of, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
          .ignore_errors().batch(256).prefetch(tf.data.AUTOTUNE))
    sizes = [None] * len(paths)
    bar = None
    if progress and len(paths) >= SCAN_PROGRESS_MIN_FILES:
        import keras

        print(f"Checking {len(paths)} image files")
        bar = keras.utils.Progbar(len(paths), unit_name="file")
    for idx, hw in ds:
        for i, (h, w) in zip(idx.numpy(), hw.numpy()):
            sizes[int(i)] = (int(h), int(w))
        if bar is not None:
            bar.add(len(idx))
    bad = []
    for i, s in enumerate(sizes):
        if s is None:
            try:
                read_image(paths[i])
                reason = "could not be decoded"  # failed in the pipeline only
            except (ValueError, FileNotFoundError) as err:
                reason = str(err).split(": ", 1)[-1] if "this can read" in str(err) \
                    else str(err)
            bad.append((paths[i], reason))
    return ImageScan(tuple(sizes), tuple(bad))


def bad_images_message(bad, total: int, where: str) -> str:
    """One line naming unreadable files (the first three, with reasons) and what to do."""
    shown = "; ".join(f"{p} ({r})" for p, r in bad[:3])
    more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
    return (f"{len(bad)} of {total} image files in {where} cannot be read: {shown}{more}. "
            "Replace or remove them, or pass --skip-bad-images (skip_bad_images=True) to "
            "leave them out")


def resize_to(image, size):
    """uint8 ``(H, W, C)`` -> uint8 ``(*size, C)``: bilinear with antialiasing (as
    Keras' ``image_dataset_from_directory`` resizes, plus antialiasing for shrinking),
    rounded; an image already that size is returned as it is."""
    import tensorflow as tf

    def resize():
        x = tf.image.resize(tf.cast(image, "float32"), size, method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(x), 0, 255), "uint8")

    same = tf.reduce_all(tf.equal(tf.shape(image)[:2], tf.constant(size, "int32")))
    out = tf.cond(same, lambda: tf.cast(image, "uint8"), resize)
    return tf.ensure_shape(out, (*size, image.shape[-1]))
