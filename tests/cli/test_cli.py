"""The keras-resnet command."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import keras_resnet
from keras_resnet.cli import main

TORCHVISION_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                      "resnet101": 44_549_160, "resnet152": 60_192_808}


def _rows(text):
    return {line.split()[0]: line.split() for line in text.splitlines()
            if line and line.split()[0] in keras_resnet.list_models()}


# The paper's tables, written here independently of keras_resnet.paper.
PAPER_TABLE1_GMACS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6,
                      "resnet152": 11.3}
PAPER_TABLE6_PARAMS_M = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66,
                         "resnet56": 0.85, "resnet110": 1.7, "resnet1202": 19.4}


def test_models_lists_every_model_with_numbers_that_agree_with_the_paper(capsys):
    from keras_resnet import spec_complexity

    assert main(["models"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == set(keras_resnet.list_models())
    for name, row in rows.items():
        params, gmacs = int(row[7].replace(",", "")), float(row[8])
        c = spec_complexity(keras_resnet.get_spec(name))
        assert params == c.params and abs(gmacs - c.macs / 1e9) < 5e-4, name
        if name in TORCHVISION_PARAMS:
            assert params == TORCHVISION_PARAMS[name]
        if name in PAPER_TABLE1_GMACS:
            paper = PAPER_TABLE1_GMACS[name]
            assert abs(gmacs - paper) / paper <= 0.03
            assert f"{paper} GMACs (Table 1)" in " ".join(row)
        if name in PAPER_TABLE6_PARAMS_M:
            paper = PAPER_TABLE6_PARAMS_M[name]
            assert round(params / 1e6, 2 if paper < 1 else 1) == paper
            assert f"{paper}M params (Table 6)" in " ".join(row)
    assert main(["models", "--family", "cifar"]) == 0
    assert set(_rows(capsys.readouterr().out)) == set(keras_resnet.list_models(family="cifar"))


def test_summary_prints_stage_shapes_and_totals(capsys):
    assert main(["summary", "resnet50"]) == 0
    out = capsys.readouterr().out
    for stage, shape in [("stem", "(56, 56, 64)"), ("conv2", "(56, 56, 256)"),
                         ("conv3", "(28, 28, 512)"), ("conv4", "(14, 14, 1024)"),
                         ("conv5", "(7, 7, 2048)"), ("head", "(1000,)")]:
        line = next(l for l in out.splitlines() if l.startswith(stage))
        assert shape in line
    total = next(l for l in out.splitlines() if l.startswith("total")).split()
    assert total[1] == "25,557,032" and abs(float(total[2]) - 3858.0) < 0.1
    assert main(["summary", "resnet20", "--input-shape", "28,28,1"]) == 0
    assert "(7, 7, 64)" in capsys.readouterr().out


def test_cli_errors_are_one_clear_line(capsys):
    assert main(["summary", "resnet21"]) == 2
    err = capsys.readouterr().err
    assert "Unknown model 'resnet21'" in err and "Traceback" not in err
    assert main(["summary", "resnet50", "--input-shape", "8,8,3"]) == 2
    assert "too small" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["summary", "resnet50", "--input-shape", "a,b"])
    assert main(["demo", "--epochs", "0", "--out", "unused"]) == 2
    assert "epochs" in capsys.readouterr().err


def test_predict_options_print_percent_and_take_the_predictors_precision_names(capsys):
    """--min-agreement's error said "99.5%%"; --precision refused the Predictor's
    aliases (bf16, fp32, f32, i8) and other letter cases."""
    from keras_resnet.cli.main import PREDICT_PRECISIONS, make_parser
    from keras_resnet.deploy.predictor import PRECISIONS

    assert PREDICT_PRECISIONS == PRECISIONS  # --help lists the Predictor's names

    def parse(*options):
        return make_parser().parse_args(["predict", "x.png", "--weights", "w", *options])

    with pytest.raises(SystemExit):
        parse("--min-agreement", "1.5")
    err = capsys.readouterr().err
    assert "(99.5% of the images keep their top-1 class)" in err and "%%" not in err
    for given, name in (("bf16", "bfloat16"), ("BF16", "bfloat16"), ("fp32", "float32"),
                        ("F32", "float32"), ("i8", "int8"), ("INT8", "int8"),
                        ("Float32", "float32"), ("Auto", "auto")):
        assert parse("--precision", given).precision == name, given
    assert parse().precision == "float32"
    with pytest.raises(SystemExit):
        parse("--precision", "fp16")
    assert ("argument --precision: expected one of float32, bfloat16, int8, auto (or bf16, "
            "fp32, f32, i8), got 'fp16'") in capsys.readouterr().err


def fake_trained():
    """What export_trained reads of a trained network, for an export without
    verification whose writer is replaced."""
    import types

    return types.SimpleNamespace(
        pixel_mean=np.zeros((28, 28, 1), "float32"), preprocessing=None, resize=None,
        input_shape=(28, 28, 1), family="cifar", class_names=None,
        fixed_size_model=lambda: None)


def test_file_system_errors_are_one_line_with_what_to_do(tmp_path, monkeypatch, capsys):
    """export into a folder it cannot write printed a traceback (exit 1)."""
    import errno

    from keras_resnet import workflows, zoo

    monkeypatch.setattr(zoo, "load_trained", lambda *a, **k: fake_trained())
    out = tmp_path / "m.tflite"
    command = ["export", "--weights", "w", "--no-verify", "--out", str(out)]

    def unwritable(model, path, **kwargs):  # check_destination's own words
        raise PermissionError("cannot write to '/ro': choose a folder you can write to")

    monkeypatch.setattr(workflows, "tflite", unwritable)
    assert main(command) == 2
    assert capsys.readouterr().err == ("keras-resnet export: error: cannot write to '/ro': "
                                       "choose a folder you can write to\n")

    def read_only(model, path, **kwargs):  # the operating system's
        raise OSError(errno.EROFS, "Read-only file system", path)

    monkeypatch.setattr(workflows, "tflite", read_only)
    assert main(command) == 2
    assert capsys.readouterr().err == (
        f"keras-resnet export: error: {out}: read-only file system; check its permissions, "
        "or give a path you can read and write\n")


def test_a_failed_export_removes_the_folders_it_made(tmp_path, monkeypatch, capsys):
    from keras_resnet import workflows, zoo
    from keras_resnet.deploy.job import check_destination

    monkeypatch.setattr(zoo, "load_trained", lambda *a, **k: fake_trained())

    def failing(model, path, **kwargs):  # as an exporter that fails its verification
        check_destination(path, ".tflite")
        raise ValueError("the file does not match Keras")

    monkeypatch.setattr(workflows, "tflite", failing)
    (tmp_path / "ex").mkdir()
    out = tmp_path / "ex" / "newdir" / "sub" / "m.tflite"
    assert main(["export", "--weights", "w", "--no-verify", "--out", str(out)]) == 2
    assert "does not match Keras" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["ex"] and os.listdir(tmp_path / "ex") == []


def test_console_script_is_installed():
    exe = shutil.which("keras-resnet", path=os.path.dirname(sys.executable))
    assert exe, "pip install . should create the keras-resnet console script"
    out = subprocess.run([exe, "models", "--family", "imagenet"], capture_output=True,
                         text=True, check=True, timeout=120)
    assert "resnet152" in out.stdout and "60,192,808" in out.stdout


def test_commands_that_import_tensorflow_print_nothing_on_stderr():
    """TensorFlow's C++ start-up lines (absl pre-init notice, CUDA stub) are dropped; the
    output itself is unchanged."""
    exe = shutil.which("keras-resnet", path=os.path.dirname(sys.executable))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([exe, "summary", "resnet20"], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr.splitlines() == []
    assert "total" in out.stdout and "269,722" in out.stdout


DEMO_EPOCHS = 3  # the README's demo trains 10; 3 keep the suite's time in bounds (2 gave 72.5%)


@pytest.mark.slow
def test_demo_learns_and_ships_a_verified_int8_file(tmp_path):
    """The README's main job, shortened: keras-resnet demo = train + score + export on the
    embedded data, the same code path with fewer epochs."""
    exe = shutil.which("keras-resnet", path=os.path.dirname(sys.executable))
    out = subprocess.run([exe, "demo", "--epochs", str(DEMO_EPOCHS), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=2400)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Demo: resnet20 on the embedded Fashion-MNIST sample" in out.stdout
    report = json.loads((tmp_path / "model_int8.tflite.report.json").read_text())
    assert report["verified_images"] == 2000 and report["top1_agreement"] >= 0.98
    assert "top-1 agreement with Keras" in out.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.72  # chance: 0.10; 3 epochs on 4,500 images
    assert metrics["validation"] == "holdout" and metrics["train_examples"] == 4500
    # Checkpoints, logs and the plot are there.
    for name in ["checkpoints/best.weights.h5", "checkpoints/last.weights.h5", "log.csv",
                 "curves.png", "config.json", "pixel_mean.npy"]:
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    # Re-evaluate the saved model independently of the number the demo printed.
    from keras_resnet.data import load_embedded

    model = keras_resnet.load_model(tmp_path / "model.keras")
    (_, _), (x_test, y_test) = load_embedded()
    x = x_test[..., None] / np.float32(255) - np.load(tmp_path / "pixel_mean.npy")
    accuracy = float(np.mean(np.argmax(model.predict(x, verbose=0), 1) == y_test))
    assert abs(accuracy - metrics["test_accuracy"]) < 1e-3
    assert not list(tmp_path.glob("*.partial*"))
    # keras-resnet evaluate on the run directory gives the same centre-view number.
    ev = subprocess.run([exe, "evaluate", "--weights", str(tmp_path), "--dataset", "embedded",
                         "--json", str(tmp_path / "eval.json")], capture_output=True, text=True,
                        timeout=300)
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert json.loads((tmp_path / "eval.json").read_text())["top1_accuracy"] == \
        pytest.approx(accuracy, abs=1e-3)


_LEAN = r"""
import importlib.abc, sys
EXTRAS = ("onnx", "onnxruntime", "tf2onnx", "openvino", "jax", "torch", "pytest", "skimage")

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in EXTRAS:
            raise ImportError(f"{name} is an extra the demo must not need")

