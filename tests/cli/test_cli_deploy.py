"""`keras-resnet export` and `keras-resnet predict`: run directories and registry tags,
files that take raw images, class names from the run, and the backends that exist."""

import json

import keras
import numpy as np
import pytest

from keras_resnet.cli import main
from keras_resnet.data import FASHION_MNIST_CLASSES, load_embedded
from keras_resnet.deploy import open_artifact, read_metadata
from keras_resnet.numerics import within_tolerance

from tests.helpers import randomise

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

pytestmark = pytest.mark.runtimes  # optional dependencies: -m 'not ...' leaves them out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A short ResNet-8 run on the embedded Fashion-MNIST sample (well above chance)."""
    from keras_resnet.training import train

    out = tmp_path_factory.mktemp("run")
    train("resnet8", "embedded", epochs=2, batch_size=64, out=str(out), max_train_examples=2000,
          max_test_examples=128, verbose=0, plot=False)
    return out


def _pngs(tmp_path, x):
    files = []
    for i, img in enumerate(x):
        path = str(tmp_path / f"img{i}.png")
        keras.utils.save_img(path, img.reshape(28, 28, 1), scale=False)
        files.append(path)
    return files


def test_train_stores_class_names_and_predict_prints_them(run_dir, tmp_path, capsys):
    assert json.load(open(run_dir / "class_names.json")) == list(FASHION_MNIST_CLASSES)
    (x, _), _ = load_embedded()
    out = str(tmp_path / "pred.json")
    assert main(["predict", *_pngs(tmp_path, x[:2]), "--weights", str(run_dir),
                 "--backend", "openvino", "--json", out]) == 0
    printed = capsys.readouterr().out
    result = json.load(open(out))
    assert result["backend"] == "openvino"
    for r in result["predictions"]:
        top = r["top"][0]
        assert top["name"] == FASHION_MNIST_CLASSES[top["class"]]
        assert f"{top['name']} " in printed


def test_cli_predict_probabilities_match_the_model(tmp_path):
    import keras_resnet

    model = keras_resnet.build("resnet20", input_shape=(28, 28, 1))
    randomise(model, seed=0)
    model_path = str(tmp_path / "m.keras")
    model.save(model_path)
    (x_train, _), _ = load_embedded()
    mean = (x_train[:500].astype("float32") / 255.0).mean(0).reshape(28, 28, 1)
    np.save(tmp_path / "mean.npy", mean)
    out = str(tmp_path / "pred.json")
    assert main(["predict", *_pngs(tmp_path, x_train[:3]), "--weights", model_path,
                 "--pixel-mean", str(tmp_path / "mean.npy"), "--backend", "onnxruntime",
                 "--top", "10", "--json", out]) == 0
    result = json.load(open(out))
    assert result["backend"] == "onnxruntime"
    x = x_train[:3].reshape(3, 28, 28, 1).astype("float32") / 255.0 - mean
    ref = np.asarray(model(x, training=False))
    for r, row in zip(result["predictions"], ref):
        probs = np.zeros(10)
        for t in r["top"]:
            probs[t["class"]] = t["probability"]
        assert within_tolerance(probs, row, 1e-4)
    assert main(["predict", str(tmp_path / "missing.png"), "--weights", model_path,
                 "--pixel-mean", str(tmp_path / "mean.npy")]) == 2


@pytest.mark.parametrize("backend", ["native", "tf", "tensorrt"])
def test_predict_with_a_backend_that_does_not_exist_names_those_that_do(tmp_path, capsys,
                                                                        backend):
    (x, _), _ = load_embedded()
    assert main(["predict", *_pngs(tmp_path, x[:1]), "--weights", "resnet20.fashion_mnist",
                 "--backend", backend]) == 2
    err = capsys.readouterr().err
    assert "keras-resnet predict: error:" in err and "openvino" in err and "litert" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("source", ["run directory", "registry tag"])
