"""Exactness against anchors from outside this package: torchvision's published
parameter counts and GFLOPS, keras.applications (computed live), and the paper's
Table 1 / Table 6. Every number on the right-hand side comes from those sources."""

import math

import keras
import pytest

import keras_resnet
from keras_resnet import model_complexity, spec_complexity
from tests.helpers import cached_model

# torchvision model docs, "num_params" of IMAGENET1K_V1.
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}
# torchvision model docs, "GFLOPS" (multiply-adds; torchvision is v1.5).
TORCHVISION_GMACS = {"resnet18": 1.81, "resnet34": 3.66, "resnet50": 4.09}
# He et al. 2015, Table 1 "FLOPs" (multiply-adds).
PAPER_TABLE1_GMACS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8,
                      "resnet101": 7.6, "resnet152": 11.3}
# He et al. 2015, Table 6 "# params".
PAPER_TABLE6_PARAMS_M = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66,
                         "resnet56": 0.85, "resnet110": 1.7, "resnet1202": 19.4}


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_trainable_params_equal_torchvision(name):
    built = model_complexity(cached_model(name))
    assert built.params == TORCHVISION_PARAMS[name]
    assert spec_complexity(keras_resnet.get_spec(name)).params == TORCHVISION_PARAMS[name]


@pytest.mark.parametrize("depth", [50, 101, 152])
def test_trainable_params_equal_keras_applications_minus_conv_biases(depth):
    app = getattr(keras.applications, f"ResNet{depth}")(weights=None)
    conv_biases = sum(
        math.prod(layer.bias.shape)
        for layer in app.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias
    )
    assert conv_biases > 0
    app_trainable = sum(math.prod(w.shape) for w in app.trainable_weights)
    ours = cached_model(f"resnet{depth}")
    assert model_complexity(ours).params == app_trainable - conv_biases
    # Same BN statistics count, too (non-trainable moving mean/variance).
    app_stats = sum(math.prod(w.shape) for w in app.non_trainable_weights)
    assert model_complexity(ours).non_trainable == app_stats


@pytest.mark.parametrize("depth", [50, 101, 152])
def test_layer_names_and_order_equal_keras_applications(depth):
    app = getattr(keras.applications, f"ResNet{depth}")(weights=None)
    ours = cached_model(f"resnet{depth}")
    # Every layer after the input has the same name, in the same order.
    assert [l.name for l in ours.layers[1:]] == [l.name for l in app.layers[1:]]
    for a, b in zip(app.layers, ours.layers):
        if isinstance(a, keras.layers.Conv2D):
            assert a.strides == b.strides and a.kernel.shape == b.kernel.shape, a.name
    assert ours.get_layer(f"conv4_block{ {50: 6, 101: 23, 152: 36}[depth] }_out")


@pytest.mark.parametrize("name", sorted(PAPER_TABLE1_GMACS))
def test_flops_within_3_percent_of_paper_table1(name):
    macs = model_complexity(cached_model(name)).macs
    paper = PAPER_TABLE1_GMACS[name] * 1e9
    assert abs(macs - paper) / paper <= 0.03, f"{name}: {macs / 1e9:.3f} vs {paper / 1e9}"


@pytest.mark.parametrize("name", sorted(TORCHVISION_GMACS))
def test_v15_flops_match_torchvision_gflops(name):
    spec = keras_resnet.get_spec(name).replace(stride_placement="v1.5")
    macs = spec_complexity(spec).macs
    assert round(macs / 1e9, 2) == TORCHVISION_GMACS[name]


def test_v15_moves_the_stride_to_the_3x3_and_keeps_the_parameters():
    v1 = cached_model("resnet50")
    v15 = cached_model("resnet50", stride_placement="v1.5")
    assert v1.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert v1.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert v15.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert v15.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert v15.count_params() == v1.count_params()
    assert model_complexity(v15).macs > model_complexity(v1).macs


@pytest.mark.parametrize("name", sorted(PAPER_TABLE6_PARAMS_M))
def test_cifar_params_round_to_paper_table6(name):
    params = spec_complexity(keras_resnet.get_spec(name)).params
    paper = PAPER_TABLE6_PARAMS_M[name]
    digits = 2 if paper < 1 else 1
    assert round(params / 1e6, digits) == paper


@pytest.mark.parametrize("name", ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"])
def test_cifar_built_params_equal_spec_count(name):
    assert model_complexity(cached_model(name)).params == spec_complexity(
        keras_resnet.get_spec(name)).params


@pytest.mark.parametrize("name,strides", [("resnet50", (4, 4, 8, 16, 32)),
                                          ("resnet18", (4, 4, 8, 16, 32)),
                                          ("resnet20", (1, 1, 2, 4))])
def test_stage_output_shapes(name, strides):
    model = cached_model(name)
    spec = keras_resnet.get_spec(name)
    size = spec.default_input_shape[0]
    taps = ["pool1_pool" if spec.family == "imagenet" else "conv1_relu"]
    taps += [f"{u.name}_out" for u in spec.units()
             if u.index == spec.blocks_per_stage[u.stage - 2]]
    channels = [spec.stem_width] + [w * spec.expansion for w in spec.widths]
    for tap, stride, c in zip(taps, strides, channels):
        assert tuple(model.get_layer(tap).output.shape[1:]) == (size // stride, size // stride, c)
    # The analytic counter agrees with the built graph.
    shapes = spec_complexity(spec).feature_shapes
    assert list(shapes.values()) == [(size // s, size // s, c) for s, c in zip(strides, channels)]


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_imagenet_plain_equals_residual_minus_shortcuts(depth):
    res, plain = cached_model(f"resnet{depth}"), cached_model(f"plain{depth}")
    shortcut_layers = [l for l in res.layers if "_0_" in l.name or l.name.endswith("_add")]
    assert shortcut_layers
    assert [l.name for l in plain.layers] == [
        l.name for l in res.layers if l not in shortcut_layers]
    shortcut_params = sum(l.count_params() for l in shortcut_layers)
    assert plain.count_params() == res.count_params() - shortcut_params


@pytest.mark.parametrize("depth", [20, 56])
def test_cifar_plain_equals_option_a_residual_minus_shortcuts(depth):
    res, plain = cached_model(f"resnet{depth}"), cached_model(f"plain{depth}")
    extra = {l.name for l in res.layers} - {l.name for l in plain.layers}
    assert extra and all(n.endswith(("_add", "_0_pool", "_0_pad")) for n in extra)
    assert plain.count_params() == res.count_params()  # option A has no parameters