sys.meta_path.insert(0, Block())
from keras_resnet.deploy.export import export_trained
from keras_resnet.training import train  # noqa: F401  (the demo's training side)
from keras_resnet.zoo import load_trained
r = export_trained(load_trained("resnet20.fashion_mnist"), sys.argv[1], "tflite",
                   quantization="int8", verify_images=100, representative=50)
print("AGREEMENT", r["top1_agreement"])
"""


def test_the_demo_needs_no_test_or_bench_extras(tmp_path):
    """make demo installs the package alone (no test/bench extras, JAX, PyTorch): its
    training and int8 export run with every extra made unimportable."""
    makefile = open(os.path.join(os.path.dirname(__file__), "..", "..", "Makefile")).read()
    demo = makefile.split("\ndemo:", 1)[1].split("\n")[0]
    assert "$(BASE)" in demo and "pip install -q -e .\n" in makefile
    out = subprocess.run([sys.executable, "-c", _LEAN, str(tmp_path / "m.tflite")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.split("AGREEMENT")[1]) >= 0.95


def test_predict_says_how_many_of_the_images_were_checked(tmp_path, capsys):
    """6 images on the direct Keras path: "checked ... on 4 image(s)" read as if 4 were
    run."""
    import PIL.Image

    from keras_resnet.data.embedded import load_embedded

    _, (x, _) = load_embedded()
    files = [str(tmp_path / f"{i}.png") for i in range(6)]
    for f, img in zip(files, x):
        PIL.Image.fromarray(img).save(f)
    assert main(["predict", *files, "--weights", "resnet20.fashion_mnist"]) == 0
    out = capsys.readouterr().out
    assert "checked against the Keras model on 4 of the 6 images to classify\n" in out
    assert sum(line.startswith(str(tmp_path)) for line in out.splitlines()) == 6


def test_predict_says_what_a_folder_or_a_broken_model_file_is(tmp_path, capsys):
    """A folder where an image or a model file goes said "not found", a truncated
    model.keras "File not found", a corrupt .weights.h5 or a folder as --pixel-mean gave
    a traceback: each now says what it is and what was expected."""
    from keras_resnet import rundir
    from tests.helpers import class_image, write_image

    image = tmp_path / "photos" / "cat.png"
    image.parent.mkdir()
    write_image(image, class_image(0, (32, 32)), "png8_rgb")
    run = tmp_path / "run"
    rundir.prepare(str(run), {"model": "resnet8"}, overwrite=False, chief=True)
    model = keras_resnet.build("resnet8", input_shape=(32, 32, 3), classes=2)
    model.save(tmp_path / "good.keras")
    broken = tmp_path / "broken.keras"
    broken.write_bytes((tmp_path / "good.keras").read_bytes()[:500])  # a cut-off copy
    (tmp_path / "broken.weights.h5").write_bytes(b"\x93NUMPY" + b"\0" * 100)
    (tmp_path / "folder.keras").mkdir()
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    np.save(tmp_path / "mean.npy", np.zeros((32, 32, 3), "float32"))

    def error(*args):
        assert main(["predict", *map(str, args)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.count("\n") == 1, err
        return err

    err = error(run, "--weights", run)  # the run where an image goes
    assert "is a folder holding a trained model" in err and f"--weights {run}" in err
    err = error(image.parent, "--weights", "resnet20.fashion_mnist")
    assert "is a folder, given where an image file goes" in err
    assert str(image.parent / "*.png") in err and ".webp" in err
    err = error(image, "--weights", broken)
    assert "is not a readable Keras file: it is truncated or not a .keras (zip)" in err
    assert "not found" not in err.lower()
    err = error(image, "--weights", tmp_path / "broken.weights.h5", "--model", "resnet8",
                "--pixel-mean", tmp_path / "mean.npy")
    assert "is not a readable HDF5 file" in err
    err = error(image, "--weights", tmp_path / "m.onnx")
    assert "is an ONNX file, an exported file" in err and "open_artifact" in err
    assert "a run directory of keras-resnet train, a .keras model" in err
    err = error(image, "--weights", tmp_path / "good.keras", "--pixel-mean", tmp_path)
    assert "is a folder: expected a .npy file" in err
    err = error(image, "--weights", tmp_path / "good.keras", "--pixel-mean",
                tmp_path / "good.keras")
    assert "not a .npy file" in err
    # the Python loader says the same of a folder where a model file goes
    with pytest.raises(ValueError, match="is a folder, not a model file: expected a .keras"):
        keras_resnet.load_model(tmp_path / "folder.keras")
    with pytest.raises(ValueError, match="holds a run of keras-resnet train"):
        keras_resnet.load_model(run)


def test_predict_refuses_a_pixel_mean_of_other_units_shape_or_size(tmp_path, capsys):
    """--pixel-mean FILE was used as read: a 0-255 mean (the help says [0, 1] units)
    served silently, an RGB mean for grey weights blamed the weights file, a 2-D mean
    said "input_shape must have 3 entries", a NaN mean did not name the file, and a
    32x32 mean built the 28x28 Fashion-MNIST weights at 32x32 without a word."""
    from keras_resnet.pretrained import registry

    from tests.helpers import class_image, write_image

    image = tmp_path / "cat.png"
    write_image(image, class_image(0, (28, 28)), "png8_grey")
    entry = registry.load_registry()[0]["resnet20.fashion_mnist"]
    weights = registry.package_file(entry.files["top"]["file_name"])
    good = registry.pixel_mean(entry)  # (28, 28, 1), [0, 1] units
    means = {"units": good * 255, "rgb": np.repeat(good, 3, axis=-1), "flat": good[..., 0],
             "nan": np.where(np.arange(good.size).reshape(good.shape) == 5, np.nan, good),
             "big": np.full((32, 32, 1), 0.3, "float32"), "good": good}
    for name, mean in means.items():
        np.save(tmp_path / f"{name}.npy", mean.astype("float32"))

    def error(name, weights=weights, model="resnet20"):
        path = tmp_path / f"{name}.npy"
        assert main(["predict", str(image), "--weights", str(weights), "--model", model,
                     "--pixel-mean", str(path), "--backend", "keras"]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.count("\n") == 1, err
        assert str(path) in err, err
        return err

    err = error("units")
    assert "must be in [0, 1] units" in err and "divide it by 255" in err
    err = error("rgb")
    assert "has 3 channel(s) (shape (28, 28, 3))" in err and "takes 1" in err
    err = error("flat")
    assert "has shape (28, 28): the mean image must be (H, W, C)" in err
    assert "input_shape" not in err
    err = error("nan")
    assert "1 NaN or infinite value(s)" in err
    err = error("big")
    assert "is 32x32" in err and "takes 28x28 images" in err
    # weights this package does not know: the channels are still told apart
    from keras_resnet.arch.specs import get_spec

    grey = keras_resnet.build("resnet8", input_shape=(32, 32, 1), classes=2)
    keras_resnet.save_weights(grey, str(tmp_path / "grey.weights.h5"))
    assert get_spec("resnet8").family == "cifar"
    err = error("rgb", weights=tmp_path / "grey.weights.h5", model="resnet8")
    assert "has 3 channel(s)" in err and "take 1" in err and "grey" in err
    # the shipped mean itself still serves
    assert main(["predict", str(image), "--weights", str(weights), "--model", "resnet20",
                 "--pixel-mean", str(tmp_path / "good.npy"), "--backend", "keras"]) == 0


def test_python_dash_m_runs_the_command_line(capsys):
    """``python -m keras_resnet`` and ``python -m keras_resnet.cli`` are the command line
    (for a scripts folder not on PATH): the same output and exit status as main()."""
    import subprocess
    import sys

    from keras_resnet.cli import main

    assert main(["models"]) == 0
    expected = capsys.readouterr().out
    for module in ("keras_resnet", "keras_resnet.cli"):
        done = subprocess.run([sys.executable, "-m", module, "models"], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout == expected, module
    bad = subprocess.run([sys.executable, "-m", "keras_resnet", "summary", "resnet7"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "resnet7" in bad.stderr
