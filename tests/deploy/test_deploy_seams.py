"""Exports and runners at the seams a user touches, found by a new-user trial: models
that are unusual in one way each (a Lambda or an unregistered layer under mixed
precision, names that clash with the serving graph's, a uint8 input, a channels-first
model after the global setting changed), metadata that must say the truth (int8
tensors, class names, another model's preprocessing), and written files run with the
wrong kind of batch (a clear error, never a quiet cast)."""

import os

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import Predictor, export
from keras_resnet.deploy import open_artifact, read_metadata, verify
from keras_resnet.numerics import assert_close

from tests.helpers import images

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")
pytest.importorskip("tf2onnx")


def _tiny(name="tiny", input_shape=(16, 16, 3), classes=4, dtype="float32"):
    inp = keras.Input(input_shape, dtype=dtype, name="pixels")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inp) if dtype == "uint8" else inp
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inp, keras.layers.Dense(classes, name="logits")(x), name=name)


@keras.saving.register_keras_serializable(package="tests_seams")
class _Registered(keras.layers.Layer):
    pass


class Halve(keras.layers.Layer):  # not registered anywhere
    def call(self, t):
        return t * 0.5


@pytest.fixture
def mixed_policy():
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy("float32")


def test_lambda_and_unregistered_layers_under_mixed_precision_export(mixed_policy, tmp_path):
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inp)
    x = Halve(name="halve")(x)
    y = _tiny("inner")(x)
    model = keras.Model(inp, keras.layers.Activation("linear", dtype="float32")(y))
    keras.config.set_dtype_policy("float32")
    x = images((4, 16, 16, 3))
    report = export.onnx(model, str(tmp_path / "m.onnx"), verify_images=x)
    assert report["policy"] == "mixed_float16" and report["within_tolerance"]
    p = Predictor(model, backend="openvino")
    assert_close(p(x), keras.ops.convert_to_numpy(model(x)), rtol=1e-2, what="Predictor")


def test_names_that_clash_with_the_serving_graph(tmp_path):
    x = images((2, 16, 16, 3))
    # a layer named like the serving casts of earlier versions, and a model named so too
    inp = keras.Input((16, 16, 3))
    out = keras.layers.Activation("linear", name="out_0")(_tiny()(inp))
    model = keras.Model(inp, out, name="serving_out_0")
    assert export.onnx(model, str(tmp_path / "a.onnx"), verify_images=x)["within_tolerance"]
    # the model's own name is a TensorFlow scope: checked up front, in one sentence
    with pytest.raises(ValueError, match=r"'my model \(v2\)'.*not valid TensorFlow name"):
        export.tflite(_tiny("my model (v2)"), str(tmp_path / "b.tflite"), verify_images=x)
    with pytest.raises(ValueError, match="input_name 'images' is also the name"):
        export.onnx(_tiny("images"), str(tmp_path / "c.onnx"))
    assert export.onnx(_tiny("images"), str(tmp_path / "c.onnx"), input_name="x",
                       verify_images=x)["within_tolerance"]
    with pytest.raises(ValueError, match="input_name must be letters, digits and _"):
        export.tflite(_tiny(), str(tmp_path / "d.tflite"), input_name="my images")
    # the input layer's own name does not matter: the serving input replaces it
    for i, name in enumerate(("input image", "images")):
        inp = keras.Input((16, 16, 3), name=name)
        odd = keras.Model(inp, _tiny()(inp))
        assert export.onnx(odd, str(tmp_path / "e.onnx"), verify_images=x)["within_tolerance"]
    assert sorted(os.listdir(tmp_path)) == ["a.onnx", "a.onnx.report.json", "c.onnx",
                                            "c.onnx.report.json", "e.onnx",
                                            "e.onnx.report.json"]


