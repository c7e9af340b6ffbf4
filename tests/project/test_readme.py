"""The README and the guides under docs/ say what the code does: the models table, the
shipped-weights snippet with include_preprocessing, backbone()'s return type, the
evaluation views, and their links resolve."""

import pathlib
import re

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.arch import paper
from keras_resnet.data import load_embedded

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
# what the README and the guides say, together (the README links each guide)
DOCS = "\n".join(p.read_text() for p in PAGES)


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
    assert 'include_preprocessing=True)' in DOCS and "raw(uint8_images[..., None])" in DOCS
    np.testing.assert_allclose(np.asarray(raw(x[..., None])), np.asarray(model(preprocess(x))),
                               rtol=1e-4, atol=1e-5)


def test_backbone_returns_a_model_whose_outputs_are_a_dict():
    guide = (ROOT / "docs" / "guides" / "deployment.md").read_text()
    line = next(l for l in guide.splitlines() if "= keras_resnet.backbone(" in l)
    assert "keras.Model; its outputs are a dict" in line
    features = keras_resnet.backbone("resnet18", input_shape=(64, 64, 3))
    assert isinstance(features, keras.Model) and isinstance(features.output, dict)
    assert sorted(features(np.zeros((1, 64, 64, 3), "float32"))) == ["C2", "C3", "C4", "C5"]


def test_multiscale_is_offered_for_imagenet_nets_only():
    line = next(l for l in DOCS.splitlines() if "keras-resnet evaluate --weights runs/x" in l)
    assert "multiscale: ImageNet-family nets" in line
    from keras_resnet.evaluation import predict_views

    with pytest.raises(ValueError, match="ImageNet networks"):
        predict_views(keras_resnet.build("resnet8", input_shape=(28, 28, 1)),
                      keras_resnet.data.load_split("embedded", "test").take(2), "cifar",
                      np.zeros((28, 28, 1), "float32"), "multiscale")
    assert re.search(r"`multiscale` \(the paper's fully-convolutional test", DOCS)


def test_readme_is_short_and_every_relative_link_resolves():
    assert len(README.splitlines()) <= 250
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"(https?:|#|mailto:)", target):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{page.relative_to(ROOT)} links to missing {target}"
