"""Data: the embedded sample, idx/CIFAR/image-folder readers, tensorflow-datasets
sources, and the paper's augmentation pipelines."""

from .embedded import FASHION_MNIST_CLASSES, load_embedded, load_idx_dir
from .idx import read_idx, write_idx
from .sources import (SkippedFilesWarning, Split, fashion_mnist_manual_dir,
                      image_folder_split, load_split, read_cifar_python)

__all__ = ["FASHION_MNIST_CLASSES", "SkippedFilesWarning", "Split", "fashion_mnist_manual_dir",
           "image_folder_split", "load_embedded", "load_idx_dir", "load_split",
           "read_cifar_python", "read_idx", "write_idx"]
