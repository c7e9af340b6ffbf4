"""The fused BatchNormalization training branch (keras_resnet.training.fused_bn) against
Keras' own code: same outputs, gradients and moving statistics; applied to one model's
layers only, never to Keras' class."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resnet
from keras_resnet.training.fused_bn import (batchnorm_layers, fused_batchnorm, is_fused,
                                            use_fused_batchnorm)

from tests.helpers import images, randomise

STOCK_CALL = keras.layers.BatchNormalization.call


def _one_sgd_step(fused, x, y):
    keras.utils.set_random_seed(0)
    model = keras_resnet.build("resnet20", input_shape=(16, 16, 3), weight_decay=1e-4)
    randomise(model)
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    with fused_batchnorm(model, enabled=fused):
        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                p = model(x, training=True)
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, p))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return p, grads

        graph_ops = {op.type for op in step.get_concrete_function(x, y).graph.get_operations()}
        p, grads = step(x, y)
    bn = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    stats = [np.concatenate([l.moving_mean.numpy(), l.moving_variance.numpy()]) for l in bn]
    return graph_ops, p.numpy(), [g.numpy() for g in grads], stats


def test_fused_training_step_equals_keras():
    x = tf.constant(images((8, 16, 16, 3)))
    y = tf.constant(np.arange(8) % 10)
    ops_stock, p0, g0, s0 = _one_sgd_step(False, x, y)
    ops_fused, p1, g1, s1 = _one_sgd_step(True, x, y)
    assert "FusedBatchNormV3" not in ops_stock and "FusedBatchNormGradV3" in ops_fused
    np.testing.assert_allclose(p1, p0, rtol=1e-4, atol=1e-6)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5 * max(1.0, np.abs(b).max()))
    for a, b in zip(s1, s0):  # the Bessel correction is undone: Keras' biased variance
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _training_ops(model, x):
    fn = tf.function(lambda x: model(x, training=True))
    return {op.type for op in fn.get_concrete_function(x).graph.get_operations()}


def test_only_the_given_model_changes():
    x = tf.constant(images((2, 16, 16, 3)))
    ours = keras_resnet.build("resnet8", input_shape=(16, 16, 3))
    other = keras_resnet.build("resnet8", input_shape=(16, 16, 3))
    outside = keras.layers.BatchNormalization()
    with fused_batchnorm(ours):
        assert all(is_fused(l) for l in batchnorm_layers(ours))
        assert not any(is_fused(l) for l in batchnorm_layers(other)) and not is_fused(outside)
        assert keras.layers.BatchNormalization.call is STOCK_CALL  # the class is untouched
        assert "FusedBatchNormV3" in _training_ops(ours, x)
        assert "FusedBatchNormV3" not in _training_ops(other, x)
        outside(images((4, 8, 8, 3)), training=True)  # stock code, works as before
    assert not any(is_fused(l) for l in batchnorm_layers(ours))  # restored on exit
    assert "FusedBatchNormV3" not in _training_ops(ours, x)


def test_nested_models_and_restore_after_an_error():
    inner = keras_resnet.build("resnet8", input_shape=(16, 16, 3), include_top=False)
    outer = keras.Sequential([keras.Input((16, 16, 3)), inner,
                              keras.layers.BatchNormalization(name="head_bn")])
    assert len(batchnorm_layers(outer)) == len(batchnorm_layers(inner)) + 1
    with pytest.raises(RuntimeError, match="boom"):
        with fused_batchnorm(outer):
            assert all(is_fused(l) for l in batchnorm_layers(outer))
            raise RuntimeError("boom")
    assert not any(is_fused(l) for l in batchnorm_layers(outer))
    changed = use_fused_batchnorm(outer)  # the function form, undone explicitly
    assert len(changed) == len(batchnorm_layers(outer))
    assert len(use_fused_batchnorm(outer, enabled=False)) == len(changed)
    assert not any(is_fused(l) for l in batchnorm_layers(outer))


def test_old_process_wide_call_gets_a_clear_error():
    with pytest.raises(TypeError, match="no longer switches every model"):
        use_fused_batchnorm(True)
    with pytest.raises(TypeError, match="Keras model"):
        with fused_batchnorm("resnet20"):
            pass


def test_fused_bn_leaves_inference_frozen_and_other_cases_to_keras():
    x = images((4, 8, 8, 3))
    layer = keras.layers.BatchNormalization()
    layer.build(x.shape)
    layer.moving_mean.assign([1.0, 2.0, 3.0])
    frozen = keras_resnet.layers.BatchNormalization(freeze=True)
    frozen.build(x.shape)
    flat_bn = keras.layers.BatchNormalization()
    for l in (layer, frozen, flat_bn):
        use_fused_batchnorm(l)  # a single layer is a Layer too
        assert is_fused(l)
    inference = layer(x, training=False).numpy()
    assert np.allclose(layer.moving_mean.numpy(), [1, 2, 3])  # not updated
    frozen(x, training=True)
    assert np.allclose(frozen.moving_mean.numpy(), 0)  # frozen stays frozen
    flat = flat_bn(images((6, 3)), training=True)  # 2-D: Keras' code
    np.testing.assert_allclose(inference, (x - [1, 2, 3]) / np.sqrt(1 + 1e-3), rtol=1e-5,
                               atol=1e-6)
    assert flat.shape == (6, 3)


@pytest.mark.parametrize("fused", [True, False])
def test_train_leaves_keras_and_the_saved_model_stock(fused, tmp_path):
    from keras_resnet.training import train

    train("resnet8", "embedded", epochs=1, out=str(tmp_path / "run"),
          max_train_examples=128, max_test_examples=64, verbose=0, plot=False,
          fused_bn=fused)
    assert keras.layers.BatchNormalization.call is STOCK_CALL
    saved = keras.models.load_model(str(tmp_path / "run" / "model.keras"))
    assert all(type(l) is keras.layers.BatchNormalization for l in saved.layers
               if isinstance(l, keras.layers.BatchNormalization))
    assert not any(is_fused(l) for l in batchnorm_layers(saved))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_fused_kernel_takes_the_mixed_precision_inputs(dtype):
    """Under mixed_bfloat16 / mixed_float16 BN receives 16-bit images: the fused kernel
    runs there too (float32 statistics) and matches Keras' code, which computes BN in
    float32, within the 16-bit output's rounding."""
    x = tf.cast(tf.constant(images((8, 6, 6, 4)) * 3 + 1), dtype)
    results = []
    for fused in (False, True):
        layer = keras.layers.BatchNormalization(dtype=f"mixed_{dtype}")
        layer.build(x.shape)
        layer.gamma.assign([0.5, 1.0, 1.5, 2.0])
        layer.beta.assign([0.1, -0.2, 0.3, 0.0])
        with fused_batchnorm(layer, enabled=fused):
            fn = tf.function(lambda t: layer(t, training=True))
            ops = {op.type for op in fn.get_concrete_function(x).graph.get_operations()}
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(tf.cast(y, "float32") ** 2)
            grad = tape.gradient(loss, [x, layer.gamma])
        assert ("FusedBatchNormV3" in ops) is fused
        assert y.dtype == dtype and layer.moving_mean.dtype == "float32"
        results.append((y, grad, layer.moving_mean.numpy(), layer.moving_variance.numpy()))
    (y0, g0, m0, v0), (y1, g1, m1, v1) = results
    eps = 2.0 ** -7 if dtype == "bfloat16" else 2.0 ** -10  # one unit in the last place
    f32 = lambda t: np.asarray(tf.cast(t, "float32"))  # noqa: E731
    np.testing.assert_allclose(f32(y1), f32(y0), atol=4 * eps * np.abs(f32(y0)).max())
    np.testing.assert_allclose(m1, m0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v1, v0, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(f32(g1[1]), f32(g0[1]), rtol=0.05, atol=0.05)
