"""Class names: the ImageNet-1k index shipped in the package, and
:func:`decode_predictions` in keras.applications' form.

The index (``pretrained/imagenet_classes.json``) lists the 1000 classes in the order of
every released ResNet's outputs (sorted WordNet ids), each with two names:
keras.applications' (the synset's first WordNet lemma, underscores for spaces:
``"toilet_tissue"``, ``"Granny_Smith"``; two classes are ``"crane"`` and two
``"maillot"``, as there) and a readable, unique one (``"toilet tissue"``,
``"crane (wading bird)"``). It was made offline by
``scripts/make_imagenet_class_index.py`` from tensorflow-datasets' imagenet2012 label file
and WordNet 3.0; nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np


NAMES = ("keras", "readable")


@functools.lru_cache(maxsize=None)
def imagenet_classes(names: str = "keras") -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes as ``(wordnet_id, name)`` in model output order.

    Args:
        names: ``"keras"``: keras.applications' strings (``"toilet_tissue"``);
            ``"readable"``: spaces and unique names (``"crane (wading bird)"``).
    """
    if names not in NAMES:
        raise ValueError(f"names must be one of {NAMES}, got {names!r}")
    text = resources.files(__package__).joinpath("imagenet_classes.json").read_text()
    column = 1 + NAMES.index(names)
    return tuple((row[0], row[column]) for row in json.loads(text)["classes"])


def _class_table(classes, width: int, names: str):
    if classes is None or (isinstance(classes, str) and classes == "imagenet"):
        if width != 1000:
            raise ValueError(
                f"predictions have {width} classes, not ImageNet's 1000; pass the class "
                "names, e.g. decode_predictions(p, classes=keras_resnet.data."
                "FASHION_MNIST_CLASSES)")
        return imagenet_classes(names)
    if isinstance(classes, str):
        raise ValueError(f"classes must be 'imagenet' or a sequence of names, got {classes!r}")
    names = list(classes)
    if len(names) != width:
        raise ValueError(f"predictions have {width} classes but {len(names)} names were given")
    return tuple((i, str(n)) for i, n in enumerate(names))


def decode_predictions(preds, top: int = 5, classes=None, names: str = "keras"):
    """Top-``top`` classes of each prediction, as keras.applications returns them.

    Args:
        preds: ``(N, C)`` scores (probabilities or logits; numpy or a tensor); the
            ranking is the same.
        top: how many classes per row.
        classes: ``None`` / ``"imagenet"`` for the ImageNet-1k index (``C`` must be
            1000), or a sequence of ``C`` class names (then the id is the index).
        names: for the ImageNet index: ``"keras"`` (keras.applications' strings, the
            default) or ``"readable"`` (see :func:`imagenet_classes`).

    Returns:
        One list per row of ``(class_id, name, score)`` tuples, best first.
    """
    if not isinstance(preds, (np.ndarray, list, tuple)):
        import keras

        preds = keras.ops.convert_to_numpy(preds)  # a tensor of any backend
    p = np.asarray(preds)
    if p.ndim != 2:
        raise ValueError(f"decode_predictions expects a batch of scores (N, classes), got "
                         f"shape {p.shape}")
    table = _class_table(classes, p.shape[1], names)
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be an integer >= 1, got {top!r}")
    top = min(top, p.shape[1])
    order = np.argsort(-p, axis=1, kind="stable")[:, :top]
    return [[(*table[j], float(row[j])) for j in idx] for row, idx in zip(p, order)]