def test_export_include_preprocessing_takes_raw_images_and_records_names(
        run_dir, tmp_path, source):
    weights = str(run_dir) if source == "run directory" else "resnet20.fashion_mnist"
    path = str(tmp_path / "m.xml")
    assert main(["export", "--weights", weights, "--format", "openvino",
                 "--include-preprocessing", "--verify-images", "200", "--out", path]) == 0
    record = read_metadata(path)
    assert record["input"]["dtype"] == "uint8" and record["preprocessing"]["in_model"]
    assert record["class_names"] == list(FASHION_MNIST_CLASSES)
    report = json.load(open(path + ".report.json"))
    assert report["within_tolerance"] and report["verified_images"] == 200
    # the file on raw uint8 images == the model on preprocessed ones
    _, (x, _) = load_embedded()
    raw = x[:16, ..., None]
    mean = np.asarray(record["preprocessing"]["mean"], "float32")
    got = open_artifact(path)(raw)
    from keras_resnet.zoo import load_trained

    trained = load_trained(weights)
    model, run_mean = trained.model, trained.pixel_mean
    np.testing.assert_allclose(mean, run_mean, rtol=1e-6)
    ref = np.asarray(model(raw / np.float32(255) - run_mean, training=False))
    assert within_tolerance(got[report["outputs"][0]], ref, 1e-4)


