"""ResNet-D, dilation and the timm converter, proven against timm itself.

timm (the publisher of the ``resnet*`` / ``resnet*d`` hub weights) builds each network
with random weights and random BatchNorm statistics; its state dict is written as
``.safetensors`` exactly as the hub files are, loaded with ``build(name, weights=path)``
and the logits and the C2..C5 maps are compared. torch and timm come with the test
extra (``make test`` installs them); without them these tests skip.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

import keras  # noqa: E402

import keras_resnet  # noqa: E402
from keras_resnet import spec_complexity  # noqa: E402

pytestmark = pytest.mark.torch  # optional dependencies: -m 'not ...' leaves them out

# (our name, timm's name, output stride, input size)
CASES = [
    ("resnet50", "resnet50", None, 64),
    ("resnet50d", "resnet50d", None, 64),
    ("resnet50d", "resnet50d", None, 71),  # odd sizes: ceil-mode average pools
    ("resnet18d", "resnet18d", None, 64),
    ("resnet34d", "resnet34d", 16, 64),  # dilated basic blocks
    ("resnet50", "resnet50", 16, 64),
    ("resnet50d", "resnet50d", 8, 64),  # dilated stages with average-pool shortcuts
]


def _timm_model(name, output_stride, seed):
    torch.manual_seed(seed)
    net = timm.create_model(name, pretrained=False, num_classes=1000,
                            output_stride=output_stride or 32)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=g) + 0.5)
                module.bias.copy_(torch.randn(n, generator=g) * 0.1)
                module.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return net.eval()


def _save(net, path):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return str(path)


def _timm_outputs(net, x):
    """Logits and the outputs of layer1..layer4 (C2..C5) for NHWC numpy images."""
    taps = {}
    hooks = [getattr(net, f"layer{i}").register_forward_hook(
        lambda m, inp, out, i=i: taps.__setitem__(f"C{i + 1}", out.numpy()))
        for i in range(1, 5)]
    with torch.no_grad():
        logits = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    for h in hooks:
        h.remove()
    return logits, {k: v.transpose(0, 2, 3, 1) for k, v in taps.items()}


def _close(ours, ref, what):
    scale = max(1.0, float(np.max(np.abs(ref))))
    err = float(np.max(np.abs(np.asarray(ours) - ref))) / scale
    assert err <= 1e-4, f"{what}: max|ours - timm| / max(1, max|timm|) = {err:.2e}"


@pytest.mark.parametrize("ours,theirs,output_stride,size", CASES)
def test_logits_and_pyramid_equal_timm(tmp_path, ours, theirs, output_stride, size):
    net = _timm_model(theirs, output_stride, seed=size)
    path = _save(net, tmp_path / f"{theirs}.safetensors")
    x = np.random.default_rng(0).normal(size=(2, size, size, 3)).astype("float32")
    logits, maps = _timm_outputs(net, x)

    model = keras_resnet.build(ours, weights=path, input_shape=(size, size, 3),
                               classifier_activation=None, output_stride=output_stride)
    _close(model(x), logits, f"{ours} logits")
    bb = keras_resnet.backbone(ours, weights=path, output_stride=output_stride)
    features = bb(x)
    for level in ("C2", "C3", "C4", "C5"):
        _close(features[level], maps[level], f"{ours} {level}")
    stride = output_stride or 32
    assert features["C5"].shape[1] == -(-size // stride)


def test_a_new_head_or_no_head_takes_the_backbone_part(tmp_path):
    net = _timm_model("resnet50d", None, seed=3)
    path = _save(net, tmp_path / "resnet50d.safetensors")
    x = np.random.default_rng(1).normal(size=(1, 64, 64, 3)).astype("float32")
    _, maps = _timm_outputs(net, x)
    pooled = maps["C5"].mean(axis=(1, 2))
    notop = keras_resnet.build("resnet50d", weights=path, include_top=False, pooling="avg")
    _close(notop(x), pooled, "include_top=False")
    five = keras_resnet.build("resnet50d", weights=path, classes=5, input_shape=(64, 64, 3))
    _close(keras.Model(five.inputs, five.get_layer("avg_pool").output)(x), pooled,
           "classes=5")
    assert five.output.shape[-1] == 5


def test_parameter_counts_equal_timms():
    for depth in (18, 34, 50, 101, 152, 200):
        name = f"resnet{depth}d"
        theirs = sum(p.numel() for p in timm.create_model(name).parameters())
        assert spec_complexity(keras_resnet.get_spec(name)).params == theirs, name
    # timm's model card and He et al.'s ResNet-D: 19,232 more than ResNet-50
    assert spec_complexity(keras_resnet.get_spec("resnet50d")).params == 25_576_264
    built = keras_resnet.ResNet50D(weights=None)
    assert sum(int(np.prod(w.shape)) for w in built.trainable_weights) == 25_576_264


def test_a_file_of_the_other_stem_is_refused_with_the_network_to_build(tmp_path):
    path = _save(_timm_model("resnet50d", None, seed=1), tmp_path / "d.safetensors")
    with pytest.raises(ValueError, match="deep stem.*resnet50d"):
        keras_resnet.build("resnet50", weights=path)
    plain = _save(_timm_model("resnet50", None, seed=1), tmp_path / "v15.safetensors")
    with pytest.raises(ValueError, match="7x7 stem"):
        keras_resnet.build("resnet50d", weights=plain)


@pytest.mark.parametrize("arch,tag", [("resnet50d", "ra4_e3600_r224_in1k"),
                                      ("resnet50", "a1_in1k")])
def test_registered_timm_weights_load_from_the_hub_cache_with_their_transform(
        tmp_path, monkeypatch, arch, tag):
    """`ResNet50D(weights="ra4_e3600_r224_in1k")` end to end, offline: the registry's hub
    file (here timm's random weights, registered under their own hash) comes through
    huggingface_hub's cache, loads into the v1.5 / ResNet-D graph, equals timm, and
    load_pretrained resizes bicubic to 235 and crops 224 as timm's eval transform."""
    import dataclasses
    import hashlib

    import huggingface_hub.constants as hf_constants

    from keras_resnet.pretrained import registry

    net = _timm_model(arch, None, seed=7)
    entry = registry.resolve(arch, tag)
    hf = entry.files["top"]["hf"]
    snap = (tmp_path / "hub" / f"models--{hf['repo_id'].replace('/', '--')}" / "refs")
    snap.mkdir(parents=True)
    (snap / "main").write_text("0" * 40)  # what the cache's 'main' points to
    files = snap.parent / "snapshots" / ("0" * 40 if hf["revision"] == "main" else hf["revision"])
    files.mkdir(parents=True)
    path = _save(net, files / hf["filename"])
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    entries, defaults = registry.load_registry()
    record = dict(entry.files["top"], hash=f"sha256:{sha}")
    patched = dict(entries, **{entry.tag: dataclasses.replace(entry, files={"top": record})})
    monkeypatch.setattr(registry, "load_registry", lambda: (patched, defaults))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv("KERAS_RESNET_WEIGHTS_DIR", raising=False)

    x = np.random.default_rng(2).normal(size=(1, 64, 64, 3)).astype("float32")
    logits, _ = _timm_outputs(net, x)
    constructor = getattr(keras_resnet, keras_resnet.get_spec(arch).constructor_name)
    model = constructor(weights=tag, input_shape=(64, 64, 3), classifier_activation=None)
    _close(model(x), logits, f"{arch}.{tag}")
    assert model.get_layer("conv3_block1_2_conv").strides == (2, 2)  # v1.5, from the entry

    _, preprocess = keras_resnet.load_pretrained(entry.tag, input_shape=(224, 224, 3))
    photo = np.random.default_rng(3).integers(0, 256, (300, 400, 3), dtype="uint8")
    np.testing.assert_allclose(preprocess(photo)[0], _timm_eval(entry.tag, photo),
                               rtol=0, atol=1e-5)


def _timm_eval(tag, photo):
    """timm's own eval transform for a tag (resolve_data_config + create_transform),
    NHWC float32."""
    from PIL import Image
    from timm.data import create_transform, resolve_data_config

    # the tag's pretrained config, as create_model(tag) would attach it (without
    # building the network: ResNet-152 costs seconds per call)
    config = resolve_data_config(pretrained_cfg=timm.models.get_pretrained_cfg(tag).to_dict())
    return create_transform(**config)(Image.fromarray(photo)).numpy().transpose(1, 2, 0)


def test_eval_transforms_equal_timms_on_the_sample_photos():
    """Issue 25 item 6: every timm-published entry's transform, applied by
    load_pretrained's preprocess to scikit-image's sample photos (several sizes and
    aspect ratios), equals timm's resolve_data_config + create_transform within 1/255
    per pixel (measured: equal to float rounding, both resize with Pillow)."""
    skimage_data = pytest.importorskip("skimage.data")
    from keras_resnet.preprocessing import resize_and_crop_pil
    from keras_resnet.pretrained import registry
    from keras_resnet.pretrained.transforms import preprocess_input

    photos = [getattr(skimage_data, n)() for n in ("astronaut", "coffee", "chelsea", "rocket")]
    std = np.array([0.229, 0.224, 0.225])
    entries, _ = registry.load_registry()
    tags = [t for t, e in entries.items() if e.format == "timm-safetensors"]
    assert tags
    for tag in tags:
        entry = entries[tag]
        for photo in photos:
            x = resize_and_crop_pil(photo, entry.resize, entry.crop, entry.interpolation)
            ours = preprocess_input(x[None], weights=tag)[0]
            err = np.max(np.abs(ours - _timm_eval(tag, photo)) * std * 255)
            assert err <= 1.0, f"{tag} on a {photo.shape} photo: {err:.3f}/255"
