"""Preprocessing tied to the weights, checked against keras.applications' own."""

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.preprocessing import resize_and_crop


def rgb(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype("float32")


def test_caffe_mode_equals_keras_applications_resnet_preprocess_input():
    from keras.applications import resnet

    x = rgb((2, 8, 8, 3))
    expected = resnet.preprocess_input(x.copy())
    np.testing.assert_allclose(keras_resnet.preprocess_input(x, weights="resnet50.imagenet"),
                               expected, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(keras_resnet.preprocess_input(x, mode="caffe"), expected,
                               rtol=1e-6, atol=1e-4)


def test_torch_mode_equals_keras_imagenet_utils_torch_mode():
    from keras.applications import imagenet_utils

    x = rgb((2, 8, 8, 3), seed=1)
    expected = imagenet_utils.preprocess_input(x.copy(), mode="torch")
    np.testing.assert_allclose(keras_resnet.preprocess_input(x, weights="resnet18.tv_in1k"),
                               expected, rtol=1e-5, atol=1e-5)


def test_preprocess_errors():
    with pytest.raises(ValueError, match="exactly one"):
        keras_resnet.preprocess_input(rgb((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="unknown weights tag"):
        keras_resnet.preprocess_input(rgb((1, 4, 4, 3)), weights="imagenet21k")
    with pytest.raises(ValueError, match="3 channels last"):
        keras_resnet.preprocess_input(rgb((1, 3, 4, 4)), mode="torch")
    assert "resnet152.imagenet" in keras_resnet.list_weights()


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