def test_a_model_that_takes_uint8_gets_a_uint8_file(tmp_path):
    model = _tiny(dtype="uint8")
    x = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3)).astype("uint8")
    report = export.onnx(model, str(tmp_path / "u.onnx"), verify_images=x)
    assert report["input_dtype"] == "uint8" and report["within_tolerance"]
    got = open_artifact(tmp_path / "u.onnx")(x)["logits"]
    assert_close(got, keras.ops.convert_to_numpy(model(x)), rtol=1e-4, what="uint8 ONNX")


def test_layout_is_the_models_not_the_global_setting(tmp_path):
    keras.config.set_image_data_format("channels_first")
    try:
        model = keras_resnet.build("resnet20", input_shape=(1, 28, 28))
    finally:
        keras.config.set_image_data_format("channels_last")
    report = export.saved_model(model, str(tmp_path / "sm"))
    assert report["verified_on"] == "random images" and report["within_tolerance"]
    record = read_metadata(tmp_path / "sm")
    assert record["input"]["layout"] == "NCHW" and record["input"]["shape"] == [None, 1, 28, 28]
    # and the grayscale hint names the channels-first axis
    with pytest.raises(ValueError, match=r"channel axis: x\[:, None\]"):
        export.saved_model(model, str(tmp_path / "sm2"), verify_images=images((2, 28, 28)))
    # preprocessing settings are checked against the model's channels in its layout
    with pytest.raises(ValueError, match="for 3-channel images.*takes 1 channel"):
        export.saved_model(model, str(tmp_path / "sm3"), include_preprocessing="torch")


@pytest.mark.slow
def test_int8_tensors_are_recorded_as_int8_with_their_quantisation(tmp_path, monkeypatch):
    # a random network gives every image one class, and an int8 file is then refused
    # (verify.check_outputs); this test is about the file's int8 tensors
    monkeypatch.setattr(verify, "ONE_CLASS_MIN_IMAGES", 10**9)
    model = _tiny()
    x = images((32, 16, 16, 3))
    path = tmp_path / "q.tflite"
    with pytest.warns(export.CalibrationVerificationWarning):
        report = export.tflite(model, str(path), quantization="int8", representative_data=x,
                               int8_io=True)
    assert report["verified_on"] == "representative_data"
    record = read_metadata(path)
    assert report["input_dtype"] == record["input"]["dtype"] == "int8"
    q = record["input"]["quantization"]
    assert q["scale"] > 0 and -128 <= q["zero_point"] <= 127
    assert record["output_quantization"]["logits"]["dtype"] == "int8"
    # the recorded parameters are the file's: quantising by hand and running the raw
    # interpreter gives what the runner (which quantises itself) gives
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    run = interp.get_signature_runner("serving_default")
    qx = np.clip(np.round(x[:1] / q["scale"] + q["zero_point"]), -128, 127).astype("int8")
    oq = record["output_quantization"]["logits"]
    by_hand = (run(images=qx)["logits"].astype("float32") - oq["zero_point"]) * oq["scale"]
    np.testing.assert_allclose(open_artifact(path)(x[:1])["logits"], by_hand, rtol=1e-6)
    # already-quantised values would be quantised twice: refused
    with pytest.raises(ValueError, match="input tensor is int8.*give the float images"):
        open_artifact(path)(qx)


