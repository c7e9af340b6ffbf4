"""keras' own ``keras/src/applications/applications_test.py`` (Keras 3.15.1), adapted to
this package: its ResNet cases, run on every ImageNet-family constructor here
(ResNet18/34/50/101/152, Plain18/34/50/101/152), each with its family module's
``preprocess_input`` / ``decode_predictions`` as upstream pairs ``resnet.ResNet50`` with
``keras.applications.resnet``.

Adaptations (the rest follows the upstream file case by case):
- plain pytest instead of keras' absl ``TestCase``;
- ``weights=None`` where upstream downloads (``test_application_base``): without the
  ImageNet weights the elephant photo cannot be recognised, so that case checks instead
  that ``preprocess_input`` equals keras.applications' for the weights the module
  serves, that ``decode_predictions`` ranks the predicted classes, and the
  serialization round trip;
- the 101/152-layer networks (seconds per build; the same builder code as the 50-layer
  ones) run one case (pooling), marked slow; channels first runs for
  ResNet18, ResNet50 and Plain18 (upstream: every model), on TensorFlow's CPU only
  symbolically, as upstream skips ``test_application_base`` there;
- added: the signature and defaults against ``keras.applications.ResNet50`` itself.

It runs under the process's backend (TensorFlow in the suite);
``test_ported_tests_pass_under_jax`` runs this file and
tests/compat/test_imagenet_utils_port.py again under ``KERAS_BACKEND=jax``.
"""

import inspect
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras.applications import imagenet_utils as keras_imagenet_utils

import keras_resnet
from keras_resnet.applications import resnet, resnet18, resnet34, resnet50
from keras_resnet.pretrained.classes import imagenet_classes

# (constructor, channels of the last feature map, module serving preprocess/decode,
#  keras.applications mode of its preprocess_input)
MODEL_LIST = [
    (resnet18.ResNet18, 512, resnet18, "torch"),
    (resnet34.ResNet34, 512, resnet34, "torch"),
    (resnet50.ResNet50, 2048, resnet50, "caffe"),
    (resnet.ResNet101, 2048, resnet, "caffe"),
    (resnet.ResNet152, 2048, resnet, "caffe"),
    (keras_resnet.Plain18, 512, keras_resnet, "caffe"),
    (keras_resnet.Plain34, 512, keras_resnet, "caffe"),
    (keras_resnet.Plain50, 2048, keras_resnet, "caffe"),
    (keras_resnet.Plain101, 2048, keras_resnet, "caffe"),
    (keras_resnet.Plain152, 2048, keras_resnet, "caffe"),
]
DEEP = ("101", "152")
# channels first: the same builder code for every network, so these three represent it
CHANNELS_FIRST = ("ResNet18", "ResNet50", "Plain18")


def _params(deep=False):
    for data_format in ["channels_first", "channels_last"]:
        for app, last_dim, module, mode in MODEL_LIST:
            name = app.__name__
            if data_format == "channels_first" and name not in CHANNELS_FIRST:
                continue
            if name.endswith(DEEP) and not deep:
                continue
            marks = [pytest.mark.slow] if name.endswith(DEEP) else []
            yield pytest.param(app, last_dim, module, mode, data_format,
                               id=f"{name}_{data_format}", marks=marks)


PARAMS = list(_params())
# The 101/152-layer networks (seconds per build) take one case (pooling="max").
PARAMS_WITH_DEEP = list(_params(deep=True))


@pytest.fixture
def image_data_format():
    original = keras.config.image_data_format()

    def set_format(name):
        keras.config.set_image_data_format(name)

    yield set_format
    keras.config.set_image_data_format(original)


def _tf_cpu_only():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


