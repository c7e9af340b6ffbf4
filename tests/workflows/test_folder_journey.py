"""A folder of photos end to end: train any family on it, the run's record of its
inputs, predict / evaluate / export on any run (ImageNet family included), augmentation
layers served as the identity, the chance-level warning, bad data stopping before
anything is written, and the CLI a person expects."""

import json
import os
import re

import numpy as np
import pytest

import keras_resnet
from keras_resnet import rundir
from keras_resnet.cli import main

from tests.helpers import class_image, write_image, write_image_folder

TINY = dict(epochs=2, batch_size=8, holdout=0, verbose=0, plot=False)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    expected = write_image_folder(root, per_class=10, size=(32, 32))
    return root, expected


@pytest.fixture(scope="module")
def cifar_run(photos, tmp_path_factory):
    from keras_resnet.training import train

    out = tmp_path_factory.mktemp("runs") / "r8"
    result = train("resnet8", str(photos[0]), out=str(out), recipe="fashion-mnist", **TINY)
    return out, result


def test_a_folder_trains_a_cifar_net_at_its_own_size_and_the_run_records_it(photos, cifar_run):
    out, result = cifar_run
    record = json.loads((out / rundir.INFERENCE).read_text())
    assert record["input_shape"] == [32, 32, 3] and record["family"] == "cifar"
    assert record["class_names"] == ["a", "b"] and record["model"] == "resnet8"
    assert record["dataset"] == str(photos[0])
    run = rundir.read_run(out)
    assert run.inputs.input_shape == (32, 32, 3) and run.pixel_mean.shape == (32, 32, 3)
    assert result["input_shape"] == [32, 32, 3] and result["train_examples"] == 20
    # the pixel mean is the training images' mean, computed here from the files
    mean = np.mean([photos[1][p] for p in photos[1] if "/train/" in p], axis=0) / 255
    np.testing.assert_allclose(run.pixel_mean, mean, atol=0.02)  # (JPEG files: PIL's reading)


def _probabilities(model, x):
    return np.asarray(model(x.astype("float32"), training=False))


def test_predict_on_a_run_gives_the_models_own_probabilities(photos, cifar_run, tmp_path):
    from keras_resnet.deploy.predictor import classify_files

    out, _ = cifar_run
    files, want = [], []
    for kind in ("png16_grey", "png8_rgba", "png16_rgb"):
        path = tmp_path / f"{kind}.png"
        want.append(write_image(path, class_image(1, (32, 32), seed=7), kind))
        files.append(str(path))
    r = classify_files(files, str(out), backend="keras", top=2)
    trained = keras_resnet.load_trained(str(out))
    ref = _probabilities(trained.model, np.stack(want) / np.float32(255) - trained.pixel_mean)
    for p, row in zip(r["predictions"], ref):
        assert p["top"][0]["name"] == ["a", "b"][int(np.argmax(row))]
        assert p["top"][0]["probability"] == pytest.approx(float(row.max()), rel=1e-4)


def test_evaluate_resizes_images_of_another_size_with_a_note(cifar_run, tmp_path, capsys):
    out, _ = cifar_run
    other = tmp_path / "big"
    write_image_folder(other, per_class=3, size=(71, 71), kinds=("png8_grey",))
    assert main(["evaluate", "--weights", str(out), "--dataset", str(other)]) == 0
    text = capsys.readouterr().out
    assert "71x71" in text and "resized to the network's 32x32" in text
    assert re.search(r"6 images, view center: top-1 error", text)
    assert "top-5" not in text  # 2 classes: no top-5 to speak of
    # the run's own dataset is the default
    assert main(["evaluate", "--weights", str(out)]) == 0
    assert "20 images" in capsys.readouterr().out


def test_an_imagenet_family_run_directory_serves_predict_and_evaluate(photos, tmp_path,
                                                                     capsys):
    """A run of an ImageNet-family net, written through keras_resnet.rundir as train
    writes it: the network takes any size, the record says 48x48 crops after a 55
    resize; predict gives the model's own probabilities on that transform."""
    from keras_resnet.data.augment import resize_and_crop
    from keras_resnet.deploy.predictor import classify_files

    out = tmp_path / "r18"
    config = {"model": "resnet18", "epochs": 1}
    assert rundir.prepare(str(out), config, overwrite=False, chief=True) is True
    net = keras_resnet.build("resnet18", weights=None, input_shape=(None, None, 3), classes=2)
    mean = np.full((48, 48, 3), 0.4, "float32")
    rundir.write_inputs(str(out), rundir.InputRecord("resnet18", "imagenet", (48, 48, 3), 55,
                                                     ("a", "b"), str(photos[0])), mean)
    net.save(out / rundir.MODEL)
    trained = keras_resnet.load_trained(str(out))
    assert trained.input_shape == (48, 48, 3) and trained.resize == 55
    fixed = trained.fixed_size_model()
    assert fixed.input_shape == (None, 48, 48, 3) and fixed.layers[-1].name == "predictions"
    assert fixed.get_layer("conv1_conv") is trained.model.get_layer("conv1_conv")  # shared
    files = sorted(p for p in photos[1] if "/test/" in p and p.endswith(".png"))[:2]
    r = classify_files(files, str(out), backend="keras", top=2)
    x = np.stack([resize_and_crop(photos[1][f], 55, 48) for f in files]) / np.float32(255)
    ref = _probabilities(net, x - mean)
    for p, row in zip(r["predictions"], ref):
        assert p["top"][0]["probability"] == pytest.approx(float(row.max()), rel=1e-4)
    assert main(["evaluate", "--weights", str(out), "--max-examples", "4"]) == 0
    assert "4 images" in capsys.readouterr().out