def test_class_names_and_preprocessing_must_fit_the_model(tmp_path):
    model = _tiny(classes=4)
    with pytest.raises(ValueError, match="2 class_names for the 4 outputs"):
        export.onnx(model, str(tmp_path / "a.onnx"), class_names=["a", "b"])
    backbone = keras_resnet.backbone("resnet18", input_shape=(32, 32, 3), outputs=("C5",))
    with pytest.raises(ValueError, match="class_names describe a classifier"):
        export.onnx(backbone, str(tmp_path / "b.onnx"), class_names=["a"])
    # another model's preprocessing: Fashion-MNIST's 28x28x1 mean on a 16x16x3 model
    with pytest.raises(ValueError, match="'resnet20.fashion_mnist' is for 1-channel"):
        export.onnx(model, str(tmp_path / "c.onnx"), preprocessing="resnet20.fashion_mnist")
    gray = _tiny(input_shape=(32, 32, 1))
    with pytest.raises(ValueError, match="per-pixel mean of 28x28.*takes 32x32"):
        export.onnx(gray, str(tmp_path / "d.onnx"),
                    include_preprocessing="resnet20.fashion_mnist")
    assert not os.listdir(tmp_path)
    # a tag's class names are recorded only where they fit: a backbone exported with
    # its ImageNet weights' preprocessing keeps the preprocessing, drops the 1000 names
    big = keras_resnet.backbone("resnet50", input_shape=(32, 32, 3), outputs=("C3",))
    export.onnx(big, str(tmp_path / "e.onnx"), preprocessing="resnet50.imagenet")
    record = read_metadata(tmp_path / "e.onnx")
    assert record["class_names"] is None and record["preprocessing"]["mode"] == "caffe"
    with pytest.raises(ValueError, match="class_names describe a classifier"):
        export.onnx(big, str(tmp_path / "f.onnx"), preprocessing="resnet50.imagenet",
                    class_names=["a"])


def test_labels_as_one_hot_or_integral_floats_and_a_clear_error_for_strings(tmp_path):
    model = _tiny(classes=4)
    x = images((8, 16, 16, 3))
    y = np.arange(8) % 4
    for labels in (y, y.astype("float32"), np.eye(4)[y]):
        report = export.onnx(model, str(tmp_path / "a.onnx"), verify_images=x, labels=labels)
        assert report["keras_accuracy"] == pytest.approx(
            np.mean(keras.ops.convert_to_numpy(model(x)).argmax(1) == y))
    with pytest.raises(ValueError, match="labels: expected class indices"):
        export.onnx(model, str(tmp_path / "b.onnx"), verify_images=x,
                    labels=[str(v) for v in y])
    with pytest.raises(ValueError, match="non-integer"):
        export.onnx(model, str(tmp_path / "b.onnx"), verify_images=x, labels=y + 0.5)


@pytest.fixture(scope="module")
def raw_and_float_files(tmp_path_factory):
    """The shipped Fashion-MNIST net as a raw-uint8 file and as a float file."""
    from keras_resnet.data import load_embedded

    folder = tmp_path_factory.mktemp("files")
    model, preprocess = keras_resnet.load_pretrained("resnet20.fashion_mnist")
    (_, _), (x_test, y_test) = load_embedded()
    raw = x_test[:64, ..., None]
    export.onnx(model, str(folder / "raw.onnx"), include_preprocessing="resnet20.fashion_mnist",
                verify_images=raw)
    export.openvino(model, str(folder / "raw.xml"),
                    include_preprocessing="resnet20.fashion_mnist")
    export.tflite(model, str(folder / "float.tflite"), preprocessing="resnet20.fashion_mnist",
                  input_name="pixels_in", verify_images=preprocess(x_test[:8]))
    return folder, raw, preprocess(x_test[:64]), y_test[:64]


def test_written_files_refuse_the_wrong_kind_of_batch(raw_and_float_files):
    folder, raw, pre, y = raw_and_float_files
    for name in ("raw.onnx", "raw.xml"):
        run = open_artifact(folder / name)
        assert np.mean(run(raw)["predictions"].argmax(1) == y) >= 0.85
        # floats in 0..1 (pixels / 255) given to a file that takes raw pixels
        with pytest.raises(ValueError, match="takes raw uint8 images.*not integers in 0..255"):
            run((raw / 255.0).astype("float32"))
        with pytest.raises(ValueError, match=r"channel axis: x\[\.\.\., None\]"):
            run(raw[..., 0])
    # the float file: its input name read from its metadata; raw pixels refused
    run = open_artifact(folder / "float.tflite")
    assert np.mean(run(pre.astype("float64"))["predictions"].argmax(1) == y) >= 0.85
    with pytest.raises(ValueError, match="takes preprocessed float images.*got uint8 pixels"):
        run(raw)


