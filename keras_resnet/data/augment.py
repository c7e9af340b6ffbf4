"""The paper's input pipelines (tf.data; TensorFlow is imported on first use).

CIFAR (section 4.2): per-pixel mean subtraction, 4 zero pixels padded on each side, a
random crop of the original size, random horizontal flip. ImageNet (section 3.4): the
shorter side resized to a random length in [256, 480], a random 224 x 224 crop,
random flip, per-pixel mean subtraction, and the standard colour augmentation of
Krizhevsky et al. (PCA lighting noise). Pixel values are scaled to [0, 1] first, so a
mean image is stored in those units.

Channel handling: images are converted to the channel count the model takes
(grayscale -> RGB by repetition, RGB -> grayscale by luminance), so a 1-channel
Fashion-MNIST source can feed a 3-channel ImageNet network and vice versa.
"""

from __future__ import annotations

import numpy as np

from .images import resize_to

FAMILIES = ("cifar", "imagenet")
# ImageNet RGB covariance (pixel values in [0, 1]): the eigenvalues and eigenvectors
# used by Krizhevsky et al. 2012 and every ResNet training script since.
PCA_EIGVAL = np.array([0.2175, 0.0188, 0.0045], "float32")
PCA_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                       [-0.5808, -0.0045, -0.8140],
                       [-0.5836, -0.6948, 0.4203]], "float32")
PCA_STD = 0.1
IMAGENET_SCALE_RANGE = (256, 480)
IMAGENET_CROP = 224
IMAGENET_EVAL_RESIZE = 256


def to_channels(image, channels: int):
    import tensorflow as tf

    have = image.shape[-1]
    if have == channels or channels is None:
        return image
    if have == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if have == 3 and channels == 1:
        return tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(image, "float32"))),
                       image.dtype)
    raise ValueError(f"cannot turn {have}-channel images into {channels}-channel ones")


def resize_shorter(image, size):
    """Resize so that the shorter side is ``size`` (bilinear, antialiased), float32."""
    import tensorflow as tf

    shape = tf.shape(image)
    h, w = tf.cast(shape[-3], "float32"), tf.cast(shape[-2], "float32")
    scale = tf.cast(size, "float32") / tf.minimum(h, w)
    new = (tf.maximum(tf.cast(size, "int32"), tf.cast(tf.round(h * scale), "int32")),
           tf.maximum(tf.cast(size, "int32"), tf.cast(tf.round(w * scale), "int32")))
    return tf.image.resize(tf.cast(image, "float32"), new, method="bilinear", antialias=True)


def center_crop(image, size):
    import tensorflow as tf

    shape = tf.shape(image)
    top, left = (shape[-3] - size) // 2, (shape[-2] - size) // 2
    return image[..., top:top + size, left:left + size, :]


def resize_and_crop(images, resize: int, crop: int):
    """Resize so the shorter side is ``resize`` (bilinear, antialiased), then take the
    centre ``crop`` x ``crop`` square: the single-view evaluation transform of the
    tf.data pipelines (published weights' transform is
    :func:`keras_resnet.preprocessing.resize_and_crop_pil`).

    Args:
        images: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``, any dtype; a numpy
            array or a tensor.
        resize, crop: sizes in pixels, ``crop <= resize``.

    Returns:
        float32 values on the input's scale: a numpy array for numpy input, else a
        tensor; shape ``(crop, crop, C)`` or ``(N, crop, crop, C)``.

    Raises:
        ValueError: ``images`` is not rank 3 or 4.
    """
    import tensorflow as tf

    eager = not tf.is_tensor(images)
    if eager:
        images = np.asarray(images)
    if len(images.shape) not in (3, 4):
        raise ValueError(f"expected an image (H, W, C) or a batch (N, H, W, C), got shape "
                         f"{tuple(images.shape)}")
    x = center_crop(resize_shorter(tf.convert_to_tensor(images), resize), crop)
    return x.numpy() if eager else x


def pca_lighting(image, std=PCA_STD, seed=None):
    """Add ``eigvec @ (alpha * eigval)`` to every pixel, alpha ~ N(0, std) per image.

    ``seed``: a ``[2]`` integer tensor for TensorFlow's stateless random ops (the same
    seed gives the same noise), or None for the stateful generator."""
    import tensorflow as tf

    if seed is None:
        alpha = tf.random.normal([3], stddev=std)
    else:
        alpha = tf.random.stateless_normal([3], seed, stddev=std)
    shift = tf.linalg.matvec(tf.constant(PCA_EIGVEC), alpha * tf.constant(PCA_EIGVAL))
    return image + shift


