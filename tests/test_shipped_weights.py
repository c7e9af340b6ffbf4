"""Weights shipped in weights/ are re-evaluated, not trusted: each packaged entry is
loaded by tag and scored on its dataset's full test split (when the data is on disk)."""

import os

import numpy as np
import pytest

import keras_resnet
from keras_resnet.pretrained.registry import load_registry

DEBIAN = "/usr/share/datasets/fashion-mnist"
TARGETS = {"resnet20.fashion_mnist": 94.0}  # the bar for ResNet-20


def packaged_tags():
    entries, _ = load_registry()
    return [t for t, e in entries.items() if e.files["top"].get("package")]


def test_every_packaged_entry_is_complete():
    entries, _ = load_registry()
    for tag in packaged_tags():
        e = entries[tag]
        assert e.format == "keras-weights-h5" and e.input_shape and e.command
        assert e.preprocessing["mode"] == "pixel_mean" and "top1" in e.metrics
        model, preprocess = keras_resnet.load_pretrained(tag)  # the file and hash are there
        assert model.output.shape[-1] == e.classes


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(DEBIAN), reason="Debian dataset-fashion-mnist not installed")
@pytest.mark.parametrize("tag", [t for t in packaged_tags() if "fashion_mnist" in t] or
                         [pytest.param(None, marks=pytest.mark.skip("no packaged weights yet"))])
def test_shipped_weights_reach_their_recorded_accuracy(tag):
    from keras_resnet.data import load_idx_dir

    entries, _ = load_registry()
    model, preprocess = keras_resnet.load_pretrained(tag)
    _, (x, y) = load_idx_dir(DEBIAN)
    probs = np.concatenate([np.asarray(model(preprocess(x[i:i + 500]), training=False))
                            for i in range(0, len(x), 500)])
    accuracy = 100 * float(np.mean(probs.argmax(1) == y))
    assert accuracy == pytest.approx(entries[tag].metrics["top1"], abs=0.02)
    assert accuracy >= TARGETS.get(tag, 0.0)
