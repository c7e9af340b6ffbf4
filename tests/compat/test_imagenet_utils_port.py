"""keras' own ``keras/src/applications/imagenet_utils_test.py`` (Keras 3.15.1), adapted
to this package: the same cases, run against ``keras_resnet.applications.imagenet_utils``
(keras.applications' ``mode=`` signature) and ``keras_resnet.preprocess_input``, and
each result also compared with keras.applications' own function (the reference).

Adaptations (the rest follows the upstream file case by case):
- plain pytest instead of keras' absl ``TestCase``;
- every case also checks the values against ``keras.applications.imagenet_utils``;
- ``obtain_input_shape`` is keras' private helper; its cases become the same questions
  asked of our constructors (default shapes, too small, wrong rank) at the end;
- added: ``tf.data.Dataset.map``, integer tensors, and the family modules' defaults.

It runs under the process's backend (TensorFlow in the suite);
``test_ported_tests_pass_under_jax`` in tests/compat/test_applications_port.py runs this file
again under ``KERAS_BACKEND=jax``, and ``test_ported_tests_pass_under_torch`` below
under ``KERAS_BACKEND=torch``.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import keras
from keras.applications import imagenet_utils as reference

import keras_resnet
from keras_resnet.applications import imagenet_utils as utils

MODES = ["torch", "tf", "caffe"]


def ref(x, data_format=None, mode="caffe"):
    return reference.preprocess_input(np.array(x, dtype="float64"), data_format, mode=mode)


def test_preprocess_input():
    # invalid mode
    x = np.random.uniform(0, 255, (10, 10, 3))
    with pytest.raises(ValueError, match="mode must be one of"):
        utils.preprocess_input(x, mode="some_unknown_mode")
    with pytest.raises(ValueError, match="data_format must be"):
        utils.preprocess_input(x, data_format="channels_middle")

    # image batch with float and int input
    x = np.random.uniform(0, 255, (2, 10, 10, 3))
    xint = x.astype("int32")
    assert utils.preprocess_input(x.copy()).shape == x.shape
    assert utils.preprocess_input(xint).shape == xint.shape
    assert utils.preprocess_input(xint).dtype == np.float32  # floatx, as keras

    out1 = utils.preprocess_input(x.copy(), "channels_last")
    out1int = utils.preprocess_input(xint, "channels_last")
    out2 = utils.preprocess_input(np.transpose(x, (0, 3, 1, 2)).copy(), "channels_first")
    out2int = utils.preprocess_input(np.transpose(xint, (0, 3, 1, 2)), "channels_first")
    np.testing.assert_allclose(out1, out2.transpose(0, 2, 3, 1), rtol=1e-6)
    np.testing.assert_allclose(out1int, out2int.transpose(0, 2, 3, 1), rtol=1e-6)
    np.testing.assert_allclose(out1, ref(x, "channels_last"), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out1int, ref(xint, "channels_last"), rtol=1e-6, atol=1e-4)

    # single image
    x = np.random.uniform(0, 255, (10, 10, 3))
    xint = x.astype("int32")
    assert utils.preprocess_input(x.copy()).shape == x.shape
    assert utils.preprocess_input(xint).shape == xint.shape
    out1 = utils.preprocess_input(x.copy(), "channels_last")
    out1int = utils.preprocess_input(xint, "channels_last")
    out2 = utils.preprocess_input(np.transpose(x, (2, 0, 1)).copy(), "channels_first")
    out2int = utils.preprocess_input(np.transpose(xint, (2, 0, 1)), "channels_first")
    np.testing.assert_allclose(out1, out2.transpose(1, 2, 0), rtol=1e-6)
    np.testing.assert_allclose(out1int, out2int.transpose(1, 2, 0), rtol=1e-6)
    np.testing.assert_allclose(out2, ref(np.transpose(x, (2, 0, 1)), "channels_first"),
                               rtol=1e-12, atol=1e-12)

    # writing over the input data works predictably (keras.applications' numpy path)
    for mode in ["torch", "tf"]:
        x = np.random.uniform(0, 255, (2, 10, 10, 3))
        xint = x.astype("int")
        x2 = utils.preprocess_input(x, "channels_last", mode=mode)
        xint2 = utils.preprocess_input(xint, "channels_last")
        np.testing.assert_allclose(x, x2)
        assert xint.astype("float").max() != xint2.max()

    # Caffe mode works differently from the others
    x = np.random.uniform(0, 255, (2, 10, 10, 3))
    xint = x.astype("int")
    x2 = utils.preprocess_input(x, data_format="channels_last", mode="caffe")
    xint2 = utils.preprocess_input(xint, data_format="channels_last")
    np.testing.assert_allclose(x, x2[..., ::-1])
    assert xint.astype("float").max() != xint2.max()


@pytest.mark.parametrize("mode", MODES)
def test_values_equal_keras_applications_in_every_mode_and_layout(mode):
    rng = np.random.default_rng(1)
    for shape, fmt in [((2, 7, 5, 3), "channels_last"), ((2, 3, 7, 5), "channels_first"),
                       ((7, 5, 3), "channels_last"), ((3, 7, 5), "channels_first")]:
        x = rng.uniform(0, 255, shape)
        expected = ref(x, fmt, mode)
        np.testing.assert_allclose(utils.preprocess_input(x.copy(), fmt, mode=mode),
                                   expected, rtol=1e-12, atol=1e-12)
        got = keras_resnet.preprocess_input(x.astype("float32"), fmt, mode=mode)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
        tensor = keras.ops.convert_to_numpy(
            keras_resnet.preprocess_input(keras.ops.convert_to_tensor(x, "float32"), fmt,
                                          mode=mode))
        np.testing.assert_allclose(tensor, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_preprocess_input_symbolic(mode):
    backend_data_format = keras.config.image_data_format()
    # image batch
    if backend_data_format == "channels_last":
        x = np.random.uniform(0, 255, (2, 10, 10, 3))
    else:
        x = np.random.uniform(0, 255, (2, 3, 10, 10))
    inputs = keras.layers.Input(shape=x.shape[1:])
    outputs = keras.layers.Lambda(lambda t: utils.preprocess_input(t, mode=mode),
                                  output_shape=x.shape[1:])(inputs)
    model = keras.Model(inputs, outputs)
    assert model.predict(x, verbose=0).shape == x.shape

    x = np.random.uniform(0, 255, (2, 10, 10, 3))
    inputs = keras.layers.Input(shape=x.shape[1:])
    outputs1 = keras.layers.Lambda(
        lambda t: utils.preprocess_input(t, "channels_last", mode=mode),
        output_shape=x.shape[1:])(inputs)
    model1 = keras.Model(inputs, outputs1)
    out1 = model1.predict(x, verbose=0)
    x2 = np.transpose(x, (0, 3, 1, 2))
    inputs2 = keras.layers.Input(shape=x2.shape[1:])
    outputs2 = keras.layers.Lambda(
        lambda t: utils.preprocess_input(t, "channels_first", mode=mode),
        output_shape=x2.shape[1:])(inputs2)
    model2 = keras.Model(inputs2, outputs2)
    out2 = model2.predict(x2, verbose=0)
    np.testing.assert_allclose(out1, out2.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(out1, ref(x, "channels_last", mode), rtol=1e-5, atol=1e-4)

    # single image
    if backend_data_format == "channels_last":
        x = np.random.uniform(0, 255, (10, 10, 3))
    else:
        x = np.random.uniform(0, 255, (3, 10, 10))
    inputs = keras.layers.Input(shape=x.shape)
    outputs = keras.layers.Lambda(lambda t: utils.preprocess_input(t, mode=mode),
                                  output_shape=x.shape)(inputs)
    model = keras.Model(inputs, outputs)
    assert model.predict(x[np.newaxis], verbose=0)[0].shape == x.shape

    x = np.random.uniform(0, 255, (10, 10, 3))
    inputs = keras.layers.Input(shape=x.shape)
    outputs1 = keras.layers.Lambda(
        lambda t: utils.preprocess_input(t, "channels_last", mode=mode),
        output_shape=x.shape)(inputs)
    model1 = keras.Model(inputs, outputs1)
    out1 = model1.predict(x[np.newaxis], verbose=0)[0]
    x2 = np.transpose(x, (2, 0, 1))
    inputs2 = keras.layers.Input(shape=x2.shape)
    outputs2 = keras.layers.Lambda(
        lambda t: utils.preprocess_input(t, "channels_first", mode=mode),
        output_shape=x2.shape)(inputs2)
    model2 = keras.Model(inputs2, outputs2)
    out2 = model2.predict(x2[np.newaxis], verbose=0)[0]
    np.testing.assert_allclose(out1, out2.transpose(1, 2, 0), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_preprocess_input_symbolic_mixed_precision(mode):
    keras.mixed_precision.set_global_policy("mixed_float16")
    shape = (20, 20, 3)
    try:
        inputs = keras.layers.Input(shape=shape)
        layer = keras.layers.Lambda(lambda t: utils.preprocess_input(t, mode=mode),
                                    output_shape=shape)
        out = layer(inputs)
        # (added) the Lambda computes in float16 and the output stays float16
        assert keras.backend.standardize_dtype(out.dtype) == "float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("mode", MODES)
def test_inside_tf_data_map(mode):
    """(added) keras.applications' own function fails here under JAX and PyTorch:
    ``Dataset.map`` hands it ``tf.Tensor``s whatever the backend."""
    import tensorflow as tf

    x = np.random.default_rng(2).integers(0, 256, (4, 6, 6, 3)).astype("uint8")
    ds = tf.data.Dataset.from_tensor_slices(x).map(
        lambda t: utils.preprocess_input(t, "channels_last", mode=mode)).batch(4)
    got = next(iter(ds))
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), ref(x, "channels_last", mode), rtol=1e-5,
                               atol=1e-4)


def test_family_modules_default_to_their_weights_preprocessing():
    """(added) keras.applications.resnet.preprocess_input is Caffe mode, and so are
    ours for keras.applications' weights; ResNet-18/34's ImageNet weights are
    torchvision's, so their modules use torch mode."""
    from keras.applications import resnet as keras_resnet_module

    from keras_resnet.applications import resnet, resnet18, resnet34, resnet50

    x = np.random.default_rng(3).uniform(0, 255, (2, 8, 8, 3))
    caffe = keras_resnet_module.preprocess_input(x.copy())
    for fn in (resnet.preprocess_input, resnet50.preprocess_input,
               keras_resnet.preprocess_input, utils.preprocess_input):
        np.testing.assert_allclose(fn(x.copy()), caffe, rtol=1e-12, atol=1e-12)
    torch_mode = ref(x, "channels_last", "torch")
    for fn in (resnet18.preprocess_input, resnet34.preprocess_input):
        np.testing.assert_allclose(fn(x.copy()), torch_mode, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        keras_resnet.preprocess_input(x.copy(), weights="resnet18.imagenet"), torch_mode,
        rtol=1e-12, atol=1e-12)


