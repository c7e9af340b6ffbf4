"""Preprocessing tied to the weights, checked against keras.applications' own."""

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.data.augment import resize_and_crop


def rgb(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype("float32")


def test_caffe_mode_equals_keras_applications_resnet_preprocess_input():
    from keras.applications import resnet

    x = rgb((2, 8, 8, 3))
    expected = resnet.preprocess_input(x.copy())
    # (copies: a float numpy array is written over, as keras.applications does)
    np.testing.assert_allclose(keras_resnet.preprocess_input(x.copy(),
                                                             weights="resnet50.imagenet"),
                               expected, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(keras_resnet.preprocess_input(x.copy(), mode="caffe"),
                               expected, rtol=1e-6, atol=1e-4)


def test_torch_mode_equals_keras_imagenet_utils_torch_mode():
    from keras.applications import imagenet_utils

    x = rgb((2, 8, 8, 3), seed=1)
    expected = imagenet_utils.preprocess_input(x.copy(), mode="torch")
    np.testing.assert_allclose(keras_resnet.preprocess_input(x, weights="resnet18.tv_in1k"),
                               expected, rtol=1e-5, atol=1e-5)


def test_preprocess_errors():
    with pytest.raises(ValueError, match="unknown weights tag"):
        keras_resnet.preprocess_input(rgb((1, 4, 4, 3)), weights="imagenet21k")
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels, channels last"):
        keras_resnet.preprocess_input(rgb((1, 3, 4, 4)), mode="torch")
    with pytest.raises(ValueError, match="mode must be one of"):
        keras_resnet.preprocess_input(rgb((1, 4, 4, 3)), mode="caffee")
    assert "resnet152.imagenet" in keras_resnet.list_weights()


def test_default_is_keras_applications_resnet_caffe_mode():
    """No mode and no weights: keras.applications.resnet.preprocess_input(x)."""
    from keras.applications import resnet

    x = rgb((2, 8, 8, 3), seed=4)
    np.testing.assert_allclose(keras_resnet.preprocess_input(x.copy()),
                               resnet.preprocess_input(x.copy()), rtol=1e-6, atol=1e-4)


def test_per_pixel_mean_weights_take_numpy_and_tensors():
    from keras_resnet.pretrained.registry import load_registry, pixel_mean

    mean = pixel_mean(load_registry()[0]["resnet20.fashion_mnist"])  # (28, 28, 1)
    raw = np.random.default_rng(5).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    expected = raw[..., None] / np.float32(255) - mean
    got = keras_resnet.preprocess_input(raw, weights="resnet20.fashion_mnist")
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    tensor = keras_resnet.preprocess_input(keras.ops.convert_to_tensor(raw[..., None]),
                                           weights="resnet20.fashion_mnist")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), expected, rtol=1e-6,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"take images of shape \(28, 28, 1\) \(H, W, C\), "
                                         r"got \(1, 32, 32, 1\): resize them to 28x28 first"):
        keras_resnet.preprocess_input(np.zeros((1, 32, 32, 1)),
                                      weights="resnet20.fashion_mnist")


def test_resize_and_crop_geometry():
    img = np.zeros((300, 400, 3), "float32")
    img[:, 200:] = 255.0  # right half white
    out = resize_and_crop(img, 256, 224)
    assert out.shape == (224, 224, 3)
    # shorter side 300 -> 256, width 400 -> 341; the crop keeps the centre, where the
    # edge between the halves sits in the middle column.
    assert out[:, :100].max() < 1 and out[:, 124:].min() > 254
    batch = resize_and_crop(np.stack([img, img]), 256, 224)
    assert batch.shape == (2, 224, 224, 3)


def copy_weights_by_name(src, dst):
    for layer in src.layers:
        if layer.weights:
            dst.get_layer(layer.name).set_weights(layer.get_weights())


@pytest.mark.parametrize("mode", ["caffe", "torch"])
def test_in_model_preprocessing_equals_preprocess_input(mode):
    from keras_resnet.numerics import assert_close

    plain = keras_resnet.build("resnet20", input_shape=(32, 32, 3), classifier_activation=None)
    raw_model = keras_resnet.build("resnet20", input_shape=(32, 32, 3),
                                   classifier_activation=None, include_preprocessing=mode)
    copy_weights_by_name(plain, raw_model)
    raw = np.random.default_rng(3).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    expected = keras.ops.convert_to_numpy(plain(keras_resnet.preprocess_input(raw, mode=mode)))
    got = keras.ops.convert_to_numpy(raw_model(raw))
    assert_close(got, expected, 1e-5, f"in-model {mode} preprocessing")
    np.testing.assert_array_equal(got, keras.ops.convert_to_numpy(
        raw_model(raw.astype("float32"))))  # uint8 input is cast, not wrapped
    # The extra layers add no trainable weights.
    assert len(raw_model.trainable_weights) == len(plain.trainable_weights)


