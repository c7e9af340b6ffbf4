"""Exports and the Predictor on the kinds of model users build: a Sequential nesting a
zoo model, backbones with one or several dict outputs, a head over a backbone level,
a mixed-precision network, a feature extractor. Each kind goes through every format
and every runtime; the reference is always the Keras model itself (training=False,
randomised BN statistics), compared by output name."""

import json
import os

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.deploy import export
from keras_resnet.deploy import open_artifact, read_metadata
from keras_resnet.deploy.serving import policy_rtol
from keras_resnet.numerics import max_abs_error, within_tolerance

from tests.helpers import images, randomise

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")
pytest.importorskip("tf2onnx")


# An ImageNet-family network with one basic unit per stage and narrow widths: the same
# structure as ResNet-18 (stem, four stages, projection shortcuts, C2-C5) in a third of
# the layers, so that 20 conversions stay quick.
SMALL = keras_resnet.imagenet_spec(18).replace(
    name="resnet10_narrow", blocks_per_stage=(1, 1, 1, 1), widths=(16, 32, 64, 128),
    stem_width=16)


def _sequential():
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        keras_resnet.build(SMALL, include_top=False, pooling="avg", input_shape=(32, 32, 3)),
        keras.layers.Dense(5, name="logits")])


def _head_over_c4():
    inp = keras.Input((32, 32, 3))
    c4 = keras_resnet.backbone(SMALL, input_shape=(32, 32, 3))(inp)["C4"]
    y = keras.layers.Dense(3, activation="softmax", name="head")(
        keras.layers.GlobalAveragePooling2D()(c4))
    return keras.Model(inp, y)


def _mixed_float16():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        return keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    finally:
        keras.config.set_dtype_policy("float32")


# kind: (builder, output names, structure the model returns)
KINDS = {
    "sequential nesting a ResNet": (_sequential, ["logits"], np.ndarray),
    "backbone C5 only": (lambda: keras_resnet.backbone(SMALL, input_shape=(64, 64, 3),
                                                       outputs=("C5",)), ["C5"], dict),
    "backbone C2-C5": (lambda: keras_resnet.backbone(SMALL, input_shape=(32, 32, 3)),
                       ["C2", "C3", "C4", "C5"], dict),
    "dense head over C4": (_head_over_c4, ["head"], np.ndarray),
    "mixed_float16 ResNet20": (_mixed_float16, ["predictions"], np.ndarray),
}


@pytest.fixture(scope="module")
def kinds():
    built = {}
    for i, (name, (make, _, _)) in enumerate(KINDS.items()):
        keras.utils.set_random_seed(i)
        model = make()
        for layer in model._flatten_layers(include_self=False, recursive=True):
            if isinstance(layer, keras.Model):
                randomise(layer, seed=i)
        randomise(model, seed=i)
        built[name] = model
    return built


def _keras(model, x):
    y = model(x, training=False)
    if isinstance(y, dict):
        return {k: keras.ops.convert_to_numpy(v).astype("float32") for k, v in y.items()}
    return keras.ops.convert_to_numpy(y).astype("float32")


def _as_dict(y, names):
    return y if isinstance(y, dict) else {names[0]: y}


