"""Keras objects of this package: a BatchNormalization and a Conv2D that can be
frozen, a weightless channel reversal for in-model preprocessing, and the model class
of detection backbones.

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
class ReverseChannels(keras.layers.Layer):
    """Reverse the order of the channels (RGB <-> BGR) of images ``(N, H, W, C)``
    (``(N, C, H, W)`` channels-first); what Caffe-trained weights need in front of them.

    A layer of our own because no stock Keras layer permutes channels without weights
    (``Permute`` moves axes; a 1x1 ``Conv2D`` holds a kernel, which
    ``model.trainable = True`` makes trainable and fine-tuning then changes). This one
    holds no variable at all, so it stays exact through any training and export.

    Args:
        data_format: ``"channels_last"`` / ``"channels_first"``; None: the global setting.
        **kwargs: as for ``keras.layers.Layer`` (``name``, ``dtype``).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format is None:
            data_format = keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                             f"{data_format!r}")
        self.data_format = data_format
        self._axis = -1 if data_format == "channels_last" else 1

    def call(self, inputs):
        channels = inputs.shape[self._axis]
        if channels is None:
            raise ValueError("ReverseChannels needs a known number of channels")
        # a gather: a builtin op in every runtime the exports target (TFLite, ONNX, OpenVINO)
        return keras.ops.take(inputs, list(range(channels - 1, -1, -1)), axis=self._axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


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
