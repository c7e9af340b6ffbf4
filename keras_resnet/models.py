"""``keras_resnet.models`` is :mod:`keras_resnet.compat.models`: keras-resnet 0.2.0's constructors (``ResNet50(inputs,
classes)``, ...).

This path imports that module itself (the same object, not a copy, so that classes and
Keras' registry see one of each): the file replaces its own ``sys.modules`` entry.
"""

import sys

from .compat import models as _module

sys.modules[__name__] = _module
