"""No silent wrong numbers from weights: a file records the architecture it was saved
from and another network with the same variables is refused (old files: checked for
their residual additions, and warned about); fine-tuning from weights stored with a
classifier; the weights' input shape as the default."""

import warnings

import h5py
import numpy as np
import pytest

import keras_resnet
from keras_resnet.pretrained.record import RECORD, check_weights_file, read_record, save_weights

from tests.helpers import images, randomise


@pytest.fixture(scope="module")
def resnet20():
    model = keras_resnet.ResNet20(input_shape=(16, 16, 1))
    randomise(model, seed=1)
    return model


def test_a_resnet_checkpoint_is_refused_by_the_plain_net_with_the_same_variables(resnet20,
                                                                                   tmp_path):
    plain = keras_resnet.Plain20(input_shape=(16, 16, 1))
    assert [w.shape for w in plain.weights] == [w.shape for w in resnet20.weights]
    recorded = save_weights(resnet20, tmp_path / "r20.weights.h5")
    assert read_record(recorded)["model"] == "resnet20"
    with pytest.raises(ValueError, match="saved from 'resnet20'.*conv2_block1_add"):
        keras_resnet.Plain20(input_shape=(16, 16, 1), weights=recorded)
    # a file saved by Keras itself (no record): its residual additions give it away
    bare = tmp_path / "bare.weights.h5"
    resnet20.save_weights(bare)
    with pytest.raises(ValueError, match="9 residual additions; plain20 has 0"):
        keras_resnet.Plain20(input_shape=(16, 16, 1), weights=str(bare))
    plain_file = tmp_path / "p20.weights.h5"
    plain.save_weights(plain_file)
    with pytest.raises(ValueError, match="0 residual additions; resnet20 has 9"):
        keras_resnet.ResNet20(input_shape=(16, 16, 1), weights=str(plain_file))


def test_the_same_architecture_loads_exactly_and_old_files_warn(resnet20, tmp_path):
    x = images((2, 16, 16, 1))
    recorded = save_weights(resnet20, tmp_path / "r20.weights.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a recorded file loads without a warning
        again = keras_resnet.ResNet20(input_shape=(16, 16, 1), weights=recorded)
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(resnet20(x)))
    bare = tmp_path / "bare.weights.h5"
    resnet20.save_weights(bare)
    with pytest.warns(UserWarning, match="does not record the architecture"):
        old = keras_resnet.ResNet20(input_shape=(16, 16, 1), weights=str(bare))
    np.testing.assert_array_equal(np.asarray(old(x)), np.asarray(resnet20(x)))
    with h5py.File(recorded, "r") as f:
        assert RECORD in f and "layers" in f  # Keras' own groups are untouched


def test_stride_placement_is_told_apart(tmp_path):
    """v1 and v1.5 bottlenecks have the same variables; only the record tells them."""
    v1 = keras_resnet.build("resnet50", weights=None, input_shape=(64, 64, 3))
    path = save_weights(v1, tmp_path / "v1.weights.h5")
    v15 = keras_resnet.build("resnet50", weights=None, input_shape=(64, 64, 3),
                             stride_placement="v1.5")
    with pytest.raises(ValueError, match=r"conv\d_block1_\d_conv.*strides"):
        check_weights_file(v15, path)
    check_weights_file(v1, path)  # the same network passes


