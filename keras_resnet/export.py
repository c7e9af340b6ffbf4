"""``keras_resnet.export`` is :mod:`keras_resnet.deploy.export`: the verified exports (``from keras_resnet import
export``; ``export.tflite(model, path, ...)``).

This path imports that module itself (the same object, not a copy, so that classes and
Keras' registry see one of each): the file replaces its own ``sys.modules`` entry.
"""

import sys

from .deploy import export as _module

sys.modules[__name__] = _module