def test_paths_with_a_home_folder_and_a_folder_in_the_weights_place(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    model = _tiny()
    export.onnx(model, "~/m.onnx")
    assert (tmp_path / "m.onnx").is_file() and not (tmp_path / "~").exists()
    (tmp_path / "w.bin").mkdir()
    with pytest.raises(ValueError, match="w.bin' is a folder"):
        export.openvino(model, str(tmp_path / "w.xml"))


def test_predictor_refuses_a_tolerance_that_is_not_positive():
    for rtol in (-1, 0, float("nan"), "1e-4"):
        with pytest.raises(ValueError, match="rtol must be a positive number"):
            Predictor(_tiny(), backend="keras", rtol=rtol)


def test_export_of_an_untrained_run_says_so_not_that_the_images_are_wrong(tmp_path):
    from keras_resnet.deploy.export import ExportVerificationError, export_trained
    from keras_resnet.zoo import Trained, load_trained

    shipped = load_trained("resnet20.fashion_mnist")
    keras.utils.set_random_seed(0)
    untrained = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    # a constant output: at chance on any images, as an untrained run can be
    untrained.get_layer("predictions").kernel.assign(
        np.zeros(untrained.get_layer("predictions").kernel.shape, "float32"))
    run = Trained(untrained, shipped.pixel_mean, "cifar", shipped.class_names)
    with pytest.raises(ExportVerificationError,
                       match=r"network is at chance level on the 1000 embedded test images "
                             r"\([0-9.]+% top-1\).*not trained enough.*--no-verify"):
        export_trained(run, str(tmp_path / "m.onnx"), "onnx")
    assert not os.listdir(tmp_path)
    # the shipped, trained network exports through the same call
    report = export_trained(shipped, str(tmp_path / "ok.onnx"), "onnx", verify_images=200)
    assert report["keras_accuracy"] >= 0.85


@pytest.mark.parametrize("backend", ["onnxruntime", "litert", "openvino", "keras"])
def test_served_batches_are_checked_once_and_refused_as_before(backend, monkeypatch):
    """A C-ordered float32 batch of the model's sizes is served by the Predictor's fast
    path (one min and one max, then the runner without its own second check), which
    must answer as the general path does and pass on to it everything that path
    refuses: NaN, +-inf, raw 0-255 pixels cast to float. The LiteRT file is batch 1:
    a batch of 3 still runs in slices."""
    model = _tiny()
    x = np.clip(images((5, 16, 16, 3), seed=1), -2.0, 2.0)
    p = Predictor(model, backend=backend, verify_images=x, preprocessing="torch")
    assert p._fast is not None
    reference = np.asarray(model(x, training=False))
    general = p._batch
    monkeypatch.setattr(p, "_batch", lambda *a: pytest.fail("general path taken"))
    fast = p(x[:3])
    assert_close(fast, reference[:3], rtol=1e-4, what=f"{backend} fast path")
    monkeypatch.setattr(p, "_batch", general)
    # the general path (OpenVINO compiles a static shape on a second call: rounding)
    for batch in (x[:3].astype("float64"), np.asfortranarray(x[:3]), x[:3].tolist()):
        assert_close(p(batch), fast, rtol=1e-5, what=f"{backend} general path")
    assert_close(p(x[0]), fast[0], rtol=1e-5, what=f"{backend} one image")
    for value, message in ((np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"),
                           (-np.inf, "NaN or infinite"), (255.0, "look like raw pixels")):
        bad = x[:3].copy()
        bad[1, 2, 3, 0] = value
        with pytest.raises(ValueError, match=message):
            p(bad)


def test_the_predictor_and_the_exporters_refuse_the_same_images(tmp_path):
    """One rule set (serving.check_image_values) for every way images reach a model: a
    case one of them let through would calibrate or check a file on an input it never
    takes. Each case is refused by the Predictor's call, its verify_images, and the
    exporters' verify_images and representative_data, each message naming the argument
    and how to fix it in that caller's words. (The Predictor of a model that normalises
    0-255 pixels itself, made without verify_images, once checked itself on random
    [-1, 1] images and refused them: its random images are pixels now.)"""
    from keras_resnet.deploy import job as job_module

    plain = _tiny()
    inp = keras.Input((16, 16, 3))
    normalising = keras.Model(inp, plain(keras.layers.Rescaling(1 / 127.5, -1)(inp)))
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (8, 16, 16, 3)).astype("uint8")
    cases = [  # (model, preprocessing, images, what the message says)
        (plain, None, pixels, "nothing says how they are made"),
        (plain, "torch", pixels, "takes preprocessed float images"),
        (plain, "torch", pixels.astype("float32"), "look like raw pixels"),
        (normalising, None, pixels / 255.0, "look scaled to \\[0, 1\\]"),
        (normalising, None, pixels / 127.5 - 1, "look normalised already"),
    ]
    fixes = {"predictor": "predictor.preprocessing|pixels as they are",
             "export": "include_preprocessing=|pixels as they are"}
    for model, pre, x, says in cases:
        x = np.asarray(x, "float32") if x.dtype.kind == "f" else x
        served = Predictor(model, backend="keras", preprocessing=pre)
        attempts = {
            ("predictor", "images"): lambda: served(x),
            ("predictor", "verify_images"): lambda: Predictor(
                model, backend="keras", preprocessing=pre, verify_images=x),
        }
        for arg in ("verify_images", "representative_data"):
            attempts["export", arg] = (lambda arg=arg: job_module.prepare(
                model, input_name="images", raw_uint8=False, labels=None, rtol=None,
                default_rtol=1e-4, preprocessing=pre, class_names=None,
                include_preprocessing=None, **{"verify_images": None, arg: x}))
        for (who, arg), attempt in attempts.items():
            with pytest.raises(ValueError, match=rf"^{arg}: .*{says}.*({fixes[who]})"):
                attempt()
        # what the rules let through still runs: the same images made right
        if pre is not None:
            assert served(served.preprocessing(pixels)).shape == (8, 4)
        elif model is normalising:
            assert served(pixels.astype("float32")).shape == (8, 4)


def test_an_export_given_no_images_is_verified_on_random_ones(tmp_path, monkeypatch):
    """No file is written unchecked: without verify_images each exporter compares the
    file with Keras on seeded random images (pixels for a model that normalises them
    itself), a quantised one by the error bound on every output (random images' top-1
    classes are near-ties); a conversion that breaks the network is refused and leaves
    nothing behind. labels without the images they label are refused."""
    from keras_resnet.deploy import job as job_module, writers

    model = _tiny()
    report = export.onnx(model, str(tmp_path / "m.onnx"))
    assert report["verified_on"] == "random images"
    assert report["verified_images"] == job_module.RANDOM_VERIFY_IMAGES
    assert report["within_tolerance"] and report["rtol"] == export.ONNX_RTOL
    report = export.tflite(model, str(tmp_path / "m16.tflite"), quantization="float16")
    assert report["verified_on"] == "random images" and "required_agreement" not in report
    assert "top1_agreement" not in report  # near-ties on random images: says nothing
    assert report["rtol"] == export.QUANTIZED_RTOL["float16"] and report["within_tolerance"]
    # a model that normalises 0-255 pixels in its first layer is checked on pixels (it
    # refuses normalised floats)
    inp = keras.Input((16, 16, 3))
    normalising = keras.Model(inp, model(keras.layers.Rescaling(1 / 127.5, -1)(inp)))
    assert export.saved_model(normalising, str(tmp_path / "sm"))["verified_on"] == \
        "random images"

    class Broken(writers.OnnxRuntimeRunner):  # a conversion that moves the logits
        def __call__(self, x):
            return {k: v + 1.0 for k, v in super().__call__(x).items()}

    monkeypatch.setattr(writers, "OnnxRuntimeRunner", Broken)
    with pytest.raises(export.ExportVerificationError, match="differ from Keras"):
        export.onnx(model, str(tmp_path / "broken.onnx"))
    assert not os.path.exists(tmp_path / "broken.onnx")
    assert not os.path.exists(tmp_path / "broken.onnx.report.json")
    with pytest.raises(ValueError, match="labels belong to verify_images"):
        export.saved_model(model, str(tmp_path / "sm2"), labels=np.zeros(4, "int64"))


def test_where_keras_cannot_run_the_model_an_export_without_images_says_it_is_unchecked(
        tmp_path, monkeypatch):
    """A channels_first model on a CPU whose TensorFlow convolutions take NHWC only (some
    builds: verify.reference_outputs' error): with images given, the error says what to
    do; without, the file is written, unverified, with a warning that says so."""
    from keras_resnet.deploy import verify

    def unavailable(*args, **kwargs):
        raise verify.ReferenceUnavailableError(
            "the Keras reference cannot run: TensorFlow's CPU convolutions take "
            "channels_last (NHWC) only, and this model is channels_first. Export it ...")

    monkeypatch.setattr(verify, "reference_outputs", unavailable)
    with pytest.warns(export.UnverifiedExportWarning, match="written unverified.*channels_first"):
        report = export.onnx(_tiny(), str(tmp_path / "m.onnx"))
    assert "verified_on" not in report and "max_abs_error" not in report
    assert os.path.exists(tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="channels_first"):
        export.onnx(_tiny(), str(tmp_path / "m2.onnx"), verify_images=images((2, 16, 16, 3)))


def test_a_first_layer_made_for_unit_scale_inputs_refuses_pixels():
    """A model whose first layer rescales [0, 1] inputs (Rescaling(2, offset=-1), a
    Normalization of such data, a Rescaling(255) to a pixel-scale network) served uint8
    pixels, or 0-255 floats, 255x too large and answered: refused by the Predictor (its
    fast path too) and the exporters; [0, 1] inputs run."""
    from keras_resnet.deploy import job as job_module

    net = _tiny()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (8, 16, 16, 3)).astype("uint8")
    for first in (keras.layers.Rescaling(2.0, offset=-1.0),
                  keras.layers.Normalization(mean=[0.5] * 3, variance=[0.0625] * 3),
                  keras.layers.Rescaling(255.0)):
        model = keras.Sequential([keras.Input((16, 16, 3)), first, net])
        served = Predictor(model, backend="keras")
        for x, says in ((pixels, "uint8 pixels.*unit scale"),
                        (pixels.astype("float32"), "values up to 25.*raw pixels")):
            with pytest.raises(ValueError, match=rf"images: {says}.*images / 255"):
                served(x)
            with pytest.raises(ValueError, match=rf"verify_images: {says}"):
                job_module.prepare(
                    model, input_name="images", raw_uint8=False, verify_images=x,
                    labels=None, rtol=None, default_rtol=1e-4, preprocessing=None,
                    class_names=None, include_preprocessing=None)
        unit = (pixels / 255.0).astype("float32")
        np.testing.assert_allclose(served(unit), np.asarray(model(unit)), rtol=1e-5,
                                   atol=1e-5)