def test_in_model_per_pixel_mean_and_round_trip(tmp_path):
    """A stored per-pixel mean (the paper's CIFAR preprocessing), saved and reloaded
    by plain Keras: the layers are stock ones."""
    mean = np.random.default_rng(1).uniform(0.2, 0.6, (28, 28, 1)).astype("float32")
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1), classes=10,
                               include_preprocessing={"scale": 1 / 255, "mean": mean})
    plain = keras_resnet.build("resnet20", input_shape=(28, 28, 1), classes=10)
    copy_weights_by_name(model, plain)
    raw = np.random.default_rng(2).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(raw)),
                               keras.ops.convert_to_numpy(plain(raw / np.float32(255) - mean)),
                               rtol=1e-5, atol=1e-6)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(raw)),
                                  keras.ops.convert_to_numpy(model(raw)))


@pytest.mark.slow  # two short fits and a LiteRT-verified export: ~35 s
def test_in_model_preprocessing_stays_fixed_through_freeze_then_unfreeze_fine_tuning(
        tmp_path):
    """The usual transfer-learning recipe: train with the network frozen, then
    ``trainable = True`` and train on. The in-model Caffe preprocessing holds no
    variable, so afterwards it still computes keras.applications' preprocess_input
    exactly, and an export of the fine-tuned model takes raw images correctly. (Its BGR
    flip used to be a 1x1 conv, which the unfreeze made trainable: it drifted.)"""
    from keras.applications import resnet

    from keras_resnet.deploy import export
    from keras_resnet.deploy.runtimes import open_artifact
    from keras_resnet.numerics import assert_close

    keras.utils.set_random_seed(1)
    model = keras_resnet.build("resnet20", input_shape=(32, 32, 3), classes=3,
                               include_preprocessing="caffe")
    for name in ("preprocess_normalize", "preprocess_bgr"):
        assert model.get_layer(name).weights == [], name
    raw = np.random.default_rng(6).integers(0, 256, (16, 32, 32, 3)).astype("float32")
    labels = np.arange(16) % 3
    model.trainable = False
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    model.fit(raw, labels, epochs=1, verbose=0)
    model.trainable = True
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    before = np.array(model.get_layer("conv1_conv").kernel)
    model.fit(raw, labels, epochs=2, verbose=0)
    assert not np.array_equal(np.array(model.get_layer("conv1_conv").kernel), before)
    # the preprocessing still equals keras.applications' function
    head = keras.Model(model.input, model.get_layer("preprocess_bgr").output)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(head(raw)),
                               resnet.preprocess_input(raw.copy()), rtol=1e-6, atol=1e-4)
    # and the fine-tuned model equals its network fed keras.applications' preprocessing
    plain = keras_resnet.build("resnet20", input_shape=(32, 32, 3), classes=3)
    copy_weights_by_name(model, plain)
    reference = keras.ops.convert_to_numpy(plain(resnet.preprocess_input(raw.copy())))
    assert_close(keras.ops.convert_to_numpy(model(raw)), reference, 1e-5, "fine-tuned")
    # an export of it (verified by LiteRT against the Keras model when written)
    path = str(tmp_path / "finetuned.tflite")
    export.tflite(model, path, verify_images=raw)
    got = open_artifact(path)(raw)
    assert_close(next(iter(got.values())), reference, 1e-4, "exported fine-tuned model")


def test_in_model_preprocessing_errors():
    with pytest.raises(ValueError, match="not a registry tag"):
        keras_resnet.build("resnet18", include_preprocessing=True)
    with pytest.raises(ValueError, match="unknown weights tag"):
        keras_resnet.build("resnet18", include_preprocessing="caffee")
    with pytest.raises(ValueError, match="unknown preprocessing keys"):
        keras_resnet.build("resnet18", include_preprocessing={"means": [1, 2, 3]})
