"""Keras objects of this package: a BatchNormalization and a Conv2D that can be
frozen, and the model class of detection backbones.

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


@keras.saving.register_keras_serializable(package="keras_resnet")
class BackboneModel(keras.Model):
    """The functional model :func:`keras_resnet.backbone` returns: images to a dict of
    feature maps ``{"C2": ..., "C5": ...}`` (strides 4, 8, 16, 32).

    It adds one thing to ``keras.Model``: :attr:`pyramid_outputs`, the same feature
    maps keyed ``"P2"``..``"P5"`` (level = log2 of the stride), which is the interface
    keras-hub's detectors read from an ``image_encoder`` (its ``FeaturePyramidBackbone``
    convention; ``keras_hub.models.RetinaNetBackbone(image_encoder=...)``). The
    attribute is derived from the model's outputs, so it survives ``.keras`` save and
    load (the class is registered as ``keras_resnet>BackboneModel``; ``import
    keras_resnet`` before loading, as for the frozen layers).
    """

    @property
    def pyramid_outputs(self) -> dict:
        """``{"P<level>": KerasTensor}`` for each ``"C<level>"`` output, in level order.

        A plain ``dict`` (a new one on each access), as keras-hub's
        ``FeaturePyramidBackbone`` requires: ``keras.Model(inputs=bb.inputs,
        outputs=bb.pyramid_outputs)`` accepts nothing else."""
        outputs = self.output
        if not isinstance(outputs, dict):
            raise TypeError("pyramid_outputs needs a model whose outputs are a dict "
                            "keyed 'C2'..'C5' (what keras_resnet.backbone() builds)")
        return {f"P{name[1:]}": outputs[name] for name in sorted(outputs)}


# Legacy HDF5 files name the top-level model's class without the package prefix that
# registration adds (Keras' legacy saving writes ``model.__class__.__name__``), so the
# bare name is registered as well: a backbone saved as .h5 reloads as a BackboneModel.
keras.saving.get_custom_objects().setdefault("BackboneModel", BackboneModel)
