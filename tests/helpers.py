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


def leaf_layer_names(model):
    return [layer.name for layer in model.layers]
