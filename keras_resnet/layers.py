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


# ------------------------------------------------------------------ fused BatchNorm
_STOCK_BN_CALL = keras.layers.BatchNormalization.call


def _fusable(layer, inputs, training, mask):
    return (training and layer.trainable and mask is None and not layer.renorm
            and not layer.synchronized and len(inputs.shape) == 4
            and layer.axis % 4 == 3 and keras.backend.backend() == "tensorflow"
            and keras.backend.standardize_dtype(inputs.dtype) == "float32")


def _fused_bn_call(self, inputs, training=None, mask=None):
    """BatchNormalization's training branch as one ``FusedBatchNormV3`` op (forward and
    gradient each a single oneDNN/Eigen kernel) instead of Keras 3's moments +
    batch_normalization graph; everything else is Keras' own code."""
    if getattr(self, "_freeze", False) or not _fusable(self, inputs, training, mask):
        return _STOCK_BN_CALL(self, inputs, training=training, mask=mask)
    import tensorflow as tf

    c = inputs.shape[-1]
    gamma = self.gamma if self.scale else tf.ones([c])
    beta = self.beta if self.center else tf.zeros([c])
    y, mean, var, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=inputs, scale=tf.convert_to_tensor(gamma), offset=tf.convert_to_tensor(beta),
        mean=tf.zeros([0]), variance=tf.zeros([0]), epsilon=self.epsilon,
        data_format="NHWC", is_training=True)
    # The op returns the Bessel-corrected batch variance; Keras keeps the plain one.
    n = tf.cast(tf.size(inputs) // c, "float32")
    var = var * (n - 1.0) / n
    m = self.momentum
    self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
    self.moving_variance.assign(self.moving_variance * m + var * (1.0 - m))
    return y


def use_fused_batchnorm(enabled: bool = True) -> None:
    """Process-wide switch: compute every ``keras.layers.BatchNormalization``'s training
    branch with TensorFlow's fused kernel (TensorFlow backend, float32, 4-D, channels
    last; other cases fall back to Keras' code). Outputs, gradients and moving-statistic
    updates equal Keras' up to float rounding; saved models are unchanged (the layer
    class is Keras' own), so this is a training-speed setting, not a model change.
    ``keras-resnet train`` turns it on (``--no-fused-bn`` to compare)."""
    keras.layers.BatchNormalization.call = _fused_bn_call if enabled else _STOCK_BN_CALL


def fused_batchnorm_enabled() -> bool:
    return keras.layers.BatchNormalization.call is _fused_bn_call


class fused_batchnorm:
    """``with fused_batchnorm(True): ...`` sets :func:`use_fused_batchnorm` for the
    block and restores the previous setting after it."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self):
        self.previous = fused_batchnorm_enabled()
        use_fused_batchnorm(self.enabled)
        return self

    def __exit__(self, *exc):
        use_fused_batchnorm(self.previous)
        return False