def test_errors_say_what_to_do():
    x = np.zeros((2, 8, 8, 3))
    with pytest.raises(ValueError, match="weights='resnet50.imagenet'"):
        keras_resnet.preprocess_input(x, "resnet50.imagenet")  # 0.1.0's positional order
    with pytest.raises(ValueError, match="not both"):
        keras_resnet.preprocess_input(x, mode="torch", weights="resnet50.imagenet")
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        keras_resnet.preprocess_input(np.zeros((2, 3, 8, 8)))  # channels first, not said
    with pytest.raises(ValueError, match="expected one image"):
        keras_resnet.preprocess_input(np.zeros((8, 3)))


# ---- obtain_input_shape's cases, asked of the constructors (keras' ResNets call it
# with default_size=224, min_size=32, require_flatten=include_top).
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_input_shapes_as_obtain_input_shape_gives_them(data_format):
    def shape(h, w, c):
        return (h, w, c) if data_format == "channels_last" else (c, h, w)

    keras.config.set_image_data_format(data_format)
    try:
        # without input_shape: any size without the top, 224 with it
        m = keras_resnet.ResNet18(weights=None, include_top=False)
        assert m.input_shape[1:] == shape(None, None, 3)
        m = keras_resnet.ResNet18(weights=None)
        assert m.input_shape[1:] == shape(224, 224, 3)
        # a given shape is kept, dynamic sizes included
        m = keras_resnet.ResNet18(weights=None, include_top=False,
                                  input_shape=shape(150, 150, 3))
        assert m.input_shape[1:] == shape(150, 150, 3)
        m = keras_resnet.ResNet18(weights=None, include_top=False,
                                  input_shape=shape(None, None, 3))
        assert m.input_shape[1:] == shape(None, None, 3)
        # smaller than the minimum size (32: keras' min_size for its ResNets)
        with pytest.raises(ValueError, match="at least 32"):
            keras_resnet.ResNet18(weights=None, include_top=False,
                                  input_shape=shape(31, 100, 3))
        # not an image shape
        with pytest.raises(ValueError, match="3 entries"):
            keras_resnet.ResNet18(weights=None, include_top=False, input_shape=(100, 3))
    finally:
        keras.config.set_image_data_format("channels_last")


def test_ported_tests_pass_under_torch():
    """This file again in a fresh process under ``KERAS_BACKEND=torch``: symbolic,
    Lambda and tf.data cases included (keras.applications' own function cannot take
    the tf.Tensors of Dataset.map under this backend)."""
    pytest.importorskip("torch")
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, KERAS_BACKEND="torch")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-k",
         "not pass_under", os.path.abspath(__file__)],
        env=env, capture_output=True, text=True, timeout=600, cwd=os.path.dirname(here))
    tail = out.stdout[-3000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    assert " passed" in out.stdout and " failed" not in out.stdout, tail
