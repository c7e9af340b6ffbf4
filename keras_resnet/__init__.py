"""keras_resnet: the ResNets of He et al. (2015), exact, for Keras 3.

Quick start::

    import keras_resnet
    model = keras_resnet.ResNet50()                 # keras.applications signature
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    keras_resnet.list_models()

Names are imported lazily: ``import keras_resnet`` is instant, and Keras (with its
backend) is imported on first use of a builder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_CONSTRUCTOR_NAMES = (
    "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152",
    "Plain18", "Plain34", "Plain50", "Plain101", "Plain152",
    "ResNet20", "ResNet32", "ResNet44", "ResNet56", "ResNet110", "ResNet1202",
    "Plain20", "Plain32", "Plain44", "Plain56", "Plain110",
)
_EXPORTS = {
    "build": "builder",
    "load_model": "saving",
    "Complexity": "complexity",
    "spec_complexity": "complexity",
    "model_complexity": "complexity",
    "ResNetSpec": "specs",
    "cifar_spec": "specs",
    "imagenet_spec": "specs",
    "get_spec": "specs",
    "list_models": "specs",
    "preprocess_input": "preprocessing",
    "load_pretrained": "preprocessing",
    "decode_predictions": "classes",
    "backbone": "backbones",
    "faster_rcnn_split": "backbones",
    "imagenet_classes": "classes",
    "Predictor": "deploy",
}

_SUBMODULES = ("models", "layers", "classes", "data", "pretrained", "training", "evaluation",
               "analysis", "export", "backbones", "tuning", "inference", "deploy")

__all__ = [*_EXPORTS, "list_weights", "custom_objects", *_CONSTRUCTOR_NAMES]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES:  # keras_resnet.models without an explicit import
        value = importlib.import_module(f".{name}", __name__)
    elif name == "custom_objects":  # keras-resnet 0.2.0 exported this mapping
        value = {"BatchNormalization":
                 importlib.import_module(".layers", __name__).BatchNormalization}
    elif name == "list_weights":
        value = importlib.import_module(".pretrained.registry", __name__).list_weights
    elif name in _CONSTRUCTOR_NAMES:
        value = importlib.import_module(".zoo", __name__).CONSTRUCTORS[name]
    else:
        raise AttributeError(f"module 'keras_resnet' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for static analysis and IDE completion
    from .builder import build
    from .backbones import backbone, faster_rcnn_split
    from .classes import decode_predictions, imagenet_classes
    from .complexity import Complexity, model_complexity, spec_complexity
    from .preprocessing import load_pretrained, preprocess_input
    from .pretrained.registry import list_weights
    from .saving import load_model
    from .specs import ResNetSpec, cifar_spec, get_spec, imagenet_spec, list_models
    from .zoo import CONSTRUCTORS

    ResNet50 = CONSTRUCTORS["ResNet50"]