EXPORTS = {"savedmodel": ("sm", export.saved_model), "onnx": ("m.onnx", export.onnx),
           "openvino": ("m.xml", export.openvino), "tflite": ("m.tflite", export.tflite)}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(EXPORTS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_exports_to_every_format_and_its_runtime_reproduces_keras(
        kinds, kind, fmt, tmp_path):
    model = kinds[kind]
    names = KINDS[kind][1]
    shape = tuple(model.inputs[0].shape[1:])
    x = images((3, *shape), seed=1)
    file_name, write = EXPORTS[fmt]
    path = str(tmp_path / file_name)
    report = write(model, path, verify_images=x, class_names=None)
    assert report["outputs"] == names and report["verified_images"] == 3
    rtol = 1e-4 if "mixed" not in kind else policy_rtol("mixed_float16")
    assert report["policy"] == ("mixed_float16" if "mixed" in kind else "float32")
    # the written file, reopened by its own runtime, at batch 1 and 2 (any batch)
    run = open_artifact(path)
    ref = _as_dict(_keras(model, x), names)
    for n in (1, 2):
        got = run(x[:n])
        assert sorted(got) == sorted(names)
        for k in names:
            assert got[k].dtype == np.float32 and got[k].shape == ref[k][:n].shape
            assert within_tolerance(got[k], ref[k][:n], rtol), (k, max_abs_error(got[k], ref[k][:n]))
    # the file describes itself, and the report says the same
    record = read_metadata(path)
    assert record == json.loads(json.dumps(report["metadata"]))
    assert record["outputs"] == names and record["input"]["shape"] == [None, *shape]
    assert json.load(open(path + ".report.json"))["outputs"] == names


# Each kind on one backend (every runtime already ran every kind above, through the
# exporters), rotating so that every backend serves a dict-output kind; "auto" on the
# multi-output backbone checks that all four verify it.
PREDICTOR_BACKEND = {"sequential nesting a ResNet": "openvino", "backbone C5 only": "litert",
                     "backbone C2-C5": "auto", "dense head over C4": "onnxruntime",
                     "mixed_float16 ResNet20": "keras"}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_predictor_serves_every_kind_at_any_batch(kinds, kind):
    model = kinds[kind]
    names, structure = KINDS[kind][1], KINDS[kind][2]
    backend = PREDICTOR_BACKEND[kind]
    p = keras_resnet.Predictor(model, backend=backend, timing_repeats=2)
    if backend == "auto":
        assert {k for k, v in p.report.items() if v["verified"]} == {
            "openvino", "onnxruntime", "litert", "keras"}, p.report
    else:
        assert p.backend == backend and p.report[backend]["verified"]
    assert all(v["precision"] == "float32" for v in p.report.values())
    shape = tuple(model.inputs[0].shape[1:])
    rtol = 1e-4 if "mixed" not in kind else policy_rtol("mixed_float16")
    for n in (1, 2, 5):
        x = images((n, *shape), seed=n)
        got, ref = p(x), _keras(model, x)
        assert isinstance(got, structure)
        got, ref = _as_dict(got, names), _as_dict(ref, names)
        assert sorted(got) == sorted(names)
        for k in names:
            assert within_tolerance(got[k], ref[k], rtol), (k, n)
    one = p(images(shape, seed=9))  # one image, no batch axis
    assert _as_dict(one, names)[names[0]].shape == _as_dict(ref, names)[names[0]].shape[1:]


def test_litert_verified_on_one_image_then_called_with_any_batch():
    model = keras_resnet.build(SMALL, include_top=False, input_shape=(32, 32, 3))
    randomise(model, seed=3)
    p = keras_resnet.Predictor(model, backend="litert", verify_images=images((1, 32, 32, 3)))
    for n in (2, 3):
        x = images((n, 32, 32, 3), seed=n)
        assert within_tolerance(p(x), _keras(model, x), 1e-4)


def _has_bf16():
    from keras_resnet.deploy.runtimes import openvino_cpu_capabilities

    return "BF16" in openvino_cpu_capabilities()


def test_auto_never_picks_a_reduced_precision_and_float32_is_what_runs():
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    randomise(model, seed=0)
    auto = keras_resnet.Predictor(model, timing_repeats=2)
    assert auto.precision == "float32"
    assert all(v["precision"] == "float32" for v in auto.report.values())
    # the OpenVINO runner read back f32 from the compiled model (it raises otherwise)
    assert auto._runners["openvino"].precision == "float32"
    with pytest.raises(ValueError, match="openvino"):
        keras_resnet.Predictor(model, backend="litert", precision="bfloat16")
    with pytest.raises(ValueError, match="precision must be"):
        keras_resnet.Predictor(model, precision="int4")


@pytest.mark.skipif(not _has_bf16(), reason="this CPU has no bfloat16 units "
                    "(the test below checks the error instead)")
def test_bfloat16_when_asked_is_verified_by_top1_agreement():
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    randomise(model, seed=0)
    p = keras_resnet.Predictor(model, backend="openvino", precision="bfloat16")
    entry = p.report["openvino:bfloat16"]
    assert entry["precision"] == "bfloat16" and entry["verified"]
    assert entry["top1_agreement"] >= 0.995 and p._run.precision == "bfloat16"


@pytest.mark.skipif(_has_bf16(), reason="this CPU has bfloat16 units (tested above)")
def test_bfloat16_on_a_cpu_without_bf16_units_is_a_clear_error_not_a_quiet_f32():
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="needs a CPU with bfloat16 units.*use precision='float32'"):
        keras_resnet.Predictor(model, precision="bfloat16")
    from keras_resnet.deploy.runtimes import OpenVINORunner

    with pytest.raises(ValueError, match="bfloat16 units"):
        OpenVINORunner("unused.xml", precision="bfloat16")