@pytest.mark.slow
def test_an_imagenet_family_net_trains_on_a_folder_and_exports(photos, tmp_path):
    from keras_resnet.deploy.export import export_trained
    from keras_resnet.training import train

    out = tmp_path / "r18"
    train("resnet18", str(photos[0]), out=str(out), image_size=(32, 32), **dict(TINY, epochs=1))
    record = json.loads((out / rundir.INFERENCE).read_text())
    assert record["input_shape"] == [32, 32, 3] and record["resize"] == 37  # 32 * 256/224
    assert record["family"] == "imagenet"
    trained = keras_resnet.load_trained(str(out))
    assert trained.model.input_shape == (None, None, None, 3)  # any size (multi-scale test)
    report = export_trained(trained, str(tmp_path / "r18.tflite"), "tflite", verify_images=8)
    assert report["input_shape"][1:] == [32, 32, 3] and report["within_tolerance"]
    assert report["outputs"] == ["predictions"]


def test_augmentation_layers_are_the_identity_in_the_predictor_and_exports(tmp_path):
    """A model built as Keras' transfer-learning guide builds one: augmentation and
    rescaling inside, taking raw 0-255 images."""
    import keras

    from keras_resnet import export
    from keras_resnet.deploy.predictor import classify_files

    net = keras_resnet.build("resnet8", input_shape=(32, 32, 3), classes=2)
    augment = keras.Sequential([keras.layers.RandomFlip("horizontal"),
                                keras.layers.RandomRotation(0.1)], name="augmentation")
    inputs = keras.Input((32, 32, 3))
    outputs = net(keras.layers.Rescaling(1 / 255.0)(augment(inputs)))
    guide = keras.Model(inputs, outputs, name="guide")
    x = np.stack([class_image(i % 2, (32, 32), seed=i) for i in range(4)]).astype("float32")
    plain = np.asarray(net(x / 255.0, training=False))
    p = keras_resnet.Predictor(guide, backend="keras", verify_images=x)
    np.testing.assert_allclose(np.asarray(p(x)), plain, rtol=1e-5, atol=1e-6)
    report = export.tflite(guide, str(tmp_path / "guide.tflite"), verify_images=x)
    assert report["within_tolerance"]
    # a saved model that normalises itself needs no --pixel-mean to predict
    guide.save(tmp_path / "guide.keras")
    write_image(tmp_path / "one.png", x[1].astype("uint8"), "png8_rgb")
    r = classify_files([str(tmp_path / "one.png")], str(tmp_path / "guide.keras"),
                       backend="keras", top=2)
    assert r["predictions"][0]["top"][0]["class"] == int(np.argmax(plain[1]))
    assert r["predictions"][0]["top"][0]["probability"] == pytest.approx(
        float(plain[1].max()), rel=1e-4)


def test_chance_level_is_chance_for_two_classes_too():
    from keras_resnet.numerics import at_chance_level, chance_threshold

    assert chance_threshold(10, 1000) == pytest.approx(0.15)  # the exports' earlier 1.5x
    assert chance_threshold(2, 1000) == pytest.approx(0.55)
    assert chance_threshold(2, 100) == pytest.approx(0.60)  # two standard errors
    assert not at_chance_level(0.74, 2, 100)  # 1.5 x chance would have said 0.75
    assert at_chance_level(0.52, 2, 400) and not at_chance_level(0.52, 2, 99)


