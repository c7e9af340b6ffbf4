"""Deployment files, each verified by running the written file with its own runtime.

    from keras_resnet import export
    export.saved_model(model, "out/sm", verify_images=x)
    export.onnx(model, "out/m.onnx", verify_images=x)          # ONNX Runtime
    export.openvino(model, "out/m.xml", verify_images=x)       # OpenVINO runtime
    export.tflite(model, "out/m.tflite", quantization="int8",  # LiteRT
                  representative_data=x[:200], verify_images=x, labels=y)

Any Keras image model is accepted (functional, Sequential, nested, dict outputs such as
a backbone's ``C2``..``C5``, mixed precision): each is first put in one serving form
(:func:`~keras_resnet.deploy.serving.serving_model`): an input named ``images`` with any
batch size and float32 outputs named like the model's. A mixed-precision model is
written as a float32 file and compared at a tolerance for its policy.

Writers: ONNX and OpenVINO IR come from Keras' own ``Model.export`` (``format="onnx"``
through tf2onnx, ``format="openvino"``). SavedModel and TFLite use Keras'
``ExportArchive`` directly, because ``Model.export`` gives less there: its SavedModel
names the outputs ``output_0``... and takes no uint8 input, and its LiteRT export names
the signature ``serve`` and enables TensorFlow "select" ops, which the LiteRT runtime
of ``ai-edge-litert`` does not run; ours converts with builtin ops only and keeps the
signature ``serving_default`` with named tensors.

Checks (the project's tolerance rule ``max|a-b| <= rtol * max(1, max|ref|)``): SavedModel
rtol 1e-5, ONNX / OpenVINO / float32 TFLite rtol 1e-4 (mixed-precision models: the
policy's tolerance); TFLite float16 top-1 agreement >= 99.5%, dynamic-range and int8
(TFLite, and OpenVINO through NNCF) >= 98%; quantised feature maps within rtol 0.01
(float16) or 0.1. With ``labels`` (100 or more), an export whose Keras model is itself at chance
level on the verification images is refused: those images are not what the model
takes. An int8 file given no ``verify_images`` is checked on its ``representative_data``
(with a :class:`CalibrationVerificationWarning`: those are the images it was calibrated
on); any other file given none, on 4 seeded random images (report ``verified_on``:
``"random images"``; a quantised one by the feature-map bound on every output, since
random images' top-1 classes are near-ties), which shows a conversion that breaks the
network but not what a reduced precision costs on real images. Only where Keras cannot
run the model (a channels_first model on a CPU) is a file written unverified, with an
:class:`UnverifiedExportWarning`. Calibration and verification images are refused where they are not what the file
takes. A file that fails is never left behind (it is checked before it is moved into
place) and :class:`ExportVerificationError` says by how much. Every file carries its
metadata (input, outputs, preprocessing, class names: :mod:`.metadata`) and gets a
``<path>.report.json``.

This module is the public face (``keras_resnet.export``); the code lives by job:
:mod:`.writers` (SavedModel, ONNX, OpenVINO), :mod:`.tflite` (TFLite), :mod:`.verify`
(the comparison with Keras and its tolerances), :mod:`.job` (the steps around writing a
file). Exporting a run directory of this repository is
:func:`keras_resnet.workflows.export_trained`.
"""

from __future__ import annotations

from .job import CalibrationVerificationWarning, check_destination
from .job import tag_class_names as _tag_class_names  # noqa: F401  (kept for callers)
from .metadata import read_metadata  # noqa: F401  (export.read_metadata, as in the README)
from .runtimes import open_artifact  # noqa: F401  (export.open_artifact, as in the README)
from .tflite import QUANTIZATIONS, tflite, tflite_flatbuffer, verify_tflite
from .timing import keras_latency_key
from .verify import (MIN_AGREEMENT, ONNX_RTOL, OPENVINO_RTOL, QUANTIZED_RTOL,
                     SAVED_MODEL_RTOL, TFLITE_RTOL, ChanceLevelError,
                     ExportVerificationError, UnverifiedExportWarning, check_not_chance, check_quantized,
                     class_indices, compare, reference_outputs)
from .writers import OPENVINO_QUANTIZATIONS, onnx, openvino, saved_model

# Every name this module held before it was split by job, kept importable for callers
# (tests, examples, the README's ``export.<name>``).
__all__ = [
    "saved_model", "onnx", "openvino", "tflite", "tflite_flatbuffer", "verify_tflite",
    "read_metadata", "open_artifact", "check_destination", "reference_outputs",
    "CalibrationVerificationWarning", "UnverifiedExportWarning",
    "compare", "check_quantized", "check_not_chance", "class_indices",
    "keras_latency_key", "ExportVerificationError", "ChanceLevelError", "QUANTIZATIONS",
    "OPENVINO_QUANTIZATIONS", "MIN_AGREEMENT", "QUANTIZED_RTOL", "SAVED_MODEL_RTOL",
    "TFLITE_RTOL", "ONNX_RTOL", "OPENVINO_RTOL"]

# The run-directory workflow moved to keras_resnet.workflows (it loads datasets, which
# deploy/ does not); its names still resolve here for callers, on first use only, so
# that importing deploy/ never imports keras_resnet.data or keras_resnet.zoo.
_MOVED_TO_WORKFLOWS = ("export_trained", "FORMATS")


def __getattr__(name):
    if name in _MOVED_TO_WORKFLOWS:
        import importlib

        return getattr(importlib.import_module("keras_resnet.workflows"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
