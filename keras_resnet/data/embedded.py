"""The embedded default data: a class-balanced real subset of Fashion-MNIST.

5,000 training and 2,000 test images (28x28 grayscale, uint8), taken from the
original idx files (Debian package ``dataset-fashion-mnist``) by
``scripts/make_embedded_sample.py``, and shipped inside the package in the same
gzipped idx format. Fashion-MNIST is (c) Zalando SE, MIT licence (see LICENSE in
the sample folder). No download is ever needed.
"""

from __future__ import annotations

import os
from importlib import resources

from .idx import read_idx

SAMPLE_DIR = str(resources.files(__package__) / "files" / "fashion_mnist_sample")
SAMPLE_SIZES = {"train": 5000, "test": 2000}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def load_idx_dir(directory):
    """Load ``(x_train, y_train), (x_test, y_test)`` from a directory holding the four
    (Fashion-)MNIST idx files (``train-images-idx3-ubyte[.gz]``, ...)."""

    def find(stem):
        for name in (stem + ".gz", stem):
            path = os.path.join(directory, name)
            if os.path.exists(path):
                return path
        raise FileNotFoundError(
            f"{stem}[.gz] not found in {directory!r}; expected the four idx files "
            "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            "t10k-labels-idx1-ubyte (optionally gzipped)"
        )

    splits = []
    for prefix in ("train", "t10k"):
        x = read_idx(find(f"{prefix}-images-idx3-ubyte"))
        y = read_idx(find(f"{prefix}-labels-idx1-ubyte"))
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{prefix} images {x.shape} and labels {y.shape} in {directory!r} do not pair up"
            )
        splits.append((x, y.astype("int64")))
    return tuple(splits)


def load_embedded():
    """``(x_train, y_train), (x_test, y_test)`` of the embedded Fashion-MNIST sample:
    uint8 images of shape (N, 28, 28) and int64 labels 0-9, like keras.datasets."""
    return load_idx_dir(SAMPLE_DIR)
