"""torchvision state_dict -> ours, against a PyTorch reference ResNet written here
with torchvision's exact module and state_dict names (torchvision itself does not
import beside the CPU build of torch used here)."""

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.numerics import assert_close, within_tolerance
from keras_resnet.pretrained.convert import read_torch_state_dict, torchvision_to_ours
from tests.helpers import images

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch  # optional dependencies: -m 'not ...' leaves them out
nn = torch.nn

RTOL = 1e-4


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)  # v1.5
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class TorchResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


ARCHS = {"resnet18": (BasicBlock, [2, 2, 2, 2]), "resnet34": (BasicBlock, [3, 4, 6, 3]),
         "resnet50": (Bottleneck, [3, 4, 6, 3])}


def reference(name, seed=0):
    torch.manual_seed(seed)
    net = TorchResNet(*ARCHS[name])
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
    return net.eval()


def torch_logits(net, x_nhwc):
    with torch.no_grad():
        return net(torch.from_numpy(np.transpose(x_nhwc, (0, 3, 1, 2)))).numpy()


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_logits_match_pytorch_reference(name, tmp_path):
    net = reference(name)
    path = tmp_path / f"{name}.pth"
    torch.save(net.state_dict(), path)
    x = images((2, 96, 96, 3))  # odd-sized maps at stride 32: padding must agree
    y = torch_logits(net, x)
    ours = keras_resnet.build(name, weights=str(path), classifier_activation=None,
                              input_shape=(96, 96, 3))
    if name == "resnet50":
        assert ours.get_layer("conv3_block1_2_conv").strides == (2, 2)  # v1.5 chosen
    assert_close(keras.ops.convert_to_numpy(ours(x, training=False)), y, RTOL,
                 f"{name} logits vs PyTorch")


def test_negative_control_and_errors(tmp_path):
    net = reference("resnet18", seed=1)
    x = images((2, 64, 64, 3), seed=1)
    y = torch_logits(net, x)
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    ours = keras_resnet.ResNet18(weights=None, classifier_activation=None, input_shape=(64, 64, 3))
    bad = dict(state)
    bad["layer2.0.bn1.running_mean"], bad["layer2.0.bn1.running_var"] = (
        state["layer2.0.bn1.running_var"], state["layer2.0.bn1.running_mean"])
    torchvision_to_ours(ours, bad)
    assert not within_tolerance(keras.ops.convert_to_numpy(ours(x)), y, RTOL)
    bad = dict(state)
    bad["layer3.1.conv2.weight"] = np.transpose(state["layer3.1.conv2.weight"], (0, 1, 3, 2))
    torchvision_to_ours(ours, bad)  # kh/kw swapped: same shape, wrong numbers
    assert not within_tolerance(keras.ops.convert_to_numpy(ours(x)), y, RTOL)
    torchvision_to_ours(ours, state)
    assert_close(keras.ops.convert_to_numpy(ours(x)), y, RTOL)

    path = tmp_path / "r18.pth"
    torch.save(net.state_dict(), path)
    with pytest.raises(ValueError, match="do not fit resnet34.*layer1.2"):
        keras_resnet.ResNet34(weights=str(path))
    with pytest.raises(ValueError, match="do not fit resnet50"):
        keras_resnet.ResNet50(weights=str(path))
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="cannot read"):
        keras_resnet.ResNet18(weights=str(cut))
    with pytest.raises(ValueError, match="do not pass stride_placement"):
        keras_resnet.ResNet50(weights=str(path), stride_placement="1x1")
    assert len(read_torch_state_dict(path)) == len(net.state_dict())


