"""The native inference engine (keras_resnet.native): every supported architecture
against the Keras model itself (randomised BN statistics and conv biases, so a wrongly
folded or misplaced tensor shows), repeated calls (buffers are reused and residuals
are added in place, so stale state would show on the second image), the shipped
Fashion-MNIST weights on real images, unsupported layers, and the compile cache."""

import os

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet import native
from keras_resnet.numerics import within_tolerance

from .helpers import images, randomise

try:
    native.library()
except ImportError as e:  # no C compiler with OpenMP, or no AVX-512
    pytest.skip(f"native engine unavailable: {e}", allow_module_level=True)

CASES = {
    "resnet20 option A, 1 channel": ("resnet20", dict(input_shape=(28, 28, 1))),
    "resnet20 option B": ("resnet20", dict(input_shape=(32, 32, 3), shortcut="B")),
    "resnet32 option C": ("resnet32", dict(input_shape=(32, 32, 3), shortcut="C")),
    "plain20": ("plain20", dict(input_shape=(32, 32, 3))),
    "resnet18 logits, odd size": ("resnet18", dict(input_shape=(67, 61, 3),
                                                   classifier_activation=None)),
    "resnet18 features (4-D output)": ("resnet18", dict(input_shape=(64, 64, 3),
                                                        include_top=False)),
    "resnet50 pooled": ("resnet50", dict(input_shape=(64, 64, 3), include_top=False,
                                         pooling="avg")),
    "resnet50 v1.5 logits": ("resnet50", dict(input_shape=(65, 71, 3), stride_placement="3x3",
                                              classifier_activation=None)),
    "plain34": ("plain34", dict(input_shape=(64, 64, 3), classifier_activation=None)),
}


def _model(name, options, seed=0):
    m = keras_resnet.build(name, **options)
    randomise(m, seed)
    return m


@pytest.mark.parametrize("case", list(CASES))
def test_engine_matches_keras_on_every_image_of_repeated_batches(case):
    name, options = CASES[case]
    model = _model(name, options)
    engine = native.NativeEngine(model)
    shape = tuple(model.inputs[0].shape[1:])
    for seed in (1, 2):  # the second batch runs on buffers the first one left behind
        x = images((3,) + shape, seed=seed)
        ref = np.asarray(model(x, training=False))
        got = engine(x)
        assert got.shape == ref.shape
        assert within_tolerance(got, ref, 1e-4), (case, float(np.abs(got - ref).max()))


@pytest.mark.parametrize("pixels", [(0, 10 ** 9), (10 ** 9, 10 ** 9)],
                         ids=["winograd for every 3x3", "direct for every 3x3"])
@pytest.mark.parametrize("case", ["resnet18 logits, odd size", "resnet20 option A, 1 channel"])
def test_winograd_and_direct_3x3_paths_both_match_keras(case, pixels):
    name, options = CASES[case]
    model = _model(name, options)
    engine = native.NativeEngine(model, winograd_pixels=pixels)
    x = images((2,) + tuple(model.inputs[0].shape[1:]), seed=5)
    ref = np.asarray(model(x, training=False))
    engine(x)  # a first pass leaves its values in the buffers
    assert within_tolerance(engine(x), ref, 1e-4)


def test_engine_reproduces_the_shipped_fashion_mnist_weights():
    from keras_resnet.data import load_embedded

    model, preprocess = keras_resnet.load_pretrained("resnet20.fashion_mnist")
    _, (x, _) = load_embedded()
    x = np.asarray(preprocess(x[:200]), "float32")
    ref = np.asarray(model(x, training=False))
    got = native.NativeEngine(model)(x)
    assert within_tolerance(got, ref, 1e-4)
    assert np.array_equal(got.argmax(1), ref.argmax(1))


def test_unsupported_layers_are_named_and_the_predictor_skips_the_engine():
    inp = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(32, 3, padding="same", dilation_rate=2, name="dilated")(inp)
    y = keras.layers.GlobalAveragePooling2D()(y)
    model = keras.Model(inp, keras.layers.Dense(4, name="head")(y))
    with pytest.raises(NotImplementedError, match="'dilated' is grouped or dilated"):
        native.NativeEngine(model)
    p = keras_resnet.Predictor(model, timing_repeats=2)
    assert p.report["native"]["verified"] is False
    assert "dilated" in p.report["native"]["error"] and p.backend != "native"
    with pytest.raises(RuntimeError, match="no backend reproduced.*dilated"):
        keras_resnet.Predictor(model, backend="native")

    seq = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(32, 1),
                            keras.layers.Dropout(0.5, name="drop")])
    with pytest.raises(NotImplementedError, match="'drop' \\(Dropout\\) is not supported"):
        native.NativeEngine(seq)


def test_wrong_input_shape_is_refused():
    engine = native.NativeEngine(_model("resnet20", dict(input_shape=(28, 28, 1))))
    with pytest.raises(ValueError, match=r"expected images of shape \(28, 28, 1\)"):
        engine(np.zeros((1, 32, 32, 3), "float32"))


def test_kernel_is_compiled_once_per_cache_dir_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_RESNET_CACHE", str(tmp_path))
    monkeypatch.setattr(native, "_LIB", None)
    native.library()
    (built,) = tmp_path.glob("native-*.so")
    stamp = built.stat().st_mtime_ns
    monkeypatch.setattr(native, "_LIB", None)
    native.library()
    assert [p.name for p in tmp_path.iterdir()] == [built.name]  # no temp files left
    assert built.stat().st_mtime_ns == stamp


def test_missing_compiler_is_a_clear_import_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_RESNET_CACHE", str(tmp_path))
    monkeypatch.setattr(native, "_LIB", None)
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match="needs a C compiler"):
        native.library()
    assert not os.listdir(tmp_path)
