"""The keras-resnet 0.2.0 API shim (keras_resnet.models / keras_resnet.layers)."""

import keras
import numpy as np
import pytest

import keras_resnet
import keras_resnet.layers
import keras_resnet.models
from keras_resnet.numerics import assert_close, within_tolerance
from tests.helpers import images, randomise, save_legacy_h5


@pytest.mark.parametrize("depth,channels", [(18, (64, 128, 256, 512)),
                                            (50, (256, 512, 1024, 2048))])
def test_four_outputs_at_strides_4_8_16_32(depth, channels):
    inputs = keras.Input((None, None, 3))
    model = getattr(keras_resnet.models, f"ResNet{depth}")(inputs, include_top=False)
    assert len(model.outputs) == 4
    for h, w in [(224, 224), (160, 96)]:
        outs = model(np.zeros((1, h, w, 3), "float32"))
        for out, c, stride in zip(outs, channels, (4, 8, 16, 32)):
            assert tuple(out.shape) == (1, h // stride, w // stride, c)


def test_layer_names_are_0_2_0s():
    m = keras_resnet.models.ResNet101(keras.Input((224, 224, 3)), include_top=True)
    names = {layer.name for layer in m.layers}
    for expected in ["conv1", "bn_conv1", "conv1_relu", "pool1",
                     "res2a_branch2a", "bn2a_branch2a", "padding2a_branch2b",
                     "res2a_branch1", "bn2a_branch1", "res2a", "res2a_relu", "res2c_branch2c",
                     "res3b3_branch2b", "res4b22_branch2c", "bn4b22_branch2c",
                     "res5c_relu", "pool5", "fc1000"]:
        assert expected in names, expected
    assert "res4w_branch2a" not in names and "res2b1_branch2a" not in names
    assert "padding_conv1" not in names  # 0.1.0's stem; 0.2.0 pads conv1 'same'
    assert m.get_layer("conv1").padding == "same"
    # Same parameters as our ResNet-101 (the conv2 projection exists in both).
    assert m.count_params() == keras_resnet.ResNet101(weights=None).count_params()
    r18 = keras_resnet.models.ResNet18(keras.Input((224, 224, 3)))
    assert {"res2b1_branch2a", "res2a_branch1", "res5b1_relu"} <= {l.name for l in r18.layers}
    # 0.2.0's extra conv2 projection in the basic-block nets: 64*64 conv + 4*64 BN values.
    assert r18.count_params() == keras_resnet.ResNet18(weights=None).count_params() + 64 * 64 + 4 * 64


def test_same_network_as_our_builder_under_the_name_map():
    """With our ResNet-50's weights copied through name_map, C5 equals ours where
    0.2.0's 'same' padding is symmetric: image sizes 1 mod 4 (225: conv1 pads 3 on each
    side as ours, giving 113, where pool1 pads 1 on each side as ours)."""
    ours = keras_resnet.ResNet50(weights=None, include_top=False, input_shape=(None, None, 3))
    randomise(ours, seed=5)
    legacy = keras_resnet.models.ResNet50(keras.Input((None, None, 3)), include_top=False)
    mapping = keras_resnet.models.name_map(50)
    copied = 0
    for layer in ours.layers:
        if layer.weights:
            legacy.get_layer(mapping[layer.name]).set_weights(layer.get_weights())
            copied += 1
    assert copied == sum(1 for layer in legacy.layers if layer.weights)
    x = images((2, 225, 225, 3), seed=5)
    assert_close(keras.ops.convert_to_numpy(legacy(x)[-1]),
                 keras.ops.convert_to_numpy(ours(x)), 1e-5, "0.2.0 shim C5 vs ours")
    # At 224 0.2.0's 'same' convolution pads 2 / 3 and its pool 0 / 1: the shim keeps
    # that difference rather than silently changing 0.2.0 models' outputs.
    x = x[:, :-1, :-1]
    assert not within_tolerance(keras.ops.convert_to_numpy(legacy(x)[-1]),
                                keras.ops.convert_to_numpy(ours(x)), 1e-5)


def test_weights_saved_from_a_0_2_0_model_load_by_name(tmp_path):
    """A legacy-layout .h5 with 0.2.0's layer names (what 0.2.0 / keras-retinanet users
    have) loads by name into the shim, also into a model with a different top."""
    src = keras_resnet.models.ResNet50(keras.Input((64, 64, 3)), include_top=True)
    randomise(src, seed=1)
    path = tmp_path / "resnet50_0.2.0.h5"
    save_legacy_h5(src, path)
    dst = keras_resnet.models.ResNet50(keras.Input((64, 64, 3)), include_top=False)
    dst.load_weights(str(path), by_name=True)
    x = images((1, 64, 64, 3), seed=2)
    feature_model = keras.Model(src.input, src.get_layer("res5c_relu").output)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(dst(x)[-1]),
                                  keras.ops.convert_to_numpy(feature_model(x)))


def test_frozen_bn_stays_in_inference_mode_and_untrained():
    bn = keras_resnet.layers.BatchNormalization(freeze=True, epsilon=1e-5)
    x = np.random.default_rng(0).normal(3.0, 2.0, (8, 4, 4, 5)).astype("float32")
    y = keras.ops.convert_to_numpy(bn(x, training=True))
    # Inference mode: moving mean 0 / variance 1, not the batch's statistics (mean 3).
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-5), rtol=1e-6)
    assert np.all(keras.ops.convert_to_numpy(bn.moving_mean) == 0)
    assert bn.trainable_weights == [] and not bn.trainable
    bn.trainable = True  # what model.trainable = True does to every layer
    assert not bn.trainable and bn.trainable_weights == []
    # An unfrozen one does use batch statistics in training mode.
    free = keras_resnet.layers.BatchNormalization(freeze=False)
    out = keras.ops.convert_to_numpy(free(x, training=True))
    assert abs(out.mean()) < 1e-3 and free.trainable_weights


def test_frozen_backbone_fine_tuning_changes_no_bn_values():
    inputs = keras.Input((32, 32, 3))
    backbone = keras_resnet.models.ResNet18(inputs, include_top=False, freeze_bn=True)
    head = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(backbone.outputs[-1]))
    model = keras.Model(inputs, head)
    model.trainable = True
    randomise(model, seed=3)
    bns = [l for l in model.layers if isinstance(l, keras_resnet.layers.BatchNormalization)]
    before = [[np.array(w) for w in l.get_weights()] for l in bns]
    conv_before = np.array(model.get_layer("conv1").kernel)
    model.compile(keras.optimizers.SGD(0.1), keras.losses.MeanSquaredError())
    model.fit(images((4, 32, 32, 3)), np.ones((4, 3), "float32"), epochs=1, verbose=0)
    for layer, old in zip(bns, before):
        for w, o in zip(layer.get_weights(), old):
            np.testing.assert_array_equal(w, o)
    assert not np.array_equal(np.array(model.get_layer("conv1").kernel), conv_before)


def test_frozen_bn_round_trips_through_keras_saving(tmp_path):
    inputs = keras.Input((32, 32, 3))
    model = keras_resnet.models.ResNet18(inputs, include_top=False, freeze_bn=True)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    bn = again.get_layer("bn_conv1")
    assert isinstance(bn, keras_resnet.layers.BatchNormalization) and bn.freeze
    assert "BatchNormalization" in keras_resnet.custom_objects
