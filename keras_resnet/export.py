"""Deployment: SavedModel, TFLite and ONNX files, each verified against the Keras model.

    report = keras_resnet.export.saved_model(model, "out/savedmodel", verify_images=x)
    report = keras_resnet.export.tflite(model, "out/model.tflite", quantization="int8",
                                        representative_data=x[:200], verify_images=x)

``export.onnx(model, "out/model.onnx", verify_images=x)`` writes this package's own
ONNX translation of the model (:mod:`keras_resnet.onnxgraph`), checked by ONNX Runtime
(rtol 1e-4).

SavedModel and TFLite both go through a SavedModel made with Keras' ``ExportArchive``
whose serving signature has a named input (``images``, dynamic batch) and named outputs (the model's
output names), and both are checked by running the artefact itself:
``tf.saved_model.load`` for SavedModel, the LiteRT interpreter (``ai-edge-litert``) for
TFLite, with inputs and outputs mapped by signature name, never by tensor index.

Checks (the project's tolerance rule ``max|a-b| <= rtol * max(1, max|ref|)``):
SavedModel rtol 1e-5; TFLite float32 rtol 1e-4; float16 top-1 agreement >= 99.5%;
dynamic-range and int8 top-1 agreement >= 98%. A file that fails is never written
(it is checked before it is moved into place) and :class:`ExportVerificationError`
says by how much; the report (sizes, agreement, max
error, latency against a ``tf.function`` call of the Keras model) is returned and
written next to the file as ``<path>.report.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np

from .fileio import atomic_write
from .inference import median_latency_ms
from .numerics import max_abs_error, within_tolerance

QUANTIZATIONS = (None, "float16", "dynamic", "int8")
SAVED_MODEL_RTOL = 1e-5
TFLITE_RTOL = 1e-4
MIN_AGREEMENT = {"float16": 0.995, "dynamic": 0.98, "int8": 0.98}
SIGNATURE = "serving_default"


class ExportVerificationError(RuntimeError):
    """The exported artefact does not reproduce the Keras model."""


def _as_dict(model, y):
    if isinstance(y, dict):
        return y
    if isinstance(y, (list, tuple)):
        return dict(zip(model.output_names, y))
    return {model.output_names[0]: y}


def _write_saved_model(model, path, input_name, raw_uint8, batch=None, fixed_shape=None):
    import keras
    import tensorflow as tf

    shape = tuple(model.input.shape[1:]) if fixed_shape is None else tuple(fixed_shape)
    dtype = tf.uint8 if raw_uint8 else tf.float32
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(images):
        y = model(tf.cast(images, tf.float32), training=False)
        return {k: tf.cast(v, tf.float32) for k, v in _as_dict(model, y).items()}

    archive.add_endpoint(SIGNATURE, serve, input_signature=[
        tf.TensorSpec((batch, *shape), dtype, name=input_name)])
    archive.write_out(path, verbose=False)


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def _keras_fn(model):
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def run(x):
        return {k: tf.cast(v, tf.float32) for k, v in
                _as_dict(model, model(x, training=False)).items()}

    return run


def _compare(got, ref, rtol, what):
    """Report fields for outputs ``got`` of an exported file against Keras' ``ref``
    (dicts by output name); ExportVerificationError beyond the tolerance."""
    if set(got) != set(ref):
        raise ExportVerificationError(f"{what} outputs {sorted(got)} != Keras' {sorted(ref)}")
    errors = {k: max_abs_error(got[k], ref[k]) for k in ref}
    ok = all(within_tolerance(got[k], ref[k], rtol) for k in ref)
    if not ok:
        raise ExportVerificationError(
            f"{what} outputs differ from Keras beyond rtol={rtol}: {errors}")
    return {"verified_images": int(len(next(iter(ref.values())))), "rtol": rtol,
            "max_abs_error": errors, "within_tolerance": ok}


def _write_report(path, report):
    atomic_write(path + ".report.json",
                 lambda p: open(p, "w").write(json.dumps(report, indent=2) + "\n"))


def saved_model(model, path: str, *, input_name: str = "images", raw_uint8: bool = False,
                verify_images=None, rtol: float = SAVED_MODEL_RTOL) -> dict:
    """Write ``model`` as a SavedModel (signature ``serving_default``, input
    ``input_name``, any batch size) and verify it on ``verify_images``.

    ``raw_uint8=True`` makes the input uint8 images, for a model built with
    ``include_preprocessing`` (the normalisation then happens inside)."""
    import tensorflow as tf

    if raw_uint8 and not any(l.name == "preprocess_normalize" for l in model.layers):
        raise ValueError("raw_uint8=True needs a model that normalises its input itself: "
                         "build it with include_preprocessing=...")
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        _write_saved_model(model, tmp, input_name, raw_uint8)
        report = {"format": "savedmodel", "path": path, "input": input_name,
                  "input_dtype": "uint8" if raw_uint8 else "float32",
                  "size_bytes": _dir_size(tmp)}
        if verify_images is not None:
            x = np.asarray(verify_images)
            x = x.astype("uint8" if raw_uint8 else "float32")
            serve = tf.saved_model.load(tmp).signatures[SIGNATURE]
            got = {k: v.numpy() for k, v in serve(**{input_name: tf.constant(x)}).items()}
            ref = {k: np.asarray(v) for k, v in _keras_fn(model)(tf.constant(x, tf.float32)).items()}
            report.update(_compare(got, ref, rtol, "SavedModel"))
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    _write_report(path, report)
    return report


# ----------------------------------------------------------------------- TFLite
def _interpreter(content, num_threads=None):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=content, num_threads=num_threads)


class _LiteRunner:
    """Runs one image at a time through the LiteRT signature, mapping tensors by name
    and (for integer input/output) applying the stored quantisation parameters."""

    def __init__(self, content, input_name, num_threads=None):
        self.interp = _interpreter(content, num_threads)
        self.runner = self.interp.get_signature_runner(SIGNATURE)
        details = self.runner.get_input_details()
        if input_name not in details:
            raise ExportVerificationError(f"TFLite signature lacks input {input_name!r}: "
                                          f"{sorted(details)}")
        self.input_name = input_name
        self.input = details[input_name]
        self.outputs = self.runner.get_output_details()

    def __call__(self, x):
        d = self.input
        if np.issubdtype(d["dtype"], np.integer) and d["dtype"] != np.uint8 or (
                d["dtype"] == np.uint8 and d["quantization"][0] not in (0, 0.0)):
            scale, zero = d["quantization"]
            x = np.clip(np.round(x / scale + zero), np.iinfo(d["dtype"]).min,
                        np.iinfo(d["dtype"]).max)
        out = self.runner(**{self.input_name: np.asarray(x).astype(d["dtype"])})
        result = {}
        for k, v in out.items():
            od = self.outputs[k]
            if np.issubdtype(od["dtype"], np.integer):
                scale, zero = od["quantization"]
                v = (v.astype("float32") - zero) * scale
            result[k] = v.astype("float32")
        return result


def tflite(model, path: str, *, quantization=None, representative_data=None,
           int8_io: bool = False, raw_uint8: bool = False, input_name: str = "images",
           verify_images=None, labels=None, num_threads=None) -> dict:
    """Convert ``model`` to TFLite (batch 1, fixed size) and verify it with LiteRT.

    Args:
        quantization: ``None`` (float32), ``"float16"``, ``"dynamic"`` (int8 weights)
            or ``"int8"`` (full-integer post-training quantisation; needs
            ``representative_data``: a few hundred preprocessed inputs, e.g. from the
            training pipeline).
        int8_io: with ``"int8"``, make the input and output int8 tensors as well
            (the report's numbers are then computed after dequantising).
        raw_uint8: the input is uint8 images (model built with include_preprocessing).
        verify_images, labels: inputs to compare on (and their labels, for accuracy).
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if quantization == "int8" and representative_data is None:
        raise ValueError("int8 quantisation needs representative_data (a few hundred "
                         "inputs from the data pipeline)")
    if int8_io and quantization != "int8":
        raise ValueError("int8_io=True applies to quantization='int8' only")
    if None in tuple(model.input.shape[1:]):
        raise ValueError("TFLite export needs a fixed input size: build the model with "
                         "input_shape=(H, W, C)")
    path = os.fspath(path)
    content = tflite_flatbuffer(model, quantization, representative_data, int8_io,
                                raw_uint8, input_name)

    report = {"format": "tflite", "path": path, "quantization": quantization or "float32",
              "int8_io": int8_io, "size_bytes": len(content),
              "keras_params": int(model.count_params()),
              "keras_float32_bytes": int(4 * model.count_params())}
    if verify_images is not None:
        report.update(_verify_tflite(model, content, np.asarray(verify_images), labels,
                                     quantization, input_name, raw_uint8, num_threads))
    atomic_write(path, lambda p: open(p, "wb").write(content))
    _write_report(path, report)
    return report


def tflite_flatbuffer(model, quantization=None, representative_data=None,
                      int8_io=False, raw_uint8=False, input_name="images") -> bytes:
    """The TFLite flatbuffer (batch 1) for ``model``, unverified; :func:`tflite` checks
    the arguments, verifies the result and writes it."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        sm = os.path.join(tmp, "sm")
        _write_saved_model(model, sm, input_name, raw_uint8, batch=1)
        converter = tf.lite.TFLiteConverter.from_saved_model(sm, signature_keys=[SIGNATURE])
        if quantization is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization == "int8":
            rep = np.asarray(representative_data,
                             "uint8" if raw_uint8 else "float32")

            def gen():
                for i in range(len(rep)):
                    yield {input_name: rep[i:i + 1]}

            converter.representative_dataset = gen
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if int8_io:
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        content = converter.convert()
    return content


def _verify_tflite(model, content, x, labels, quantization, input_name, raw_uint8,
                   num_threads):
    import tensorflow as tf

    run = _LiteRunner(content, input_name, num_threads)
    keras_fn = _keras_fn(model)
    x = x.astype("uint8" if raw_uint8 else "float32")
    ref = {k: np.asarray(v) for k, v in keras_fn(tf.constant(x, tf.float32)).items()}
    lite = None
    for i in range(len(x)):
        out = run(x[i:i + 1])
        if lite is None:
            if set(out) != set(ref):
                raise ExportVerificationError(f"TFLite outputs {sorted(out)} != Keras' "
                                              f"{sorted(ref)}")
            lite = {k: [] for k in out}
        for k, v in out.items():
            lite[k].append(v[0])
    lite = {k: np.stack(v) for k, v in lite.items()}
    result = {"verified_images": int(len(x)),
              "max_abs_error": {k: max_abs_error(lite[k], ref[k]) for k in ref}}
    key = next(iter(ref))
    if ref[key].ndim == 2:  # a classifier: top-1 agreement and accuracy
        agree = float(np.mean(lite[key].argmax(1) == ref[key].argmax(1)))
        result["top1_agreement"] = agree
        if labels is not None:
            y = np.asarray(labels).reshape(-1)
            result["keras_accuracy"] = float(np.mean(ref[key].argmax(1) == y))
            result["tflite_accuracy"] = float(np.mean(lite[key].argmax(1) == y))
    one = x[:1]
    result["latency_ms_batch1"] = {
        "tflite": median_latency_ms(run, one, repeats=20, warmup=1),
        "keras_tf_function": median_latency_ms(
            lambda a: keras_fn(tf.constant(a, tf.float32)), one, repeats=20, warmup=1),
    }
    result["speedup_vs_keras"] = (result["latency_ms_batch1"]["keras_tf_function"]
                                  / result["latency_ms_batch1"]["tflite"])
    if quantization is None:
        ok = all(within_tolerance(lite[k], ref[k], TFLITE_RTOL) for k in ref)
        result.update({"rtol": TFLITE_RTOL, "within_tolerance": ok})
        if not ok:
            raise ExportVerificationError(
                f"float32 TFLite differs from Keras beyond rtol={TFLITE_RTOL}: "
                f"{result['max_abs_error']}")
    elif "top1_agreement" in result:
        need = MIN_AGREEMENT[quantization]
        result["required_agreement"] = need
        if result["top1_agreement"] < need:
            raise ExportVerificationError(
                f"{quantization} TFLite agrees with Keras on {result['top1_agreement']:.2%} "
                f"of top-1 predictions, below the required {need:.1%}")
    return result


# ----------------------------------------------------------------------- ONNX
ONNX_RTOL = 1e-4


def onnx(model, path: str, *, input_name: str = "images", verify_images=None,
         rtol: float = ONNX_RTOL, opset: int | None = None) -> dict:
    """Write ``model`` as an ONNX file (any batch size) and verify it with ONNX Runtime.

    The graph is this package's own translation of the Keras layers
    (:mod:`keras_resnet.onnxgraph`; no TensorFlow-to-ONNX converter involved). Needs
    ``pip install 'keras-resnet-zoo[onnx]'``. With ``verify_images`` the file is run by
    ONNX Runtime and must match Keras within ``rtol`` or it is not written."""
    from .onnxgraph import OPSET, to_onnx

    proto = to_onnx(model, input_name=input_name, opset=opset or OPSET)
    content = proto.SerializeToString()
    path = os.fspath(path)
    report = {"format": "onnx", "path": path, "opset": opset or OPSET, "input": input_name,
              "size_bytes": len(content)}
    if verify_images is not None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ImportError("verifying an ONNX file needs onnxruntime: "
                              "pip install 'keras-resnet-zoo[onnx]'") from e
        import tensorflow as tf

        x = np.asarray(verify_images).astype(str(model.inputs[0].dtype or "float32"))
        session = ort.InferenceSession(content, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        got = dict(zip(names, session.run(None, {input_name: x})))
        ref = {k: np.asarray(v) for k, v in _keras_fn(model)(tf.constant(x)).items()}
        report.update(_compare(got, ref, rtol, "ONNX Runtime"))
    atomic_write(path, lambda p: open(p, "wb").write(content))
    _write_report(path, report)
    return report
