"""``keras_resnet.blocks`` is :mod:`keras_resnet.compat.blocks`: keras-resnet 0.2.0's block functions (``basic_2d``,
``bottleneck_2d``, ...).

This path imports that module itself (the same object, not a copy, so that classes and
Keras' registry see one of each): the file replaces its own ``sys.modules`` entry.
"""

import sys

from .compat import blocks as _module

sys.modules[__name__] = _module