def test_removed_and_unknown_backends_name_the_ones_that_exist():
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    for name in ("native", "tf"):
        with pytest.raises(ValueError, match="no longer exists.*openvino.*onnxruntime.*litert"):
            keras_resnet.Predictor(model, backend=name)
    with pytest.raises(ValueError, match="backend must be 'auto' or one of"):
        keras_resnet.Predictor(model, backend="tensorrt")


def test_predictor_never_uses_a_backend_that_fails_verification(monkeypatch):
    from keras_resnet.deploy import predictor

    build = predictor._build

    def wrong_onnxruntime(name, *args):
        runner = build(name, *args)
        if name != "onnxruntime":
            return runner
        return lambda x: {k: v + 1.0 for k, v in runner(x).items()}

    monkeypatch.setattr(predictor, "_build", wrong_onnxruntime)
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    randomise(model, seed=0)
    p = keras_resnet.Predictor(model, timing_repeats=2)
    assert p.report["onnxruntime"]["verified"] is False
    assert "differ from Keras" in p.report["onnxruntime"]["error"]
    assert p.backend != "onnxruntime" and p.report["openvino"]["verified"]
    with pytest.raises(RuntimeError, match="no backend reproduced"):
        keras_resnet.Predictor(model, backend="onnxruntime")


def test_predictor_argument_and_input_errors():
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    with pytest.raises(TypeError, match="keras.Model"):
        keras_resnet.Predictor("resnet20")
    with pytest.raises(ValueError, match="fixed input size"):
        keras_resnet.Predictor(keras_resnet.build("resnet18", include_top=False,
                                                  input_shape=(None, None, 3)))
    p = keras_resnet.Predictor(model, backend="keras")
    with pytest.raises(ValueError, match=r"expected a batch of shape \(N, 28, 28, 1\)"):
        p(np.zeros((2, 32, 32, 3), "float32"))
    with pytest.raises(ValueError, match=r"channel axis: x\[\.\.\., None\]"):
        p(np.zeros((5, 28, 28), "float32"))  # grayscale batch without its channel axis


