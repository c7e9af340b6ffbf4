"""The README says what the code does: its models table, the shipped-weights snippet
with include_preprocessing, backbone()'s return type, the evaluation views."""

import pathlib
import re

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.arch import paper
from keras_resnet.data import load_embedded

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text()


def _table_rows():
    rows = {}
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0] in keras_resnet.list_models():
            rows[cells[0]] = cells
    return rows


def test_models_table_equals_the_live_counts_and_the_cli_wording():
    rows = _table_rows()
    assert {"resnet18", "resnet50", "resnet152", "resnet20", "resnet1202"} <= set(rows)
    for name, (_, depth, block, shortcut, size, params, gmacs, note) in rows.items():
        spec = keras_resnet.get_spec(name)
        c = keras_resnet.spec_complexity(spec)
        assert params == f"{c.params:,}", name
        assert gmacs == f"{c.macs / 1e9:.3f}", name
        assert (int(depth), block, shortcut) == (spec.depth, spec.block, spec.shortcut)
        ref = paper.reported(spec)
        if "gmacs" in ref:  # the CLI's words: "1.8 GMACs (Table 1)", not GFLOPs
            assert note == f"{ref['gmacs']} GMACs (Table 1)", name
    assert "GFLOPs" not in README


def test_shipped_weights_snippet_with_include_preprocessing():
    (_, _), (x, _) = load_embedded()
    x = x[:16]
    model, preprocess = keras_resnet.load_pretrained("resnet20.fashion_mnist")
    raw = keras_resnet.ResNet20(weights="fashion_mnist", input_shape=(28, 28, 1),
                                include_preprocessing=True)
    assert 'include_preprocessing=True)' in README and "raw(uint8_images[..., None])" in README
    np.testing.assert_allclose(np.asarray(raw(x[..., None])), np.asarray(model(preprocess(x))),
                               rtol=1e-4, atol=1e-5)


def test_backbone_returns_a_model_whose_outputs_are_a_dict():
    line = next(l for l in README.splitlines() if "keras_resnet.backbone(" in l)
    assert "keras.Model; its outputs are a dict" in line
    features = keras_resnet.backbone("resnet18", input_shape=(64, 64, 3))
    assert isinstance(features, keras.Model) and isinstance(features.output, dict)
    assert sorted(features(np.zeros((1, 64, 64, 3), "float32"))) == ["C2", "C3", "C4", "C5"]


def test_multiscale_is_offered_for_imagenet_nets_only():
    line = next(l for l in README.splitlines() if "keras-resnet evaluate --weights runs/x" in l)
    assert "multiscale: ImageNet-family nets" in line
    from keras_resnet.evaluation import predict_views

    with pytest.raises(ValueError, match="ImageNet networks"):
        predict_views(keras_resnet.build("resnet8", input_shape=(28, 28, 1)),
                      keras_resnet.data.load_split("embedded", "test").take(2), "cifar",
                      np.zeros((28, 28, 1), "float32"), "multiscale")
    assert re.search(r"`multiscale` \(the paper's fully-convolutional test", README)
