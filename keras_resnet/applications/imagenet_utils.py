"""keras.applications' ``imagenet_utils``: ``preprocess_input`` with a ``mode`` and
``decode_predictions``."""

from __future__ import annotations

from ..pretrained import classes as _classes
from ..pretrained import transforms as _transforms


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocess RGB images with values 0-255 in keras.applications' ``mode``
    (``"caffe"``, ``"torch"`` or ``"tf"``); see
    :func:`keras_resnet.preprocess_input` for shapes, dtypes and the tensor kinds taken.

    Raises:
        ValueError: an unknown ``mode`` or ``data_format``, or images it cannot apply to.
    """
    return _transforms.preprocess_input(x, data_format, mode=mode)


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` ``(N, 1000)``, as lists of
    ``(wordnet_id, keras_name, score)``, best first (keras.applications' strings).

    Raises:
        ValueError: ``preds`` is not ``(N, 1000)``.
    """
    return _classes.decode_predictions(preds, top=top)