@pytest.mark.parametrize("app,last_dim,module,mode,data_format", PARAMS)
def test_application_notop_variable_input_channels(app, last_dim, module, mode, data_format,
                                                   image_data_format):
    image_data_format(data_format)
    # compatibility with 1 channel
    if data_format == "channels_first":
        input_shape = (1, None, None)
        correct_output_shape = [None, last_dim, None, None]
    else:
        input_shape = (None, None, 1)
        correct_output_shape = [None, None, None, last_dim]
    model = app(weights=None, include_top=False, input_shape=input_shape)
    assert list(model.outputs[0].shape) == correct_output_shape
    # compatibility with 4 channels
    input_shape = (4, None, None) if data_format == "channels_first" else (None, None, 4)
    model = app(weights=None, include_top=False, input_shape=input_shape)
    assert list(model.outputs[0].shape) == correct_output_shape


@pytest.mark.parametrize("app,last_dim,module,mode,data_format", PARAMS)
def test_application_base(app, last_dim, module, mode, data_format, image_data_format):
    if data_format == "channels_first" and _tf_cpu_only():
        pytest.skip("Conv2D doesn't support channels_first using CPU with tensorflow "
                    "backend (skipped upstream too)")
    image_data_format(data_format)
    # can be instantiated with default arguments (weights=None: no download here)
    model = app(weights=None)
    # inference on a test image, preprocessed by the module's function
    shape = model.input_shape[2:4] if data_format == "channels_first" else \
        model.input_shape[1:3]
    assert tuple(shape) == (224, 224)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (1, *shape, 3)).astype("float32")
    if data_format == "channels_first":
        x = np.transpose(x, (0, 3, 1, 2))
    expected = keras_imagenet_utils.preprocess_input(x.copy(), data_format, mode=mode)
    x = module.preprocess_input(x)
    np.testing.assert_allclose(x, expected, rtol=1e-6, atol=1e-4)
    preds = model.predict(x, verbose=0)
    assert preds.shape == (1, 1000)
    decoded = module.decode_predictions(preds)[0]
    order = np.argsort(-preds[0], kind="stable")[:5]
    names = imagenet_classes()
    assert [(wnid, name) for wnid, name, _ in decoded] == [names[i] for i in order]
    np.testing.assert_allclose([s for _, _, s in decoded], preds[0][order], rtol=1e-6)
    # can be serialized and deserialized
    config = keras.saving.serialize_keras_object(model)
    reconstructed_model = keras.saving.deserialize_keras_object(config)
    assert len(model.weights) == len(reconstructed_model.weights)


@pytest.mark.parametrize("app,last_dim,module,mode,data_format", PARAMS)
def test_application_notop_custom_input_shape(app, last_dim, module, mode, data_format,
                                              image_data_format):
    image_data_format(data_format)
    if data_format == "channels_first":
        input_shape, last_dim_axis = (3, 123, 123), 1
    else:
        input_shape, last_dim_axis = (123, 123, 3), -1
    model = app(weights=None, include_top=False, input_shape=input_shape)
    assert list(model.outputs[0].shape)[last_dim_axis] == last_dim


@pytest.mark.parametrize("app,last_dim,module,mode,data_format", PARAMS)
def test_application_notop_custom_input_tensor(app, last_dim, module, mode, data_format,
                                               image_data_format):
    image_data_format(data_format)
    if data_format == "channels_first":
        input_shape, last_dim_axis = (4, 200, 200), 1
    else:
        input_shape, last_dim_axis = (200, 200, 4), -1
    inputs_custom = keras.layers.Input(shape=input_shape, name="custom_input")
    inputs_custom = keras.layers.Conv2D(3, (2, 2), padding="valid", strides=(2, 2))(
        inputs_custom)
    model = app(weights=None, include_top=False, input_tensor=inputs_custom)
    assert list(model.outputs[0].shape)[last_dim_axis] == last_dim


@pytest.mark.parametrize("app,last_dim,module,mode,data_format", PARAMS_WITH_DEEP)
def test_application_pooling(app, last_dim, module, mode, data_format, image_data_format):
    image_data_format(data_format)
    model = app(weights=None, include_top=False, pooling="max")
    assert list(model.outputs[0].shape) == [None, last_dim]


@pytest.mark.parametrize("app,last_dim,module,mode,data_format",
                         [p for p in PARAMS if p.id.endswith("channels_last")])
