"""The weights registry as data, and weights="imagenet" end to end (served locally)."""

import dataclasses
import functools
import hashlib
import http.server
import threading

import keras
import pytest

import keras_resnet
from keras_resnet.numerics import assert_close
from keras_resnet.pretrained import registry
from keras_resnet.pretrained.download import parse_hash
from tests.helpers import images, randomise, save_legacy_h5


def test_every_entry_is_complete_and_consistent():
    entries, defaults = registry.load_registry()
    assert len(entries) >= 8
    names = set()
    for tag, e in entries.items():
        assert tag.startswith(e.arch + ".") and keras_resnet.get_spec(e.arch).name == e.arch
        assert e.stride_placement in ("1x1", "3x3")
        if e.files["top"].get("package"):  # trained in this repository, shipped inside
            assert e.format == "keras-weights-h5" and e.preprocessing["mode"] == "pixel_mean"
            assert e.input_shape and e.command and e.resize is None
        else:
            assert e.format in ("keras-applications-h5", "torchvision-state-dict",
                                "timm-safetensors")
            assert e.classes == 1000 and e.crop == 224 and e.resize >= e.crop
            assert e.preprocessing["mode"] in ("caffe", "torch", "tf")
        assert 0 < e.metrics["top1"] < e.metrics.get("top5", 100) <= 100
        assert e.metrics["source"] and e.license and e.origin
        assert e.interpolation in ("bilinear", "bicubic")
        for record in e.files.values():
            parse_hash(record["hash"])
            hf = record.get("hf")
            if hf:  # a hub file: its full SHA-256, at a revision, fetched by huggingface_hub
                assert e.format == "timm-safetensors" and record["hash_source"]
                assert len(parse_hash(record["hash"])[1]) == 64
                assert record["urls"] == [f"https://huggingface.co/{hf['repo_id']}/resolve/"
                                          f"{hf['revision']}/{hf['filename']}"]
            else:
                assert all(u.startswith("https://") and u.endswith(record["file_name"])
                           for u in record["urls"])
            assert record["file_name"] not in names
            names.add(record["file_name"])
    for alias, per_arch in defaults.items():
        for arch, tag in per_arch.items():
            assert entries[tag].arch == arch


def test_keras_applications_entries_carry_keras_own_hashes_and_urls():
    from keras.src.applications import resnet as ka

    for depth in (50, 101, 152):
        e = registry.resolve(f"resnet{depth}", "imagenet")
        top, notop = ka.WEIGHTS_HASHES[f"resnet{depth}"]
        assert e.files["top"]["hash"] == f"md5:{top}"
        assert e.files["notop"]["hash"] == f"md5:{notop}"
        for record in e.files.values():
            assert record["urls"] == [ka.BASE_WEIGHTS_PATH + record["file_name"]]
        assert e.stride_placement == "1x1" and e.preprocessing["mode"] == "caffe"


def test_torchvision_pth_entries_hash_is_the_file_name_prefix():
    pth = [e for e in registry.load_registry()[0].values()
           if e.format == "torchvision-state-dict"]
    assert sorted(e.tag for e in pth) == ["resnet101.tv2_in1k", "resnet101.tv_in1k",
                                          "resnet152.tv2_in1k", "resnet50.tv2_in1k"]
    for e in pth:
        record = e.files["top"]
        stem = record["file_name"].rsplit("-", 1)[1].split(".")[0]
        assert record["hash"] == f"sha256:{stem}" and len(stem) == 8
        assert e.stride_placement == "3x3" and e.preprocessing["std"] == [0.229, 0.224, 0.225]
        assert (e.resize, e.train_size) == ((232, 176) if ".tv2_" in e.tag else (256, 224))


