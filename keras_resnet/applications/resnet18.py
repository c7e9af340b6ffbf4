"""ResNet-18, whose ``weights="imagenet"`` are torchvision's (keras.applications has
no ResNet-18).

``preprocess_input(x, data_format=None)`` applies torch preprocessing, what this
module's ``weights="imagenet"`` expect.
"""

from __future__ import annotations

from ..pretrained import classes as _classes
from ..pretrained import transforms as _transforms
from ..constructors import ResNet18  # noqa: F401


def preprocess_input(x, data_format=None):
    """Torch-mode preprocessing of RGB images with values 0-255, as
    ``weights="imagenet"`` of this module's networks expect; see
    :func:`keras_resnet.preprocess_input` for shapes, dtypes and the tensor kinds taken.

    Raises:
        ValueError: an unknown ``data_format``, or images without 3 channels.
    """
    return _transforms.preprocess_input(x, data_format, weights="resnet18.imagenet")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` ``(N, 1000)``, as lists of
    ``(wordnet_id, keras_name, score)``, best first (keras.applications' strings).

    Raises:
        ValueError: ``preds`` is not ``(N, 1000)``.
    """
    return _classes.decode_predictions(preds, top=top)
