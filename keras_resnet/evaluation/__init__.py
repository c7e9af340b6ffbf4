"""Scoring trained networks: the paper's test views (``views``), training curves
(``curves``) and layer responses (``responses``, the paper's Figure 7).

``keras_resnet.evaluation.evaluate`` and the other names of the former
``keras_resnet.evaluation`` module are here as before.
"""

from .views import MULTISCALE_SIZES, VIEWS, evaluate, predict_views, ten_crops, topk_errors

__all__ = ["MULTISCALE_SIZES", "VIEWS", "evaluate", "predict_views", "ten_crops",
           "topk_errors"]