def test_pixels_over_255_without_the_mean_are_refused_for_a_preprocessing_that_takes_it(
        tmp_path):
    """The usual mistake: x / 255 for a net trained on x / 255 - mean lies within the
    preprocessing's range, and ran with wrong answers. Refused from 8 images on (a
    batch with nothing negative), a warning for fewer; the fast path too."""
    from keras_resnet.data.embedded import load_embedded

    model, preprocess = keras_resnet.load_pretrained("resnet20.fashion_mnist")
    _, (x, _) = load_embedded()
    scaled = (x[:8, ..., None] / 255.0).astype("float32")
    served = Predictor(model, backend="keras", preprocessing="resnet20.fashion_mnist")
    with pytest.raises(ValueError, match=r"none negative.*x / 255\) with the mean left out"):
        served(scaled)  # a C-ordered float32 batch: the fast path's kind
    with pytest.warns(UserWarning, match="mean left out.*from 8 images on"):
        served(scaled[:1])
    with pytest.raises(ValueError, match="verify_images: .*mean left out"):
        export.onnx(model, str(tmp_path / "m.onnx"), preprocessing="resnet20.fashion_mnist",
                    verify_images=scaled)
    assert not os.path.exists(tmp_path / "m.onnx")
    ready = preprocess(x[:8])
    np.testing.assert_allclose(served(ready), np.asarray(model(ready)), rtol=1e-5, atol=1e-5)