def test_catalogue_has_the_weights_the_issue_names_and_no_torch_for_defaults():
    """tv_in1k for 18/34/50/152 are timm's safetensors copies (pinned where a revision is
    known), so the ResNet-18/34 defaults need no PyTorch; A1/A1h entries carry the full
    SHA-256 of the hub file and the RSB eval transform."""
    entries, defaults = registry.load_registry()
    for depth in (18, 34, 50, 152):
        e = entries[f"resnet{depth}.tv_in1k"]
        assert e.format == "timm-safetensors" and e.files["top"]["hf"]["repo_id"] == \
            f"timm/resnet{depth}.tv_in1k"
        assert (e.resize, e.crop, e.interpolation) == (256, 224, "bilinear")
    for depth in (18, 34, 50):
        assert len(entries[f"resnet{depth}.tv_in1k"].files["top"]["hf"]["revision"]) == 40
    for arch in ("resnet18", "resnet34"):
        assert entries[defaults["imagenet"][arch]].format == "timm-safetensors"
    for tag in ("resnet18.a1_in1k", "resnet34.a1_in1k", "resnet50.a1_in1k",
                "resnet101.a1_in1k", "resnet152.a1_in1k", "resnet101.a1h_in1k",
                "resnet50d.a1_in1k", "resnet50d.ra4_e3600_r224_in1k"):
        e = entries[tag]
        assert e.format == "timm-safetensors" and e.interpolation == "bicubic", tag
        assert (e.resize, e.crop) == (235, 224) and e.metrics["top1_at_288"] > e.metrics["top1"]
        assert e.recipe and e.train_size == 224
    # Published numbers, as timm's results-imagenet.csv gives them.
    assert entries["resnet152.a1_in1k"].metrics["top1"] == 81.998
    assert entries["resnet101.a1h_in1k"].metrics["top1"] == 81.950
    assert entries["resnet152.tv2_in1k"].metrics["top1"] == 82.284  # torchvision's docs


def test_resolve_aliases_and_errors():
    assert registry.resolve("ResNet-50", "imagenet").tag == "resnet50.imagenet"
    assert registry.resolve("resnet18", "imagenet").tag == "resnet18.tv_in1k"
    assert registry.resolve("resnet50", "resnet50.tv_in1k").tag == "resnet50.tv_in1k"
    with pytest.raises(ValueError, match="no pretrained weights are registered for resnet32"):
        registry.resolve("resnet32", "imagenet")
    with pytest.raises(ValueError, match="unknown weights 'imagenet' for resnet20; available "
                                         "for resnet20: resnet20.fashion_mnist"):
        registry.resolve("resnet20", "imagenet")
    with pytest.raises(ValueError, match="unknown weights 'resnet101.imagenet' for resnet50"):
        registry.resolve("resnet50", "resnet101.imagenet")
    assert registry.list_weights("resnet50") == ["resnet50.imagenet", "resnet50.tv_in1k",
                                                 "resnet50.tv2_in1k", "resnet50.a1_in1k"]


def test_registry_weights_fix_the_stride_placement_before_download(monkeypatch):
    import keras_resnet.arch.builder as builder
    import keras_resnet.pretrained.loading as loading

    def no_download(*args, **kwargs):
        raise RuntimeError("stop before downloading")

    monkeypatch.setattr(loading, "fetch", no_download)
    seen = {}
    real_build = builder.blocks.stem

    def spy(x, family, filters, opts, kind="7x7"):
        seen["placement"] = opts.stride_placement
        return real_build(x, family, filters, opts, kind)

    monkeypatch.setattr(builder.blocks, "stem", spy)
    with pytest.raises(RuntimeError, match="stop before downloading"):
        keras_resnet.ResNet50(weights="tv_in1k", input_shape=(64, 64, 3))
    assert seen["placement"] == "3x3"
    with pytest.raises(RuntimeError, match="stop before downloading"):
        keras_resnet.ResNet50(weights="imagenet", input_shape=(64, 64, 3))
    assert seen["placement"] == "1x1"


