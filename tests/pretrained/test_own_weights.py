"""Weights trained in this repository: a registry entry with a packaged .weights.h5,
a stored per-pixel mean, and load_pretrained -> (model, preprocess). Tested on a
stand-in entry made here (the real entries are re-evaluated in test_shipped_weights)."""

import dataclasses
import hashlib

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.data import FASHION_MNIST_CLASSES, load_embedded
from keras_resnet.pretrained import loading, registry


@pytest.fixture
def stand_in_entry(tmp_path, monkeypatch):
    model = keras_resnet.build("resnet8", input_shape=(28, 28, 1), classes=10)
    weights = tmp_path / "resnet8_test.weights.h5"
    model.save_weights(weights)
    mean = np.random.default_rng(0).uniform(0.2, 0.4, (28, 28, 1)).astype("float32")
    np.save(tmp_path / "resnet8_test.pixel_mean.npy", mean)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    entry = registry.WeightsEntry(
        tag="resnet8.test", arch="resnet8", stride_placement="1x1", format="keras-weights-h5",
        files={"top": {"file_name": weights.name, "urls": [], "hash": f"sha256:{digest}",
                       "package": True}},
        preprocessing={"mode": "pixel_mean", "channel_order": "gray", "scale": 1 / 255,
                       "mean_file": "resnet8_test.pixel_mean.npy", "std": None},
        resize=None, crop=None, classes=10, metrics={}, origin="test", license="MIT",
        input_shape=(28, 28, 1), class_names=FASHION_MNIST_CLASSES)
    entries, defaults = registry.load_registry()
    patched = dict(entries, **{entry.tag: entry})
    monkeypatch.setattr(registry, "load_registry", lambda: (patched, defaults))
    monkeypatch.setattr(registry, "package_file", lambda name: str(tmp_path / name))
    monkeypatch.setattr(loading, "package_file", lambda name: str(tmp_path / name))
    return model, mean, entry, weights


def test_load_pretrained_gives_the_model_and_its_pixel_mean_preprocessing(stand_in_entry):
    model, mean, entry, _ = stand_in_entry
    loaded, preprocess = keras_resnet.load_pretrained("resnet8.test")
    (_, _), (x, _) = load_embedded()
    batch = preprocess(x[:8])
    np.testing.assert_allclose(batch, x[:8, ..., None] / np.float32(255) - mean, atol=1e-6)
    assert preprocess(x[0]).shape == (1, 28, 28, 1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(batch)),
                                  keras.ops.convert_to_numpy(model(batch)))
    # In-model preprocessing: raw uint8 in, same predictions.
    raw_model, resize_only = keras_resnet.load_pretrained("resnet8.test",
                                                          include_preprocessing=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(raw_model(resize_only(x[:8]))),
                               keras.ops.convert_to_numpy(model(batch)), atol=1e-5)


def test_tag_errors_and_hash_check(stand_in_entry, tmp_path):
    model, _, entry, weights = stand_in_entry
    # weights trained at a fixed input: the error names the input_shape to build with
    with pytest.raises(ValueError, match=r"with 1 channel: build with input_shape=\(28, 28, 1\)"):
        keras_resnet.build("resnet8", weights="test", input_shape=(28, 28, 3))
    # stored with their classifier, they still load without it (fine-tuning)
    headless = keras_resnet.build("resnet8", weights="test", include_top=False)
    assert headless.input_shape == (None, 28, 28, 1)  # the weights' own shape by default
    for a, b in zip(headless.get_layer("conv3_block1_2_conv").get_weights(),
                    model.get_layer("conv3_block1_2_conv").get_weights()):
        np.testing.assert_array_equal(a, b)
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ValueError, match="does not match its hash"):
        keras_resnet.build("resnet8", weights="test", input_shape=(28, 28, 1))


def test_a_weights_file_of_another_class_count_loads_its_own_classifier(tmp_path, capsys):
    """load_trained (predict, evaluate, export) built a .weights.h5 of a 3-class run
    with the family's 10 classes: the backbone loaded, the classifier started from a
    random initialisation, and predict printed different random classes each run."""
    from keras_resnet.pretrained.record import classifier_classes

    net = keras_resnet.build("resnet8", input_shape=(32, 32, 3), classes=3)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (4, 32, 32, 3)).astype("float32")
    net.get_layer("predictions").set_weights(
        [np.random.default_rng(1).normal(0, 1, (64, 3)).astype("float32"),
         np.asarray([0.3, -0.2, 0.1], "float32")])
    path = str(tmp_path / "run3.weights.h5")
    keras_resnet.save_weights(net, path)
    assert classifier_classes(path) == 3
    backbone = keras_resnet.build("resnet8", input_shape=(32, 32, 3), include_top=False)
    backbone.save_weights(str(tmp_path / "backbone.weights.h5"))
    assert classifier_classes(str(tmp_path / "backbone.weights.h5")) is None
    t = keras_resnet.load_trained(path, model="resnet8",
                                  pixel_mean=np.full((32, 32, 3), 0.4, "float32"))
    assert t.num_classes == 3
    assert "random initialisation" not in capsys.readouterr().out
    np.testing.assert_allclose(np.asarray(t.model(x)), np.asarray(net(x)), rtol=1e-5,
                               atol=1e-6)
