"""Loading saved models, including the very deep ones."""

from __future__ import annotations

import os
import sys


def load_model(path, **kwargs):
    """``keras.saving.load_model`` for models of this package.

    Models are made of stock Keras layers, so plain ``keras.saving.load_model`` works
    too, without custom objects. Keras rebuilds a functional graph recursively, and
    ResNet-1202 (~4,200 layers) needs more than Python's default 1,000 stack frames:
    this function raises the limit while loading (to 10,000 at least), then restores it.
    """
    import keras

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no saved model at {path!r}")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        return keras.saving.load_model(path, **kwargs)
    finally:
        sys.setrecursionlimit(old)