def test_export_argument_errors_are_one_line(tmp_path, capsys):
    assert main(["export", "--weights", "resnet20.fashion_mnist", "--format", "openvino",
                 "--out", str(tmp_path / "m.onnx")]) == 2
    assert "must end in .xml" in capsys.readouterr().err
    assert main(["export", "--weights", "resnet20.fashion_mnist", "--format", "onnx",
                 "--quantize", "int8", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "--format tflite and openvino only" in capsys.readouterr().err
    assert main(["export", "--weights", "resnet20.fashion_mnist", "--format", "openvino",
                 "--quantize", "float16", "--out", str(tmp_path / "m.xml")]) == 2
    assert "--format openvino takes --quantize int8 (NNCF) or none" in capsys.readouterr().err
    assert main(["export", "--weights", "resnet20.fashion_mnist", "--format", "openvino",
                 "--int8-io", "--quantize", "int8", "--out", str(tmp_path / "m.xml")]) == 2
    assert "--int8-io applies to --format tflite only" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_export_openvino_int8_from_the_cli(tmp_path):
    pytest.importorskip("nncf")
    path = str(tmp_path / "m.xml")
    assert main(["export", "--weights", "resnet20.fashion_mnist", "--format", "openvino",
                 "--quantize", "int8", "--verify-images", "500", "--out", path]) == 0
    report = json.load(open(path + ".report.json"))
    assert report["quantization"] == "int8" and report["representative_images"] == 300
    assert report["verified_images"] == 500 and report["top1_agreement"] >= 0.98
    assert abs(report["artifact_accuracy"] - report["keras_accuracy"]) <= 0.02
    assert read_metadata(path)["quantization"] == "int8"


def test_predict_and_export_bad_arguments_get_one_line(tmp_path, capsys):
    bogus = tmp_path / "notes.png"
    bogus.write_text("not an image")
    assert main(["predict", str(bogus), "--weights", "resnet20.fashion_mnist"]) == 2
    err = capsys.readouterr().err
    assert "is not an image file" in err and "Traceback" not in err
    (x, _), _ = load_embedded()
    assert main(["predict", *_pngs(tmp_path, x[:1]), "--weights", "resnet20.fashion_mnist",
                 "--top", "0"]) == 2
    assert "--top must be at least 1" in capsys.readouterr().err
    assert main(["predict", *_pngs(tmp_path, x[:1]), "--weights", "resnet20.fashion_mnist",
                 "--precision", "int8"]) == 2
    err = capsys.readouterr().err
    assert "--calibration FOLDER" in err and "Traceback" not in err
    assert main(["predict", *_pngs(tmp_path, x[:1]), "--weights", "resnet20.fashion_mnist",
                 "--precision", "auto", "--calibration", str(tmp_path / "nope")]) == 2
    assert "calibration folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # named as the flag, not as the Python argument
        main(["predict", *_pngs(tmp_path, x[:1]), "--weights", "resnet20.fashion_mnist",
              "--min-agreement", "1.5"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--min-agreement" in err and "min_agreement" not in err
    assert "a fraction in (0, 1] such as 0.995" in err
    with pytest.raises(SystemExit) as e:
        main(["export", "--weights", "resnet20.fashion_mnist", "--verify-images", "0",
              "--out", str(tmp_path / "m.tflite")])
    assert e.value.code == 2 and "expected a whole number >= 1" in capsys.readouterr().err
    assert main(["export", "--weights", "resnet50.imagenet", "--format", "onnx", "--out",
                 str(tmp_path / "r.onnx"), "--no-verify"]) == 2
    err = capsys.readouterr().err
    assert "evaluate and export take" in err and "preprocessing='resnet50.imagenet'" in err


def test_predict_on_a_few_images_runs_keras_without_converting(tmp_path, capsys,
                                                               monkeypatch):
    """Two images: converting to every runtime (seconds each) would cost more than it
    saves; auto float32 runs Keras directly and says so."""
    from keras_resnet.deploy import predictor

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted a model for two images")

    monkeypatch.setattr(predictor, "export_with_keras", no_conversion)
    monkeypatch.setattr(predictor, "tflite_flatbuffer", no_conversion)
    (x, _), _ = load_embedded()
    out = str(tmp_path / "pred.json")
    assert main(["predict", *_pngs(tmp_path, x[:2]), "--weights", "resnet20.fashion_mnist",
                 "--json", out]) == 0
    result = json.load(open(out))
    assert result["backend"] == "keras" and list(result["backends"]) == ["keras"]
    assert "run by Keras directly" in result["backends"]["keras"]["note"]
    printed = capsys.readouterr().out
    assert "run by Keras directly" in printed
    assert "on the 2 image(s) to classify" in printed


def test_predict_auto_without_calibration_says_why_in_the_commands_words(tmp_path, capsys):
    """The skipped candidates' reasons name the command's flags, not the Predictor's
    arguments (a user of the command never wrote calibration_images=)."""
    (x, _), _ = load_embedded()
    out = str(tmp_path / "pred.json")
    assert main(["predict", *_pngs(tmp_path, x[:2]), "--weights", "resnet20.fashion_mnist",
                 "--precision", "auto", "--json", out]) == 0
    printed = capsys.readouterr().out
    skipped = [line for line in printed.splitlines() if ":int8" in line]
    assert skipped and all("skipped (no --calibration FOLDER" in line for line in skipped)
    assert "calibration_images" not in printed
    # the JSON is the Predictor's report, in its own argument names
    result = json.load(open(out))
    assert "calibration_images" in result["backends"]["litert:int8"]["skipped"]


@pytest.mark.slow
def test_predict_precision_auto_with_calibration_folder(tmp_path, capsys):
    """`--precision auto --calibration FOLDER`: every candidate is reported with its
    agreement, and the chosen one's probabilities keep the float32 top-1 on these
    images."""
    pytest.importorskip("nncf")
    import keras_resnet

    (x_train, _), (x_test, _) = load_embedded()
    cal = tmp_path / "cal"
    cal.mkdir()
    _pngs(cal, x_train[:100])
    images = tmp_path / "images"
    images.mkdir()
    files = _pngs(images, x_test[:40])
    out = str(tmp_path / "pred.json")
    assert main(["predict", *files, "--weights", "resnet20.fashion_mnist", "--precision",
                 "auto", "--calibration", str(cal), "--min-agreement", "0.99",
                 "--json", out]) == 0
    result = json.load(open(out))
    report = result["backends"]
    assert {"openvino:int8", "litert:int8", "onnxruntime"} <= set(report)
    assert all("top1_agreement" in report[k] for k in ("openvino:int8", "litert:int8"))
    assert report[next(k for k, v in report.items()
                       if v["backend"] == result["backend"]
                       and v["precision"] == result["precision"])]["verified"]
    assert result["verification"] == {"images": 100, "source": "calibration_images",
                                      "min_agreement": 0.99, "outputs": "classifier",
                                      "images_to_resolve": 100}
    printed = capsys.readouterr().out
    assert "litert:int8" in printed and f"at {result['precision']}" in printed
    assert "on 100 calibration image(s)" in printed and " of 100" in printed
    assert "cannot check" not in printed  # 100 images resolve a 99% budget
    model, preprocess = keras_resnet.load_pretrained("resnet20.fashion_mnist")
    ref = np.asarray(model(preprocess(x_test[:40]), training=False)).argmax(1)
    got = np.array([r["top"][0]["class"] for r in result["predictions"]])
    assert np.mean(got == ref) >= 0.95


def test_predict_int8_checked_on_three_images_says_they_cannot_check_the_budget(
        tmp_path, capsys):
    """Three calibration images are all the int8 check has: the command serves int8 if
    they agree, and says that three images cannot check a 99.5% budget."""
    pytest.importorskip("nncf")
    (x_train, _), (x_test, _) = load_embedded()
    cal = tmp_path / "cal"
    cal.mkdir()
    _pngs(cal, x_train[:3])
    out = str(tmp_path / "pred.json")
    assert main(["predict", *_pngs(tmp_path, x_test[:2]), "--weights",
                 "resnet20.fashion_mnist", "--backend", "litert", "--precision", "int8",
                 "--calibration", str(cal), "--json", out]) == 0
    result = json.load(open(out))
    assert result["verification"]["images"] == 3
    assert result["backends"]["litert:int8"]["verified_images"] == 3
    printed = capsys.readouterr().out
    assert "on 3 calibration image(s)" in printed
    assert result["precision"] == "int8"  # (only int8 was asked for: it passed on 3)
    assert "note: 3 image(s) cannot check a 99.5% top-1 agreement budget" in printed
    assert "--calibration FOLDER" in printed
    assert "note: int8 was checked on the calibration images it was calibrated on" in printed
    # int8 probabilities come in steps of 1/256: listed places after the first that
    # equal another class's probability are ties, and the command says so
    ties = sum(any(sum(t["probability"] == u["probability"] for u in p["top"]) > 1
                   for t in p["top"][1:]) or p["top"][-1]["probability"] == 0.0
               for p in result["predictions"])
    assert ties and "image(s) places after the first tie with other classes" in printed


def test_predict_with_grey_weights_says_colour_images_are_read_in_grey(tmp_path, capsys):
    """The shipped Fashion-MNIST weights take 1-channel images: a colour photo is read
    in grey (as the network was trained), and predict says so once, naming how many;
    grey images (even stored as RGB) get no note."""
    (x, _), _ = load_embedded()
    grey = _pngs(tmp_path, x[:2])
    rgb_grey = str(tmp_path / "rgb_grey.png")
    keras.utils.save_img(rgb_grey, np.repeat(x[2].reshape(28, 28, 1), 3, -1), scale=False)
    colour = str(tmp_path / "colour.png")
    rng = np.random.default_rng(0)
    keras.utils.save_img(colour, rng.integers(0, 256, (40, 30, 3)), scale=False)
    out = str(tmp_path / "pred.json")
    assert main(["predict", *grey, rgb_grey, "--weights", "resnet20.fashion_mnist",
                 "--json", out]) == 0
    assert json.load(open(out))["notes"] == []
    assert "greyscale" not in capsys.readouterr().out
    assert main(["predict", *grey, colour, "--weights", "resnet20.fashion_mnist",
                 "--json", out]) == 0
    notes = json.load(open(out))["notes"]
    assert len(notes) == 1 and notes[0].startswith("1 of the image(s) are in colour")
    printed = capsys.readouterr().out
    assert printed.count("converted to greyscale") == 1 and "note: 1 of the" in printed