def test_no_top_and_new_classes_from_a_full_file(tmp_path):
    net = reference("resnet18", seed=2)
    path = tmp_path / "r18.pth"
    torch.save(net.state_dict(), path)
    x = images((1, 64, 64, 3), seed=2)
    with torch.no_grad():
        t = torch.from_numpy(np.transpose(x, (0, 3, 1, 2)))
        feats = net.layer4(net.layer3(net.layer2(net.layer1(
            net.maxpool(net.relu(net.bn1(net.conv1(t)))))))).numpy()
    ours = keras_resnet.ResNet18(include_top=False, weights=str(path), input_shape=(64, 64, 3))
    assert_close(np.transpose(keras.ops.convert_to_numpy(ours(x)), (0, 3, 1, 2)), feats, RTOL,
                 "conv5 features vs PyTorch")


def serve_offline(tmp_path, monkeypatch, net, arch="resnet18", tag="tv_in1k"):
    """Place ``net``'s state_dict in an offline folder under the registry's file name, in
    the entry's format (timm's safetensors copy, or torchvision's .pth), with the
    registry's published hash replaced by the file's. Returns the real registry."""
    import dataclasses
    import hashlib

    from safetensors.torch import save_file

    from keras_resnet.pretrained import registry

    entry = registry.resolve(arch, tag)
    record = entry.files["top"]
    offline = tmp_path / "offline"
    offline.mkdir(exist_ok=True)
    target = offline / record["file_name"]
    if entry.format == "timm-safetensors":
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, target)
    else:
        assert entry.format == "torchvision-state-dict"
        torch.save(net.state_dict(), target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    entries, defaults = registry.load_registry()
    files = {"top": dict(record, hash=f"sha256:{digest}")}
    patched = dict(entries, **{entry.tag: dataclasses.replace(entry, files=files)})
    monkeypatch.setattr(registry, "load_registry", lambda: (patched, defaults))
    monkeypatch.setenv("KERAS_RESNET_WEIGHTS_DIR", str(offline))
    monkeypatch.setenv("KERAS_RESNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_RESNET_WEIGHTS_MIRROR", "http://127.0.0.1:9/")  # never reached
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return entries, defaults


def test_weights_imagenet_for_resnet18_from_an_offline_folder(tmp_path, monkeypatch):
    """weights="imagenet" -> resnet18.tv_in1k (timm's safetensors copy of torchvision's
    V1) -> file placed by hand, hash-checked, converted."""
    from keras_resnet.pretrained import registry
    from keras_resnet.pretrained.download import WeightsDownloadError

    net = reference("resnet18", seed=4)
    entries, defaults = serve_offline(tmp_path, monkeypatch, net)
    ours = keras_resnet.ResNet18(weights="imagenet", classifier_activation=None,
                                 input_shape=(64, 64, 3))
    x = images((2, 64, 64, 3), seed=4)
    assert_close(keras.ops.convert_to_numpy(ours(x)), torch_logits(net, x), RTOL)
    assert not (tmp_path / "cache").exists()  # used in place, nothing copied
    # The published hash (the real registry) rejects this stand-in file.
    monkeypatch.setattr(registry, "load_registry", lambda: (entries, defaults))
    with pytest.raises(WeightsDownloadError, match="does not match its published hash"):
        keras_resnet.ResNet18(weights="imagenet", input_shape=(64, 64, 3))


def test_torchvision_v2_pth_from_the_registry(tmp_path, monkeypatch):
    """weights="tv2_in1k" -> torchvision's own .pth (read without PyTorch's unpickler),
    its SHA-256-prefix hash, V2's eval transform (resize 232)."""
    net = reference("resnet50", seed=8)
    serve_offline(tmp_path, monkeypatch, net, arch="resnet50", tag="tv2_in1k")
    ours = keras_resnet.ResNet50(weights="tv2_in1k", classifier_activation=None,
                                 input_shape=(64, 64, 3))
    x = images((2, 64, 64, 3), seed=8)
    assert_close(keras.ops.convert_to_numpy(ours(x)), torch_logits(net, x), RTOL)
    w = keras_resnet.get_weights("resnet50.tv2_in1k")
    assert (w.meta["resize"], w.meta["crop"], w.meta["train_size"]) == (232, 224, 176)
    assert w.entry.files["top"]["file_name"] == "resnet50-11ad3fa6.pth"


def test_load_pretrained_returns_the_model_and_its_preprocessing(tmp_path, monkeypatch):
    from PIL import Image
    from torchvision import transforms

    net = reference("resnet18", seed=6)
    serve_offline(tmp_path, monkeypatch, net)
    model, preprocess = keras_resnet.load_pretrained("resnet18.tv_in1k",
                                                     classifier_activation=None)
    raw = np.random.default_rng(6).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    x = preprocess(raw)
    assert x.shape == (1, 224, 224, 3) and x.dtype == np.float32
    # torchvision's own V1 eval geometry on the PIL image (independent of our code)
    geometry = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    cropped = np.asarray(geometry(Image.fromarray(raw)), "float32")
    manual = (cropped / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(x[0], manual, rtol=1e-5, atol=1e-5)
    assert_close(keras.ops.convert_to_numpy(model(x)), torch_logits(net, x), RTOL)
    # In-model preprocessing: the model takes the resized raw image (0-255) itself.
    model_raw, resize_only = keras_resnet.load_pretrained(
        "resnet18.tv_in1k", classifier_activation=None, include_preprocessing=True)
    r = resize_only(raw)
    np.testing.assert_allclose(r[0], cropped, rtol=0, atol=0)
    assert_close(keras.ops.convert_to_numpy(model_raw(r)), torch_logits(net, x), RTOL)
    gray = preprocess(np.zeros((5, 28, 28), np.uint8))
    assert gray.shape == (5, 224, 224, 3)
    np.testing.assert_allclose(gray[0, 0, 0], -np.array([0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225],
                               rtol=1e-5)


def test_cli_convert_writes_a_file_that_loads_back(tmp_path, capsys):
    from keras_resnet.cli import main

    net = reference("resnet50", seed=5)
    src = tmp_path / "r50.pth"
    torch.save(net.state_dict(), src)
    out = tmp_path / "r50.weights.h5"
    assert main(["convert", str(src), "--arch", "resnet50", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "stride_placement='3x3'" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r50.pth", "r50.weights.h5"]
    model = keras_resnet.ResNet50(weights=str(out), stride_placement="3x3",
                                  classifier_activation=None, input_shape=(64, 64, 3))
    x = images((1, 64, 64, 3), seed=5)
    assert_close(keras.ops.convert_to_numpy(model(x)), torch_logits(net, x), RTOL)
    assert main(["convert", str(src), "--arch", "resnet101", "--out", str(tmp_path / "b.weights.h5")]) == 2
    assert "do not fit resnet101" in capsys.readouterr().err
    assert not (tmp_path / "b.weights.h5").exists()
    assert main(["convert", str(src), "--arch", "resnet50", "--out", str(tmp_path / "x.h5")]) == 2


def test_eval_transforms_equal_torchvisions_own():
    """Every torchvision-published entry (V1 and V2, .pth or timm's copy) resizes, crops
    and normalises as torchvision's Weights.transforms() does on the sample photos,
    within 1/255 per pixel."""
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image
    from torchvision.models import resnet as tv

    from keras_resnet.pretrained import registry

    entries, _ = registry.load_registry()
    std = np.array([0.229, 0.224, 0.225])
    tags = [t for t in entries if ".tv" in t]
    assert len(tags) == 8
    photos = [skimage_data.astronaut(), skimage_data.coffee()]
    for tag in tags:
        depth = int(tag.split(".")[0][len("resnet"):])
        version = "IMAGENET1K_V2" if ".tv2_" in tag else "IMAGENET1K_V1"
        theirs = getattr(tv, f"ResNet{depth}_Weights")[version].transforms()
        preprocess = keras_resnet.get_weights(tag).transforms()
        for photo in photos:
            expected = theirs(Image.fromarray(photo)).numpy().transpose(1, 2, 0)
            err = np.max(np.abs(preprocess(photo)[0] - expected) * std * 255)
            assert err <= 1.0, f"{tag} on a {photo.shape} photo: {err:.3f}/255"
