"""Shared test helpers."""

import functools

import numpy as np


@functools.lru_cache(maxsize=None)
def cached_model(name, **kwargs):
    """Build a model once per test session. Tests must not change it."""
    import keras_resnet

    return keras_resnet.build(name, **kwargs)


def images(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def randomise(model, seed=0):
    """Random BN values (gamma, beta, moving mean, moving variance) and conv biases:
    with the defaults, swapped or unfolded tensors would go unseen."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n),
                               rng.normal(0, 0.2, n), rng.uniform(0.5, 2.0, n)])
        elif isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.2, bias.shape)])


def save_legacy_h5(model, path):
    """Save weights in the Keras 2 legacy layout that keras.applications publishes."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


# ------------------------------------------------------------------ image folders
FOLDER_KINDS = ("png8_rgb", "jpeg_rgb", "png8_grey", "png16_grey", "png8_rgba", "png16_rgb")


def class_image(label, size=(32, 32), seed=0):
    """A uint8 RGB image that tells its class (0: bright top half, 1: bright bottom
    half) under noise, so a network learns the two classes within a few steps."""
    h, w = size
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (h, w, 3)).astype("int32")
    rows = slice(0, h // 2) if label == 0 else slice(h // 2, h)
    img[rows] += 170
    return np.clip(img, 0, 255).astype("uint8")


def write_image(path, rgb, kind):
    """Write an RGB uint8 image as ``kind`` (one of FOLDER_KINDS); 16-bit files hold
    ``v * 257`` (so their 8-bit reading is ``v`` exactly). Returns the 8-bit RGB
    image a correct reader gives back (grey kinds: the luminance, repeated)."""
    import PIL.Image

    path = str(path)
    grey = np.round(rgb.astype("float64") @ [0.299, 0.587, 0.114]).astype("uint8")
    if kind == "png8_rgb":
        PIL.Image.fromarray(rgb).save(path)
    elif kind == "jpeg_rgb":
        PIL.Image.fromarray(rgb).save(path, quality=95)
    elif kind == "png8_grey":
        PIL.Image.fromarray(grey).save(path)
    elif kind == "png8_rgba":
        alpha = np.full(rgb.shape[:2] + (1,), 200, "uint8")
        PIL.Image.fromarray(np.concatenate([rgb, alpha], -1)).save(path)
    elif kind in ("png16_grey", "png16_rgb"):
        import tensorflow as tf  # PIL writes no 16-bit RGB PNG

        x = grey[..., None] if kind == "png16_grey" else rgb
        data = tf.io.encode_png(tf.constant(x.astype("uint16") * 257))
        with open(path, "wb") as f:
            f.write(data.numpy())
    else:
        raise ValueError(kind)
    if kind in ("png8_grey", "png16_grey"):
        return np.repeat(grey[..., None], 3, -1)
    if kind == "jpeg_rgb":  # lossy: what another decoder (PIL's) reads back
        return np.asarray(PIL.Image.open(path).convert("RGB"))
    return rgb


def write_image_folder(root, *, per_class=6, size=(32, 32), kinds=FOLDER_KINDS,
                       classes=("a", "b"), split_dirs=("train", "test"), seed=0):
    """``root/<split>/<class>/<i>.<ext>`` images of :func:`class_image`, cycling
    through ``kinds``. Returns ``{path: expected 8-bit RGB image}`` (JPEG: as PIL
    decodes it)."""
    import os

    expected = {}
    k = 0
    for s, split in enumerate(split_dirs):
        for label, name in enumerate(classes):
            folder = os.path.join(str(root), split, name) if split else os.path.join(
                str(root), name)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                kind = kinds[k % len(kinds)]
                k += 1
                ext = ".jpg" if kind.startswith("jpeg") else ".png"
                path = os.path.join(folder, f"{i:03d}_{kind}{ext}")
                expected[path] = write_image(path, class_image(label, size, seed + 1000 * s + k),
                                             kind)
    return expected
