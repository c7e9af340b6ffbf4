"""TFLite files (LiteRT): the converter (:func:`tflite_flatbuffer`, also what the
Predictor's LiteRT candidates run), the verified writer (:func:`tflite`) and the
metadata record of an int8-in/int8-out file.

The file is converted from Keras' ``ExportArchive`` SavedModel
(:func:`.keras_export.write_saved_model`) with builtin ops only, keeping the signature
``serving_default`` with named tensors: ``Model.export(format="litert")`` names the
signature ``serve`` and enables TensorFlow "select" ops, which the LiteRT runtime of
``ai-edge-litert`` does not run. Checks: float32 within rtol 1e-4 (mixed precision: the
policy's tolerance); float16, dynamic-range and int8 by :mod:`.verify`'s top-1
agreement (classifiers) or relative-error bound (feature maps).
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings

import numpy as np

from ..io import write_file
from . import metadata as meta
from .job import (check_destination, prepare, removing_created_folders, report_fields,
                  write_report)
from .keras_export import write_saved_model
from .runtimes import SIGNATURE, LiteRTRunner
from .serving import INPUT_NAME, model_policy, policy_rtol
from .timing import keras_latency_key
from .verify import TFLITE_RTOL, verify_runner

QUANTIZATIONS = (None, "float16", "dynamic", "int8")


def tflite_flatbuffer(serving, signature, quantization=None, representative_data=None,
                      int8_io=False) -> bytes:
    """The TFLite flatbuffer (batch 1, builtin ops only) for a serving model
    (:func:`.serving.serving_model`), unverified; :func:`tflite` checks the arguments,
    verifies the result and writes it.

    Args:
        quantization: one of :data:`QUANTIZATIONS`; ``"int8"`` is calibrated on
            ``representative_data`` (``(N, *signature.input_shape)``, the input dtype).
        int8_io: with ``"int8"``, int8 input and output tensors too.

    Raises:
        ValueError: operations the converter cannot take (named, in one line).
    """
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        sm = os.path.join(tmp, "sm")
        write_saved_model(serving, signature, sm, batch=1)
        converter = tf.lite.TFLiteConverter.from_saved_model(sm, signature_keys=[SIGNATURE])
        if quantization is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization == "int8":
            rep = np.asarray(representative_data, signature.input_dtype)

            def gen():
                for i in range(len(rep)):
                    yield {signature.input_name: rep[i:i + 1]}

            converter.representative_dataset = gen
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if int8_io:
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        try:
            with warnings.catch_warnings():
                # int8 calibration runs TensorFlow's own tf.lite.Interpreter inside the
                # converter, which warns that it is deprecated; the package never uses
                # it (files are verified with ai_edge_litert's interpreter).
                warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
                return converter.convert()
        except Exception as e:  # the converter's own error is a 100 kB MLIR dump
            ops = sorted(set(re.findall(r"\btf\.(\w+)\(", str(e))))
            why = (f"it has operations with no TFLite builtin kernel: {', '.join(ops)}"
                   if ops else str(e).strip().splitlines()[0][:200] if str(e).strip()
                   else type(e).__name__)
            raise ValueError(f"the TFLite converter cannot take model "
                             f"{serving.name.removesuffix('_serving')!r}: {why}; export it "
                             "as ONNX or OpenVINO, or replace those operations") from None


@removing_created_folders()
def tflite(model, path, *, quantization=None, representative_data=None,
           int8_io: bool = False, raw_uint8: bool = False, input_name: str = INPUT_NAME,
           verify_images=None, labels=None, num_threads=None,
           preprocessing=None, class_names=None,
           include_preprocessing=None) -> dict:
    """Convert ``model`` to TFLite (batch 1 in the file; the LiteRT runner of
    :mod:`.runtimes` runs any batch) and verify it with LiteRT.

    Args:
        quantization: ``None`` (float32), ``"float16"``, ``"dynamic"`` (int8 weights)
            or ``"int8"`` (full-integer post-training quantisation; needs
            ``representative_data``: a few hundred inputs as the model takes them,
            e.g. from the training pipeline).
        int8_io: with ``"int8"``, make the input and output int8 tensors as well
            (the report's numbers are then computed after dequantising).
        raw_uint8: as :func:`~keras_resnet.deploy.writers.saved_model`.
        input_name: the input tensor's name in the file.
        verify_images: inputs to compare on, as the model takes them (None: the
            representative_data for int8, else seeded random images, whose check shows
            a broken conversion but not an accuracy loss on real images).
        labels: their class indices, for accuracy and the chance-level check.
        num_threads: LiteRT's threads for the verification run (default: its own).
        preprocessing: as :func:`~keras_resnet.deploy.writers.saved_model`.
        class_names: as :func:`~keras_resnet.deploy.writers.saved_model`.
        include_preprocessing: as :func:`~keras_resnet.deploy.writers.saved_model`.

    Raises:
        ValueError: bad arguments, a model without a fixed input size, or one the TFLite
            converter cannot take (its first error line).
        ExportVerificationError: the file does not match Keras; nothing is written.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if quantization == "int8" and representative_data is None:
        raise ValueError("int8 quantisation needs representative_data (a few hundred "
                         "inputs from the data pipeline)")
    if int8_io and quantization != "int8":
        raise ValueError("int8_io=True applies to quantization='int8' only")
    path = check_destination(path, ".tflite")
    job = prepare(model, input_name=input_name, raw_uint8=raw_uint8,
                  verify_images=verify_images, labels=labels, rtol=None,
                  default_rtol=TFLITE_RTOL, preprocessing=preprocessing,
                  class_names=class_names, include_preprocessing=include_preprocessing,
                  batch_size=1,
                  representative_data=representative_data)
    if None in job.signature.input_shape:
        raise ValueError("TFLite export needs a fixed input size: build the model with "
                         "input_shape=(H, W, C)")
    rep = job.rep
    flatbuffer = tflite_flatbuffer(job.serving, job.signature, quantization, rep, int8_io)
    if int8_io:  # the file's tensors are int8: say so, with their quantisation
        job.record = int8_io_record(flatbuffer, job.record, input_name)
    content = meta.add_to_tflite(flatbuffer, job.record)
    params = int(job.model.count_params())
    report = report_fields("tflite", path, job, len(content),
                           quantization=quantization or "float32", int8_io=int8_io,
                           keras_params=params, keras_float32_bytes=4 * params)
    report["input_dtype"] = job.record["input"]["dtype"]
    if job.x is not None:
        report.update(verify_tflite(job.model, content, job.x, job.ref, labels, quantization,
                                    input_name, num_threads, rtol=job.rtol,
                                    verified_on=job.verified_on))
    write_file(path, content)
    write_report(path, report)
    return report


def int8_io_record(content, record, input_name) -> dict:
    """The metadata record of an ``int8_io`` file (``content``: its flatbuffer): its
    input and outputs are int8 tensors, ``real = (q - zero_point) * scale``."""
    run = LiteRTRunner(content, input_name)

    def quant(d):
        scale, zero = d["quantization"]
        return {"dtype": np.dtype(d["dtype"]).name, "scale": float(scale),
                "zero_point": int(zero)}

    record = {**record, "output_quantization": {k: quant(d) for k, d in run.outputs.items()}}
    q = quant(run.input)
    if q["dtype"] != "int8":  # raw uint8 images in (include_preprocessing): unchanged
        return record
    return {**record,
            "input": {**record["input"], "dtype": "int8", "quantization": q,
                      "values": "int8: round(preprocessed / scale + zero_point) "
                                "(keras_resnet's open_artifact takes the float images and "
                                "quantises them itself)"}}


def verify_tflite(model, content, x, ref, labels, quantization, input_name=INPUT_NAME,
                  num_threads=None, rtol=None, verified_on=None) -> dict:
    """Run the flatbuffer ``content`` with LiteRT on ``x`` and compare with Keras'
    outputs ``ref`` (:func:`.verify.verify_runner`): float32 within ``rtol`` (default
    1e-4, or the model's dtype policy's tolerance), reduced precisions by top-1
    agreement (bounded, on ``verified_on="random images"``). Report fields as there,
    plus ``tflite_accuracy`` (with ``labels``) and
    ``speedup_vs_keras`` at batch 1; ExportVerificationError when the check fails."""
    if rtol is None:
        policy = model_policy(model)
        rtol = TFLITE_RTOL if policy == "float32" else policy_rtol(policy)
    run = LiteRTRunner(content, input_name, num_threads)
    what = "TFLite" if quantization else "float32 TFLite"
    result = verify_runner(run, model, x, ref, labels, rtol=rtol, quantization=quantization,
                           what=what, verified_on=verified_on)
    if "artifact_accuracy" in result:
        result["tflite_accuracy"] = result["artifact_accuracy"]
    latency, keras_key = result["latency_ms_batch1"], keras_latency_key()
    result["latency_ms_batch1"] = {"tflite": latency[run.runtime],
                                   keras_key: latency[keras_key]}
    result["speedup_vs_keras"] = latency[keras_key] / latency[run.runtime]
    return result
