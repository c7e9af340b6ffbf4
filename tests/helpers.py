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
