"""Networks trained here, reached from Python as the CLI reaches them: load_trained
(run directory, shipped tag, .keras / .weights.h5 files), family_of, classify_files,
eval_arrays, read_images."""

import json
import shutil

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.data import FASHION_MNIST_CLASSES, load_embedded, load_split
from keras_resnet.data.augment import eval_arrays
from keras_resnet.data.sources import read_images
from keras_resnet.deploy.predictor import classify_files
from keras_resnet.zoo import (RUN_CLASS_NAMES, RUN_CONFIG, RUN_MODEL, RUN_PIXEL_MEAN, Trained,
                              family_of, load_trained)

TAG = "resnet20.fashion_mnist"


@pytest.fixture(scope="module")
def shipped():
    return load_trained(TAG)


@pytest.fixture(scope="module")
def images():
    (_, _), (x, y) = load_embedded()
    return x[:8], y[:8]


def _outputs(trained, raw):
    x = raw[..., None].astype("float32") / 255 - trained.pixel_mean
    return np.asarray(trained.model(x, training=False))


def test_shipped_tag(shipped, images):
    assert isinstance(shipped, Trained) and shipped.family == "cifar"
    assert shipped.class_names == list(FASHION_MNIST_CLASSES)
    assert shipped.pixel_mean.shape == (28, 28, 1) and shipped.pixel_mean.dtype == np.float32
    p = shipped.preprocessing
    assert p.mode == "pixel_mean" and p.channel_order == "gray" and p.scale == 1 / 255
    assert p.input_size == (28, 28) and p.resize is None
    # the run and its registry entry hold the same Preprocessing
    assert p == keras_resnet.get_weights("resnet20.fashion_mnist").preprocessing
    # the shipped net is right on most of the first test images (94% on all 10k)
    x, y = images
    assert np.mean(_outputs(shipped, x).argmax(1) == y) >= 0.75


def test_run_directory_and_files_give_the_same_network(shipped, images, tmp_path):
    x, _ = images
    ref = _outputs(shipped, x)
    run = tmp_path / "run"  # the files keras-resnet train writes
    run.mkdir()
    shipped.model.save(run / RUN_MODEL)
    np.save(run / RUN_PIXEL_MEAN, shipped.pixel_mean)
    (run / RUN_CONFIG).write_text(json.dumps({"model": "resnet20"}))
    (run / RUN_CLASS_NAMES).write_text(json.dumps(["c%d" % i for i in range(10)]))
    from_run = load_trained(run)
    assert from_run.family == "cifar" and from_run.class_names[3] == "c3"
    np.testing.assert_allclose(_outputs(from_run, x), ref, rtol=1e-5, atol=1e-6)

    # the run's model.keras reads as its run (class names included) ...
    in_run = load_trained(run / RUN_MODEL, pixel_mean=run / RUN_PIXEL_MEAN)
    assert in_run.family == "cifar" and in_run.class_names[3] == "c3"
    np.testing.assert_allclose(_outputs(in_run, x), ref, rtol=1e-5, atol=1e-6)
    # ... and a copy of it elsewhere as a model file, which knows no class names
    copy = tmp_path / "copy.keras"
    shutil.copy(run / RUN_MODEL, copy)
    from_keras = load_trained(copy, pixel_mean=run / RUN_PIXEL_MEAN)
    assert from_keras.family == "cifar" and from_keras.class_names is None
    np.testing.assert_allclose(_outputs(from_keras, x), ref, rtol=1e-5, atol=1e-6)

    weights = tmp_path / "w.weights.h5"
    shipped.model.save_weights(weights)
    from_weights = load_trained(weights, model="resnet20", pixel_mean=shipped.pixel_mean)
    np.testing.assert_allclose(_outputs(from_weights, x), ref, rtol=1e-5, atol=1e-6)


def test_load_trained_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="resnet20.fashion_mnist"):
        load_trained("no_such_thing")
    with pytest.raises(ValueError, match="load_pretrained"):
        load_trained("resnet50.imagenet")
    with pytest.raises(FileNotFoundError, match="not a run directory.*no config.json"):
        load_trained(tmp_path)  # any folder (e.g. /tmp)
    (tmp_path / RUN_CONFIG).write_text(json.dumps({"model": "resnet20"}))
    with pytest.raises(FileNotFoundError, match="has not finished"):
        load_trained(tmp_path)
    f = tmp_path / "m.keras"  # a model that does not normalise its input itself
    keras_resnet.build("resnet8", input_shape=(28, 28, 1)).save(f)
    with pytest.raises(ValueError, match="--pixel-mean.*does not normalise its input"):
        load_trained(f)
    w = tmp_path / "w.weights.h5"
    w.write_bytes(b"")
    with pytest.raises(ValueError, match="--model"):
        load_trained(w, pixel_mean=np.zeros((28, 28, 1), "float32"))


def test_family_of():
    assert family_of(keras_resnet.build("resnet8", input_shape=(28, 28, 1))) == "cifar"
    assert family_of(keras_resnet.build("resnet18", weights=None,
                                        input_shape=(64, 64, 3))) == "imagenet"
    inputs = keras.Input((None, None, 3))
    anonymous = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs), name="x")
    assert family_of(anonymous) == "imagenet"  # any size: an ImageNet-style net
    inputs = keras.Input((32, 32, 3))
    small = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs), name="y")
    assert family_of(small) == "cifar"


def test_eval_arrays_are_the_eval_pipeline(shipped):
    x, y = eval_arrays(load_split("embedded", "test"), "cifar", shipped.pixel_mean, 5)
    (_, _), (raw, labels) = load_embedded()
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(y, labels[:5])
    np.testing.assert_allclose(x, raw[:5, ..., None] / np.float32(255) - shipped.pixel_mean,
                               rtol=1e-6, atol=1e-6)


def _png(path, array):
    keras.utils.save_img(str(path), array, scale=False)
    return str(path)


def test_classify_files_matches_the_model(shipped, images, tmp_path):
    x, y = images
    paths = [_png(tmp_path / f"{i}.png", x[i][..., None]) for i in range(3)]
    np.testing.assert_array_equal(read_images(paths, (28, 28), 1)[..., 0], x[:3])
    r = classify_files(paths, TAG, backend="keras", top=2)
    ref = _outputs(shipped, x[:3])
    assert r["backend"] == "keras" and len(r["predictions"]) == 3
    for p, row in zip(r["predictions"], ref):
        assert [t["class"] for t in p["top"]] == list(np.argsort(-row)[:2])
        assert p["top"][0]["name"] == FASHION_MNIST_CLASSES[int(np.argmax(row))]
        assert p["top"][0]["probability"] == pytest.approx(float(row.max()), rel=1e-4)


def test_classify_files_errors(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="not an image file"):
        read_images([str(text)], (28, 28), 1)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_images([str(tmp_path / "missing.png")], (28, 28), 1)
    with pytest.raises(ValueError, match="--top must be at least 1"):
        classify_files([str(text)], TAG, top=0)
