"""Weights shipped in weights/ are re-evaluated, not trusted: each packaged entry is
loaded by tag and scored on its dataset's full test split (when the data is on disk),
by `keras-resnet evaluate` and by an independent path (load_pretrained + its
preprocessing, plain numpy scoring)."""

import json
import os

import numpy as np
import pytest

import keras_resnet
from keras_resnet.cli import main
from keras_resnet.pretrained.registry import load_registry

DEBIAN = "/usr/share/datasets/fashion-mnist"
TARGETS = {"resnet20.fashion_mnist": 94.0}  # the bar for ResNet-20


def packaged_tags():
    entries, _ = load_registry()
    return [t for t, e in entries.items() if e.files["top"].get("package")]


def _fashion_tags():
    return ([t for t in packaged_tags() if "fashion_mnist" in t] or
            [pytest.param(None, marks=pytest.mark.skip("no packaged weights yet"))])


def _direct_accuracy(tag, x, y):
    """Top-1 accuracy (%) through load_pretrained's model and preprocessing."""
    model, preprocess = keras_resnet.load_pretrained(tag)
    probs = np.concatenate([np.asarray(model(preprocess(x[i:i + 500]), training=False))
                            for i in range(0, len(x), 500)])
    return 100 * float(np.mean(probs.argmax(1) == y))


def _cli_accuracy(tag, dataset, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--weights", tag, "--dataset", dataset,
                 "--json", str(out)]) == 0
    assert "top-1 accuracy" in capsys.readouterr().out
    return 100 * json.loads(out.read_text())["top1_accuracy"]


def test_every_packaged_entry_is_complete():
    entries, _ = load_registry()
    for tag in packaged_tags():
        e = entries[tag]
        assert e.format == "keras-weights-h5" and e.input_shape and e.command
        assert e.preprocessing["mode"] == "pixel_mean" and "top1" in e.metrics
        model, preprocess = keras_resnet.load_pretrained(tag)  # the file and hash are there
        assert model.output.shape[-1] == e.classes


@pytest.mark.parametrize("tag", _fashion_tags())
def test_weights_by_short_tag_like_keras_applications(tag):
    """ResNet20(weights="fashion_mnist", input_shape=...) is the same network as
    load_pretrained's, and the weights are not the random initialisation."""
    from keras_resnet.data import load_embedded

    entries, _ = load_registry()
    arch, short = tag.split(".", 1)
    constructor = {n.lower(): getattr(keras_resnet, n) for n in keras_resnet.__all__}[arch]
    model = constructor(weights=short, input_shape=tuple(entries[tag].input_shape))
    reference, preprocess = keras_resnet.load_pretrained(tag)
    _, (x, _) = load_embedded()
    batch = preprocess(x[:64])
    out = np.asarray(model(batch, training=False))
    np.testing.assert_array_equal(out, np.asarray(reference(batch, training=False)))
    fresh = constructor(weights=None, input_shape=tuple(entries[tag].input_shape))
    assert np.abs(np.asarray(fresh(batch, training=False)) - out).max() > 0.1


@pytest.mark.parametrize("tag", _fashion_tags())
def test_evaluate_by_tag_on_the_embedded_test_images(tag, tmp_path, capsys):
    """The 2,000 embedded test images are real Fashion-MNIST test images: the CLI's
    score by tag equals the independent path's, and is near the 10k figure (a 2,000
    image estimate has a standard error of ~0.5 points at 94%)."""
    from keras_resnet.data import load_embedded

    entries, _ = load_registry()
    _, (x, y) = load_embedded()
    direct = _direct_accuracy(tag, x, y)
    assert _cli_accuracy(tag, "embedded", tmp_path, capsys) == pytest.approx(direct, abs=1e-6)
    assert abs(direct - entries[tag].metrics["top1"]) < 2.5


def test_evaluate_rejects_tags_it_cannot_preprocess(capsys):
    assert main(["evaluate", "--weights", "resnet50.imagenet", "--dataset", "embedded"]) == 2
    err = capsys.readouterr().err
    assert "'caffe' preprocessing" in err and "load_pretrained('resnet50.imagenet')" in err
    assert main(["evaluate", "--weights", "resnet20.fashion_mnsit", "--dataset", "embedded"]) == 2
    err = capsys.readouterr().err
    assert "neither a run directory, a file, nor a registry tag" in err
    assert "resnet20.fashion_mnist" in err


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(DEBIAN), reason="Debian dataset-fashion-mnist not installed")
@pytest.mark.parametrize("tag", _fashion_tags())
def test_shipped_weights_reach_their_recorded_accuracy(tag, tmp_path, capsys):
    from keras_resnet.data import load_idx_dir

    entries, _ = load_registry()
    _, (x, y) = load_idx_dir(DEBIAN)
    assert len(y) == 10000
    direct = _direct_accuracy(tag, x, y)
    cli = _cli_accuracy(tag, DEBIAN, tmp_path, capsys)
    assert cli == pytest.approx(direct, abs=1e-6)
    assert direct == pytest.approx(entries[tag].metrics["top1"], abs=0.02)
    assert direct >= TARGETS.get(tag, 0.0)
