"""``keras_resnet.Preprocessing``: one value for a network's input normalisation, held
by weights, runs, exported files; checked against keras.applications' own arithmetic
and against itself through every place that applies or records it."""

import json

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import Preprocessing


def rgb(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype("float32")


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf"])
def test_modes_equal_keras_applications_and_leave_the_input_alone(mode):
    from keras.applications import imagenet_utils

    x = rgb((2, 6, 6, 3), seed=1)
    kept = x.copy()
    expected = imagenet_utils.preprocess_input(x.copy(), mode=mode)
    got = Preprocessing.from_mode(mode)(x, "channels_last")
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(x, kept)  # __call__ copies; preprocess_input writes over
    # channels-first input gives the same numbers on its own layout
    first = Preprocessing.from_mode(mode)(np.moveaxis(x, -1, 1), "channels_first")
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), expected, rtol=1e-6, atol=1e-5)


def test_registered_modes_carry_keras_applications_numbers():
    """The registry stores each entry's numbers; those of a named mode must be that
    mode's (a typo in one entry would silently shift every image)."""
    for w in keras_resnet.list_weights():
        p = w.preprocessing
        if p.mode in ("caffe", "torch"):
            ref = Preprocessing.from_mode(p.mode)
            assert (p.channel_order, p.scale, p.std is None) == \
                (ref.channel_order, ref.scale, ref.std is None), w
            np.testing.assert_allclose(p.mean, ref.mean, rtol=1e-12, err_msg=str(w))
            if p.std is not None:
                np.testing.assert_allclose(p.std, ref.std, rtol=1e-12, err_msg=str(w))
        elif p.mode == "tf":
            x = rgb((1, 4, 4, 3), seed=2)
            np.testing.assert_allclose(p(x, "channels_last"),
                                       Preprocessing.from_mode("tf")(x, "channels_last"),
                                       rtol=1e-6, atol=1e-6)
        if p.resize is not None:
            assert (p.resize, p.crop, p.interpolation) == \
                (w.entry.resize, w.entry.crop, w.entry.interpolation)


def test_metadata_round_trips_through_json_for_every_registered_weights():
    for w in keras_resnet.list_weights():
        p = w.preprocessing
        back = Preprocessing.from_metadata(json.loads(json.dumps(p.to_metadata())))
        assert back == p, w
    assert Preprocessing.from_mode("caffe") != Preprocessing.from_mode("torch")
    assert Preprocessing.from_mode("caffe") == Preprocessing.coerce("caffe")


@pytest.mark.parametrize("mode,data_format", [("caffe", "channels_last"),
                                              ("torch", "channels_first")])
def test_layers_in_a_model_equal_the_call(mode, data_format):
    p = Preprocessing.from_mode(mode)
    x = rgb((2, 5, 5, 3), seed=3)
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1)
    inputs = keras.Input(x.shape[1:])
    y = inputs
    for layer in p.layers(data_format):
        y = layer(y)
    model = keras.Model(inputs, y)
    assert [l.name for l in model.layers[1:]] == (
        ["preprocess_normalize", "preprocess_bgr"] if mode == "caffe"
        else ["preprocess_normalize"])
    assert not model.weights  # nothing to train
    np.testing.assert_allclose(model.predict(x, verbose=0), p(x, data_format),
                               rtol=1e-5, atol=1e-4)
    # and symbolically: the call on a keras.Input builds the same graph
    sym = p(keras.Input((5, 5, 3)), "channels_last")
    assert tuple(sym.shape) == (None, 5, 5, 3)


