"""The API of the old ``keras-resnet`` 0.2.0 package (used by keras-retinanet), kept
importable under its own module paths: ``keras_resnet.models``
(:mod:`.models`), ``keras_resnet.blocks`` (:mod:`.blocks`), ``keras_resnet.classifiers``
(:mod:`.classifiers`), ``keras_resnet.layers`` (the frozen
:class:`~keras_resnet.arch.layers.BatchNormalization`) and
``keras_resnet.custom_objects``.

    import keras, keras_resnet.models
    inputs = keras.Input((None, None, 3))
    backbone = keras_resnet.models.ResNet50(inputs, include_top=False, freeze_bn=True)
    c2, c3, c4, c5 = backbone.outputs        # strides 4, 8, 16, 32

The graphs are 0.2.0's, layer for layer: names, order, padding (its 'same' stem), the
projection in every stage's first block (also in ResNet-18/34's conv2), initializers and
defaults (``freeze_bn=False`` in the named models). New code should use
:func:`keras_resnet.build` or :func:`keras_resnet.ResNet50`.
"""

from .models import (  # noqa: F401  (this package's 0.1.0 exported these from here)
    BLOCKS, NUMERICAL_NAMES, ResNet, ResNet18, ResNet34, ResNet50, ResNet101, ResNet152,
    ResNet200, block_name, name_map)
