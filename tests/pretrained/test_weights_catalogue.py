"""The weights catalogue (issue 25 item 5): `keras-resnet weights`, docs/weights.md in
step with the registry, and each card's one line of Python naming its own weights."""

import re
from pathlib import Path

import keras_resnet
from keras_resnet.cli import main
from keras_resnet.pretrained import cards, registry

PAGE = Path(__file__).resolve().parents[2] / "docs" / "weights.md"


def test_docs_page_is_the_generated_catalogue():
    assert PAGE.read_text() == cards.catalogue_markdown(), (
        "docs/weights.md is stale: regenerate it with "
        "`keras-resnet weights --markdown > docs/weights.md`")
    for arch, page in cards.arch_pages().items():  # one page of model cards per network
        path = PAGE.parent / "weights" / f"{arch}.md"
        assert path.read_text() == page, (
            f"{path} is stale: regenerate it with `keras-resnet weights --markdown --arch "
            f"{arch} > {path}`")
        assert f"(weights/{arch}.md)" in PAGE.read_text()
        for tag in keras_resnet.list_weights(arch):
            assert f"### {tag}\n" in page and str(tag) in cards.card(tag)
    assert sorted(p.stem for p in (PAGE.parent / "weights").glob("*.md")) == sorted(
        cards.arch_pages())
    readme = (PAGE.parents[1] / "README.md").read_text()
    assert cards.best_table() in readme, (
        "README's weights table is stale: paste keras_resnet.pretrained.cards.best_table()")
    assert "resnet152.tv2_in1k" in cards.best_table()  # 82.28% beats A1's 82.00%


def test_every_card_loads_its_own_weights_and_shows_the_publishers_transform():
    entries, _ = registry.load_registry()
    rows = cards.rows()
    assert [r["weights"] for r in rows] == list(entries)
    for r in rows:
        m = re.fullmatch(r'`keras_resnet\.(\w+)\(weights="([\w.]+)"\)`', r["load it"])
        spec = keras_resnet.get_spec(m.group(1))
        assert callable(getattr(keras_resnet, m.group(1)))
        assert registry.resolve(spec.name, m.group(2)).tag == r["weights"]
        e = entries[r["weights"]]
        if e.format == "timm-safetensors" and ".tv_" not in e.tag:
            # timm's own recipes: crop_pct 0.95, floor(224 / 0.95) = 235, bicubic
            assert r["eval transform"] == "shorter side 235 bicubic, centre 224, " + (
                "[-1, 1]" if e.preprocessing["mean"] == [1.0] * 3 else "mean/std")
        elif ".tv" in e.tag:  # torchvision's V1 (resize 256) and V2 (232), bilinear
            size = 232 if ".tv2_" in e.tag else 256
            assert r["eval transform"] == f"shorter side {size} bilinear, centre 224, mean/std"
    by_tag = {r["weights"]: r for r in rows}
    # torchvision's published parameter counts (independent of our counter)
    assert by_tag["resnet50.tv_in1k"]["params"] == f"{25_557_032 / 1e6:.2f} M"
    assert by_tag["resnet50d.a1_in1k"]["params"] == f"{25_576_264 / 1e6:.2f} M"
    # v1.5 weights are counted on the v1.5 graph (4.09 GMACs), v1 on the paper's (3.86)
    assert (by_tag["resnet50.tv_in1k"]["GMACs"], by_tag["resnet50.imagenet"]["GMACs"]) == (
        "4.09", "3.86")


