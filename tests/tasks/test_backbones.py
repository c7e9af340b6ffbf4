"""Detection backbones: strides, equality with the classifier, lasting freezes and when
they are the default (pretrained weights only), the Faster R-CNN split."""

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.arch.layers import BatchNormalization as FrozenBN
from keras_resnet.tasks.backbones import backbone, faster_rcnn_split
from keras_resnet.numerics import assert_close
from tests.helpers import images, randomise


def copy_by_name(src, dst):
    n = 0
    for layer in dst.layers:
        if layer.weights:
            layer.set_weights(src.get_layer(layer.name).get_weights())
            n += 1
    return n


@pytest.mark.parametrize("name,channels", [("resnet18", (64, 128, 256, 512)),
                                           ("resnet50", (256, 512, 1024, 2048))])
def test_feature_maps_at_strides_4_8_16_32_for_several_sizes(name, channels):
    b = backbone(name)
    for h, w in [(224, 224), (160, 96), (320, 256)]:
        maps = b(np.zeros((1, h, w, 3), "float32"))
        assert sorted(maps) == ["C2", "C3", "C4", "C5"]
        for level, c, s in zip(["C2", "C3", "C4", "C5"], channels, (4, 8, 16, 32)):
            assert tuple(maps[level].shape) == (1, h // s, w // s, c)


def test_features_equal_the_classifiers_activations():
    clf = keras_resnet.ResNet50(weights=None, input_shape=(None, None, 3))
    randomise(clf, seed=2)
    x = images((2, 160, 192, 3), seed=2)
    taps = {"C2": "conv2_block3_out", "C3": "conv3_block4_out", "C4": "conv4_block6_out",
            "C5": "conv5_block3_out"}
    reference = keras.Model(clf.input, {k: clf.get_layer(v).output for k, v in taps.items()})
    expected = {k: keras.ops.convert_to_numpy(v) for k, v in reference(x).items()}
    for freeze_bn in (False, True):
        b = backbone("resnet50", freeze_bn=freeze_bn)
        assert copy_by_name(clf, b) == sum(1 for l in clf.layers if l.weights) - 1  # no fc
        got = b(x)
        for k in taps:
            assert_close(keras.ops.convert_to_numpy(got[k]), expected[k], 1e-5, k)


def bn_state(model):
    return {l.name: [np.array(w) for w in l.get_weights()] for l in model.layers
            if isinstance(l, keras.layers.BatchNormalization)}


def kernels(model):
    return {l.name: np.array(l.kernel) for l in model.layers
            if isinstance(l, keras.layers.Conv2D)}


@pytest.mark.parametrize("set_trainable", [False, True])
def test_frozen_bn_and_stages_survive_a_training_step(set_trainable):
    with pytest.warns(UserWarning, match="never learn"):  # no weights: freezing is odd
        b = backbone("resnet18", input_shape=(64, 64, 3), freeze_bn=True, freeze_stages=2)
    randomise(b, seed=1)
    inp = keras.Input((64, 64, 3))
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(b(inp)["C5"]))
    model = keras.Model(inp, out)
    if set_trainable:
        model.trainable = True  # what fine-tuning code does; Keras' BN would unfreeze
    bn0, k0 = bn_state(b), kernels(b)
    model.compile(keras.optimizers.SGD(0.5), keras.losses.MeanSquaredError())
    model.fit(images((8, 64, 64, 3)) * 3 + 1, np.ones((8, 2), "float32"), epochs=1,
              batch_size=8, verbose=0)
    for name, values in bn_state(b).items():
        for a, c in zip(values, bn0[name]):
            np.testing.assert_array_equal(a, c, err_msg=name)
    k1 = kernels(b)
    for name in k0:
        frozen = name.startswith(("conv1_", "conv2_"))
        changed = not np.array_equal(k0[name], k1[name])
        assert changed != frozen, (name, "frozen" if frozen else "trainable")


def _bn_layers(model):
    return [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]


def _train_step(b, size=32):
    inp = keras.Input((size, size, 3))
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(b(inp)["C5"]))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.SGD(0.1), keras.losses.MeanSquaredError())
    model.fit(images((4, size, size, 3)) * 3 + 1, np.ones((4, 2), "float32"), epochs=1,
              batch_size=4, verbose=0)


def test_without_weights_bn_trains_and_no_stage_is_frozen_by_default():
    """torchvision's rule: a backbone trained from scratch freezes nothing."""
    b = backbone("resnet18", input_shape=(32, 32, 3))
    bns = _bn_layers(b)
    assert bns and not any(isinstance(l, FrozenBN) for l in bns)
    assert all(l.trainable and l.trainable_weights for l in bns)
    assert not any(getattr(l, "freeze", False) for l in b.layers)
    before = {l.name: [np.array(w) for w in l.get_weights()] for l in bns}
    kernel = np.array(b.get_layer("conv1_conv").kernel)
    _train_step(b)
    for l in bns:  # gamma, beta and the moving statistics all moved
        for new, old in zip(l.get_weights(), before[l.name]):
            assert not np.array_equal(new, old), l.name
    assert not np.array_equal(np.array(b.get_layer("conv1_conv").kernel), kernel)
    trunk, head = faster_rcnn_split("resnet18", roi_size=7)
    assert not any(isinstance(l, FrozenBN) for m in (trunk, head) for l in m.layers)