def test_evaluate_warns_at_chance_level(capsys):
    import keras

    from keras_resnet.data import load_split
    from keras_resnet.evaluation import evaluate

    net = keras_resnet.build("resnet8", input_shape=(28, 28, 1))
    head = net.get_layer("predictions")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])  # 10% everywhere
    data = load_split("embedded", "test").take(120)
    mean = np.zeros((28, 28, 1), "float32")
    with pytest.warns(UserWarning, match="at chance level on these 120 images"):
        r = evaluate(net, data, "cifar", mean, progress=False)
    assert r["chance_level"] and r["top1_accuracy"] <= 0.15
    trained = keras_resnet.load_trained("resnet20.fashion_mnist")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = evaluate(trained.model, data, "cifar", trained.pixel_mean, progress=False)
    assert not ok["chance_level"] and ok["top1_accuracy"] > 0.8
    del keras


def test_bad_data_stops_before_anything_is_written(photos, tmp_path, capsys):
    root = tmp_path / "photos"
    write_image_folder(root, per_class=4, kinds=("png8_rgb",))
    bad = root / "train" / "b" / "zz_corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 40)
    out = tmp_path / "run"
    assert main(["train", "--model", "resnet8", "--dataset", str(root), "--out", str(out),
                 "--epochs", "1", "--batch-size", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err and "--skip-bad-images" in err
    assert "Traceback" not in err and not out.exists()
    assert main(["train", "--model", "resnet8", "--dataset", str(root), "--out", str(out),
                 "--epochs", "1", "--batch-size", "4", "--holdout", "0",
                 "--skip-bad-images"]) == 0
    captured = capsys.readouterr()
    assert "Skipping 1 unreadable image file(s)" in captured.out
    assert (out / rundir.MODEL).exists()


def _untrained_run(out, dataset, classes, *, skip_bad_images=False):
    """A finished run directory of an untrained ResNet-8 at 32x32, written through
    keras_resnet.rundir as train writes one (no training time)."""
    config = {"model": "resnet8", "epochs": 1, "dataset": str(dataset),
              "skip_bad_images": skip_bad_images}
    rundir.prepare(str(out), config, overwrite=False, chief=True)
    net = keras_resnet.build("resnet8", input_shape=(32, 32, 3), classes=len(classes))
    rundir.write_inputs(str(out), rundir.InputRecord("resnet8", "cifar", (32, 32, 3), None,
                                                     tuple(classes), str(dataset)),
                        np.full((32, 32, 3), 0.4, "float32"))
    net.save(out / rundir.MODEL)
    return out


def test_a_runs_checkpoint_without_model_and_mean_names_them(tmp_path, capsys):
    """`predict --weights RUN/checkpoints/best.weights.h5` only said --pixel-mean (then
    --model) was needed; it now names the run's values, and the one given both loads."""
    root = tmp_path / "photos"
    write_image_folder(root, per_class=1, kinds=("png8_rgb",), classes=("cat", "dog"))
    run = _untrained_run(tmp_path / "run", root, ("cat", "dog"))
    (run / rundir.CHECKPOINTS).mkdir(exist_ok=True)
    ckpt = str(run / rundir.CHECKPOINTS / "best.weights.h5")
    keras_resnet.load_trained(str(run)).model.save_weights(ckpt)
    mean = str(run / rundir.PIXEL_MEAN)
    for extra in ([], ["--model", "resnet8"], ["--pixel-mean", mean]):
        assert main(["predict", "--weights", ckpt, *extra,
                     str(next((root / "test" / "cat").iterdir()))]) != 0
        err = capsys.readouterr().err
        assert f"--model resnet8 --pixel-mean {mean}" in err, err
        assert str(run / rundir.CLASS_NAMES) in err and f"--weights {run}" in err
    trained = keras_resnet.load_trained(ckpt, model="resnet8", pixel_mean=mean)
    assert trained.model.output_shape[-1] == 2


def test_export_and_evaluate_read_the_runs_folder_as_the_run_did(tmp_path, monkeypatch,
                                                                 capsys):
    """A run trained with --skip-bad-images: `export --quantize int8` stopped at the bad
    file its training had left out, and its hint named --skip-bad-images, which export
    lacked. The run's setting now holds for its own folder, and every command that reads
    a folder takes the flag."""
    from keras_resnet import workflows

    root = tmp_path / "photos"
    write_image_folder(root, per_class=4, kinds=("png8_rgb",))
    bad = [root / "train" / "b" / "zz_corrupt.png", root / "test" / "a" / "zz_corrupt.png"]
    for path in bad:
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 40)
    seen = {}

    def fake_tflite(model, path, *, representative_data=None, **options):  # no conversion
        seen["calibration"] = representative_data
        return {"path": path}

    monkeypatch.setattr(workflows, "tflite", fake_tflite)
    lenient = _untrained_run(tmp_path / "lenient", root, ("a", "b"), skip_bad_images=True)
    export = ["export", "--quantize", "int8", "--no-verify", "--out",
              str(tmp_path / "m.tflite"), "--weights"]
    assert main(export + [str(lenient)]) == 0
    assert len(seen.pop("calibration")) == 8  # the readable training images, all of them
    assert "Skipping 1 unreadable image file(s)" in capsys.readouterr().out
    assert main(["evaluate", "--weights", str(lenient)]) == 0
    assert "8 images" in capsys.readouterr().out
    # a run that stopped at bad files: the hint names a flag these commands have
    strict = _untrained_run(tmp_path / "strict", root, ("a", "b"))
    for command, path in ((export + [str(strict)], bad[0]),
                          (["evaluate", "--weights", str(strict)], bad[1])):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert str(path) in err and "pass --skip-bad-images" in err
    assert main(export + [str(strict), "--skip-bad-images"]) == 0
    assert len(seen["calibration"]) == 8
    from keras_resnet.cli.main import make_parser

    parser = make_parser()
    for command in (["train"], ["tune"], ["evaluate", "--weights", "w"],
                    ["export", "--weights", "w", "--out", "m.tflite"]):
        assert parser.parse_args(command + ["--skip-bad-images"]).skip_bad_images is True


def test_export_verifies_and_calibrates_on_images_of_most_classes(tmp_path, monkeypatch):
    """A folder lists its files class by class: the first 12 verification and
    calibration images were its first 3 classes."""
    import types

    from keras_resnet import workflows

    classes = tuple(f"c{i}" for i in range(10))
    write_image_folder(tmp_path / "sorted", per_class=4, size=(28, 28),
                       kinds=("png8_grey",), classes=classes)
    trained = types.SimpleNamespace(
        pixel_mean=np.zeros((28, 28, 1), "float32"), preprocessing=None, resize=None,
        input_shape=(28, 28, 1), family="cifar", class_names=classes,
        fixed_size_model=lambda: None)
    seen = []

    def eval_arrays(*args, **kwargs):  # the real one, its labels recorded
        x, y = real(*args, **kwargs)
        seen.append(set(y.tolist()))
        return x, y

    real = workflows.eval_arrays
    monkeypatch.setattr(workflows, "eval_arrays", eval_arrays)
    monkeypatch.setattr(workflows, "tflite", lambda model, path, **kwargs: kwargs)
    got = workflows.export_trained(trained, str(tmp_path / "m.tflite"), "tflite",
                                   dataset=str(tmp_path / "sorted"), quantization="int8",
                                   verify_images=12, representative=12,
                                   skip_bad_images=False)
    assert len(got["verify_images"]) == len(got["representative_data"]) == 12
    verified, calibrated = seen
    assert len(verified) >= 6 and len(calibrated) >= 6  # of 10 classes; the first 12: 3


def test_a_runs_model_file_reads_as_its_run_in_predict_evaluate_and_export(
        tmp_path, monkeypatch, capsys):
    """`predict --weights RUN/model.keras` asked for --pixel-mean, and with one printed
    class indices (0, 1), while `--weights RUN` printed the names that class_names.json
    beside the file holds; evaluate scored it on the embedded sample. The run's model
    file now reads as the run: its names, mean and dataset."""
    from keras_resnet import workflows

    root = tmp_path / "photos"
    write_image_folder(root, per_class=2, kinds=("png8_rgb",), classes=("cat", "dog"))
    run = _untrained_run(tmp_path / "run", root, ("cat", "dog"))
    model_file = str(run / rundir.MODEL)
    trained = keras_resnet.load_trained(model_file)
    assert trained.class_names == ["cat", "dog"] and trained.dataset == str(root)
    np.testing.assert_array_equal(trained.pixel_mean, np.full((32, 32, 3), 0.4, "float32"))
    image = sorted(str(p) for p in (root / "test" / "cat").iterdir())[0]
    assert main(["predict", "--weights", model_file, image, "--top", "2"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(re.escape(image) + r": (cat|dog) \S+%, (cat|dog) \S+%", line), line
    assert main(["evaluate", "--weights", model_file]) == 0
    assert f"{root} test, 4 images" in capsys.readouterr().out  # the run's folder
    seen = {}

    def fake_tflite(model, path, *, class_names=None, **options):  # no conversion
        seen["class_names"] = class_names
        return {"path": path}

    monkeypatch.setattr(workflows, "tflite", fake_tflite)
    assert main(["export", "--weights", model_file, "--no-verify", "--out",
                 str(tmp_path / "m.tflite")]) == 0
    assert seen["class_names"] == ["cat", "dog"]
    # a .keras file outside a run still needs its mean (nothing beside it says it)
    other = tmp_path / "copy.keras"
    other.write_bytes((run / rundir.MODEL).read_bytes())
    with pytest.raises(ValueError, match="--pixel-mean FILE.npy is needed"):
        keras_resnet.load_trained(str(other))


def test_grey_weights_on_colour_images_say_the_images_become_grey(tmp_path, capsys):
    """Fine-tuning the Fashion-MNIST weights on colour photos read them in grey, said
    only by "28x28x1 (the weights' size)" in the training line."""
    from keras_resnet.training import TrainConfig
    from keras_resnet.training.run import _choose_input, _load_data
    from keras_resnet.training.state import RunState

    root = tmp_path / "photos"
    write_image_folder(root, per_class=2, kinds=("png8_rgb",))
    said = {}
    for weights in ("resnet20.fashion_mnist", None):
        run = RunState(TrainConfig("resnet20", str(root), weights=weights, holdout=0,
                                   out=str(tmp_path / "run")), 0, False, True)
        run.spec, run.recipe, run.epochs, run.batch_size = run.config.resolve()
        _load_data(run)
        _choose_input(run)
        said[weights] = capsys.readouterr().out
    assert run.input_shape == (32, 32, 3)
    assert "greyscale" not in said[None]  # from scratch: colour kept, nothing to say
    notes = [line for line in said["resnet20.fashion_mnist"].splitlines() if "grey" in line]
    assert len(notes) == 1, notes  # one line
    assert re.search(r"the weights resnet20.fashion_mnist take 1-channel \(grey\) images, so "
                     r"the images of .*photos are converted to greyscale .*to keep colour, "
                     r"train from scratch \(leave --weights out\) or fine-tune RGB weights",
                     notes[0]), notes[0]
    assert not (tmp_path / "run").exists()  # the steps before the run directory


def test_grey_weights_on_grey_images_say_nothing_of_colour(tmp_path, capsys):
    """The greyscale note was printed for folders of grey files too (every folder
    decodes to 3 channels): nothing is lost there. RGB files of grey pixels count as
    grey."""
    import PIL.Image

    from keras_resnet.training import TrainConfig
    from keras_resnet.training.run import _choose_input, _load_data
    from keras_resnet.training.state import RunState

    root = tmp_path / "grey"
    write_image_folder(root, per_class=2, kinds=("png8_grey", "png16_grey"))
    grey = class_image(0)[..., :1].repeat(3, -1)
    PIL.Image.fromarray(grey).save(root / "train" / "a" / "rgb_of_grey.png")
    run = RunState(TrainConfig("resnet20", str(root), weights="resnet20.fashion_mnist",
                               holdout=0, out=str(tmp_path / "run")), 0, False, True)
    run.spec, run.recipe, run.epochs, run.batch_size = run.config.resolve()
    _load_data(run)
    _choose_input(run)
    assert run.input_shape == (28, 28, 1)
    assert "grey" not in capsys.readouterr().out


def test_a_val_folder_beside_train_and_test_is_the_validation_set(tmp_path, capsys):
    """train/, val/ and test/: val/ was never read (test/ was the test set, and the
    holdout came from train/), with no word said. train now validates on val/ as a
    Keras user's validation_data, and an explicit --holdout says val/ is not read."""
    from keras_resnet.training import TrainConfig, train
    from keras_resnet.training.run import _load_data, _split_holdout
    from keras_resnet.training.state import RunState

    root = tmp_path / "photos"
    for split, n in (("train", 4), ("val", 3), ("test", 2)):
        write_image_folder(root, per_class=n, kinds=("png8_rgb",), split_dirs=(split,))
    out = tmp_path / "run"
    r = train("resnet8", str(root), out=str(out), epochs=1, batch_size=8, verbose=0,
              plot=False)
    said = capsys.readouterr().out
    assert f"Note: validating on {root / 'val'} (best checkpoint" in said
    assert "val accuracy" in said
    assert r["train_examples"] == 8 and r["val_examples"] == 6 and r["test_examples"] == 4
    assert r["validation"] == "val" and "val_accuracy" in r
    record = json.loads((out / rundir.CONFIG).read_text())
    assert record["validation"] == "val" and record["holdout"] == 6
    # a holdout asked for: it wins, and val/ is named as not read
    run = RunState(TrainConfig("resnet8", str(root), holdout=2, out=str(tmp_path / "h")), 0,
                   False, True)
    run.spec, run.recipe, run.epochs, run.batch_size = run.config.resolve()
    _load_data(run)
    _split_holdout(run)
    assert run.train_split.size == 6 and run.val_split.size == 2 and run.val_name == "holdout"
    assert (f"Note: {root / 'val'} is not read: --holdout 2 validates on training images; "
            "leave --holdout out to validate on val/") in capsys.readouterr().out
    # val/ is checked as test/ is, and tune validates on it too
    from keras_resnet.training.tuning import tune

    write_image_folder(root, per_class=1, kinds=("png8_rgb",), classes=("c",),
                       split_dirs=("val",))
    assert main(["train", "--model", "resnet8", "--dataset", str(root), "--out",
                 str(tmp_path / "refused"), "--epochs", "1"]) == 2
    assert f"class folder(s) in {root / 'val'} that its training classes lack: c (1 " \
           "images)" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"in .*val that its training classes lack: c"):
        tune(str(root), out=str(tmp_path / "tune"), max_trials=1, epochs=1)


def test_a_dataset_of_another_class_count_is_refused_in_those_words(tmp_path, capsys):
    """A 3-class folder run exported with --dataset embedded failed with "labels:
    expected class indices in 0..2", and evaluate scored it against Fashion-MNIST's ten
    labels without a word (20% "accuracy")."""
    root = tmp_path / "photos"
    write_image_folder(root, per_class=2, kinds=("png8_rgb",), classes=("a", "b", "c"))
    run = _untrained_run(tmp_path / "run", root, ("a", "b", "c"))
    for command in (["export", "--weights", str(run), "--dataset", "embedded", "--out",
                     str(tmp_path / "m.tflite")],
                    ["evaluate", "--weights", str(run), "--dataset", "embedded"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "the class counts differ: the network has 3 classes (a, b, c), the dataset " \
               "embedded has 10 (T-shirt/top" in err
        assert f"leave --dataset out for the run's own ({root})" in err
        assert "labels:" not in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "m.tflite").exists()
    from keras_resnet.data import load_split

    shipped = keras_resnet.load_trained("resnet20.fashion_mnist")  # no run of its own
    with pytest.raises(ValueError, match=r"network has 10 classes \(T-shirt/top, Trouser, "
                                         r"Pullover, Dress, Coat, \.\.\.\), the dataset .* has 3 "
                                         r"\(a, b, c\)\. .*same 10 classes$"):
        shipped.check_classes(load_split(str(root), "test"), str(root))


def test_a_dataset_of_other_class_names_or_extra_classes_is_refused(tmp_path, capsys):
    """Only the class counts were compared: a run trained on a, b, c scored a folder of
    x, y, z without a word (66.67% error), and a test folder with an extra class d was
    cut down to the training tree's classes ("12 images", d's 4 left out)."""
    root = tmp_path / "photos"
    write_image_folder(root, per_class=4, kinds=("png8_rgb",), classes=("a", "b", "c"))
    run = _untrained_run(tmp_path / "run", root, ("a", "b", "c"))
    other = tmp_path / "other"
    write_image_folder(other, per_class=2, kinds=("png8_rgb",), classes=("x", "y", "z"))
    for command in (["evaluate", "--weights", str(run), "--dataset", str(other)],
                    ["export", "--weights", str(run), "--dataset", str(other), "--out",
                     str(tmp_path / "m.tflite")]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "the class names differ: the network's classes are [a, b, c], the dataset " \
               f"{other}'s are [x, y, z]" in err
        assert "label 0 is 'a' here, 'x' there" in err
        assert f"leave --dataset out for the run's own ({root})" in err
        assert "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "m.tflite").exists()
    # names compared loosely: case, spaces and punctuation aside
    named = tmp_path / "named"
    write_image_folder(named, per_class=2, kinds=("png8_rgb",), classes=("A", "B", "C"))
    assert main(["evaluate", "--weights", str(run), "--dataset", str(named)]) == 0
    assert "6 images" in capsys.readouterr().out
    # a test folder with a class its training tree lacks: named, with its images
    write_image_folder(root, per_class=4, kinds=("png8_rgb",), classes=("d",),
                       split_dirs=("test",))
    for command in (["evaluate", "--weights", str(run)],
                    ["export", "--weights", str(run), "--out", str(tmp_path / "m.onnx")]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"the dataset {root} has class folder(s) in {root / 'test'} that its " \
               "training classes lack: d (4 images)" in err
        assert "their 4 images would be left out" in err
        assert "network scores 3 classes (a, b, c)" in err and "remove or move" in err
        assert "12 images" not in err and "Traceback" not in err
    assert not (tmp_path / "m.onnx").exists()


def test_train_and_tune_refuse_a_test_folder_with_classes_training_lacks(tmp_path, capsys):
    """train scored such a folder on the training tree's classes and dropped the extra
    class's images from its test accuracy without a word; tune validated every trial on
    the same cut-down set."""
    from keras_resnet.training.tuning import tune

    root = tmp_path / "photos"
    write_image_folder(root, per_class=2, kinds=("png8_rgb",), classes=("a", "b"))
    write_image_folder(root, per_class=3, kinds=("png8_rgb",), classes=("c",),
                       split_dirs=("test",))
    out = tmp_path / "run"
    assert main(["train", "--model", "resnet8", "--dataset", str(root), "--out", str(out),
                 "--epochs", "1", "--batch-size", "4", "--holdout", "0"]) == 2
    err = capsys.readouterr().err
    assert f"the dataset {root} has class folder(s) in {root / 'test'} that its training " \
           "classes lack: c (3 images); their 3 images would be left out of the score" in err
    assert "learns the 2 classes of its training folder" in err and "remove or move" in err
    assert "Traceback" not in err and err.count("\n") == 1 and not out.exists()
    with pytest.raises(ValueError, match=r"training classes lack: c \(3 images\)"):
        tune(str(root), out=str(tmp_path / "tune"), max_trials=1, epochs=1)
    assert not (tmp_path / "tune").exists()


def test_a_run_failing_before_its_first_epoch_leaves_nothing_behind(photos, tmp_path,
                                                                     monkeypatch):
    import keras

    from keras_resnet.training import train

    def broken_fit(self, *args, **kwargs):
        raise MemoryError("out of memory (simulated)")

    out = tmp_path / "run"
    monkeypatch.setattr(keras.Model, "fit", broken_fit)
    with pytest.raises(MemoryError):
        train("resnet8", str(photos[0]), out=str(out), **TINY)
    assert not out.exists()
    monkeypatch.undo()
    # a run that has finished epochs is kept (it resumes)
    train("resnet8", str(photos[0]), out=str(out), **dict(TINY, epochs=1))
    monkeypatch.setattr(keras.Model, "fit", broken_fit)
    with pytest.raises(MemoryError):  # another config: overwrite deletes the old run
        train("resnet8", str(photos[0]), out=str(out), **dict(TINY, epochs=3), overwrite=True)
    assert not out.exists()  # made anew, and it failed before its first epoch


def test_an_unfinished_run_says_how_far_it_got(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / rundir.CONFIG).write_text(json.dumps({"model": "resnet8", "epochs": 5}))
    with pytest.raises(FileNotFoundError, match="0 of 5 epochs.*no epoch has finished"):
        keras_resnet.load_trained(str(out))
    (out / rundir.LOG).write_text("epoch,accuracy\n0,0.5\n1,0.6\n")
    (out / rundir.CHECKPOINTS).mkdir()
    (out / rundir.CHECKPOINTS / "last.weights.h5").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"2 of 5 epochs.*last\.weights\.h5 --model "
                                                r"resnet8 --pixel-mean"):
        keras_resnet.load_trained(str(out))


def test_runs_written_before_the_record_still_read(cifar_run, tmp_path):
    import shutil

    out, _ = cifar_run
    old = tmp_path / "old"
    shutil.copytree(out, old)
    os.remove(old / rundir.INFERENCE)
    run = rundir.read_run(old)
    assert run.inputs.input_shape == (32, 32, 3) and run.inputs.class_names == ("a", "b")
    assert run.inputs.family == "cifar"


def test_the_recipe_follows_the_family_unless_given():
    from keras_resnet.training.run import default_recipe

    assert default_recipe("imagenet", "photos") == "paper-imagenet"
    assert default_recipe("cifar", "cifar10") == "paper-cifar10"
    assert default_recipe("cifar", "embedded") == "fashion-mnist"
    assert default_recipe("cifar", "/usr/share/datasets/fashion-mnist") == "fashion-mnist"


def test_every_option_has_help_and_shows_its_default(capsys):
    import argparse

    from keras_resnet.cli.main import make_parser

    parser = make_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing, no_default = [], []
    for name, p in sub.choices.items():
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.help:
                missing.append(f"{name} {action.dest}")
            if action.option_strings and action.default not in (None, False) \
                    and "default" not in p.formatter_class("x")._get_help_string(action):
                no_default.append(f"{name} {action.dest}")
    assert not missing and not no_default, (missing, no_default)
    for p in sub.choices.values():
        assert "%(" not in p.format_help()  # every help string formats
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "(default: resnet20)" in text and "--image-size H W" in text
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"keras-resnet {keras_resnet.__version__}"


def test_curves_name_the_validation_set(cifar_run, tmp_path):
    from keras_resnet.evaluation.curves import _validation_name

    out, _ = cifar_run
    assert _validation_name(out) == "validation (test set)"  # trained with holdout 0
    (tmp_path / rundir.CONFIG).write_text(json.dumps({"validation": "holdout"}))
    assert _validation_name(tmp_path) == "validation"


def test_two_replicas_report_the_saved_models_score(tmp_path):
    """The issue's 0.358 in metrics.json vs 0.354 from the saved model: each replica kept
    its own BN statistics. Two logical CPU devices, a fresh process."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, os.path.join(root, "tests", "replica_bn_worker.py"),
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": root})
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["before"][0] != r["before"][1]  # the copies drifted apart
    np.testing.assert_allclose(r["after"][0], r["after"][1])
    np.testing.assert_allclose(r["after"][0], np.mean(r["before"], axis=0), rtol=1e-6)
    assert r["synced"] == 2 and r["devices"] == 2
    # the same images right (one image is 0.005), up to metrics.json's float32 rounding
    assert r["metrics"] == pytest.approx(r["reloaded"], abs=1e-7)


def test_fine_tuning_freezes_then_unfreezes_and_resumes_across_the_boundary(photos, tmp_path):
    """train(weights=, freeze_backbone=1) over 2 epochs: the classifier alone trains in
    epoch 1 (the backbone's weights stay the file's), every layer but BatchNormalization
    in epoch 2; a run stopped after epoch 1 resumes in the unfrozen phase and ends with
    the uninterrupted run's weights."""
    import shutil

    import keras

    from keras_resnet.numerics import assert_close
    from keras_resnet.pretrained.record import save_weights
    from keras_resnet.training import train

    source = keras_resnet.build("resnet8", input_shape=(32, 32, 3), classes=10)
    weights = save_weights(source, tmp_path / "source.weights.h5")
    options = dict(TINY, epochs=2, weights=weights, freeze_backbone=1)
    once = tmp_path / "once"
    train("resnet8", str(photos[0]), out=str(once), **options)
    final = keras.saving.load_model(once / rundir.MODEL)
    assert final.get_layer("predictions").units == 2
    assert not final.get_layer("conv1_bn").trainable and final.get_layer("conv1_conv").trainable
    # BatchNormalization never trained: its statistics and scale are the file's
    for a, b in zip(final.get_layer("conv2_block1_1_bn").get_weights(),
                    source.get_layer("conv2_block1_1_bn").get_weights()):
        np.testing.assert_array_equal(a, b)
    # the convolutions trained in epoch 2
    assert not np.array_equal(final.get_layer("conv1_conv").get_weights()[0],
                              source.get_layer("conv1_conv").get_weights()[0])
    # stopped after epoch 1 (the end of the frozen phase), then the same call again
    resumed = tmp_path / "resumed"
    shutil.copytree(once, resumed)
    for meta in (resumed / rundir.BACKUP).glob("slot-*.json"):
        if json.loads(meta.read_text())["epoch"] == 2:
            meta.unlink()
            meta.with_suffix("").with_suffix(".weights.h5").unlink()
    (resumed / rundir.MODEL).unlink()
    result = train("resnet8", str(photos[0]), out=str(resumed), **options)
    assert result["resumed_from_epoch"] == 1
    assert (resumed / rundir.LOG).read_text().count("\n") == 3  # header + 2 epochs
    again = keras.saving.load_model(resumed / rundir.MODEL)
    for x, y in zip(again.get_weights(), final.get_weights()):
        assert_close(x, y, 1e-5, "resumed vs uninterrupted fine-tuning")


def test_a_run_on_a_relative_folder_is_evaluated_from_anywhere(photos, tmp_path, monkeypatch,
                                                               capsys):
    """`train --dataset photos` run in the photos' parent records the folder absolute, so
    `evaluate --weights RUN` finds the run's images from another working directory."""
    from keras_resnet.training import train

    root = photos[0]
    monkeypatch.chdir(root.parent)
    out = tmp_path / "rel"
    train("resnet8", root.name, out=str(out), recipe="fashion-mnist", **dict(TINY, epochs=1))
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == str(root) and os.path.isabs(config["dataset"])
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--weights", str(out), "--json", str(tmp_path / "e.json")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["examples"] > 0


def test_a_folder_of_class_folders_alone_says_its_test_score_is_on_training_images(
        tmp_path, capsys):
    """With class folders only, both splits are the whole folder: train printed "test
    accuracy" on the images it had trained on, without a word."""
    root = tmp_path / "flat"
    write_image_folder(root, per_class=3, kinds=("png8_rgb",), split_dirs=("",))
    assert main(["train", "--model", "resnet8", "--dataset", str(root), "--out",
                 str(tmp_path / "run"), "--epochs", "1", "--batch-size", "4",
                 "--holdout", "0"]) == 0
    out = capsys.readouterr().out
    assert f"Note: {root} has class folders but no train/ and test/ folders" in out
    assert "the test score is on the images the network trains on" in out
    split = tmp_path / "split"
    write_image_folder(split, per_class=2, kinds=("png8_rgb",))
    assert main(["train", "--model", "resnet8", "--dataset", str(split), "--out",
                 str(tmp_path / "run2"), "--epochs", "1", "--batch-size", "4",
                 "--holdout", "0"]) == 0
    assert "no train/ and test/ folders" not in capsys.readouterr().out
