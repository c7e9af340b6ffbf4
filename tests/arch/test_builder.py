"""Builder behaviour: keras.applications arguments, variant options, clear errors."""

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import model_complexity
from tests.helpers import cached_model, images


# ------------------------------------------------------- keras.applications API
def test_constructor_signature_matches_keras_applications():
    import inspect

    ours = inspect.signature(keras_resnet.ResNet50).parameters
    theirs = inspect.signature(keras.applications.ResNet50).parameters
    for name in ("include_top", "weights", "input_tensor", "input_shape", "pooling",
                 "classes", "classifier_activation"):
        assert name in ours
    assert list(ours)[:7] == [n for n in theirs if n != "name"][:7]
    assert ours["classes"].default == 1000
    assert ours["weights"].default == theirs["weights"].default == "imagenet"
    assert inspect.signature(keras_resnet.ResNet20).parameters["classes"].default == 10
    assert keras_resnet.ResNet50.__name__ == "ResNet50"
    assert "Table 1" in keras_resnet.ResNet50.__doc__


def test_defaults_follow_the_family():
    r20 = keras_resnet.ResNet20()
    assert tuple(r20.input.shape) == (None, 32, 32, 3)
    assert tuple(r20.output.shape) == (None, 10)
    r18 = cached_model("resnet18")
    assert tuple(r18.input.shape) == (None, 224, 224, 3)
    assert tuple(r18.output.shape) == (None, 1000)


def test_no_top_pooling_variants():
    # keras.applications' default without the top: any size (None, None, 3)
    notop = keras_resnet.ResNet18(weights=None, include_top=False)
    assert tuple(notop.output.shape) == (None, None, None, 512)
    assert tuple(notop(np.zeros((1, 224, 224, 3), "float32")).shape) == (1, 7, 7, 512)
    avg = keras_resnet.ResNet18(weights=None, include_top=False, pooling="avg", input_shape=(64, 64, 3))
    assert tuple(avg.output.shape) == (None, 512) and avg.layers[-1].name == "avg_pool"
    mx = keras_resnet.ResNet20(include_top=False, pooling="max")
    assert tuple(mx.output.shape) == (None, 64) and mx.layers[-1].name == "max_pool"
    x = images((2, 32, 32, 3))
    feat = keras.Model(mx.input, mx.get_layer("conv4_block3_out").output)(x)
    np.testing.assert_allclose(mx(x), np.max(feat, axis=(1, 2)), rtol=1e-6)


def test_classifier_activation_and_custom_classes():
    logits = keras_resnet.ResNet20(classes=7, classifier_activation=None)
    probs = keras_resnet.ResNet20(classes=7)
    probs.set_weights(logits.get_weights())
    x = images((3, 32, 32, 3))
    z = keras.ops.convert_to_numpy(logits(x))
    p = keras.ops.convert_to_numpy(probs(x))
    assert z.shape == (3, 7)
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-5)


def test_input_tensor_is_used_as_the_input():
    inp = keras.Input((48, 48, 3), name="my_images")
    model = keras_resnet.ResNet18(weights=None, input_tensor=inp, include_top=False)
    assert model.inputs[0] is inp
    assert tuple(model.output.shape) == (None, 2, 2, 512)
    # An intermediate tensor works too: the model starts at its source input.
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    model = keras_resnet.ResNet20(input_tensor=x)
    assert model.inputs[0] is inp and model.layers[1].name == "rescaling"


@pytest.mark.parametrize("name", ["resnet20", "resnet18", "plain50"])
def test_any_input_size_with_the_top(name):
    model = keras_resnet.build(name, input_shape=(None, None, 3), classes=5)
    for size in (32, 45, 96):
        y = keras.ops.convert_to_numpy(model(images((1, size, size, 3))))
        assert y.shape == (1, 5) and np.all(np.isfinite(y))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_one_to_four_input_channels(channels):
    model = keras_resnet.ResNet20(input_shape=(28, 28, channels))
    assert model.get_layer("conv1_conv").kernel.shape == (3, 3, channels, 16)
    y = keras.ops.convert_to_numpy(model(images((2, 28, 28, channels))))
    assert y.shape == (2, 10) and np.allclose(y.sum(1), 1, atol=1e-5)


