"""Layers of this package: a BatchNormalization and a Conv2D that can be frozen.

``BatchNormalization(freeze=True)`` is what detection and fine-tuning code needs from a
pretrained backbone (and what keras-resnet 0.2.0 offered under this name): its gamma
and beta are not trained and it always normalises with its moving statistics, which it
never updates. Unlike Keras' own layer with ``trainable = False``, it stays frozen
when a user sets ``model.trainable = True`` to fine-tune the rest of the network, and
when called with ``training=True``. ``Conv2D(freeze=True)`` stays non-trainable the
same way (the frozen stages of a detection backbone).
"""

from __future__ import annotations

import keras


class _Freezable:
    """Mixin: ``freeze=True`` keeps the layer non-trainable for good; setting
    ``trainable`` (directly or through a parent model) cannot undo it."""

    def _set_freeze(self, freeze):
        self._freeze = bool(freeze)  # read by the trainable setter during __init__

    @property
    def freeze(self) -> bool:
        return self._freeze

    @property
    def trainable(self):
        return keras.layers.Layer.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        frozen = getattr(self, "_freeze", False)
        keras.layers.Layer.trainable.fset(self, bool(value) and not frozen)

    def get_config(self):
        return {**super().get_config(), "freeze": self._freeze}


@keras.saving.register_keras_serializable(package="keras_resnet")
class BatchNormalization(_Freezable, keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` plus ``freeze``.

    Args:
        freeze: ``True`` keeps the layer in inference mode and non-trainable for good
            (``trainable`` can be set, but stays ``False``); ``False`` is Keras' layer.
        **kwargs: as for ``keras.layers.BatchNormalization``.
    """

    def __init__(self, freeze: bool = False, **kwargs):
        self._set_freeze(freeze)
        super().__init__(**kwargs)
        if self._freeze:
            self.trainable = False

    def call(self, inputs, training=None, mask=None):
        if self._freeze:
            training = False
        return super().call(inputs, training=training, mask=mask)


@keras.saving.register_keras_serializable(package="keras_resnet")
class Conv2D(_Freezable, keras.layers.Conv2D):
    """``keras.layers.Conv2D`` plus ``freeze`` (see :class:`BatchNormalization`)."""

    def __init__(self, *args, freeze: bool = False, **kwargs):
        self._set_freeze(freeze)
        super().__init__(*args, **kwargs)
        if self._freeze:
            self.trainable = False
