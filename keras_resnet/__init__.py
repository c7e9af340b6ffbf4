"""keras_resnet: the ResNets of He et al. (2015), exact, for Keras 3.

Quick start::

    import keras_resnet
    model = keras_resnet.ResNet50()                 # keras.applications signature
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    keras_resnet.list_models()

Names are imported lazily: ``import keras_resnet`` is instant, and Keras (with its
backend) is imported on first use of a builder. Its one side effect: on Linux x86-64,
if TensorFlow is not imported yet and ``TF_ENABLE_ONEDNN_OPTS`` is unset, it sets that
variable to 1 so that TensorFlow runs its oneDNN kernels on CPUs where it would not by
default (:mod:`keras_resnet.cpu`; ``TF_ENABLE_ONEDNN_OPTS=0`` keeps them off).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from typing import TYPE_CHECKING

from . import _lazy
from ._version import __version__
from .cpu import enable_tf_onednn

# TensorFlow's oneDNN kernels on AVX2 CPUs too (1.8x faster training measured there;
# see keras_resnet/cpu.py). Has to happen before TensorFlow is imported.
enable_tf_onednn()

_CONSTRUCTOR_NAMES = (
    "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152",
    "Plain18", "Plain34", "Plain50", "Plain101", "Plain152",
    "ResNet20", "ResNet32", "ResNet44", "ResNet56", "ResNet110", "ResNet1202",
    "Plain20", "Plain32", "Plain44", "Plain56", "Plain110",
    "ResNet18D", "ResNet34D", "ResNet50D", "ResNet101D", "ResNet152D", "ResNet200D",
)
# Public name -> the module that defines it, imported on first use (PEP 562 module
# __getattr__ below): one lazy table, so that ``import keras_resnet`` does not import
# Keras and its backend.
_EXPORTS = {
    "build": "zoo",
    "load_pretrained": "zoo",
    "load_model": "zoo",
    "load_trained": "zoo",
    "save_weights": "pretrained.record",
    "Complexity": "arch.complexity",
    "spec_complexity": "arch.complexity",
    "model_complexity": "arch.complexity",
    "ResNetSpec": "arch.specs",
    "cifar_spec": "arch.specs",
    "imagenet_spec": "arch.specs",
    "get_spec": "arch.specs",
    "list_models": "arch.specs",
    "preprocess_input": "pretrained.transforms",
    "Preprocessing": "preprocessing",
    "decode_predictions": "pretrained.classes",
    "imagenet_classes": "pretrained.classes",
    "list_weights": "pretrained.weights",
    "get_weights": "pretrained.weights",
    "Weights": "pretrained.weights",
    "backbone": "tasks.backbones",
    "faster_rcnn_split": "tasks.backbones",
    "Predictor": "deploy",
}
_EXPORTS.update(dict.fromkeys(_CONSTRUCTOR_NAMES, "constructors"))
# Subpackages and module paths reachable as attributes without an import
# (``keras_resnet.data.load_split``). ``models``, ``blocks``, ``classifiers`` and
# ``layers`` are keras-resnet 0.2.0's module paths, ``export`` the exports' short path:
# each is a file that stands for the module it names (see keras_resnet/models.py).
_SUBMODULES = ("arch", "pretrained", "tasks", "data", "training", "evaluation", "deploy",
               "compat", "io", "zoo", "applications", "rundir", "preprocessing",
               "models", "blocks", "classifiers", "layers", "export")

__all__ = [*_EXPORTS, "custom_objects"]


# The package's own Keras layers (the freezable BatchNormalization and Conv2D of
# backbones and of the 0.2.0 shim) must be registered with Keras before
# ``keras.saving.load_model`` reads a file that holds them. Importing them here would
# import Keras (and its backend) with the package, which ``import keras_resnet`` avoids;
# so they are registered when Keras is imported: now if it already is, else right
# after Keras' own import finishes (an import hook, removed once Keras has loaded).
def _register_layers():
    importlib.import_module(".arch.layers", __name__)


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        # Keras is a top-level package on sys.path. A look-up alone (TensorFlow calls
        # importlib.util.find_spec("keras") to see whether it is installed) loads
        # nothing, so the hook stays until Keras' module is actually executed.
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _RegisterAfter(spec.loader)
        return spec


class _RegisterAfter(importlib.abc.Loader):
    """Keras' own loader, then :func:`_register_layers`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        for finder in [f for f in sys.meta_path if isinstance(f, _AfterKerasImport)]:
            sys.meta_path.remove(finder)  # one shot: Keras is imported now
        _register_layers()

    def __getattr__(self, name):  # get_resource_reader, is_package, ...: Keras' loader
        return getattr(self._loader, name)


if "keras" in sys.modules:
    _register_layers()
elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterKerasImport())


def _custom_objects():  # keras-resnet 0.2.0 exported this mapping
    return {"BatchNormalization":
            importlib.import_module(".arch.layers", __name__).BatchNormalization}


__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, _SUBMODULES,
                                    {"custom_objects": _custom_objects})


if TYPE_CHECKING:  # for static analysis and IDE completion
    from .arch.complexity import Complexity, model_complexity, spec_complexity
    from .arch.specs import ResNetSpec, cifar_spec, get_spec, imagenet_spec, list_models
    from .deploy import Predictor
    from .pretrained.classes import decode_predictions, imagenet_classes
    from .pretrained.record import save_weights
    from .pretrained.weights import Weights, get_weights, list_weights
    from .pretrained.transforms import preprocess_input
    from .preprocessing import Preprocessing
    from .tasks.backbones import backbone, faster_rcnn_split
    from .constructors import *  # noqa: F403  (ResNet18 ... ResNet200D)
    from .zoo import build, load_model, load_pretrained, load_trained