# --------------------------------------------------------------- variant options
def test_option_a_shortcut_is_subsample_plus_zero_channels():
    model = cached_model("resnet20")
    assert not [l for l in model.layers if l.name.endswith("_0_conv")]
    probe = keras.Model(model.input, [model.get_layer("conv2_block3_out").output,
                                      model.get_layer("conv3_block1_0_pad").output])
    x, s = (keras.ops.convert_to_numpy(t) for t in probe(images((2, 32, 32, 3))))
    expected = np.concatenate([x[:, ::2, ::2, :], np.zeros((2, 16, 16, 16))], axis=-1)
    assert s.shape == (2, 16, 16, 32)
    np.testing.assert_array_equal(s, expected)


def test_option_c_projects_every_unit_and_b_only_where_shape_changes():
    c = cached_model("resnet34", shortcut="C", input_shape=(64, 64, 3))
    b = cached_model("resnet34", input_shape=(64, 64, 3))
    units = list(keras_resnet.get_spec("resnet34").units())
    assert all(c.get_layer(f"{u.name}_0_conv") for u in units)
    b_proj = [l.name for l in b.layers if l.name.endswith("_0_conv")]
    assert b_proj == ["conv3_block1_0_conv", "conv4_block1_0_conv", "conv5_block1_0_conv"]
    assert c.count_params() > b.count_params()


def test_option_a_on_an_imagenet_net():
    a = keras_resnet.ResNet34(weights=None, shortcut="A", input_shape=(64, 64, 3))
    b = cached_model("resnet34", input_shape=(64, 64, 3))
    proj = sum(b.get_layer(f"conv{s}_block1_0_{k}").count_params()
               for s in (3, 4, 5) for k in ("conv", "bn"))
    assert a.count_params() == b.count_params() - proj


def test_zero_init_residual_makes_identity_units_start_as_identity():
    model = keras_resnet.ResNet18(weights=None, zero_init_residual=True, input_shape=(64, 64, 3))
    for unit in keras_resnet.get_spec("resnet18").units():
        gamma = model.get_layer(f"{unit.name}_2_bn").gamma.numpy()
        assert np.all(gamma == 0)
        assert np.all(model.get_layer(f"{unit.name}_1_bn").gamma.numpy() == 1)
    probe = keras.Model(model.input, [model.get_layer("conv2_block1_out").output,
                                      model.get_layer("conv2_block2_out").output])
    before, after = probe(images((2, 64, 64, 3)))
    np.testing.assert_array_equal(before, after)  # relu(0 + x) = x for x >= 0


