"""keras.applications .h5 (Keras 2 legacy layout) -> ours, with numerical parity.

Every BN value and every conv bias of the reference is randomised: with default values
(gamma 1, beta 0, mean 0, var 1, bias 0) swapped or unfolded tensors would go unseen.
"""

import h5py
import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.numerics import assert_close, within_tolerance
from keras_resnet.pretrained.convert import read_legacy_h5
from tests.helpers import images, randomise, save_legacy_h5

RTOL = 1e-4


@pytest.fixture(scope="module")
def resnet50_fixture(tmp_path_factory):
    """A randomised keras.applications ResNet-50 saved in the published layout."""
    ref = keras.applications.ResNet50(weights=None, classifier_activation=None)
    randomise(ref)
    path = tmp_path_factory.mktemp("ka") / "resnet50_random.h5"
    save_legacy_h5(ref, path)
    x = images((2, 224, 224, 3)) * 50
    return ref, str(path), x, keras.ops.convert_to_numpy(ref(x, training=False))


def test_fixture_is_the_published_layout_and_loads_into_keras_applications(resnet50_fixture):
    ref, path, x, y = resnet50_fixture
    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        assert "conv1_conv" in names and "conv1_conv" in f  # one group per layer
        weight_names = [w.decode() if isinstance(w, bytes) else w
                        for w in f["conv1_conv"].attrs["weight_names"]]
        assert len(weight_names) == 2  # kernel and bias, as published
    again = keras.applications.ResNet50(weights=path, classifier_activation=None)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(x, training=False)), y)
    tensors = read_legacy_h5(path)
    assert len(tensors["conv1_conv"]) == 2 and len(tensors["conv1_bn"]) == 4


def test_resnet50_logits_match_keras_applications(resnet50_fixture):
    _, path, x, y = resnet50_fixture
    ours = keras_resnet.ResNet50(weights=path, classifier_activation=None)
    assert_close(keras.ops.convert_to_numpy(ours(x, training=False)), y, RTOL,
                 "ResNet-50 logits vs keras.applications")


def test_negative_control_a_mismapped_tensor_fails_the_same_check(resnet50_fixture):
    _, path, x, y = resnet50_fixture
    source = read_legacy_h5(path)
    g, b, m, v = source["conv3_block2_2_bn"]
    source["conv3_block2_2_bn"] = [g, b, v, m]  # moving mean and variance swapped
    ours = keras_resnet.ResNet50(weights=None, classifier_activation=None)
    from keras_resnet.pretrained.convert import keras_applications_to_ours

    keras_applications_to_ours(ours, source)
    assert not within_tolerance(keras.ops.convert_to_numpy(ours(x, training=False)), y, RTOL)
    # And an unfolded conv bias fails it too.
    source = read_legacy_h5(path)
    source["conv2_block1_1_conv"][1] = np.zeros_like(source["conv2_block1_1_conv"][1])
    keras_applications_to_ours(ours, source)
    assert not within_tolerance(keras.ops.convert_to_numpy(ours(x, training=False)), y, RTOL)


def test_no_top_model_from_a_full_file(resnet50_fixture):
    ref, path, x, _ = resnet50_fixture
    feats_ref = keras.Model(ref.input, ref.get_layer("conv5_block3_out").output)(x)
    ours = keras_resnet.ResNet50(include_top=False, weights=path)
    assert_close(keras.ops.convert_to_numpy(ours(x)), keras.ops.convert_to_numpy(feats_ref),
                 RTOL, "conv5 features")


def test_wrong_architecture_and_truncated_file_give_clear_errors(resnet50_fixture, tmp_path):
    _, path, _, _ = resnet50_fixture
    with pytest.raises(ValueError, match="do not fit resnet101.*conv4_block7"):
        keras_resnet.ResNet101(weights=path)
    with pytest.raises(ValueError, match="do not fit resnet34"):
        keras_resnet.ResNet34(weights=path)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(open(path, "rb").read()[:100_000])
    with pytest.raises(ValueError, match="cannot read"):
        keras_resnet.ResNet50(weights=str(cut))


@pytest.mark.slow
@pytest.mark.parametrize("depth", [101, 152])
def test_deeper_nets_match_keras_applications(depth, tmp_path):
    ref = getattr(keras.applications, f"ResNet{depth}")(weights=None, classifier_activation=None)
    randomise(ref, seed=depth)
    path = tmp_path / f"resnet{depth}.h5"
    save_legacy_h5(ref, path)
    x = images((2, 224, 224, 3), seed=depth) * 50
    y = keras.ops.convert_to_numpy(ref(x, training=False))
    ours = keras_resnet.build(f"resnet{depth}", weights=str(path), classifier_activation=None)
    assert_close(keras.ops.convert_to_numpy(ours(x, training=False)), y, RTOL,
                 f"ResNet-{depth} logits vs keras.applications")
    # Deeper file into a shallower net: refused, not silently truncated.
    with pytest.raises(ValueError, match="deeper network"):
        keras_resnet.ResNet50(weights=str(path))


def test_in_model_caffe_preprocessing_takes_raw_uint8_images(resnet50_fixture):
    """A model with include_preprocessing='caffe' fed raw uint8 RGB equals
    keras.applications fed its own preprocess_input of the same images."""
    from keras.applications import resnet

    ref, path, _, _ = resnet50_fixture
    raw = np.random.default_rng(7).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    expected = keras.ops.convert_to_numpy(
        ref(resnet.preprocess_input(raw.astype("float32")), training=False))
    ours = keras_resnet.ResNet50(weights=path, classifier_activation=None,
                                 include_preprocessing="resnet50.imagenet")
    assert ours.layers[1].name == "preprocess_normalize"
    assert ours.get_layer("preprocess_bgr").weights == []  # nothing fine-tuning can move
    assert_close(keras.ops.convert_to_numpy(ours(raw, training=False)), expected, RTOL,
                 "raw uint8 through in-model caffe preprocessing")
