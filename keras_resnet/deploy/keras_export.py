"""Keras' own exporters: ONNX and OpenVINO from any Keras backend, and the SavedModel
archive (:func:`write_saved_model`) that the SavedModel and TFLite files are made from.

``Model.export(format="onnx")`` and ``format="openvino"`` convert a TensorFlow graph
(tf2onnx; OpenVINO's TensorFlow frontend). Under the JAX backend Keras goes other ways
that do not work for these networks with the packages this project installs: ONNX
needs the separate ``jax2onnx`` package, and OpenVINO's conversion of the jax2tf graph
stops at operations it has no translation for ("Model wasn't fully converted",
Keras 3.15, OpenVINO 2026.4). TensorFlow is a core dependency of this package, so on
any backend other than TensorFlow the serving model is saved as a ``.keras`` file and
converted by Keras in a TensorFlow worker process (``KERAS_BACKEND=tensorflow``, no
GPU). The file is the whole network (architecture and weights), so the worker's model
is the caller's; the exporters (given ``verify_images``) and the Predictor then run the
written file with its runtime in the caller's process and compare it with the caller's
own model, so a difference between the two backends does not pass unnoticed there.

A model with layer classes that the worker cannot rebuild (custom layers defined in the
user's script) gets an error that says so and what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import warnings

from .runtimes import SIGNATURE

FORMATS = ("onnx", "openvino")
# a conversion of ResNet-152 takes about a minute on a 2-core CPU; a worker that has not
# finished after this long is stuck, not slow
WORKER_TIMEOUT_S = 1800


class ModelRebuildError(ValueError):
    """The TensorFlow worker could not rebuild the model from its ``.keras`` file."""


def _input_spec(signature, batch=None):
    """The serving input as a ``tf.TensorSpec`` (``batch=None``: any batch size)."""
    import tensorflow as tf

    return tf.TensorSpec((batch, *signature.input_shape), signature.input_dtype,
                         name=signature.input_name)


def write_saved_model(serving, signature, path: str, batch=None) -> None:
    """Write ``serving`` as a SavedModel folder at ``path`` with Keras'
    ``ExportArchive``: one signature ``serving_default`` taking ``signature``'s named
    input (``batch=None``: any batch size), returning the named float32 outputs. The
    SavedModel and TFLite exporters use it instead of ``Model.export``, which names the
    outputs ``output_0``... and takes no uint8 input.

    Raises:
        ValueError: a Keras backend other than TensorFlow or JAX.
    """
    import keras

    if keras.backend.backend() not in ("tensorflow", "jax"):
        raise ValueError(f"SavedModel and TFLite files are written from the TensorFlow or "
                         f"JAX backend (Keras' ExportArchive), not "
                         f"{keras.backend.backend()!r}: run the export under "
                         "KERAS_BACKEND=tensorflow, or export as ONNX or OpenVINO")
    archive = keras.export.ExportArchive()
    archive.track(serving)
    archive.add_endpoint(SIGNATURE, lambda images: serving(images, training=False),
                         input_signature=[_input_spec(signature, batch)])
    archive.write_out(path, verbose=False)


def export_with_keras(serving, path: str, format: str, signature, **options) -> None:
    """Write ``serving`` (a model from :func:`.serving.serving_model`) to ``path`` with
    ``Model.export(format=format)``, any batch size.

    Args:
        format: ``"onnx"`` or ``"openvino"``.
        options: passed to ``Model.export`` (e.g. ``opset_version``).

    Raises:
        ModelRebuildError: (a ValueError) the worker process could not rebuild the model
            (custom layers).
        RuntimeError: the converter failed in the worker (its first error line).
        Any error of Keras' converter, under the TensorFlow backend.
    """
    import keras

    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if keras.backend.backend() == "tensorflow":
        with _quiet_np_object_probe():
            serving.export(path, format=format, verbose=False,
                           input_signature=[_input_spec(signature)], **options)
        return
    with tempfile.TemporaryDirectory(prefix="keras_resnet-export-") as tmp:
        model_file = os.path.join(tmp, "serving.keras")
        serving.save(model_file)
        job = {"model": model_file, "path": os.path.abspath(path), "format": format,
               "options": options, "input": {
                   "name": signature.input_name, "dtype": signature.input_dtype,
                   "shape": list(signature.input_shape)}}
        # the package where this process found it (it may be on sys.path only)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path_var = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": "",
               "PYTHONPATH": path_var,
               "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        code = ("import json, sys; from keras_resnet.deploy.keras_export import _worker; "
                "sys.exit(_worker(json.loads(sys.argv[1])))")
        try:
            done = subprocess.run([sys.executable, "-c", code, json.dumps(job)], env=env,
                                  capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the TensorFlow worker converting to {format} did not finish "
                               f"in {WORKER_TIMEOUT_S} s and was stopped") from None
    if done.returncode < 0:
        raise RuntimeError(f"the TensorFlow worker converting to {format} was killed by "
                           f"signal {-done.returncode} (out of memory?)")
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = next((line for line in reversed(lines)
                     if line.startswith(("REBUILD ", "CONVERT "))),
                    lines[-1] if lines else f"exit status {done.returncode}")
        if last.startswith("REBUILD "):
            raise ModelRebuildError(
                f"exporting to {format} under the {keras.backend.backend()} backend goes "
                f"through TensorFlow, which could not rebuild model "
                f"{serving.name.removesuffix('_serving')!r} from its saved form "
                f"({last[8:]}). Custom layers must be importable there: run the export "
                "under KERAS_BACKEND=tensorflow, or export with export.saved_model / "
                "export.tflite, which convert in this process")
        raise RuntimeError(last.removeprefix("CONVERT "))


def _worker(job: dict) -> int:
    # (importing this module ran the package's __init__: oneDNN is set up)
    from ..arch import layers  # noqa: F401  (registers the package's layers)
    import keras
    import tensorflow as tf

    try:
        model = keras.saving.load_model(job["model"], compile=False, safe_mode=False)
    except Exception as e:
        print(f"REBUILD {type(e).__name__}: {_first_line(e)}", file=sys.stderr)
        return 2
    spec = job["input"]
    try:
        with _quiet_np_object_probe():
            model.export(job["path"], format=job["format"], verbose=False,
                         input_signature=[tf.TensorSpec((None, *spec["shape"]),
                                                        spec["dtype"], name=spec["name"])],
                         **job["options"])
    except Exception as e:
        print(f"CONVERT {type(e).__name__}: {_first_line(e)}", file=sys.stderr)
        return 3
    return 0


@contextlib.contextmanager
def _quiet_np_object_probe():
    """Keras' ONNX route (keras/src/export/tf2onnx_lib.py) probes ``hasattr(np,
    "object")`` on import, which NumPy 2 answers with a FutureWarning about ``np.object``
    that says nothing about the user's model: a stray line in ``keras-resnet predict``'s
    output. Only that warning is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*np\.object", category=FutureWarning)
        yield


def _first_line(e) -> str:
    text = str(e).strip()
    return next((line.strip() for line in text.splitlines() if line.strip()),
                type(e).__name__)[:300]

