"""keras-resnet 0.2.0's ``keras_resnet.classifiers``: ``ResNet18(inputs, classes)`` ...
``ResNet200(inputs, classes)``.

As in 0.2.0, each is the named model *with* its 1000-way softmax top, flattened, and a
``Dense(classes, softmax)`` after it (layers ``flatten`` and ``dense`` under Keras'
automatic names). 0.2.0 made them ``keras.Model`` subclasses; here they are functions
returning the same ``keras.Model`` (see :mod:`keras_resnet.compat.models`).
"""

from __future__ import annotations

import keras

from . import models


def _classifier(depth):
    backbone = getattr(models, f"ResNet{depth}")

    def make(inputs, classes):
        outputs = backbone(inputs)
        outputs = keras.layers.Flatten()(outputs.output)
        outputs = keras.layers.Dense(classes, activation="softmax")(outputs)
        return keras.Model(inputs, outputs)

    make.__name__ = make.__qualname__ = f"ResNet{depth}"
    make.__doc__ = (f"keras-resnet 0.2.0's classifiers.ResNet{depth}(inputs, classes): "
                    f"keras_resnet.models.ResNet{depth}(inputs) (with its fc1000 softmax), "
                    "Flatten, Dense(classes, softmax).")
    return make


ResNet18 = _classifier(18)
ResNet34 = _classifier(34)
ResNet50 = _classifier(50)
ResNet101 = _classifier(101)
ResNet152 = _classifier(152)
ResNet200 = _classifier(200)