# The training maps take one ``[2]`` int64 seed per image and draw every random choice
# (crop position, flip, scale, lighting) with TensorFlow's stateless ops from it: an
# image's augmentation is a function of (seed, epoch, position), so a run resumed at
# epoch k sees exactly the batches an uninterrupted run sees (see train_dataset).
def _seeds(seed, n):
    import tensorflow as tf

    return tf.random.experimental.stateless_split(seed, n)


def cifar_train_map(pixel_mean, channels, pad=4, crop=True):
    """``(image, label, seed) -> (x, label)``: the paper's CIFAR augmentation."""
    import tensorflow as tf

    mean = tf.constant(pixel_mean, "float32")
    shape = tuple(pixel_mean.shape)

    def f(image, label, seed):
        crop_seed, flip_seed = tf.unstack(_seeds(seed, 2))
        x = tf.cast(to_channels(image, channels), "float32") / 255.0 - mean
        if crop:
            x = tf.pad(x, [[pad, pad], [pad, pad], [0, 0]])  # zeros = the mean image
            x = tf.image.stateless_random_crop(x, shape, crop_seed)
        return tf.image.stateless_random_flip_left_right(x, flip_seed), label

    return f


def imagenet_train_map(pixel_mean, channels, crop=IMAGENET_CROP,
                       scale_range=IMAGENET_SCALE_RANGE, lighting=True):
    """``(image, label, seed) -> (x, label)``: the paper's ImageNet augmentation."""
    import tensorflow as tf

    mean = tf.constant(pixel_mean, "float32")

    def f(image, label, seed):
        size_seed, crop_seed, flip_seed, light_seed = tf.unstack(_seeds(seed, 4))
        image = to_channels(image, channels)
        size = tf.random.stateless_uniform([], size_seed, scale_range[0],
                                           scale_range[1] + 1, dtype="int32")
        x = resize_shorter(image, size) / 255.0
        x = tf.image.stateless_random_crop(x, (crop, crop, channels), crop_seed)
        x = tf.image.stateless_random_flip_left_right(x, flip_seed)
        if lighting and channels == 3:
            x = pca_lighting(x, seed=light_seed)
        return x - mean, label

    return f


def eval_map(family, pixel_mean, channels, resize=IMAGENET_EVAL_RESIZE, crop=IMAGENET_CROP):
    """The single-view evaluation input: CIFAR images as they are (resized to the mean
    image's size, the network's input, when they have another size:
    :func:`~keras_resnet.data.images.resize_to`); ImageNet images resized (shorter side
    ``resize``) and centre-cropped to ``crop``."""
    import tensorflow as tf

    mean = tf.constant(pixel_mean, "float32")
    size = tuple(int(d) for d in np.shape(pixel_mean)[:2])

    def f(image, label):
        image = to_channels(image, channels)
        if family == "imagenet":
            x = resize_and_crop(image, resize, crop) / 255.0
        else:
            x = tf.cast(resize_to(image, size), "float32") / 255.0
        return x - mean, label

    return f


def compute_pixel_mean(split, family: str, channels: int, max_images: int = 20000,
                       resize=IMAGENET_EVAL_RESIZE, crop=IMAGENET_CROP) -> np.ndarray:
    """The per-pixel mean image of (up to ``max_images`` of) a training split, in [0, 1]
    units: (H, W, C) at the source's size for CIFAR-style nets, at the crop size for
    ImageNet nets (after the evaluation resize and centre crop).

    Which images: an image folder's ``max_images`` are a seeded random choice
    (:meth:`Split.sample`: its files are listed class by class, so the first ones would
    be a few classes' mean); arrays and tensorflow-datasets splits give their first
    ``max_images`` (stored in shuffled order, as CIFAR's, Fashion-MNIST's and TFDS'
    are; the shipped recipes' means were computed so)."""
    import tensorflow as tf

    if split.files is not None:
        split = split.sample(max_images, seed=0)
    if split.arrays is not None and family == "cifar":
        x = split.arrays[0][:max_images]
        x = tf.cast(to_channels(tf.constant(x), channels), "float32").numpy()
        return (x.mean(axis=0) / 255.0).astype("float32")
    ds = split.dataset.take(max_images)

    def prep(image, _):
        image = to_channels(image, channels)
        if family == "imagenet":
            return resize_and_crop(image, resize, crop)
        return tf.cast(image, "float32")

    total, n = None, 0
    for batch in ds.map(prep, num_parallel_calls=tf.data.AUTOTUNE).batch(256):
        s = tf.reduce_sum(batch, axis=0).numpy().astype("float64")
        total = s if total is None else total + s
        n += int(batch.shape[0])
    return (total / n / 255.0).astype("float32")


_GRAPH_SEED = 20151210  # any non-zero constant (the paper's arXiv date)