def test_pretrained_weights_freeze_bn_by_default_and_explicit_choices_win(tmp_path):
    source = keras_resnet.ResNet18(weights=None, include_top=False,
                                   input_shape=(None, None, 3))
    randomise(source, seed=6)
    path = str(tmp_path / "resnet18_notop.weights.h5")
    source.save_weights(path)
    pretrained = backbone("resnet18", weights=path, input_shape=(32, 32, 3))
    bns = _bn_layers(pretrained)
    assert bns and all(isinstance(l, FrozenBN) and l.freeze for l in bns)
    np.testing.assert_array_equal(np.array(pretrained.get_layer("conv1_bn").moving_mean),
                                  np.array(source.get_layer("conv1_bn").moving_mean))
    # explicit choices are honoured both ways
    thawed = backbone("resnet18", weights=path, input_shape=(32, 32, 3), freeze_bn=False)
    assert not any(isinstance(l, FrozenBN) for l in _bn_layers(thawed))
    frozen = backbone("resnet18", input_shape=(32, 32, 3), freeze_bn=True)
    assert all(isinstance(l, FrozenBN) for l in _bn_layers(frozen))
    with pytest.warns(UserWarning, match="freeze_stages=1 with weights=None"):
        stem = backbone("resnet18", input_shape=(32, 32, 3), freeze_stages=1)
    assert not stem.get_layer("conv1_conv").trainable
    assert stem.get_layer("conv2_block1_1_conv").trainable
    with pytest.raises(ValueError, match="freeze_bn must be"):
        backbone("resnet18", freeze_bn="yes")


def test_faster_rcnn_split_shares_the_trunk_and_runs_conv5_per_roi():
    clf = keras_resnet.ResNet50(weights=None, input_shape=(None, None, 3))
    randomise(clf, seed=4)
    trunk, head = faster_rcnn_split("resnet50", freeze_bn=False)
    copy_by_name(clf, trunk)
    copy_by_name(clf, head)
    x = images((1, 224, 224, 3), seed=4)
    c4 = trunk(x)
    assert tuple(c4.shape) == (1, 14, 14, 1024)  # stride 16: 14 x 14 RoI-sized
    pooled = keras.ops.convert_to_numpy(head(c4))
    full = keras.Model(clf.input, clf.get_layer("avg_pool").output)
    assert_close(pooled, keras.ops.convert_to_numpy(full(x)), 1e-5, "conv5 head")
    rois = images((5, 14, 14, 1024), seed=5)
    assert tuple(head(rois).shape) == (5, 2048)


def test_backbone_errors():
    with pytest.raises(ValueError, match="outputs must be"):
        backbone("resnet18", outputs=("C6",))
    with pytest.raises(ValueError, match="freeze_stages"):
        backbone("resnet18", freeze_stages=7)


# ------------------------------------------------------------------ CIFAR family
def test_cifar_backbone_gives_the_stage_maps_keyed_by_level_with_the_weights():
    """backbone("resnet20", weights="fashion_mnist"): conv2_x..conv4_x as C0..C2
    (strides 1, 2, 4), at the weights' 28x28x1, equal to the classifier's own
    activations; frozen BN by default (pretrained); P0..P2 for keras-hub."""
    from keras_resnet.data import load_embedded

    bb = keras_resnet.backbone("resnet20", weights="fashion_mnist")
    assert tuple(bb.input.shape[1:]) == (28, 28, 1)
    assert {k: tuple(v.shape[1:]) for k, v in bb.output.items()} == {
        "C0": (28, 28, 16), "C1": (14, 14, 32), "C2": (7, 7, 64)}
    assert list(bb.pyramid_outputs) == ["P0", "P1", "P2"]
    assert all(isinstance(l, FrozenBN)
               for l in bb.layers if "bn" in l.name)
    model, preprocess = keras_resnet.load_pretrained("resnet20.fashion_mnist")
    _, (x, _) = load_embedded()
    x = preprocess(x[:16])
    taps = keras.Model(model.inputs, [model.get_layer(n).output for n in
                                       ("conv2_block3_out", "conv3_block3_out",
                                        "conv4_block3_out")])
    for got, ref in zip((bb(x)[k] for k in ("C0", "C1", "C2")), taps(x)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-5)


def test_cifar_backbone_without_weights_takes_any_size_and_names_its_levels():
    bb = keras_resnet.backbone("plain20", outputs=("C2",))
    assert tuple(bb.input.shape[1:]) == (None, None, 3)
    assert tuple(bb(np.zeros((1, 40, 24, 3), "float32"))["C2"].shape) == (1, 10, 6, 64)
    with pytest.raises(ValueError, match=r"\['C0', 'C1', 'C2'\] for a cifar-family"):
        keras_resnet.backbone("resnet20", outputs=("C5",))
    with pytest.raises(ValueError, match="needs an ImageNet-family network"):
        keras_resnet.faster_rcnn_split("resnet20")
