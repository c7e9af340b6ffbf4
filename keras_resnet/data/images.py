"""Image files as every pipeline reads them: TensorFlow's own decoder, one call.

``tf.io.decode_image`` reads PNG, JPEG, BMP, GIF (the first frame) and still WebP
(:data:`IMAGE_EXTENSIONS`: the one list of what every folder listing takes), grey, RGB and
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
# What the decoder below reads, as file name endings (case-insensitive) and as format
# names: image folders (training, evaluation, export) and predict's --calibration
# folder list files by these, and the docs name the same formats
# (tests/data/test_folders.py checks).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
IMAGE_FORMATS = "PNG, JPEG, BMP, GIF, WebP"


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

    def webp():
        # TensorFlow's WebP decoder takes only the file's own channel count (3, or 4
        # with alpha): decode that, then drop alpha as for PNGs
        rgb = tf.io.decode_image(contents, channels=0, dtype=tf.uint8,
                                 expand_animations=False)[..., :3]
        rgb = tf.ensure_shape(rgb, (None, None, 3))
        return tf.image.rgb_to_grayscale(rgb) if channels == 1 else rgb

    # an animated WebP goes to other(), whose error names it (TensorFlow decodes no
    # frame of one correctly)
    still_webp = tf.logical_and(_is_webp(contents), tf.logical_not(_is_animated_webp(contents)))
    return tf.cond(tf.io.is_jpeg(contents), jpeg,
                   lambda: tf.cond(still_webp, webp, other))


def _header(contents, n=24):
    """The first ``n`` bytes of ``contents``, zero-padded (a shorter file has them too)."""
    import tensorflow as tf

    return tf.strings.substr(tf.strings.join([tf.strings.substr(contents, 0, n),
                                              b"\0" * n]), 0, n)


def _is_webp(contents):
    """RIFF....WEBP: the WebP container's first 12 bytes."""
    import tensorflow as tf

    head = _header(contents)
    return tf.logical_and(tf.equal(tf.strings.substr(head, 0, 4), b"RIFF"),
                          tf.equal(tf.strings.substr(head, 8, 4), b"WEBP"))


def _is_animated_webp(contents):
    """An extended WebP (``VP8X`` chunk) whose flags byte (byte 20) has the animation
    bit."""
    import tensorflow as tf

    head = _header(contents)
    flags = tf.io.decode_raw(tf.strings.substr(head, 20, 1), tf.uint8)
    animated = tf.reduce_any(tf.not_equal(tf.bitwise.bitwise_and(flags, 2), 0))
    return tf.logical_and(tf.equal(tf.strings.substr(head, 12, 4), b"VP8X"), animated)


def jpeg_header_problem(path: str) -> str | None:
    """Why a JPEG file cannot be decoded, found from its markers alone, or None (not a
    JPEG, or its header is whole: the decoder decides).

    libjpeg, which TensorFlow's decoder runs, writes its own error text straight to
    stderr ("Input file read error", "Improper call to JPEG library in state 201")
    for a JPEG that ends inside its header, past TensorFlow's log level; such a file
    can never decode (the first scan's header is needed to start). Reading its markers
    here (a few bytes, seeking over each segment) names it before libjpeg sees it.
    Files truncated inside the image data still reach the decoder, which fails on them
    in TensorFlow's own log."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(2) != b"\xff\xd8":  # SOI
            return None
        while True:
            byte = f.read(1)
            if byte != b"\xff":
                return None if byte else f"a JPEG cut short inside its header ({size} bytes)"
            marker = f.read(1)
            while marker == b"\xff":  # fill bytes
                marker = f.read(1)
            if not marker:
                return f"a JPEG cut short inside its header ({size} bytes)"
            code = marker[0]
            if code == 0xD9:  # EOI before any scan
                return "a JPEG with no image data (it ends before its first scan)"
            if 0xD0 <= code <= 0xD7 or code == 0x01:  # markers without a length
                continue
            length = f.read(2)
            n = int.from_bytes(length, "big") if len(length) == 2 else 0
            if len(length) == 2 and n < 2:
                return None  # malformed: the decoder's reason
            if len(length) < 2 or f.tell() + n - 2 > size:
                return f"a JPEG cut short inside its header ({size} bytes)"
            if code == 0xDA:  # SOS: the header is whole
                return None
            f.seek(n - 2, 1)


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
        FileNotFoundError: nothing at ``path``.
        ValueError: ``path`` is a folder, or a file TensorFlow cannot decode (the reason
            given).
    """
    import tensorflow as tf

    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder, not an image file ({IMAGE_FORMATS})")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image {path!r} not found")
    problem = jpeg_header_problem(path)  # before libjpeg writes its own line to stderr
    if problem:
        raise ValueError(f"{path!r} is not an image file this can read ({IMAGE_FORMATS}): "
                         f"{problem}")
    try:
        return decode(tf.io.read_file(path), channels).numpy()
    except (tf.errors.OpError, ValueError) as err:
        reason = decoder_reason(err)
        if "WebP Animation" in reason:
            reason = "an animated WebP (still images only: save one frame as PNG)"
        raise ValueError(f"{path!r} is not an image file this can read ({IMAGE_FORMATS}): "
                         f"{reason}") from None