def train_dataset(split, family, pixel_mean, batch_size, *, channels=None, seed=None,
                  shuffle_buffer=None, cache=True, drop_remainder=False, augment=True,
                  crop=True, epochs=None, initial_epoch=0, imagenet_crop=IMAGENET_CROP,
                  imagenet_scale_range=IMAGENET_SCALE_RANGE):
    """Batched, shuffled, augmented, prefetched training data from a :class:`Split`.

    Two forms:

    * ``epochs=None``: one epoch's batches, reshuffled and re-augmented each time the
      dataset is iterated (``model.fit(ds, epochs=n)``).
    * ``epochs=n``: the batches of epochs ``initial_epoch .. n-1`` one after another
      (``model.fit(ds, epochs=n, initial_epoch=..., steps_per_epoch=ceil(size /
      batch_size))``). Epoch ``e``'s order and augmentation are a function of
      ``(seed, e)`` alone, so a run resumed at epoch ``k`` trains on exactly the
      batches an uninterrupted run trains on from epoch ``k`` (``seed`` required).

    ``imagenet_crop``, ``imagenet_scale_range``: the ImageNet family's crop size and the
    range of the shorter side before it, in pixels (the paper's 224 and [256, 480]).

    Raises:
        ValueError: an unknown family, or ``epochs`` without a ``seed``.
    """
    import tensorflow as tf

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    channels = channels or int(pixel_mean.shape[-1])
    base = split.dataset
    if cache and split.arrays is None and split.size <= 200_000 and None not in split.image_shape:
        base = base.cache()
    buffer = shuffle_buffer or min(split.size, 50_000)
    if augment:
        fn = (cifar_train_map(pixel_mean, channels, crop=crop) if family == "cifar"
              else imagenet_train_map(pixel_mean, channels, crop=imagenet_crop,
                                      scale_range=imagenet_scale_range))
    else:
        plain = eval_map(family, pixel_mean, channels,
                         resize=round(imagenet_crop * IMAGENET_EVAL_RESIZE / IMAGENET_CROP),
                         crop=imagenet_crop)

        def fn(image, label, seed):
            return plain(image, label)

    def batches(ds):
        ds = ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None)
        return ds.batch(batch_size, drop_remainder=drop_remainder)

    if epochs is None:
        ds = base.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        per_image = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, per_image.batch(2, drop_remainder=True))
        return batches(ds.map(lambda xy, s: (*xy, s))).prefetch(tf.data.AUTOTUNE)

    if seed is None:
        raise ValueError("train_dataset(epochs=...) needs a seed: each epoch's order and "
                         "augmentation are derived from (seed, epoch)")

    def one_epoch(epoch):
        epoch_seed = tf.constant(seed, "int64") * 1_000_003 + epoch
        # Dataset.shuffle pairs its (here: tensor) seed with the graph-level seed. This
        # function is traced into its own graph: fixing that graph's seed (not the
        # process's) makes the order a function of (seed, epoch) alone, whatever global
        # seed the caller set (and TensorFlow cannot pair a tensor with a global seed 0).
        tf.random.set_seed(_GRAPH_SEED)
        ds = base.shuffle(buffer, seed=epoch_seed, reshuffle_each_iteration=False)
        ds = ds.enumerate().map(
            lambda i, xy: (*xy, tf.stack([epoch_seed, i])))
        return batches(ds)

    ds = tf.data.Dataset.range(initial_epoch, epochs).flat_map(one_epoch)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(split, family, pixel_mean, batch_size, *, channels=None,
                 resize=IMAGENET_EVAL_RESIZE, crop=IMAGENET_CROP):
    """Batches of ``(x, label)`` through :func:`eval_map` (``resize``/``crop``: the
    ImageNet family's shorter side and centre crop, pixels)."""
    import tensorflow as tf

    channels = channels or int(pixel_mean.shape[-1])
    ds = split.dataset.map(eval_map(family, pixel_mean, channels, resize, crop),
                           num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def eval_arrays(split, family, pixel_mean, n: int, *, batch_size: int = 256,
                resize=IMAGENET_EVAL_RESIZE, crop=IMAGENET_CROP):
    """The first ``n`` examples of ``split`` through :func:`eval_dataset`, as numpy:
    ``(images, labels)``, images float32 ``(n, H, W, C)`` preprocessed as the model
    takes them, labels int ``(n,)``. For verification and calibration sets."""
    xs, ys = [], []
    for x, y in eval_dataset(split.take(n), family, pixel_mean, batch_size=batch_size,
                             resize=resize, crop=crop):
        xs.append(x.numpy())
        ys.append(y.numpy())
    if not xs:
        raise ValueError(f"{split.name} has no examples to take")
    return np.concatenate(xs), np.concatenate(ys)
