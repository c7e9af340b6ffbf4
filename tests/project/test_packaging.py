"""The wheel carries the package data (the embedded sample) and the console script."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contains_embedded_data_and_entry_point(tmp_path):
    pytest.importorskip("setuptools")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-v", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(tmp_path.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "LICENSE"):
        assert f"keras_resnet/data/files/fashion_mnist_sample/{f}" in names
    for module in ("arch/builder.py", "arch/specs.py", "zoo.py", "io.py", "tasks/backbones.py",
                   "evaluation/views.py", "cli/main.py", "compat/__init__.py", "demo.py"):
        assert f"keras_resnet/{module}" in names, module
    assert "keras_resnet/deploy/predictor.py" in names
    # the package compiles nothing and loads no shared library of its own
    assert not [n for n in names if n.endswith((".c", ".cc", ".so", ".dll", ".dylib"))]
    assert "keras_resnet/weights/registry.json" in names  # from the top-level weights/
    assert "keras_resnet/pretrained/download.py" in names
    assert "keras_resnet/pretrained/imagenet_classes.json" in names  # decode_predictions
    assert "keras_resnet/training/run.py" in names and "keras_resnet/training/fused_bn.py" in names
    # setuptools takes the data folder as listed (no "installing as data is deprecated")
    log = out.stderr + out.stdout
    assert "absent from the `packages` configuration" not in log
    assert "as data is deprecated" not in log
    from keras_resnet.pretrained.registry import load_registry

    for entry in load_registry()[0].values():  # weights trained here ship inside
        if entry.files["top"].get("package"):
            assert f"keras_resnet/weights/{entry.files['top']['file_name']}" in names
            assert f"keras_resnet/weights/{entry.preprocessing['mean_file']}" in names
    assert not any(n.startswith("tests/") for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "keras-resnet = keras_resnet.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