def test_tag_with_a_classifier_loads_into_a_new_head_and_no_top(capsys):
    """The issue's loop between two errors: fashion_mnist weights, 2 classes."""
    shipped = keras_resnet.ResNet20(weights="fashion_mnist")  # the weights' 28x28x1
    assert shipped.input_shape == (None, 28, 28, 1)
    capsys.readouterr()
    two = keras_resnet.ResNet20(weights="fashion_mnist", classes=2)
    line = capsys.readouterr().out.strip()
    assert line.count("\n") == 0 and "10-class classifier is not used" in line
    assert "'predictions' (2 classes)" in line
    assert two.output_shape == (None, 2)
    headless = keras_resnet.ResNet20(weights="fashion_mnist", include_top=False, pooling="avg")
    x = images((3, 28, 28, 1))
    # the shipped net's own pooled features, taken from its avg_pool layer
    import keras

    ref = keras.Model(shipped.input, shipped.get_layer("avg_pool").output)(x)
    np.testing.assert_allclose(np.asarray(headless(x)), np.asarray(ref), rtol=1e-5, atol=1e-6)
    for name in ("conv1_conv", "conv4_block3_2_conv", "conv4_block3_2_bn"):
        for a, b in zip(two.get_layer(name).get_weights(), shipped.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_a_file_of_another_class_count_loads_its_backbone(resnet20, tmp_path, capsys):
    path = save_weights(resnet20, tmp_path / "ten.weights.h5")
    capsys.readouterr()
    three = keras_resnet.ResNet20(input_shape=(16, 16, 1), classes=3, weights=path)
    assert "its classifier has another number of classes" in capsys.readouterr().out
    for a, b in zip(three.get_layer("conv3_block2_1_bn").get_weights(),
                    resnet20.get_layer("conv3_block2_1_bn").get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="another architecture than 'resnet32'"):
        keras_resnet.ResNet32(input_shape=(16, 16, 1), classes=3, weights=path)


def test_train_fine_tunes_a_caffe_tag_with_its_own_normalisation_inside(tmp_path, monkeypatch):
    """`train --weights imagenet` on a folder (keras.applications' Caffe-mode weights,
    served from a local folder with random values): the run's pipeline hands the net
    x/255 as for every run, and weightless layers inside it finish the Caffe
    normalisation, so the frozen backbone equals keras.applications' ResNet50 on
    `preprocess_input(x)`."""
    import dataclasses
    import hashlib

    import keras

    from keras_resnet.pretrained import registry
    from keras_resnet.rundir import read_run
    from keras_resnet.training import train
    from tests.helpers import randomise, save_legacy_h5, write_image_folder

    ref = keras.applications.ResNet50(weights=None)
    randomise(ref, seed=5)
    served = tmp_path / "served"
    served.mkdir()
    entry = registry.resolve("resnet50", "imagenet")
    save_legacy_h5(ref, served / entry.files["top"]["file_name"])
    md5 = hashlib.md5((served / entry.files["top"]["file_name"]).read_bytes()).hexdigest()
    entries, defaults = registry.load_registry()
    patched = dict(entries, **{entry.tag: dataclasses.replace(
        entry, files={"top": dict(entry.files["top"], hash=f"md5:{md5}")})})
    monkeypatch.setattr(registry, "load_registry", lambda: (patched, defaults))
    monkeypatch.setenv("KERAS_RESNET_WEIGHTS_DIR", str(served))

    write_image_folder(tmp_path / "photos", per_class=4, size=(40, 40),
                       kinds=("png8_rgb",))
    out = str(tmp_path / "run")
    train("resnet50", str(tmp_path / "photos"), weights="imagenet", image_size=(32, 32),
          epochs=1, freeze_backbone=1, batch_size=4, out=out, verbose=0, plot=False)
    run = read_run(out)
    assert not np.any(run.pixel_mean)  # the pipeline gives x / 255
    net = keras.models.load_model(run.model_path)
    assert {"preprocess_normalize", "preprocess_bgr"} <= {l.name for l in net.layers}

    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    features = keras.Model(net.inputs, net.get_layer("avg_pool").output)
    small = keras.applications.ResNet50(weights=None, include_top=False, pooling="avg",
                                        input_shape=(32, 32, 3))
    for layer in small.layers:
        if layer.weights:
            layer.set_weights(ref.get_layer(layer.name).get_weights())
    expected = small(keras.applications.resnet.preprocess_input(x.copy()))
    np.testing.assert_allclose(np.asarray(features(x / 255.0)), np.asarray(expected),
                               rtol=1e-4, atol=1e-4)