def test_weights_imagenet_end_to_end_through_a_local_mirror(tmp_path, monkeypatch):
    """resolve -> download from a mirror on 127.0.0.1 -> hash check -> cache -> convert."""
    ref = keras.applications.ResNet50(weights=None, classifier_activation=None)
    randomise(ref, seed=3)
    served = tmp_path / "served"
    served.mkdir()
    entry = registry.resolve("resnet50", "imagenet")
    record = entry.files["top"]
    save_legacy_h5(ref, served / record["file_name"])
    md5 = hashlib.md5((served / record["file_name"]).read_bytes()).hexdigest()

    # The registry, with the published hash replaced by the fixture's.
    entries, defaults = registry.load_registry()
    files = {"top": dict(record, hash=f"md5:{md5}")}
    patched = dict(entries, **{entry.tag: dataclasses.replace(entry, files=files)})
    monkeypatch.setattr(registry, "load_registry", lambda: (patched, defaults))

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("KERAS_RESNET_WEIGHTS_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}")
        monkeypatch.setenv("KERAS_RESNET_CACHE", str(tmp_path / "cache"))
        monkeypatch.delenv("KERAS_RESNET_WEIGHTS_DIR", raising=False)
        ours = keras_resnet.ResNet50(weights="imagenet", classifier_activation=None)
    finally:
        httpd.shutdown()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [record["file_name"]]
    x = images((2, 224, 224, 3)) * 50
    assert_close(keras.ops.convert_to_numpy(ours(x, training=False)),
                 keras.ops.convert_to_numpy(ref(x, training=False)), 1e-4,
                 "weights='imagenet' vs keras.applications")


@pytest.mark.parametrize("make, match", [
    # shipped weights trained at 28x28x1: the error names the input_shape to pass
    (lambda: keras_resnet.ResNet20(weights="fashion_mnist", input_shape=(32, 32, 3)),
     r"input_shape=\(28, 28, 1\)"),
    # a spec changed under a registry name must not take that name's weights
    (lambda: keras_resnet.build(keras_resnet.get_spec("resnet50").replace(
        blocks_per_stage=(2, 2, 2, 2)), weights="imagenet"),
     r"differs: blocks_per_stage=\(2, 2, 2, 2\) \(registry: \(3, 4, 6, 3\)\).*weights=None"),
    (lambda: keras_resnet.ResNet34(shortcut="A", weights="imagenet"),
     r"differs: shortcut='A' \(registry: 'B'\).*weights=None"),
    (lambda: keras_resnet.ResNet50(stride_placement="v1.5", weights="imagenet"),
     r"stride_placement='1x1'.*weights=None"),
])
def test_weights_that_do_not_fit_are_refused_before_any_download(make, match, monkeypatch):
    import keras_resnet.pretrained.loading as loading

    def no_download(*args, **kwargs):
        raise AssertionError("a download was started for weights that do not fit")

    monkeypatch.setattr(loading, "fetch", no_download)
    with pytest.raises(ValueError, match=match):
        make()


def test_constructors_default_to_imagenet_weights_where_registered(monkeypatch):
    """keras.applications' default: a switching user gets the ImageNet weights, never a
    silently random network."""
    import inspect

    import keras_resnet.pretrained.loading as loading

    asked = []

    def fake_fetch(file_name, urls, file_hash, **kwargs):
        asked.append(file_name)
        raise RuntimeError("stop before downloading")

    monkeypatch.setattr(loading, "fetch", fake_fetch)
    for name in ("ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152"):
        constructor = getattr(keras_resnet, name)
        assert inspect.signature(constructor).parameters["weights"].default == "imagenet"
        assert "weights defaults to 'imagenet'" in constructor.__doc__
    with pytest.raises(RuntimeError, match="stop before downloading"):
        keras_resnet.ResNet50(input_shape=(64, 64, 3))
    assert asked == [registry.resolve("resnet50", "imagenet").file_for(True)["file_name"]]
    for name in ("ResNet20", "Plain18", "Plain50", "ResNet1202"):
        assert inspect.signature(getattr(keras_resnet, name)).parameters["weights"].default \
            is None
    keras_resnet.ResNet20(input_shape=(32, 32, 3))  # random init, no download
    keras_resnet.Plain18(input_shape=(64, 64, 3))
    assert len(asked) == 1
