"""``keras_resnet.inference``: the Predictor (kept at this path; the code lives in
:mod:`keras_resnet.deploy.predictor`)."""

from .deploy.predictor import BACKENDS, PRECISIONS, Predictor  # noqa: F401
from .deploy.timing import median_latency_ms  # noqa: F401

__all__ = ["Predictor", "BACKENDS", "median_latency_ms"]