def test_per_pixel_weights_and_runs_hold_one_and_its_eval_transform():
    w = keras_resnet.get_weights("resnet20.fashion_mnist")
    p = w.preprocessing
    assert (p.mode, p.input_size, p.channels, p.mean.shape) == \
        ("pixel_mean", (28, 28), 1, (28, 28, 1))
    raw = np.random.default_rng(4).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    expected = raw[..., None] / 255.0 - p.mean
    np.testing.assert_allclose(p.eval_transform()(raw), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(p.eval_transform(normalize=False)(raw), raw[..., None])
    with pytest.raises(ValueError, match=r"take 28x28x1 images; got shape \(2, 32, 32\): "
                                         r"resize them to 28x28 first .*resize_to"):
        p.eval_transform()(np.zeros((2, 32, 32), "uint8"))
    with pytest.raises(ValueError, match="per-pixel mean of 28x28.*takes 32x32"):
        p.check_fits((32, 32, 1), what="model 'x'")
    with pytest.raises(ValueError, match="1-channel images, but model 'x' takes 3"):
        p.check_fits((28, 28, 3), what="model 'x'")


@pytest.mark.parametrize("tag", ["resnet20.fashion_mnist", "resnet50.imagenet"])
def test_eval_transform_refuses_images_it_cannot_read_unambiguously(tag):
    """An RGBA image was read as a batch of H grayscale images (a silent wrong batch),
    a grayscale + alpha one as H images resized each (the process ran out of memory),
    and RGB into grayscale weights named a shape the caller never made."""
    w = keras_resnet.get_weights(tag)
    transform = w.transforms()
    size = w.preprocessing.input_size or (40, 30)
    for channels, match in ((4, r"4 channels \(RGBA, or CMYK\?\).*x\[\.\.\., :3\]"),
                            (2, r"2 channels \(grayscale \+ alpha\?\).*convert\('L'\)")):
        for shape in ((*size, channels), (2, *size, channels)):
            with pytest.raises(ValueError, match=match) as raised:
                transform(np.zeros(shape, "uint8"))
            assert str(shape) in str(raised.value)  # the shape as given
    with pytest.raises(ValueError, match="real numbers"):
        transform(np.array([["a"]]))
    gray = w.preprocessing.channels == 1
    if gray:  # RGB into grayscale weights: says how to convert, names the given shape
        with pytest.raises(ValueError, match=r"take grayscale images; got shape "
                                             r"\(28, 28, 3\).*convert\('L'\)"):
            transform(np.zeros((28, 28, 3), "uint8"))
        assert transform(np.zeros((4, 28, 28), "uint8")).shape == (4, 28, 28, 1)
    else:  # grayscale is repeated to RGB, as torchvision's Grayscale(3) then the crop
        one = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8)
        np.testing.assert_array_equal(transform(one), transform(np.repeat(one[..., None], 3, -1)))
        assert transform(np.zeros((2, *size), "uint8")).shape == (2, 224, 224, 3)


def test_eval_transform_refuses_values_and_layouts_it_would_misread():
    """Read silently before: a channels-first image as 3 grayscale images, (H, W, 5)
    as H images (out of memory for a large H), a palette image's indices as grey
    levels, 16-bit and 0-1 values as 0-255 ones, NaN; numpy's and ZeroDivisionError's
    messages for empty and ragged input."""
    from PIL import Image

    rgb = np.random.default_rng(2).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    transform = keras_resnet.get_weights("resnet50.imagenet").transforms()
    refused = {
        r"read both as one channels-first RGB image and as 3 grayscale images":
            np.moveaxis(rgb, -1, 0),
        r"take 3-channel images; got shape \(40, 50, 5\) with 5 channels":
            np.zeros((40, 50, 5), "uint8"),
        r"mode 'I;16' \(16 or 32 bits per pixel\)":
            Image.fromarray(rgb[..., 0].astype("uint16") * 200),
        r"must lie in 0..255.*got 0..300": np.linspace(0, 300, 40 * 50 * 3).reshape(rgb.shape),
        r"within \[0, 1\] with fractions look like pixels / 255": rgb / 255.0,
        r"NaN": np.full(rgb.shape, np.nan),
        r"empty \(shape \(0, 50, 3\)\)": rgb[:0],
        r"different shapes \[\(30, 50, 3\), \(40, 50, 3\)\].*np.concatenate": [rgb, rgb[:30]],
    }
    for match, images in refused.items():
        with pytest.raises(ValueError, match=match):
            transform(images)
    # Pillow's palette and CMYK images are converted as Pillow converts them to RGB
    for mode in ("P", "CMYK"):
        image = Image.fromarray(rgb).convert(mode)
        np.testing.assert_array_equal(transform(image),
                                      transform(np.asarray(image.convert("RGB"))))
    assert transform([Image.fromarray(rgb), rgb]).shape == (2, 224, 224, 3)
    # fixed-size RGB settings take grayscale (repeated), one image or a batch
    fixed = Preprocessing.from_mode("torch", input_size=(32, 32)).eval_transform()
    gray = rgb[:32, :32, 0]
    np.testing.assert_array_equal(fixed(gray), fixed(np.repeat(gray[..., None], 3, -1)))
    assert fixed(np.stack([gray, gray])).shape == (2, 32, 32, 3)


