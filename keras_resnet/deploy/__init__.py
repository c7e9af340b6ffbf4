"""Deployment: verified exports and a Predictor on runtimes users already trust.

* :mod:`.serving` — one serving form (named input, named float32 outputs) for any Keras
  image model: functional, Sequential, nested, dict outputs, mixed precision;
* :mod:`.export` — SavedModel, ONNX, OpenVINO IR and TFLite files, each run by its own
  runtime and compared with Keras before it is written (the public face of
  :mod:`.writers` for SavedModel, ONNX and OpenVINO, :mod:`.tflite` for TFLite, and
  :mod:`.job` for the steps around writing a file);
* :mod:`.verify` — the one comparison with the Keras model (tolerances, top-1
  agreement, the chance-level rule) that every exporter and the Predictor use;
* :mod:`.keras_export` — Keras' own ONNX and OpenVINO conversion from any Keras backend
  (a TensorFlow worker process where the backend is not TensorFlow);
* :mod:`.runtimes` — ONNX Runtime, OpenVINO, LiteRT and TensorFlow runners for written
  files (:func:`open_artifact`);
* :mod:`.metadata` — the record of input, preprocessing and class names stored inside
  each artifact (:func:`read_metadata`);
* :mod:`.predictor` — :class:`Predictor`, the fastest verified runtime for a model.

deploy/ takes Keras models and numpy arrays; it imports neither :mod:`keras_resnet.data`
nor :mod:`keras_resnet.zoo` (workflows on run directories: :mod:`keras_resnet.workflows`).
"""

from .metadata import read_metadata
from .predictor import Predictor
from .runtimes import open_artifact

__all__ = ["Predictor", "open_artifact", "read_metadata"]
