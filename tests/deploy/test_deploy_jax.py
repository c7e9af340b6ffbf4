"""Exports and the Predictor under Keras' JAX backend (a user who trains with
``KERAS_BACKEND=jax`` exports from the same process).

ONNX and OpenVINO go through a TensorFlow worker process there
(keras_resnet/deploy/keras_export.py); SavedModel and TFLite through jax2tf in the
process. The files written under JAX are then run here, under TensorFlow, and compared
with a TensorFlow Keras model that has the same weights: an independent reference for
what the JAX process wrote.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.deploy import open_artifact, read_metadata
from keras_resnet.numerics import assert_close

from tests.helpers import images, randomise

pytest.importorskip("jax")
pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")
pytest.importorskip("tf2onnx")

pytestmark = [pytest.mark.jax, pytest.mark.runtimes]  # optional dependencies: -m 'not ...' leaves them out

SMALL = dict(blocks_per_stage=(1, 1, 1, 1), widths=(16, 32, 64, 128), stem_width=16)

_SCRIPT = r"""
import json, os, sys
import numpy as np
import keras_resnet
import keras
from keras_resnet import export, Predictor
assert keras.backend.backend() == "jax", keras.backend.backend()
job = json.loads(sys.argv[1])
spec = keras_resnet.imagenet_spec(18).replace(name="resnet10_narrow", **job["small"])
model = keras_resnet.build(spec, input_shape=(32, 32, 3), classes=10,
                           classifier_activation=None)
model.load_weights(job["weights"])
x = np.load(job["x"])
out = {"keras": np.asarray(model(x, training=False)).tolist(), "reports": {}}
for name, fn in (("m.onnx", export.onnx), ("m.xml", export.openvino),
                 ("m.tflite", export.tflite), ("sm", export.saved_model)):
    report = fn(model, os.path.join(job["out"], name), verify_images=x,
                class_names=[f"c{i}" for i in range(10)])
    out["reports"][name] = {k: report.get(k) for k in ("within_tolerance", "max_abs_error",
                                                       "rtol", "latency_ms_batch1")}
p = Predictor(model)
out["predictor"] = {"backend": p.backend,
                    "verified": {k: v["verified"] for k, v in p.report.items()},
                    "y": np.asarray(p(x[:3])).tolist()}

class Halve(keras.layers.Layer):  # defined here, unknown to any other process
    def call(self, t):
        return t * 0.5

inp = keras.Input((32, 32, 3))
custom = keras.Model(inp, model(Halve()(inp)), name="with_custom_layer")
try:
    export.onnx(custom, os.path.join(job["out"], "custom.onnx"), verify_images=x)
    out["custom"] = "written"
except ValueError as e:
    out["custom"] = str(e)
print("REPORT" + json.dumps(out))
"""


def test_every_export_and_the_predictor_work_under_jax(tmp_path):
    keras.utils.set_random_seed(0)
    spec = keras_resnet.imagenet_spec(18).replace(name="resnet10_narrow", **SMALL)
    model = keras_resnet.build(spec, input_shape=(32, 32, 3), classes=10,
                               classifier_activation=None)
    randomise(model, seed=0)
    model.save_weights(tmp_path / "w.weights.h5")
    x = images((4, 32, 32, 3))
    np.save(tmp_path / "x.npy", x)
    job = {"small": SMALL, "weights": str(tmp_path / "w.weights.h5"),
           "x": str(tmp_path / "x.npy"), "out": str(tmp_path)}
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(job)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("REPORT", 1)[1])
    y_tf = keras.ops.convert_to_numpy(model(x, training=False))
    assert_close(np.array(out["keras"]), y_tf, rtol=1e-4, what="JAX model vs TF model")
    for name, report in out["reports"].items():
        assert report["within_tolerance"] is True, (name, report)
        # the Keras latency was measured on the JAX model (jit), and says so
        assert report["latency_ms_batch1"]["keras_jax_jit"] > 0, name
        assert "keras_tf_function" not in report["latency_ms_batch1"], name
        # the file the JAX process wrote, run here, against TensorFlow's Keras model
        got = open_artifact(tmp_path / name)(x)
        assert_close(got["predictions"], y_tf, rtol=1e-4, what=f"{name} (written under JAX)")
        assert read_metadata(tmp_path / name)["class_names"] == [f"c{i}" for i in range(10)]
    assert out["predictor"]["verified"] == {"openvino": True, "onnxruntime": True,
                                            "litert": True, "keras": True}
    assert_close(np.array(out["predictor"]["y"]), y_tf[:3], rtol=1e-4,
                 what=f"Predictor({out['predictor']['backend']}) under JAX")
    # a layer class only the user's script knows: one clear sentence, no file
    assert "KERAS_BACKEND=tensorflow" in out["custom"], out["custom"]
    assert "with_custom_layer" in out["custom"]
    assert not (tmp_path / "custom.onnx").exists()


_TORCH_SCRIPT = r"""
import json, os, sys
import numpy as np
import keras_resnet
import keras
from keras_resnet import export
assert keras.backend.backend() == "torch", keras.backend.backend()
out = sys.argv[1]
keras.utils.set_random_seed(0)
model = keras_resnet.build("resnet20", input_shape=(28, 28, 1), classifier_activation=None)
x = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype("float32")
result = {"keras": np.asarray(model(x, training=False).detach().cpu()).tolist()}
result["onnx"] = export.onnx(model, os.path.join(out, "m.onnx"), verify_images=x)["within_tolerance"]
try:
    export.saved_model(model, os.path.join(out, "sm"), verify_images=x)
    result["saved_model"] = "written"
except ValueError as e:
    result["saved_model"] = str(e)
print("REPORT" + json.dumps(result))
"""


def test_onnx_under_torch_and_a_clear_word_for_what_needs_tensorflow_or_jax(tmp_path):
    pytest.importorskip("torch")
    env = dict(os.environ, KERAS_BACKEND="torch")
    done = subprocess.run([sys.executable, "-c", _TORCH_SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("REPORT", 1)[1])
    assert out["onnx"] is True
    got = open_artifact(tmp_path / "m.onnx")(
        np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype("float32"))
    assert_close(got["predictions"], np.array(out["keras"]), rtol=1e-4,
                 what="ONNX written under torch vs the torch model")
    assert "KERAS_BACKEND=tensorflow" in out["saved_model"]
    assert not (tmp_path / "sm").exists()
