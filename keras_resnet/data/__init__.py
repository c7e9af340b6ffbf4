"""Datasets: the embedded Fashion-MNIST sample and idx-file readers."""

from .embedded import FASHION_MNIST_CLASSES, load_embedded, load_idx_dir
from .idx import read_idx, write_idx

__all__ = ["FASHION_MNIST_CLASSES", "load_embedded", "load_idx_dir", "read_idx", "write_idx"]