def test_a_model_that_gives_nan_on_the_verification_images_says_so(tmp_path):
    """Keras' own NaN on made-up images (a square root of negative values) was blamed on
    every runtime ("outputs differ from Keras ... nan"): the error names the model's
    outputs and says to give images it takes."""
    inp = keras.Input((16, 16, 3))
    model = keras.Model(inp, _tiny()(keras.layers.Lambda(keras.ops.sqrt)(inp)))
    for attempt in (lambda: export.onnx(model, str(tmp_path / "m.onnx")),
                    lambda: Predictor(model, backend="keras")):
        with pytest.raises(ValueError, match=r"Keras model's own outputs on the random images "
                                             r"are not finite.*give verify_images="):
            attempt()
    assert not os.path.exists(tmp_path / "m.onnx")
    positive = np.random.default_rng(0).uniform(0.1, 1, (4, 16, 16, 3)).astype("float32")
    assert export.onnx(model, str(tmp_path / "m.onnx"),
                       verify_images=positive)["verified_on"] == "verify_images"


def test_what_the_first_layer_says_about_the_input():
    """serving.first_layer, which both the Predictor and the exporters check images by:
    pixels for a first layer that brings 0-255 into a few units or takes off a mean of
    pixel scale (the zoo's in-model preprocessing in every mode, caffe's at scale 1);
    values of unit scale (bound 20) for one made for [0, 1] inputs; nothing said for a
    model that does not normalise first."""
    from keras_resnet.deploy.serving import first_layer

    def behind(*layers):
        return keras.Sequential([keras.Input((16, 16, 3)), *layers, _tiny()])

    for mode in ("caffe", "torch", "tf"):
        model = keras_resnet.build("resnet20", input_shape=(32, 32, 3), classes=3,
                                   include_preprocessing=mode)
        assert first_layer(model) == (True, True, float("inf")), mode
    assert first_layer(behind(keras.layers.Rescaling(1 / 255))) == (True, True, float("inf"))
    assert first_layer(behind(keras.layers.Normalization(mean=[120.0] * 3,
                                                         variance=[3600.0] * 3))).pixels
    for made_for_unit in (keras.layers.Rescaling(2.0, offset=-1.0), keras.layers.Rescaling(255.0),
                          keras.layers.Normalization(mean=[0.5] * 3, variance=[0.0625] * 3)):
        assert first_layer(behind(made_for_unit)) == (True, False, 20.0), made_for_unit
    assert first_layer(_tiny()) == (False, False, float("inf"))


def test_paths_and_ragged_lists_get_a_clear_error_from_the_runners(tmp_path):
    """open_artifact's runner and the Predictor given file paths, or a list of decoded
    images of different sizes, raised numpy's own words ("dtype <U31", "inhomogeneous
    shape"): each now says what to do."""
    model = _tiny()
    path = str(tmp_path / "m.onnx")
    export.onnx(model, path)
    ragged = [np.zeros((16, 16, 3), "float32"), np.zeros((20, 18, 3), "float32")]
    for run in (open_artifact(path), Predictor(model, backend="keras")):
        with pytest.raises(ValueError, match=r"images: got file paths.*read_image"):
            run(["a.jpg", "b.jpg"])
        with pytest.raises(ValueError, match=r"images: a list of images of different shapes "
                                             r"\(\(16, 16, 3\), \(20, 18, 3\)\).*resize_to"):
            run(ragged)
        out = run([ragged[0], ragged[0]])  # a list of same-size images still runs
        assert (next(iter(out.values())) if isinstance(out, dict) else out).shape == (2, 4)
