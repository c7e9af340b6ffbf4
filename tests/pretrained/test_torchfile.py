"""The torch-free .pth reader against torch.load on files torch.save writes."""

import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from keras_resnet.pretrained.torchfile import read_state_dict

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch  # optional dependencies: -m 'not ...' leaves them out


def reference_state():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 5, generator=g)
    return {
        "float32": torch.randn(3, 4, 2, 2, generator=g),
        "float64": torch.randn(7, generator=g, dtype=torch.float64),
        "float16": torch.randn(4, 3, generator=g).half(),
        "bfloat16": torch.randn(5, generator=g).bfloat16(),
        "int64": torch.arange(-3, 9),
        "int32": torch.arange(10, dtype=torch.int32).reshape(2, 5),
        "uint8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
        # views into one storage: an offset, a transpose (strides), a shared storage
        "slice": base[2:5, 1:4],
        "transposed": base.t(),
        "same_storage": base,
        "parameter": torch.nn.Parameter(torch.randn(2, 3, generator=g)),
    }


def as_numpy(t):
    t = t.detach()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def test_every_dtype_and_view_equals_torch_load(tmp_path):
    state = reference_state()
    path = tmp_path / "state.pth"
    torch.save(state, path)
    ours = read_state_dict(path)
    theirs = torch.load(path, weights_only=True)
    assert sorted(ours) == sorted(theirs)
    for key, tensor in theirs.items():
        expected = as_numpy(tensor)
        assert ours[key].dtype == expected.dtype, key
        assert ours[key].shape == expected.shape, key
        np.testing.assert_array_equal(ours[key], expected, err_msg=key)


def test_module_state_dicts_and_nested_checkpoints(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    expected = {k: as_numpy(v) for k, v in net.state_dict().items()}
    for name, obj in [("plain.pth", net.state_dict()),
                      ("nested.pth", {"state_dict": net.state_dict(), "epoch": 3}),
                      ("model.pth", {"model": net.state_dict(), "optimizer": {"lr": 0.1}})]:
        torch.save(obj, tmp_path / name)
        got = read_state_dict(tmp_path / name)
        assert sorted(got) == sorted(expected), name  # num_batches_tracked included
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_a_file_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = str(tmp_path / "was_run")
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "x": _Payload(marker)}, path)
    with pytest.raises(ValueError, match="posix.makedirs is not part of a state_dict|"
                                         "os.makedirs is not part of a state_dict"):
        read_state_dict(path)
    assert not os.path.exists(marker)


def test_damaged_big_endian_and_foreign_files_say_what_they_are(tmp_path):
    path = tmp_path / "s.pth"
    torch.save({"w": torch.arange(6.0)}, path)
    # big-endian: rewrite the archive's byteorder record
    big = tmp_path / "big.pth"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(big, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, b"big" if item.filename.endswith("byteorder") else data)
    with pytest.raises(ValueError, match="big-endian"):
        read_state_dict(big)
    # a storage shorter than its tensor
    short = tmp_path / "short.pth"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(short, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data[:8] if "/data/" in item.filename else data)
    with pytest.raises(ValueError, match="runs past its storage"):
        read_state_dict(short)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as dst:
        dst.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="not a torch.save file"):
        read_state_dict(other)


_NO_TORCH = textwrap.dedent(r"""
    import importlib.abc, sys

    class NoTorch(importlib.abc.MetaPathFinder):  # import torch -> ImportError
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"{name} is blocked in this test")

    sys.meta_path.insert(0, NoTorch())
    import numpy as np, keras_resnet
    from keras_resnet.pretrained.torchfile import read_state_dict
    model = keras_resnet.ResNet18(weights=sys.argv[1], classifier_activation=None,
                                  input_shape=(64, 64, 3))
    x = np.load(sys.argv[2])
    np.save(sys.argv[3], np.asarray(model(x)))
    try:
        read_state_dict(sys.argv[4])
    except ValueError as err:
        print("LEGACY:", err)
    assert "torch" not in sys.modules
""")


@pytest.mark.slow
def test_torchvision_files_load_in_a_process_without_torch(tmp_path):
    """The whole .pth path (registry-format file -> ResNet-18 logits) with PyTorch made
    unimportable, against PyTorch's own forward pass."""
    from tests.pretrained.test_convert_torchvision import reference, torch_logits
    from tests.helpers import images

    net = reference("resnet18", seed=9)
    path = tmp_path / "resnet18.pth"
    torch.save(net.state_dict(), path)
    legacy = tmp_path / "legacy.pth"
    torch.save(net.state_dict(), legacy, _use_new_zipfile_serialization=False)
    x = images((2, 64, 64, 3), seed=9)
    np.save(tmp_path / "x.npy", x)
    out = subprocess.run([sys.executable, "-c", _NO_TORCH, str(path), str(tmp_path / "x.npy"),
                          str(tmp_path / "y.npy"), str(legacy)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), torch_logits(net, x),
                               rtol=1e-4, atol=1e-4)
    assert "written before PyTorch 1.6, which only PyTorch reads" in out.stdout
    # With torch installed, the pre-1.6 file is read by torch: same tensors.
    got = read_state_dict(legacy)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(got[key], value.numpy())