def test_exported_file_records_the_preprocessing_it_was_given(tmp_path):
    from keras_resnet.deploy import export
    from keras_resnet.deploy.metadata import read_metadata, read_preprocessing

    model = keras_resnet.build("resnet8", input_shape=(8, 8, 3), classes=3)
    given = Preprocessing.from_mode("torch", resize=10, crop=8)
    path = str(tmp_path / "m.tflite")
    export.tflite(model, path, preprocessing=given, class_names=["a", "b", "c"],
                  verify_images=rgb((4, 8, 8, 3), seed=5) / 255.0)
    record = read_metadata(path)
    assert record["preprocessing"]["in_model"] is False
    assert read_preprocessing(record) == given
    # the runner of the written file holds it too, with the class names
    runner = keras_resnet.deploy.open_artifact(path)
    assert runner.preprocessing == given and runner.class_names == ["a", "b", "c"]


def test_the_predictor_holds_one_and_checks_it_fits():
    model = keras_resnet.build("resnet8", input_shape=(8, 8, 3), classes=3)
    predictor = keras_resnet.Predictor(model, backend="keras", preprocessing="torch")
    assert predictor.preprocessing == Preprocessing.from_mode("torch")
    assert keras_resnet.Predictor(model, backend="keras").preprocessing is None
    grey = keras_resnet.build("resnet8", input_shape=(8, 8, 1), classes=3)
    with pytest.raises(ValueError, match="3-channel images, but model 'resnet8' takes 1"):
        keras_resnet.Predictor(grey, backend="keras", preprocessing="caffe")


@pytest.mark.parametrize("fields,match", [
    (dict(channel_order="bgr"), "channel_order must be one of"),
    (dict(scale=0), "scale must be a positive number"),
    (dict(std=[1.0, 0.0, 1.0]), "std must be positive"),
    (dict(mean=[[1.0, 2.0]]), r"per-pixel array \(H, W, C\)"),
    (dict(mean=[np.nan, 0, 0]), "must be finite"),
    (dict(resize=256), "give resize and crop together"),
    (dict(resize=200, crop=224), r"crop \(224\) must not exceed resize \(200\)"),
    (dict(interpolation="nearest"), "interpolation must be one of"),
])
def test_bad_values_are_refused_when_made(fields, match):
    with pytest.raises(ValueError, match=match):
        Preprocessing(**fields)


def test_bad_records_are_refused():
    with pytest.raises(ValueError, match="unknown preprocessing keys \\['size'\\]"):
        Preprocessing.from_metadata({"size": 3})
    with pytest.raises(ValueError, match="not mean_file"):
        Preprocessing.from_metadata({"mode": "pixel_mean", "mean_file": "m.npy"})
    with pytest.raises(ValueError, match="mode must be one of"):
        Preprocessing.from_mode("inception")
    with pytest.raises(ValueError, match="expected a Preprocessing"):
        Preprocessing.coerce(3)
    with pytest.raises(dataclasses_frozen_error()):
        Preprocessing().scale = 2.0  # frozen: a value, shared safely


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError
