"""ONNX translation, BatchNorm folding, the Predictor, `keras-resnet predict`, and the
layer-response analysis. The reference is always the Keras model itself, run with
training=False, with randomised BN statistics so that a swapped or unfolded tensor
shows."""

import json
import os

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import export
from keras_resnet.numerics import max_abs_error, within_tolerance

from .helpers import images, randomise

onnxruntime = pytest.importorskip("onnxruntime")

CASES = {
    "resnet20 (option A)": ("resnet20", dict(input_shape=(28, 28, 1))),
    "plain20": ("plain20", dict(input_shape=(32, 32, 3))),
    "resnet20 option B": ("resnet20", dict(input_shape=(32, 32, 3), shortcut="B")),
    "resnet18 features (4-D output)": ("resnet18", dict(input_shape=(64, 64, 3),
                                                        include_top=False)),
    "resnet50 v1.5 pooled": ("resnet50", dict(input_shape=(64, 64, 3), include_top=False,
                                              pooling="avg", stride_placement="3x3")),
    "resnet18 + torch preprocessing": ("resnet18", dict(input_shape=(64, 64, 3),
                                                        include_preprocessing="torch")),
}


def _model(name, options, seed=0):
    m = keras_resnet.build(name, **options)
    randomise(m, seed)
    return m


def _ort(proto):
    return onnxruntime.InferenceSession(proto.SerializeToString(),
                                        providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("case", list(CASES))
def test_onnx_graph_matches_keras(case):
    from keras_resnet.onnxgraph import to_onnx

    name, options = CASES[case]
    model = _model(name, options)
    shape = (3,) + tuple(model.inputs[0].shape[1:])
    x = images(shape)
    if "include_preprocessing" in options:
        x = np.random.default_rng(1).uniform(0, 255, shape).astype("float32")
    ref = np.asarray(model(x, training=False))
    got = _ort(to_onnx(model)).run(None, {"images": x})[0]
    assert got.shape == ref.shape
    assert within_tolerance(got, ref, 1e-4), max_abs_error(got, ref)
    # and not trivially: a different model gives different outputs
    other = np.asarray(_model(name, options, seed=1)(x, training=False))
    assert not within_tolerance(other, ref, 1e-4)


def test_onnx_batch_is_dynamic():
    from keras_resnet.onnxgraph import to_onnx

    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    session = _ort(to_onnx(model))
    for n in (1, 5):
        x = images((n, 28, 28, 1), seed=n)
        assert within_tolerance(session.run(None, {"images": x})[0],
                                np.asarray(model(x, training=False)), 1e-4)


def test_onnx_rejects_unknown_layers_by_name():
    from keras_resnet.onnxgraph import to_onnx

    inp = keras.Input((8, 8, 3))
    y = keras.layers.DepthwiseConv2D(3, name="dw")(inp)
    with pytest.raises(ValueError, match="'dw' .*DepthwiseConv2D"):
        to_onnx(keras.Model(inp, y))


def test_export_onnx_writes_verified_file_and_report(tmp_path):
    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    x = images((4, 28, 28, 1))
    path = str(tmp_path / "m.onnx")
    report = export.onnx(model, path, verify_images=x)
    assert report["within_tolerance"] and report["verified_images"] == 4
    assert os.path.getsize(path) == report["size_bytes"]
    assert json.load(open(path + ".report.json"))["format"] == "onnx"
    got = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
        None, {"images": x})[0]
    assert within_tolerance(got, np.asarray(model(x, training=False)), 1e-4)


def test_export_onnx_failing_check_writes_nothing(tmp_path):
    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    path = tmp_path / "m.onnx"
    with pytest.raises(export.ExportVerificationError, match="rtol=0"):
        export.onnx(model, str(path), verify_images=images((4, 28, 28, 1)), rtol=0.0)
    assert not path.exists() and not (tmp_path / "m.onnx.report.json").exists()


def test_fold_batchnorm_removes_bn_and_keeps_outputs():
    from keras_resnet.inference import fold_batchnorm

    model = _model("resnet20", dict(input_shape=(32, 32, 3)))
    folded = fold_batchnorm(model)
    assert not [l for l in folded.layers if isinstance(l, keras.layers.BatchNormalization)]
    convs = [l for l in folded.layers if isinstance(l, keras.layers.Conv2D)]
    assert convs and all(l.use_bias for l in convs)
    x = images((4, 32, 32, 3))
    ref = np.asarray(model(x, training=False))
    assert within_tolerance(np.asarray(folded(x, training=False)), ref, 1e-5)
    # the folding is not the identity: without it the convolutions alone differ
    assert folded.count_params() < model.count_params()


def test_shared_layers_get_a_clear_error_from_folding_and_onnx():
    """A layer called twice (shared weights) cannot be rewritten one call at a time:
    both graph rewriters say which layer, instead of silently using its first call."""
    from keras_resnet.inference import fold_batchnorm
    from keras_resnet.onnxgraph import to_onnx

    inp = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(3, 3, padding="same", name="shared_conv")
    y = conv(keras.layers.ReLU()(conv(inp)))
    model = keras.Model(inp, y)
    for rewrite in (fold_batchnorm, to_onnx):
        with pytest.raises(ValueError, match="'shared_conv' is called 2 times"):
            rewrite(model)


def _native_available():
    from keras_resnet import native

    try:
        native.library()
        return True
    except ImportError:
        return False


def test_predictor_auto_picks_the_fastest_verified_backend():
    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    p = keras_resnet.Predictor(model, timing_repeats=3)
    timed = {k: v["latency_ms"] for k, v in p.report.items() if "latency_ms" in v}
    assert set(timed) == {"tf", "litert", "onnxruntime"} | ({"native"} if _native_available()
                                                            else set())
    assert all(v["verified"] for k, v in p.report.items() if k in timed)
    assert p.backend == min(timed, key=timed.get)
    x = images((5, 28, 28, 1), seed=3)
    ref = np.asarray(model(x, training=False))
    assert within_tolerance(p(x), ref, 1e-4)
    assert within_tolerance(p(x[0]), ref[0], 1e-4)  # one image, no batch axis


@pytest.mark.parametrize("backend", ["native", "tf", "litert", "onnxruntime"])
def test_predictor_each_backend_matches_keras(backend):
    if backend == "native" and not _native_available():
        pytest.skip("no C compiler with OpenMP or no AVX-512 here")
    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    p = keras_resnet.Predictor(model, backend=backend)
    assert p.backend == backend and list(p.report) == [backend]
    x = images((3, 28, 28, 1), seed=4)
    assert within_tolerance(p(x), np.asarray(model(x, training=False)), 1e-4)


def test_predictor_never_uses_a_backend_that_fails_verification(monkeypatch):
    from keras_resnet import inference

    class Wrong(inference._ORTRunner):
        def __call__(self, x):
            return super().__call__(x) + 1.0

    monkeypatch.setitem(inference._RUNNERS, "onnxruntime", Wrong)
    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    p = keras_resnet.Predictor(model, timing_repeats=2)
    assert p.report["onnxruntime"]["verified"] is False
    assert "differ from Keras" in p.report["onnxruntime"]["error"]
    assert p.backend != "onnxruntime"
    with pytest.raises(RuntimeError, match="no backend reproduced"):
        keras_resnet.Predictor(model, backend="onnxruntime")


def test_predictor_argument_errors():
    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    with pytest.raises(ValueError, match="backend must be"):
        keras_resnet.Predictor(model, backend="tensorrt")
    with pytest.raises(TypeError, match="keras.Model"):
        keras_resnet.Predictor("resnet20")
    with pytest.raises(ValueError, match="fixed input size"):
        keras_resnet.Predictor(keras_resnet.build("resnet18", include_top=False,
                                                  input_shape=(None, None, 3)))
    p = keras_resnet.Predictor(model, backend="tf")
    with pytest.raises(ValueError, match=r"expected a batch of shape \(N, 28, 28, 1\)"):
        p(np.zeros((2, 32, 32, 3), "float32"))


def test_cli_predict_matches_the_model(tmp_path):
    from keras_resnet.cli import main
    from keras_resnet.data import FASHION_MNIST_CLASSES, load_embedded

    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    model_path = str(tmp_path / "m.keras")
    model.save(model_path)
    (x_train, _), _ = load_embedded()
    mean = (x_train[:500].astype("float32") / 255.0).mean(0).reshape(28, 28, 1)
    np.save(tmp_path / "mean.npy", mean)
    files = []
    for i in range(3):
        path = str(tmp_path / f"img{i}.png")
        keras.utils.save_img(path, x_train[i].reshape(28, 28, 1), scale=False)
        files.append(path)
    out = str(tmp_path / "pred.json")
    assert main(["predict", *files, "--weights", model_path, "--pixel-mean",
                 str(tmp_path / "mean.npy"), "--backend", "onnxruntime", "--top", "10",
                 "--json", out]) == 0
    result = json.load(open(out))
    assert result["backend"] == "onnxruntime"
    x = x_train[:3].reshape(3, 28, 28, 1).astype("float32") / 255.0 - mean
    ref = np.asarray(model(x, training=False))
    for r, row in zip(result["predictions"], ref):
        probs = np.zeros(10)
        for t in r["top"]:
            probs[t["class"]] = t["probability"]
        assert within_tolerance(probs, row, 1e-4)
    assert FASHION_MNIST_CLASSES  # class names exist for the registry entries
    assert main(["predict", str(tmp_path / "missing.png"), "--weights", model_path,
                 "--pixel-mean", str(tmp_path / "mean.npy")]) == 2


def test_layer_responses_are_the_std_of_each_3x3_bn_output():
    from keras_resnet.analysis import layer_responses, response_layers

    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    names = response_layers(model)
    assert len(names) == 19  # the stem conv + 2 per unit x 9 units
    assert names[0] == "conv1_bn" and all(n.endswith("_bn") for n in names)
    x = images((40, 28, 28, 1))
    stds = layer_responses(model, x, batch_size=16)
    assert list(stds) == names
    for n in (names[0], names[7], names[-1]):
        direct = keras.Model(model.inputs[0], model.get_layer(n).output)(x, training=False)
        assert stds[n] == pytest.approx(float(np.std(np.asarray(direct, "float64"))), rel=1e-5)
    plain = _model("plain20", dict(input_shape=(28, 28, 1)))
    assert len(response_layers(plain)) == 19
