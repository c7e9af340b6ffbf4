"""SavedModel and TFLite exports, verified against Keras by running the artefacts."""

import json
import os

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.deploy import export
from keras_resnet.data import load_embedded
from tests.helpers import randomise


@pytest.fixture(scope="module")
def small_classifier():
    """A ResNet-20 on 28x28x1 with random BN statistics, and real test images."""
    keras.utils.set_random_seed(0)
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1), classes=10)
    randomise(model, seed=0)
    (_, _), (x, y) = load_embedded()
    x = x[:200, ..., None].astype("float32") / 255.0 - 0.3
    return model, x, y[:200]


def test_saved_model_round_trip_any_batch(small_classifier, tmp_path):
    import tensorflow as tf

    model, x, _ = small_classifier
    report = export.saved_model(model, tmp_path / "sm", verify_images=x[:64])
    assert report["within_tolerance"] and report["verified_images"] == 64
    assert json.loads((tmp_path / "sm.report.json").read_text())["within_tolerance"]
    serve = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["images"]
    for n in (1, 7):  # dynamic batch
        out = serve(images=tf.constant(x[:n]))["predictions"].numpy()
        np.testing.assert_allclose(out, keras.ops.convert_to_numpy(model(x[:n])), atol=1e-5)


def test_saved_model_with_raw_uint8_input(tmp_path):
    import tensorflow as tf

    model = keras_resnet.build("resnet20", input_shape=(32, 32, 3), include_preprocessing="torch")
    raw = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    report = export.saved_model(model, tmp_path / "sm", raw_uint8=True, verify_images=raw)
    assert report["input_dtype"] == "uint8" and report["within_tolerance"]
    serve = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    assert serve.structured_input_signature[1]["images"].dtype == tf.uint8
    with pytest.raises(ValueError, match="include_preprocessing"):
        export.saved_model(keras_resnet.build("resnet20"), tmp_path / "x", raw_uint8=True)


@pytest.mark.parametrize("quantization", [None, "float16", "dynamic"])
def test_tflite_float_and_dynamic_verified_with_litert(small_classifier, tmp_path, quantization):
    model, x, y = small_classifier
    if quantization:
        # top-1 agreement needs a network whose answers differ between images: the
        # random one gives these images one class, and that check is refused
        # (verify.ONE_CLASS_MIN_IMAGES); the shipped, trained one does not
        with pytest.raises(export.ExportVerificationError, match="the same class"):
            export.tflite(model, tmp_path / "random.tflite", quantization=quantization,
                          verify_images=x)
        model, preprocess = keras_resnet.load_pretrained("resnet20.fashion_mnist")
        x = preprocess(load_embedded()[1][0][:200])
    path = tmp_path / f"m-{quantization}.tflite"
    report = export.tflite(model, path, quantization=quantization, verify_images=x)
    assert path.exists() and report["verified_images"] == 200
    assert report["size_bytes"] == os.path.getsize(path)
    if quantization is None:
        assert report["within_tolerance"] and report["rtol"] == 1e-4
    else:
        assert report["top1_agreement"] >= export.MIN_AGREEMENT[quantization]
        assert report["size_bytes"] < 0.6 * report["keras_float32_bytes"]
    assert report["latency_ms_batch1"]["tflite"] > 0


def test_a_tflite_file_that_does_not_match_is_refused(small_classifier, tmp_path):
    """Negative control: the same file checked against another model's outputs fails."""
    model, x, _ = small_classifier
    other = keras.models.clone_model(model)  # same architecture, new random weights
    randomise(other, seed=9)
    from keras_resnet.deploy.export import reference_outputs
    from keras_resnet.deploy.serving import serving_model

    export.tflite(model, tmp_path / "a.tflite")
    content = (tmp_path / "a.tflite").read_bytes()
    ref = reference_outputs(other, serving_model(other)[1], x[:20])
    with pytest.raises(export.ExportVerificationError, match="beyond rtol"):
        export.verify_tflite(other, content, x[:20], ref, None, None)


