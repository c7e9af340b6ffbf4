"""Models holding the package's frozen layers reload in a fresh process after a plain
``import keras_resnet``: with keras.saving.load_model (no custom_objects), with
keras_resnet.load_model, from .keras and legacy .h5 files, and in keras-resnet export.
Frozen BN stays frozen after ``trainable = True``."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np

import keras_resnet
import keras_resnet.models
from keras_resnet.tasks.backbones import _frozen_copy

RELOAD = r"""
import sys, json
import numpy as np
import keras_resnet                 # nothing else of the package
import tensorflow                   # which looks Keras up before importing it
import keras
x = np.load(sys.argv[1])
report = {}
for path in sys.argv[2:]:
    for how in ("keras", "keras_resnet"):
        model = keras.saving.load_model(path) if how == "keras" else keras_resnet.load_model(path)
        y = model(x, training=True)  # frozen BN: inference statistics even so
        y = [np.asarray(y[k]) for k in sorted(y)] if isinstance(y, dict) else \
            [np.asarray(v) for v in y] if isinstance(y, list) else [np.asarray(y)]
        model.trainable = True
        report[f"{path} {how}"] = {
            "y": np.concatenate([v.ravel() for v in y]).tolist(),
            "frozen": sum(bool(getattr(l, "freeze", False)) for l in model.layers),
            "class": type(model).__name__,
            "pyramid": {k: [model.output[f"C{k[1:]}"] is v, list(v.shape)] for k, v in
                        getattr(model, "pyramid_outputs", {}).items()},
            "thawed": [l.name for l in model.layers if getattr(l, "freeze", False)
                       and l.trainable]}
print("REPORT" + json.dumps(report))
"""


def _flat(y):
    """One vector from a dict of maps (backbone), a list of maps (the shim) or an array."""
    if isinstance(y, dict):
        return np.concatenate([np.ravel(np.asarray(y[k])) for k in sorted(y)])
    return np.concatenate([np.ravel(np.asarray(v)) for v in y])


def test_frozen_layers_reload_without_custom_objects(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    refs, paths = {}, []
    for kind in ("backbone", "shim"):
        if kind == "backbone":
            model = keras_resnet.backbone("resnet18", input_shape=(32, 32, 3),
                                          freeze_bn=True)  # without weights: not default
        else:
            model = keras_resnet.models.ResNet18(keras.Input((32, 32, 3)), include_top=False,
                                                 freeze_bn=True)
        for suffix in (".keras", ".h5"):  # Keras 3 format and the legacy HDF5 one
            path = str(tmp_path / f"{kind}{suffix}")
            model.save(path)
            refs[path] = _flat(model(x, training=True))
            paths.append(path)
    r = subprocess.run([sys.executable, "-c", RELOAD, str(tmp_path / "x.npy"), *paths],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout.split("REPORT", 1)[1])
    assert len(report) == 8
    for key, got in report.items():
        assert got["frozen"] > 0 and got["thawed"] == [], key
        np.testing.assert_allclose(got["y"], refs[key.split(" ")[0]], rtol=1e-5, atol=1e-5)
        if "backbone." in key:  # keras-hub's image_encoder interface survives (.keras, .h5)
            assert got["class"] == "BackboneModel", key
            assert got["pyramid"] == {f"P{k}": [True, [None, 32 >> k, 32 >> k, c]]
                                      for k, c in zip((2, 3, 4, 5), (64, 128, 256, 512))}


def test_cli_export_of_a_finetuned_keras_file(tmp_path):
    trained = keras_resnet.zoo.load_trained("resnet20.fashion_mnist")
    finetuned = _frozen_copy(trained.model, freeze_bn=True, freeze_stages=0)
    assert any(type(l) is keras_resnet.layers.BatchNormalization for l in finetuned.layers)
    finetuned.save(tmp_path / "finetuned.keras")
    np.save(tmp_path / "mean.npy", trained.pixel_mean)
    exe = shutil.which("keras-resnet", path=os.path.dirname(sys.executable))
    out = tmp_path / "m.onnx"
    r = subprocess.run([exe, "export", "--weights", str(tmp_path / "finetuned.keras"),
                        "--pixel-mean", str(tmp_path / "mean.npy"), "--format", "onnx",
                        "--verify-images", "200", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((tmp_path / "m.onnx.report.json").read_text())
    assert report["within_tolerance"] and report["verified_images"] == 200
    assert report["keras_accuracy"] >= 0.8  # the shipped net's accuracy, frozen BN or not