def test_weight_decay_is_attached_when_layers_are_built():
    plain = cached_model("resnet20")
    assert plain.losses == []
    model = keras_resnet.ResNet20(weight_decay=1e-4)
    kernels = [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(model.losses) == len(kernels) == 20
    expected = sum(5e-5 * np.sum(np.square(l.kernel.numpy())) for l in kernels)
    np.testing.assert_allclose(float(sum(model.losses)), expected, rtol=1e-5)


def test_batchnorm_settings_are_torchvisions():
    bn = cached_model("resnet20").get_layer("conv1_bn")
    assert bn.epsilon == 1e-5 and bn.momentum == 0.9
    custom = keras_resnet.ResNet20(bn_epsilon=1e-3, bn_momentum=0.99)
    assert custom.get_layer("conv1_bn").epsilon == 1e-3


def test_he_fan_out_initialisation():
    kernel = keras_resnet.ResNet20(input_shape=(32, 32, 3)).get_layer(
        "conv4_block3_2_conv").kernel.numpy()
    fan_out = 3 * 3 * 64
    assert abs(kernel.std() - np.sqrt(2.0 / fan_out)) < 0.1 * np.sqrt(2.0 / fan_out)


def test_custom_spec_builds_and_counts():
    spec = keras_resnet.cifar_spec(n=2, width_multiplier=2)
    model = keras_resnet.build(spec, input_shape=(28, 28, 1))
    assert model.name == "resnet14_w2"
    assert model_complexity(model).params == keras_resnet.spec_complexity(
        spec, input_shape=(28, 28, 1)).params
    wide = keras_resnet.build("resnet18", name="mine", input_shape=(32, 32, 3))
    assert wide.name == "mine"


def test_one_parameter_count_everywhere_without_batchnorm_statistics():
    """keras-resnet train printed count_params() (271,098 for resnet20) beside the
    README's 269,722: the count now leaves BatchNorm's moving statistics out
    everywhere, and a frozen backbone does not change it."""
    from keras_resnet.arch.complexity import parameter_count

    model = keras_resnet.build("resnet20")
    bn = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    statistics = sum(2 * layer.moving_mean.shape[0] for layer in bn)
    assert statistics == 1376
    assert parameter_count(model) == model.count_params() - statistics == 269_722
    assert parameter_count(model) == model_complexity(model).params
    for layer in model.layers[:-1]:
        layer.trainable = False
    assert parameter_count(model) == 269_722


def test_a_keras_model_or_a_run_folder_as_weights_says_which_file_to_give(tmp_path):
    """train --weights runs/r/model.keras said 'unsupported weights file' without naming
    .keras, and a run folder only 'is a folder': both now point to the weights file."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.weights.h5").write_bytes(b"")
    (run / "model.keras").write_bytes(b"")
    with pytest.raises(ValueError, match=r"is a folder: .*looks like a training run: its "
                                         r"weights are .*best.weights.h5"):
        keras_resnet.build("resnet20", weights=str(run))
    with pytest.raises(ValueError, match=r"is a whole Keras model \(.keras\).*"
                                         r"checkpoints/best.weights.h5"):
        keras_resnet.build("resnet20", weights=str(run / "model.keras"))


# ------------------------------------------------------------------ weights file
def test_weights_file_round_trip_and_mismatch(tmp_path):
    src = keras_resnet.ResNet20(input_shape=(28, 28, 1))
    path = tmp_path / "r20.weights.h5"
    src.save_weights(path)
    dst = keras_resnet.ResNet20(input_shape=(28, 28, 1), weights=path)
    x = images((2, 28, 28, 1))
    np.testing.assert_array_equal(src(x), dst(x))
    with pytest.raises(ValueError, match="9 residual additions; resnet32 has 15"):
        keras_resnet.ResNet32(input_shape=(28, 28, 1), weights=path)


# ------------------------------------------------------------------ clear errors
@pytest.mark.parametrize("kwargs,match", [
    (dict(input_shape=(16, 16, 3)), "too small for resnet50.*at least 32"),
    (dict(input_shape=(224, 224)), "3 entries"),
    (dict(input_shape=(224, 224, 3, 1)), "3 entries"),
    (dict(input_shape=(224, 224, None)), "channel count"),
    (dict(classes=0), "classes must be an integer >= 1"),
    (dict(classes=2.5), "classes must be an integer >= 1"),
    (dict(pooling="mean", include_top=False), "pooling must be"),
    (dict(shortcut="D"), "shortcut must be one of"),
    (dict(stride_placement="5x5"), "stride_placement must be one of"),
    (dict(weights="imagenet", input_shape=(224, 224, 1)), "expect 3 input channels"),
    (dict(weights="foo"), "unknown weights 'foo' for resnet50; available for resnet50: imagenet"),
    (dict(weights="tv_in1k", stride_placement="1x1"), "do not pass stride_placement"),
    (dict(weights="model.pth"), "weights file not found"),
    (dict(weights="missing/file.weights.h5"), "not found"),
    (dict(weight_decay=-1), "weight_decay"),
    (dict(include_top="yes"), "include_top"),
])
def test_bad_arguments_fail_before_building(kwargs, match, monkeypatch):
    import keras_resnet.arch.builder as builder

    def no_graph(*a, **k):
        raise AssertionError("a layer was built before the arguments were checked")

    monkeypatch.setattr(builder.blocks, "stem", no_graph)
    with pytest.raises(ValueError, match=match):
        keras_resnet.ResNet50(**kwargs)


def test_unsupported_weights_file_type(tmp_path):
    f = tmp_path / "weights.npz"
    f.write_bytes(b"x")
    with pytest.raises(ValueError, match="unsupported weights file"):
        keras_resnet.ResNet20(weights=str(f))


def test_plain_nets_reject_shortcut_options():
    with pytest.raises(ValueError, match="plain network"):
        keras_resnet.Plain20(shortcut="A")
    with pytest.raises(ValueError, match="zero_init_residual"):
        keras_resnet.Plain20(zero_init_residual=True)


def test_unknown_model_name_lists_valid_ones():
    with pytest.raises(ValueError, match="Valid names"):
        keras_resnet.build("resnet19")
    with pytest.raises(ValueError, match="6n\\+2"):
        keras_resnet.cifar_spec(depth=22)


def test_wrong_input_tensor_rank():
    with pytest.raises(ValueError, match="rank 4"):
        keras_resnet.ResNet20(input_tensor=keras.Input((32, 32)))
