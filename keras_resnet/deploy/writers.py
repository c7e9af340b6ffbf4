"""SavedModel, ONNX and OpenVINO IR files, each verified by running the written file
with its own runtime before it is moved into place (TFLite: :mod:`.tflite`).

ONNX and OpenVINO IR come from Keras' own ``Model.export`` (``format="onnx"`` through
tf2onnx, ``format="openvino"``; :mod:`.keras_export`); the SavedModel from Keras'
``ExportArchive`` (:func:`.keras_export.write_saved_model`), which names the outputs and
takes uint8 input. The checks are :mod:`.verify`'s; a file that fails is never left
behind, and each written file gets its metadata (:mod:`.metadata`) and a
``<path>.report.json``.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ..io import atomic_write
from . import metadata as meta
from .job import (check_destination, converter_errors, dir_size, prepare,
                  removing_created_folders, report_fields, write_report)
from .keras_export import export_with_keras, write_saved_model
from .quantize import nncf_version, quantize_ir
from .runtimes import OnnxRuntimeRunner, OpenVINORunner, SavedModelRunner
from .serving import INPUT_NAME
from .verify import ONNX_RTOL, OPENVINO_RTOL, SAVED_MODEL_RTOL, verify_runner

OPENVINO_QUANTIZATIONS = (None, "int8")


@removing_created_folders()
def saved_model(model, path, *, input_name: str = INPUT_NAME, raw_uint8: bool = False,
                verify_images=None, labels=None, rtol: float | None = None,
                preprocessing=None, class_names=None,
                include_preprocessing=None) -> dict:
    """Write ``model`` as a SavedModel folder (signature ``serving_default``, input
    ``input_name``, any batch size, float32 outputs named like the model's) and verify
    it with ``tf.saved_model.load`` on ``verify_images`` (a batch the model takes).

    Args:
        model: a Keras image model (:func:`~keras_resnet.deploy.serving.serving_model`
            takes functional, Sequential, nested, dict-output and mixed-precision ones).
        path: the folder to write (must not exist, or be empty).
        input_name: the signature's input name.
        raw_uint8: the input is uint8 images; for a model that normalises its input
            itself (built with ``include_preprocessing``).
        verify_images: inputs ``(N, H, W, C)`` to compare on, as the model takes them;
            None: 4 seeded random images (:func:`.serving.random_images`; the report's
            ``verified_on`` says which), which show a conversion that breaks the
            network; real images also show what a reduced precision costs. (A
            channels_first model on a CPU, which Keras cannot run there, is then
            written unverified, with an :class:`~.verify.UnverifiedExportWarning`.)
        labels: class indices of ``verify_images`` (accuracy in the report, and the
            chance-level check).
        rtol: default 1e-5 (float32 model) or the model's dtype policy's tolerance.
        preprocessing: recorded in the file's metadata and report: a
            :class:`~keras_resnet.Preprocessing`, ``"caffe"``/``"torch"``/``"tf"``, a
            weights tag, or a dict.
        class_names: names of the classifier's columns, recorded likewise.
        include_preprocessing: the same kinds of settings, put in front of the model;
            the file then takes raw uint8 images.

    Returns the report (also written to ``<path>.report.json``).

    Raises:
        ValueError: a model or input the exporter cannot take (said why).
        ExportVerificationError: the file does not match Keras; nothing is written.
    """
    path = check_destination(path)
    job = prepare(model, input_name=input_name, raw_uint8=raw_uint8,
                  verify_images=verify_images, labels=labels, rtol=rtol,
                  default_rtol=SAVED_MODEL_RTOL, preprocessing=preprocessing,
                  class_names=class_names, include_preprocessing=include_preprocessing)
    parent = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        write_saved_model(job.serving, job.signature, tmp)
        meta.write_saved_model(tmp, job.record)
        report = report_fields("savedmodel", path, job, dir_size(tmp))
        if job.x is not None:
            report.update(verify_runner(SavedModelRunner(tmp, input_name), job.model, job.x,
                                        job.ref, labels, rtol=job.rtol, what="SavedModel",
                                        verified_on=job.verified_on))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide it from a server
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    write_report(path, report)
    return report


@removing_created_folders()
def onnx(model, path, *, input_name: str = INPUT_NAME, raw_uint8: bool = False,
         verify_images=None, labels=None, rtol: float | None = None,
         preprocessing=None, class_names=None, include_preprocessing=None,
         opset: int | None = None) -> dict:
    """Write ``model`` as an ONNX file (any batch size) through Keras'
    ``Model.export(format="onnx")`` and verify it with ONNX Runtime. Needs
    ``pip install 'keras-resnet-zoo[onnx]'`` (tf2onnx, onnx, onnxruntime). Arguments,
    return value and errors as :func:`saved_model` (default rtol 1e-4); ``opset``: the
    ONNX opset (default: tf2onnx's)."""
    try:  # optional dependencies: a clear error before any work
        import onnx as _onnx  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as e:
        raise ImportError("ONNX export needs tf2onnx and onnx: "
                          "pip install 'keras-resnet-zoo[onnx]'") from e
    path = check_destination(path, ".onnx")
    job = prepare(model, input_name=input_name, raw_uint8=raw_uint8,
                  verify_images=verify_images, labels=labels, rtol=rtol,
                  default_rtol=ONNX_RTOL, preprocessing=preprocessing,
                  class_names=class_names, include_preprocessing=include_preprocessing)

    def write(tmp):
        with converter_errors("ONNX (tf2onnx)", job):
            export_with_keras(job.serving, tmp, "onnx", job.signature, opset_version=opset)
        meta.write_onnx(tmp, job.record)
        report.update(report_fields("onnx", path, job, os.path.getsize(tmp)))
        if job.x is not None:
            report.update(verify_runner(OnnxRuntimeRunner(tmp), job.model, job.x, job.ref,
                                        labels, rtol=job.rtol, what="ONNX Runtime",
                                        verified_on=job.verified_on))

    report = {}
    atomic_write(path, write)
    write_report(path, report)
    return report


@removing_created_folders()
def openvino(model, path, *, input_name: str = INPUT_NAME, raw_uint8: bool = False,
             verify_images=None, labels=None, rtol: float | None = None,
             preprocessing=None, class_names=None,
             include_preprocessing=None, quantization=None,
             representative_data=None) -> dict:
    """Write ``model`` as an OpenVINO IR (``path`` ends in ``.xml``; the weights go to the
    ``.bin`` beside it; any batch size) through Keras' ``Model.export(format="openvino")``
    and verify it with the OpenVINO runtime at f32 inference precision. Needs
    ``pip install 'keras-resnet-zoo[openvino]'``. Arguments, return value and errors as
    :func:`saved_model` (default rtol 1e-4), and:

    Args:
        quantization: ``None`` (float32) or ``"int8"``: post-training quantisation by
            NNCF (:mod:`.quantize`), calibrated on ``representative_data`` (a few
            hundred inputs as the model takes them). Verified like the TFLite int8
            export: top-1 agreement with Keras >= 98% on ``verify_images``
            (classifiers; with ``labels`` the accuracy of both is reported), feature
            maps within rtol 0.1.
    """
    if quantization not in OPENVINO_QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {OPENVINO_QUANTIZATIONS} for "
                         f"OpenVINO, got {quantization!r}")
    if quantization == "int8" and representative_data is None:
        raise ValueError("int8 quantisation needs representative_data (a few hundred "
                         "inputs from the data pipeline)")
    if quantization is None and representative_data is not None:
        raise ValueError("representative_data calibrates int8 files: pass "
                         "quantization='int8' too, or leave it out")
    if not os.fspath(path).endswith(".xml"):
        raise ValueError(f"an OpenVINO IR path ends in .xml (the weights go to the .bin "
                         f"beside it), got {os.fspath(path)!r}")
    path = check_destination(path, ".xml")
    try:  # an optional dependency: a clear error before any work
        import openvino as _ov  # noqa: F401
    except ImportError as e:
        raise ImportError("OpenVINO export needs openvino: "
                          "pip install 'keras-resnet-zoo[openvino]'") from e
    job = prepare(model, input_name=input_name, raw_uint8=raw_uint8,
                  verify_images=verify_images, labels=labels, rtol=rtol,
                  default_rtol=OPENVINO_RTOL, preprocessing=preprocessing,
                  class_names=class_names, include_preprocessing=include_preprocessing,
                  representative_data=representative_data)
    rep = job.rep
    parent = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        xml = os.path.join(tmp, "model.xml")
        with converter_errors("OpenVINO", job):
            export_with_keras(job.serving, xml, "openvino", job.signature)
        extra = {}
        if quantization == "int8":
            float_xml, xml = xml, os.path.join(tmp, "int8.xml")
            with converter_errors("NNCF int8", job):
                extra["fake_quantize_ops"] = quantize_ir(float_xml, xml, rep)
            extra.update(quantization="int8", nncf=nncf_version(),
                         representative_images=int(len(rep)))
            job.record = {**job.record, "quantization": "int8"}
        meta.write_openvino(xml, job.record)
        size = os.path.getsize(xml) + os.path.getsize(xml[:-4] + ".bin")
        report = report_fields("openvino", path, job, size, **extra)
        if job.x is not None:
            runner = OpenVINORunner(xml, "float32", output_names=job.signature.output_names)
            report.update(verify_runner(runner, job.model, job.x, job.ref, labels,
                                        rtol=job.rtol, quantization=quantization,
                                        what="OpenVINO", verified_on=job.verified_on))
        # the weights first: a reader who finds the .xml finds a .bin; an overwrite
        # stopped between the two renames leaves a pair open_artifact refuses (the
        # .xml records its .bin's SHA-256: metadata.check_openvino_weights)
        os.replace(xml[:-4] + ".bin", path[:-4] + ".bin")
        os.replace(xml, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_report(path, report)
    return report