def test_subclassed_model_without_input_gets_a_clear_error(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(ValueError, match="no defined input.*keras.Input"):
        export.onnx(Net(), str(tmp_path / "n.onnx"))
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------------ no false "verified"
@pytest.fixture(scope="module")
def shipped():
    """The shipped Fashion-MNIST ResNet-20, its preprocessing and real test images."""
    from keras_resnet.data import load_embedded

    model, preprocess = keras_resnet.load_pretrained("resnet20.fashion_mnist")
    (x_train, _), (x_test, y_test) = load_embedded()
    return model, preprocess, x_train[:200], x_test[:200], y_test[:200]


def test_raw_images_for_a_net_trained_on_preprocessed_input_are_refused(shipped, tmp_path):
    model, preprocess, x_train, x_test, y = shipped
    raw = x_test[..., None].astype("float32")
    keras_accuracy = np.mean(_keras(model, raw).argmax(1) == y)
    assert keras_accuracy <= 0.15  # the premise: raw pixels put this net at chance
    for fmt in ("tflite", "savedmodel"):
        file_name, write = EXPORTS[fmt]
        path = tmp_path / file_name
        options = dict(quantization="int8", representative_data=preprocess(x_train[:50])) \
            if fmt == "tflite" else {}
        with pytest.raises(export.ExportVerificationError,
                           match="chance level.*not preprocessed as the model expects"):
            write(model, str(path), verify_images=raw, labels=y, **options)
        assert not os.listdir(tmp_path)
    # preprocessed as the model expects, the same export is verified
    report = export.tflite(model, str(tmp_path / "ok.tflite"), verify_images=preprocess(x_test),
                           labels=y)
    assert report["keras_accuracy"] >= 0.85 and report["within_tolerance"]


def test_three_dimensional_batches_get_a_shape_error_not_a_runtime_crash(shipped, tmp_path):
    model, preprocess, _, x_test, y = shipped
    x = preprocess(x_test)[..., 0]  # (N, 28, 28): the channel axis dropped
    for write, name in ((export.tflite, "m.tflite"), (export.onnx, "m.onnx")):
        with pytest.raises(ValueError, match=r"verify_images: expected a batch of shape "
                                             r"\(N, 28, 28, 1\), got \(200, 28, 28\).*channel"):
            write(model, str(tmp_path / name), verify_images=x, labels=y)
    with pytest.raises(ValueError, match="representative_data: expected a batch"):
        export.tflite(model, str(tmp_path / "q.tflite"), quantization="int8",
                      representative_data=x)
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------------ artifacts describe themselves
def test_include_preprocessing_makes_every_format_take_raw_uint8(shipped, tmp_path):
    model, preprocess, _, x_test, y = shipped
    raw = x_test[:64, ..., None]
    settings = keras_resnet.get_weights("resnet20.fashion_mnist").preprocessing
    names = keras_resnet.data.FASHION_MNIST_CLASSES
    ref = _keras(model, preprocess(x_test[:64]))
    for fmt, (file_name, write) in EXPORTS.items():
        path = str(tmp_path / file_name)
        report = write(model, path, include_preprocessing="resnet20.fashion_mnist",
                       verify_images=raw, labels=y[:64], class_names=names)
        assert report["input_dtype"] == "uint8", fmt
        record = read_metadata(path)
        assert record["class_names"] == list(names) and record["preprocessing"]["in_model"]
        assert record["preprocessing"]["mode"] == "pixel_mean"
        np.testing.assert_allclose(np.asarray(record["preprocessing"]["mean"]),
                                   settings.mean, rtol=1e-6)
        got = open_artifact(path)(raw.astype("uint8"))["predictions"]
        assert within_tolerance(got, ref, 1e-4), fmt


def test_failing_checks_leave_no_file_behind(tmp_path, monkeypatch):
    from keras_resnet.deploy import verify

    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    randomise(model, seed=0)
    x = images((4, 28, 28, 1))
    # a reference the files cannot match (a tiny rtol alone is not enough: a runtime
    # may reproduce Keras bit for bit)
    reference = verify.reference_outputs
    monkeypatch.setattr(verify, "reference_outputs", lambda *a, **k: {
        name: value + 0.5 for name, value in reference(*a, **k).items()})
    for fmt in ("onnx", "openvino", "savedmodel"):
        file_name, write = EXPORTS[fmt]
        with pytest.raises(export.ExportVerificationError, match="differ from Keras"):
            write(model, str(tmp_path / file_name), verify_images=x)
    assert not os.listdir(tmp_path)
    with pytest.raises(ValueError, match="ends in .xml"):
        export.openvino(model, str(tmp_path / "m.bin"))


def test_tflite_refuses_a_model_its_converter_cannot_take_in_one_sentence(tmp_path):
    """Mixed precision converts (as a float32 file, above); an operation without a
    TFLite builtin kernel does not: one sentence naming it, no MLIR dump, no file."""
    inp = keras.Input((8, 8, 3))
    y = keras.layers.Lambda(lambda t: keras.ops.erfinv(keras.ops.tanh(t)), name="erfinv")(inp)
    model = keras.Model(inp, y, name="uses_erfinv")
    with pytest.raises(ValueError) as err:
        export.tflite(model, str(tmp_path / "e.tflite"), verify_images=images((2, 8, 8, 3)))
    message = str(err.value)
    assert "cannot take model 'uses_erfinv'" in message and "Erfinv" in message
    assert "ONNX or OpenVINO" in message and len(message) < 300 and "\n" not in message
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------------ what users get wrong
def test_destinations_that_would_lose_data_or_leave_orphans_are_refused(tmp_path, monkeypatch):
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists and is not a SavedModel"):
        export.saved_model(model, str(precious))
    monkeypatch.chdir(precious)
    for here in (".", str(tmp_path)):
        with pytest.raises(ValueError, match="working directory or one above it"):
            export.saved_model(model, here)
    assert (precious / "notes.txt").read_text() == "mine"
    (tmp_path / "d.xml").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        export.openvino(model, str(tmp_path / "d.xml"))
    with pytest.raises(ValueError, match=r"must end in \.onnx"):
        export.onnx(model, str(tmp_path / "noext"))
    with pytest.raises(ValueError, match=r"must end in \.tflite"):
        export.tflite(model, str(tmp_path / "m.lite"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.xml", "precious"]
    # an upper-case suffix is written, as open_artifact reads it
    export.onnx(model, str(tmp_path / "M.ONNX"))
    from keras_resnet.deploy import open_artifact
    assert open_artifact(str(tmp_path / "M.ONNX")).runtime == "onnxruntime"
    (tmp_path / "M.ONNX").unlink()
    # an existing SavedModel is replaced, and the folder is readable by others
    export.saved_model(model, str(tmp_path / "sm"))
    export.saved_model(model, str(tmp_path / "sm"))
    assert os.stat(tmp_path / "sm").st_mode & 0o055 == 0o055 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_quantized_feature_maps_are_checked_not_waved_through(tmp_path):
    """A backbone has no top-1 to agree on: its reduced-precision feature maps are held
    to a relative-error bound, so int8 calibrated on the wrong scale is refused."""
    bb = keras_resnet.backbone(SMALL, input_shape=(64, 64, 3))
    randomise(bb, seed=0)
    x = images((8, 64, 64, 3))
    with pytest.raises(export.ExportVerificationError, match="feature maps differ.*rtol=0.1"):
        export.tflite(bb, str(tmp_path / "bad.tflite"), quantization="int8",
                      representative_data=x * 1000, verify_images=x)
    assert not os.listdir(tmp_path)
    report = export.tflite(bb, str(tmp_path / "ok.tflite"), quantization="int8",
                           representative_data=x, verify_images=x)
    assert report["within_tolerance"] and report["rtol"] == export.QUANTIZED_RTOL["int8"]


def test_inputs_that_would_verify_nothing_are_refused(tmp_path):
    model = keras_resnet.build("resnet20", input_shape=(32, 32, 3), include_preprocessing="torch")
    floats = images((3, 32, 32, 3))  # normalised floats where raw uint8 images belong
    with pytest.raises(ValueError, match="raw uint8 images.*not integers in 0..255"):
        export.onnx(model, str(tmp_path / "u.onnx"), raw_uint8=True, verify_images=floats)
    plain = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    x = images((4, 28, 28, 1))
    with pytest.raises(ValueError, match="verify_images: the batch is empty"):
        export.onnx(plain, str(tmp_path / "e.onnx"), verify_images=x[:0])
    with pytest.raises(ValueError, match="representative_data: the batch is empty"):
        export.tflite(plain, str(tmp_path / "q.tflite"), quantization="int8",
                      representative_data=x[:0])
    with pytest.raises(ValueError, match="real numbers"):
        export.tflite(plain, str(tmp_path / "c.tflite"), verify_images=x.astype("complex64"))
    with pytest.raises(ValueError, match=r"labels: expected class indices in 0\.\.9"):
        export.tflite(plain, str(tmp_path / "l.tflite"), verify_images=x, labels=[99] * 4)
    assert not os.listdir(tmp_path)


def test_chance_level_on_fewer_than_100_labels_warns(shipped, tmp_path):
    model, _, _, x_test, y = shipped
    with pytest.warns(UserWarning, match="at chance level"):
        export.tflite(model, str(tmp_path / "w.tflite"),
                      verify_images=x_test[:50, ..., None].astype("float32"), labels=y[:50])


def test_models_the_exporters_cannot_take_are_named(tmp_path):
    # (augmentation layers are served as the identity: tests/workflows/test_folder_journey.py)
    spaced = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                               keras.layers.Dense(3, name="dense one")])
    with pytest.raises(ValueError, match=r"\['dense one'\].*not valid TensorFlow name scopes"):
        keras_resnet.Predictor(spaced)
    gray = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="for 3-channel images.*takes 1 channel"):
        export.onnx(gray, str(tmp_path / "g.onnx"), include_preprocessing="torch")
    norm = keras.layers.Normalization()
    norm.adapt(images((16, 8, 8, 3)))
    adapted = keras.Sequential([keras.Input((8, 8, 3)), norm, keras.layers.Conv2D(2, 3),
                                keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(ValueError, match="ONNX file has 3 inputs.*OpenVINO"):
        export.onnx(adapted, str(tmp_path / "n.onnx"), verify_images=images((2, 8, 8, 3)))
    assert not os.listdir(tmp_path)
    report = export.openvino(adapted, str(tmp_path / "n.xml"), verify_images=images((2, 8, 8, 3)))
    assert report["within_tolerance"]


def test_read_metadata_and_open_artifact_on_files_they_did_not_write(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"not an onnx file at all")
    with pytest.raises(ValueError, match="is not a readable ONNX file"):
        read_metadata(tmp_path / "bad.onnx")
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(ValueError, match="is empty"):
        open_artifact(tmp_path / "empty.tflite")
    # a SavedModel written by Keras' own model.export: no metadata, still runnable
    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    model.export(str(tmp_path / "plain_sm"), verbose=False)
    assert read_metadata(tmp_path / "plain_sm") is None
    x = images((2, 28, 28, 1))
    (out,) = open_artifact(tmp_path / "plain_sm")(x).values()
    assert within_tolerance(out, _keras(model, x), 1e-5)