def test_application_classifier_activation(app, last_dim, module, mode, data_format):
    model = app(weights=None, include_top=True, classifier_activation="softmax")
    assert model.layers[-1].activation.__name__ == "softmax"


# ------------------------------------------------------------------ added cases
KERAS_PARAMETERS = list(inspect.signature(keras.applications.ResNet50).parameters)


@pytest.mark.parametrize("name", [n for n in keras_resnet._CONSTRUCTOR_NAMES])
def test_signature_and_defaults_are_keras_applications(name):
    """Every constructor: keras.applications' eight parameters first, in its order,
    with its defaults (weights: "imagenet" where registered; classes: the family's)."""
    make = getattr(keras_resnet, name)
    params = inspect.signature(make).parameters
    assert list(params)[:8] == KERAS_PARAMETERS
    theirs = inspect.signature(keras.applications.ResNet50).parameters
    for p in ("include_top", "input_tensor", "input_shape", "pooling",
              "classifier_activation"):
        assert params[p].default == theirs[p].default, p
    spec = keras_resnet.get_spec(name)
    assert params["name"].default == spec.name  # keras.applications: "resnet50"
    assert params["classes"].default == spec.default_classes
    expected_weights = "imagenet" if name in (
        "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152") else None
    assert params["weights"].default == expected_weights
    assert all(p.kind == p.POSITIONAL_OR_KEYWORD for p in list(params.values())[:8])


def test_name_is_the_eighth_positional_argument_and_notop_takes_any_size():
    model = keras_resnet.ResNet18(False, None, None, None, "avg", 1000, "softmax", "trunk")
    assert model.name == "trunk"
    assert model.input_shape == (None, None, None, 3)
    out = model(np.zeros((1, 320, 256, 3), "float32"))  # keras.applications' (None, None, 3)
    assert tuple(out.shape) == (1, 512)


@pytest.mark.parametrize("kwargs", [
    {"include_top": False},
    {"include_top": False, "input_shape": (123, 97, 1), "pooling": "max"},
    {"include_top": True, "classes": 7, "classifier_activation": None},
])
def test_resnet50_shapes_and_names_equal_keras_applications(kwargs):
    """The reference itself: keras.applications.ResNet50 with the same arguments has
    the same input and output shapes, model name and layer names (ours lack only the
    conv biases, so the parameter count differs by exactly those)."""
    ours = keras_resnet.ResNet50(weights=None, **kwargs)
    theirs = keras.applications.ResNet50(weights=None, **kwargs)
    assert ours.input_shape == theirs.input_shape
    assert ours.output_shape == theirs.output_shape
    assert ours.name == theirs.name == "resnet50"
    # (the input layers' names are made unique per process: input_layer, input_layer_1)
    assert [l.name for l in ours.layers[1:]] == [l.name for l in theirs.layers[1:]]
    biases = sum(int(np.prod(l.bias.shape)) for l in theirs.layers
                 if isinstance(l, keras.layers.Conv2D))
    assert ours.count_params() == theirs.count_params() - biases


def test_ported_tests_pass_under_jax():
    """The two ported files again, in a fresh process under ``KERAS_BACKEND=jax``:
    every case of imagenet_utils_test; of applications_test the base case (inference,
    preprocessing, decoding, serialization) for ResNet18 in both layouts (channels first
    runs numerically here) and ResNet50, and ResNet18's channels-first shape cases. The
    shape cases of the other networks are the same builder code, backend-independent
    (they run under TensorFlow above)."""
    pytest.importorskip("jax")
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         "-m", "not slow", "-k", "not pass_under and not shapes_and_names and "
         "(not test_application_ or (test_application_base and (ResNet18 or "
         "ResNet50_channels_last)) or (ResNet18_channels_first and notop))",
         os.path.join(here, "test_imagenet_utils_port.py"), os.path.abspath(__file__)],
        env=env, capture_output=True, text=True, timeout=900,
        cwd=os.path.dirname(here))
    tail = out.stdout[-3000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    assert " passed" in out.stdout and " failed" not in out.stdout, tail