@dataclasses.dataclass(frozen=True)
class ImageScan:
    """What :func:`scan_images` found.

    Attributes:
        sizes: ``(H, W)`` of each readable file by index; None for an unreadable one.
        bad: ``(path, reason)`` of each file that cannot be decoded, in file order.
        colour: whether each readable file holds colour (its RGB channels differ
            somewhere; a grey file, or an RGB file of grey pixels, does not), by
            index; None for an unreadable one.
    """

    sizes: tuple
    bad: tuple
    colour: tuple = ()

    @property
    def distinct_sizes(self) -> set:
        return {s for s in self.sizes if s is not None}


def scan_images(paths, *, progress: bool = True) -> ImageScan:
    """Decode every file once (tf.data, parallel) and record its size and whether it
    holds colour, or why it cannot be read. Costs one decoding pass over the files
    (JPEGs cut short in their header are named from their markers, without one:
    :func:`jpeg_header_problem`); ``progress`` shows a Keras progress bar from
    :data:`SCAN_PROGRESS_MIN_FILES` files on."""
    import tensorflow as tf

    paths = [os.fspath(p) for p in paths]
    if not paths:
        return ImageScan((), (), ())
    # JPEGs cut short in their header are named without decoding them (libjpeg would
    # write a line of its own to stderr for each: jpeg_header_problem)
    early = {}
    for i, path in enumerate(paths):
        try:
            problem = jpeg_header_problem(path)
        except OSError:
            problem = None  # missing or unreadable: the decoder's reason below
        if problem:
            early[i] = problem
    todo = [i for i in range(len(paths)) if i not in early]

    def size_of(i, path):
        image = decode(tf.io.read_file(path))
        colour = tf.reduce_any(tf.not_equal(image[..., :2], image[..., 1:]))
        return i, tf.shape(image)[:2], colour

    # ignore_errors drops each element whose decoding fails; the missing indices are the
    # bad files, decoded once more one by one below for the reason.
    ds = (tf.data.Dataset.from_tensor_slices((np.asarray(todo, "int64"),
                                              tf.constant([paths[i] for i in todo],
                                                          tf.string)))
          .map(size_of, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
          .ignore_errors().batch(256).prefetch(tf.data.AUTOTUNE))
    sizes = [None] * len(paths)
    colour = [None] * len(paths)
    bar = None
    if progress and len(paths) >= SCAN_PROGRESS_MIN_FILES:
        import keras

        print(f"Checking {len(paths)} image files")
        bar = keras.utils.Progbar(len(paths), unit_name="file")
        bar.add(len(early))
    for idx, hw, rgb in ds:
        for i, (h, w), c in zip(idx.numpy(), hw.numpy(), rgb.numpy()):
            sizes[int(i)] = (int(h), int(w))
            colour[int(i)] = bool(c)
        if bar is not None:
            bar.add(len(idx))
    bad = []
    for i, s in enumerate(sizes):
        if i in early:
            bad.append((paths[i], early[i]))
        elif s is None:
            try:
                read_image(paths[i])
                reason = "could not be decoded"  # failed in the pipeline only
            except (ValueError, FileNotFoundError) as err:
                reason = str(err).split(": ", 1)[-1] if "this can read" in str(err) \
                    else str(err)
            bad.append((paths[i], reason))
    return ImageScan(tuple(sizes), tuple(bad), tuple(colour))


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
