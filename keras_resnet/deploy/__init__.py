"""Deployment: verified exports and a Predictor on runtimes users already trust.

* :mod:`.serving` — one serving form (named input, named float32 outputs) for any Keras
  image model: functional, Sequential, nested, dict outputs, mixed precision;
* :mod:`.export` — SavedModel, ONNX, OpenVINO IR and TFLite files, each run by its own
  runtime and compared with Keras before it is written;
* :mod:`.keras_export` — Keras' own ONNX and OpenVINO conversion from any Keras backend
  (a TensorFlow worker process where the backend is not TensorFlow);
* :mod:`.runtimes` — ONNX Runtime, OpenVINO, LiteRT and TensorFlow runners for written
  files (:func:`open_artifact`);
* :mod:`.metadata` — the record of input, preprocessing and class names stored inside
  each artifact (:func:`read_metadata`);
* :mod:`.predictor` — :class:`Predictor`, the fastest verified runtime for a model.
"""

from .metadata import read_metadata
from .predictor import Predictor
from .runtimes import open_artifact

__all__ = ["Predictor", "open_artifact", "read_metadata"]