def test_int8_needs_representative_data_and_fixed_size(small_classifier, tmp_path):
    model, _, _ = small_classifier
    with pytest.raises(ValueError, match="representative_data"):
        export.tflite(model, tmp_path / "q.tflite", quantization="int8")
    with pytest.raises(ValueError, match="fixed input size"):
        export.tflite(keras_resnet.build("resnet20", input_shape=(None, None, 3)),
                      tmp_path / "q.tflite")
    assert not (tmp_path / "q.tflite").exists()


def test_backbone_exports_savedmodel_dynamic_and_tflite_fixed(tmp_path):
    import tensorflow as tf

    b = keras_resnet.backbone("resnet18")
    x = np.random.default_rng(0).normal(size=(2, 96, 128, 3)).astype("float32")
    report = export.saved_model(b, tmp_path / "bb", verify_images=x)
    assert report["within_tolerance"]
    serve = tf.saved_model.load(str(tmp_path / "bb")).signatures["serving_default"]
    out = serve(images=tf.constant(x[:, :64, :96]))  # another size
    assert sorted(out) == ["C2", "C3", "C4", "C5"] and tuple(out["C5"].shape) == (2, 2, 3, 512)
    fixed = keras_resnet.backbone("resnet18", input_shape=(64, 64, 3))
    report = export.tflite(fixed, tmp_path / "bb.tflite", verify_images=x[:, :64, :64])
    assert report["within_tolerance"] and sorted(report["max_abs_error"]) == ["C2", "C3", "C4", "C5"]


DEBIAN = "/usr/share/datasets/fashion-mnist"


@pytest.mark.slow
def test_int8_tflite_agrees_on_1000_real_test_images(tmp_path):
    """The shipped ResNet-20 (trained here on the full Fashion-MNIST training set) as int8
    TFLite, verified on 1,000 real test images; no training needed for the reference."""
    if not os.path.isdir(DEBIAN):
        pytest.skip("Debian dataset-fashion-mnist not installed")
    import warnings

    from keras_resnet.data import load_idx_dir
    from keras_resnet.zoo import load_trained

    trained = load_trained("resnet20.fashion_mnist")
    model, mean = trained.model, trained.pixel_mean
    (x_train, _), (x_test, y_test) = load_idx_dir(DEBIAN)
    x = x_test[:1000, ..., None] / np.float32(255) - mean
    rep = x_train[:300, ..., None] / np.float32(255) - mean
    keras_acc = float(np.mean(np.argmax(keras.ops.convert_to_numpy(model(x)), 1) == y_test[:1000]))
    assert keras_acc >= 0.90, f"the shipped model reaches only {keras_acc:.2%}"
    for int8_io in (False, True):
        path = tmp_path / f"int8-{int8_io}.tflite"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = export.tflite(model, path, quantization="int8", representative_data=rep,
                                   int8_io=int8_io, verify_images=x, labels=y_test[:1000])
        # TensorFlow's calibration warns about its own deprecated interpreter: not ours
        assert not [w for w in caught if "tf.lite.Interpreter is deprecated" in str(w.message)]
        assert report["verified_images"] == 1000
        assert report["top1_agreement"] >= 0.98, report
        assert report["tflite_accuracy"] >= 0.89
        assert report["size_bytes"] < 0.4 * report["keras_float32_bytes"]
        saved = json.loads(open(f"{path}.report.json").read())
        assert saved["top1_agreement"] == report["top1_agreement"]
    # The CLI does the same from the registry tag, verifying by default.
    from keras_resnet.cli import main

    assert main(["export", "--weights", "resnet20.fashion_mnist", "--dataset", DEBIAN,
                 "--quantize", "int8", "--out", str(tmp_path / "cli.tflite"),
                 "--verify-images", "1000"]) == 0
    assert json.loads((tmp_path / "cli.tflite.report.json").read_text())["top1_agreement"] >= 0.98
