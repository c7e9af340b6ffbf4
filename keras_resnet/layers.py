"""Layers of this package: a BatchNormalization and a Conv2D that can be frozen.

``BatchNormalization(freeze=True)`` is what detection and fine-tuning code needs from a
pretrained backbone (and what keras-resnet 0.2.0 offered under this name): its gamma
and beta are not trained and it always normalises with its moving statistics, which it
never updates. Unlike Keras' own layer with ``trainable = False``, it stays frozen
when a user sets ``model.trainable = True`` to fine-tune the rest of the network, and
when called with ``training=True``.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="keras_resnet")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` plus ``freeze``.

    Args:
        freeze: ``True`` keeps the layer in inference mode and non-trainable for good
            (``trainable`` can be set, but stays ``False``); ``False`` is Keras' layer.
        **kwargs: as for ``keras.layers.BatchNormalization``.
    """

    def __init__(self, freeze: bool = False, **kwargs):
        self._freeze = bool(freeze)  # read by the trainable setter during __init__
        super().__init__(**kwargs)
        if self._freeze:
            self.trainable = False

    @property
    def freeze(self) -> bool:
        return self._freeze

    @property
    def trainable(self):
        return keras.layers.BatchNormalization.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        frozen = getattr(self, "_freeze", False)
        keras.layers.BatchNormalization.trainable.fset(self, bool(value) and not frozen)

    def call(self, inputs, training=None, mask=None):
        if self._freeze:
            training = False
        return super().call(inputs, training=training, mask=mask)

    def get_config(self):
        return {**super().get_config(), "freeze": self._freeze}


@keras.saving.register_keras_serializable(package="keras_resnet")
class Conv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` plus ``freeze``: a frozen convolution stays
    non-trainable when a user sets ``model.trainable = True`` (the frozen stages of a
    detection backbone)."""

    def __init__(self, *args, freeze: bool = False, **kwargs):
        self._freeze = bool(freeze)
        super().__init__(*args, **kwargs)
        if self._freeze:
            self.trainable = False

    @property
    def freeze(self) -> bool:
        return self._freeze

    @property
    def trainable(self):
        return keras.layers.Conv2D.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        frozen = getattr(self, "_freeze", False)
        keras.layers.Conv2D.trainable.fset(self, bool(value) and not frozen)

    def get_config(self):
        return {**super().get_config(), "freeze": self._freeze}
