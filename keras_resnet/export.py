"""``keras_resnet.export``: the exporters (kept at this path; the code lives in
:mod:`keras_resnet.deploy.export`).

    from keras_resnet import export
    export.saved_model(model, "out/sm", verify_images=x)
    export.onnx(model, "out/m.onnx", verify_images=x)
    export.openvino(model, "out/m.xml", verify_images=x)
    export.tflite(model, "out/m.tflite", quantization="int8", representative_data=r,
                  verify_images=x, labels=y)
"""

from .deploy.export import (MIN_AGREEMENT, ONNX_RTOL, OPENVINO_RTOL, QUANTIZATIONS,  # noqa: F401
                            QUANTIZED_RTOL, check_destination,
                            SAVED_MODEL_RTOL, TFLITE_RTOL, ExportVerificationError, onnx,
                            openvino, saved_model, tflite, tflite_flatbuffer, verify_tflite)
from .deploy.metadata import read_metadata  # noqa: F401
from .deploy.runtimes import open_artifact  # noqa: F401

__all__ = ["saved_model", "tflite", "onnx", "openvino", "read_metadata", "open_artifact",
           "ExportVerificationError"]
