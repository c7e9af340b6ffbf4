"""TensorFlow's fused BatchNormalization kernel for the training step of one model.

Keras 3 computes a BatchNormalization layer's training branch as moments plus
``batch_normalization`` (several ops forward, more backward); TensorFlow has the whole
thing as one ``FusedBatchNormV3`` op (forward and gradient each a single oneDNN/Eigen
kernel), measured ~1.6x faster per ResNet-20 training step on this project's CPUs.

:func:`fused_batchnorm` switches the BatchNormalization layers *of one model* to that
kernel for the duration of a ``with`` block: it sets ``call`` on those layer objects
only, so Keras' class, and every other model in the process, are untouched, and the
saved model holds Keras' own layer (it loads with stock Keras).
"""

from __future__ import annotations

import contextlib
import types

import keras


# The op takes float32, bfloat16 and float16 images (statistics, scale and offset in
# float32, as Keras' layer computes them under the mixed policies); tested on CPU.
_FUSED_DTYPES = ("float32", "bfloat16", "float16")


def _fusable(layer, inputs, training, mask):
    return (training and layer.trainable and mask is None and not layer.renorm
            and not layer.synchronized and len(inputs.shape) == 4
            and layer.axis % 4 == 3 and keras.backend.backend() == "tensorflow"
            and keras.backend.standardize_dtype(inputs.dtype) in _FUSED_DTYPES)


def _fused_call(stock_call):
    """A ``call`` for one layer: the fused kernel where it applies, else ``stock_call``
    (the layer's own bound method: inference, frozen layers, other dtypes/backends)."""

    def call(self, inputs, training=None, mask=None):
        if getattr(self, "_freeze", False) or not _fusable(self, inputs, training, mask):
            return stock_call(inputs, training=training, mask=mask)
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

    return call


def batchnorm_layers(model) -> list:
    """Every ``keras.layers.BatchNormalization`` in ``model``, nested models included."""
    found, stack = [], list(getattr(model, "layers", [model]))
    while stack:
        layer = stack.pop(0)
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        stack.extend(getattr(layer, "layers", []))  # nested models
    return found


def is_fused(layer) -> bool:
    """Whether ``layer`` currently trains with the fused kernel."""
    return getattr(layer.call, "__func__", None) is not None and \
        getattr(layer.call.__func__, "_keras_resnet_fused", False)


def use_fused_batchnorm(model, enabled: bool = True) -> list:
    """Switch the training branch of ``model``'s BatchNormalization layers (nested
    models included) to TensorFlow's fused kernel, or back with ``enabled=False``.

    Only these layer objects change (their ``call`` is set on the instance), so Keras'
    class and every other model keep Keras' code; a saved model holds Keras' own layer.
    The fused kernel runs where it applies (TensorFlow backend, float32 or the bfloat16 /
    float16 of a mixed policy, 4-D, channels last, training mode, not frozen);
    everything else runs Keras' code. Outputs,
    gradients and moving-statistic updates equal Keras' up to float rounding.

    Returns:
        the layers whose setting changed.

    Raises:
        TypeError: ``model`` is not a Keras layer or model (the process-wide
            ``use_fused_batchnorm(True)`` of earlier versions is gone: pass the model).
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            f"use_fused_batchnorm takes the Keras model whose BatchNormalization layers "
            f"should use the fused kernel, got {model!r}; it no longer switches every "
            "model in the process")
    changed = []
    for layer in batchnorm_layers(model):
        if enabled and not is_fused(layer):
            fused = _fused_call(layer.call)
            fused._keras_resnet_fused = True
            layer.call = types.MethodType(fused, layer)
            changed.append(layer)
        elif not enabled and is_fused(layer):
            del layer.call  # back to the class's method
            changed.append(layer)
    return changed


@contextlib.contextmanager
def fused_batchnorm(model, enabled: bool = True):
    """``with fused_batchnorm(model): model.fit(...)``: :func:`use_fused_batchnorm`
    for the block; on exit (also after an error) the layers it switched run Keras'
    code again. ``enabled=False`` does nothing (for a command-line switch).

    Raises:
        TypeError: ``model`` is not a Keras layer or model.
    """
    if enabled:
        changed = use_fused_batchnorm(model)
    elif isinstance(model, keras.layers.Layer):
        changed = []
    else:
        raise TypeError(f"fused_batchnorm takes a Keras model, got {model!r}")
    try:
        yield model
    finally:
        for layer in changed:
            if is_fused(layer):
                del layer.call