def test_cli_lists_the_catalogue_and_filters_by_architecture(capsys):
    assert main(["weights", "--arch", "resnet50d"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("resnet")]
    assert listed == ["resnet50d.a1_in1k", "resnet50d.ra4_e3600_r224_in1k"]
    assert "80.96%" in out and "Apache-2.0" in out
    assert main(["weights", "--arch", "resnet32"]) == 0
    assert "no pretrained weights are registered for resnet32" in capsys.readouterr().out


def test_weights_objects_are_their_tags_with_meta_classes_and_transforms():
    import copy
    import pickle

    import numpy as np

    from keras_resnet.preprocessing import resize_and_crop_pil

    all_weights = keras_resnet.list_weights()
    assert all(isinstance(w, keras_resnet.Weights) for w in all_weights)
    assert "resnet152.imagenet" in all_weights  # still compares as its tag
    assert keras_resnet.list_weights("ResNet-50-D") == ["resnet50d.a1_in1k",
                                                       "resnet50d.ra4_e3600_r224_in1k"]
    w = keras_resnet.get_weights("resnet50d.ra4_e3600_r224_in1k")
    assert w == keras_resnet.get_weights("ra4_e3600_r224_in1k", arch="resnet50d")
    assert pickle.loads(pickle.dumps(w)).entry == w.entry == copy.copy(w).entry
    m = w.meta
    assert (m["top1"], m["params"], m["license"], m["interpolation"]) == (
        80.956, 25_576_264, "Apache-2.0", "bicubic")
    assert m["hash"].startswith("sha256:dcfb3207") and m["resize"] == 235
    assert len(w.class_names) == 1000 and w.class_names[0] == "tench"
    assert keras_resnet.get_weights("resnet20.fashion_mnist").class_names[9] == "Ankle boot"

    photo = np.random.default_rng(0).integers(0, 256, (300, 451, 3), dtype="uint8")
    x = w.transforms()(photo)
    raw = w.transforms(normalize=False)(photo)
    assert x.shape == raw.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(raw[0], resize_and_crop_pil(photo, 235, 224, "bicubic"))
    np.testing.assert_allclose(x, raw / 127.5 - 1.0, atol=1e-6)  # timm's [-1, 1] config
    fm = keras_resnet.get_weights("resnet20.fashion_mnist").transforms()
    assert fm(np.zeros((5, 28, 28), "uint8")).shape == (5, 28, 28, 1)
    import pytest
    with pytest.raises(ValueError, match="take 28x28x1 images"):
        fm(np.zeros((2, 32, 32), "uint8"))
    with pytest.raises(ValueError, match="unknown weights"):
        keras_resnet.get_weights("resnet50.nope")


def test_one_rule_resolves_weights_everywhere(tmp_path, monkeypatch):
    """Issue 25 item 3: `resolve_weights` decides "tag or file?" once; build, the
    in-model preprocessing, training, export and predict all go through it, and export
    and predict spell class names the same way."""
    import pytest

    import keras_resnet.pretrained.loading as loading
    from keras_resnet.deploy.export import _tag_class_names
    from keras_resnet.pretrained.weights import registered, resolve_weights

    assert resolve_weights(None, "resnet50") is None
    w = resolve_weights("imagenet", "resnet18")
    assert isinstance(w, keras_resnet.Weights) and w == "resnet18.tv_in1k"
    assert resolve_weights(w, "resnet18") is w
    assert resolve_weights("resnet50.a1_in1k") == "resnet50.a1_in1k"
    with pytest.raises(ValueError, match="are for resnet18, not resnet50"):
        resolve_weights(w, "resnet50")
    with pytest.raises(ValueError, match="weights file not found: 'missing.safetensors'"):
        resolve_weights("missing.safetensors", "resnet50")
    with pytest.raises(ValueError, match="unknown weights 'a9_in1k' for resnet50"):
        resolve_weights("a9_in1k", "resnet50")
    with pytest.raises(ValueError, match="keras_resnet.Weights, or a file path"):
        resolve_weights(3, "resnet50")
    # A file named like a tag is a file (as in keras.applications, a path is a path).
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet50.a1_in1k").write_bytes(b"")
    assert not isinstance(resolve_weights("resnet50.a1_in1k", "resnet50"), keras_resnet.Weights)
    assert registered("resnet50.a1_in1k") is None
    monkeypatch.chdir(PAGE.parent)
    assert registered("resnet50.a1_in1k") == "resnet50.a1_in1k"

    # build takes the Weights object itself: its entry fixes v1.5 before any download.
    def no_download(*args, **kwargs):
        raise RuntimeError("stop before downloading")

    monkeypatch.setattr(loading, "fetch", no_download)
    with pytest.raises(RuntimeError, match="stop before downloading"):
        keras_resnet.ResNet50(weights=keras_resnet.get_weights("resnet50.tv2_in1k"),
                              input_shape=(64, 64, 3))
    # Export records the names predict prints.
    names = _tag_class_names("resnet50.imagenet")
    assert names == list(keras_resnet.get_weights("resnet50.imagenet").class_names)
    assert "crane (wading bird)" in names and len(names) == 1000
