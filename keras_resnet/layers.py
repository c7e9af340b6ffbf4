"""``keras_resnet.layers`` is :mod:`keras_resnet.arch.layers`: the package's Keras layers, 0.2.0's
``BatchNormalization(freeze=...)`` among them (0.2.0 code imports them from here).

This path imports that module itself (the same object, not a copy, so that classes and
Keras' registry see one of each): the file replaces its own ``sys.modules`` entry.
"""

import sys

from .arch import layers as _module

sys.modules[__name__] = _module
