"""The spec table and registry: pure Python, no Keras needed."""

import pytest

import keras_resnet
from keras_resnet.arch import specs


def test_registry_has_every_named_model():
    expected = {
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "plain18", "plain34", "plain50", "plain101", "plain152",
        "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
        "plain20", "plain32", "plain44", "plain56", "plain110",
        "resnet18d", "resnet34d", "resnet50d", "resnet101d", "resnet152d", "resnet200d",
    }
    assert set(keras_resnet.list_models()) == expected
    assert set(keras_resnet.list_models(family="cifar", residual=False)) == {
        "plain20", "plain32", "plain44", "plain56", "plain110"}
    with pytest.raises(ValueError, match="family"):
        keras_resnet.list_models(family="mnist")


@pytest.mark.parametrize("name", sorted(specs.SPECS))
def test_depth_in_name_equals_counted_weighted_layers(name):
    spec = specs.SPECS[name]
    assert name.rstrip("d").endswith(str(spec.depth))
    assert keras_resnet.get_spec(spec.constructor_name) is spec
    assert callable(getattr(keras_resnet, spec.constructor_name))


def test_paper_table1_layouts():
    get = keras_resnet.get_spec
    assert get("resnet18").blocks_per_stage == (2, 2, 2, 2)
    assert get("resnet34").blocks_per_stage == (3, 4, 6, 3)
    assert get("resnet50").blocks_per_stage == (3, 4, 6, 3)
    assert get("resnet101").blocks_per_stage == (3, 4, 23, 3)
    assert get("resnet152").blocks_per_stage == (3, 8, 36, 3)
    assert get("resnet50").block == "bottleneck" and get("resnet34").block == "basic"
    assert get("resnet110").blocks_per_stage == (18, 18, 18)
    assert get("resnet20").widths == (16, 32, 64)


def test_paper_defaults_for_shortcuts_and_sizes():
    assert keras_resnet.get_spec("resnet50").shortcut == "B"
    assert keras_resnet.get_spec("resnet56").shortcut == "A"
    assert keras_resnet.get_spec("plain56").shortcut is None
    assert keras_resnet.get_spec("resnet20").default_input_shape == (32, 32, 3)
    assert keras_resnet.get_spec("resnet20").default_classes == 10
    assert keras_resnet.get_spec("resnet50").default_classes == 1000


def test_name_lookup_is_forgiving_but_unknown_names_list_the_valid_ones():
    assert keras_resnet.get_spec("ResNet-50") is keras_resnet.get_spec("resnet_50")
    with pytest.raises(ValueError, match="Valid names: resnet18") as err:
        keras_resnet.get_spec("resnet51")
    assert "resnet1202" in str(err.value)


def test_custom_cifar_depth_and_width():
    spec = keras_resnet.cifar_spec(n=5, width_multiplier=2)
    assert spec.depth == 32 and spec.widths == (32, 64, 128) and spec.stem_width == 32
    assert keras_resnet.cifar_spec(depth=8).blocks_per_stage == (1, 1, 1)
    plain = keras_resnet.cifar_spec(depth=62, residual=False)
    assert plain.name == "plain62" and plain.shortcut is None


@pytest.mark.parametrize("depth", [21, 7, 0, -4, 2.5])
def test_cifar_depth_must_be_6n_plus_2(depth):
    with pytest.raises(ValueError, match="6n\\+2"):
        keras_resnet.cifar_spec(depth)


def test_bad_specs_are_rejected_with_clear_messages():
    base = keras_resnet.get_spec("resnet50")
    with pytest.raises(ValueError, match="shortcut must be one of"):
        base.replace(shortcut="D")
    with pytest.raises(ValueError, match="stride_placement"):
        base.replace(stride_placement="2x2")
    with pytest.raises(ValueError, match="plain network"):
        keras_resnet.get_spec("plain50").replace(shortcut="B")
    with pytest.raises(ValueError, match="one entry per stage"):
        base.replace(widths=(64, 128))
    with pytest.raises(ValueError, match="may not shrink"):
        keras_resnet.get_spec("resnet20").replace(widths=(64, 32, 16))
    with pytest.raises(ValueError, match="exactly one"):
        keras_resnet.cifar_spec(20, n=3)


def test_stride_placement_aliases_normalise():
    base = keras_resnet.get_spec("resnet50")
    assert base.replace(stride_placement="v1.5") == base.replace(stride_placement="3x3")
    assert base.stride_placement == "1x1"


def test_units_carry_the_shortcut_decision():
    a = [u.shortcut for u in keras_resnet.get_spec("resnet20").units()]
    assert a.count("pad") == 2 and a.count("identity") == 7
    b = [u.shortcut for u in keras_resnet.get_spec("resnet34").units()]
    assert b.count("projection") == 3  # conv3_1, conv4_1, conv5_1
    b50 = [u.shortcut for u in keras_resnet.get_spec("resnet50").units()]
    assert b50.count("projection") == 4  # conv2_1 changes 64 -> 256 channels too
    c = [u.shortcut for u in keras_resnet.get_spec("resnet34").replace(shortcut="C").units()]
    assert set(c) == {"projection"}


def test_import_is_lazy_and_cheap():
    import subprocess
    import sys

    code = "import keras_resnet, sys; keras_resnet.list_models(); print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_output_stride_dilates_the_last_stages_as_torchvision_and_timm():
    """torchvision's replace_stride_with_dilation=[False, False, True] is output stride
    16, [False, True, True] is 8: a stage that would pass the output stride keeps stride
    1 and doubles the dilation; its first unit's first 3x3 keeps the previous rate."""
    def layout(spec):
        return {(u.stage, u.index): (u.stride, u.first_dilation, u.dilation)
                for u in spec.units() if u.index <= 2}

    base = keras_resnet.get_spec("resnet50")
    assert layout(base)[(5, 1)] == (2, 1, 1)
    os16 = layout(base.replace(output_stride=16))
    assert os16[(4, 1)] == (2, 1, 1) and os16[(5, 1)] == (1, 1, 2) and os16[(5, 2)] == (1, 2, 2)
    os8 = layout(base.replace(output_stride=8))
    assert os8[(3, 1)] == (2, 1, 1)
    assert os8[(4, 1)] == (1, 1, 2) and os8[(4, 2)] == (1, 2, 2)
    assert os8[(5, 1)] == (1, 2, 4) and os8[(5, 2)] == (1, 4, 4)
    assert base.replace(output_stride=32) == base  # 32 is the natural stride
    assert base.replace(output_stride=8).total_stride == 8
    with pytest.raises(ValueError, match="output_stride"):
        base.replace(output_stride=4)
    with pytest.raises(ValueError, match="output_stride"):
        keras_resnet.get_spec("resnet20").replace(output_stride=16)


def test_resnet_d_is_the_deep_stem_and_average_pool_shortcuts():
    d = keras_resnet.get_spec("resnet50d")
    assert (d.stem, d.downsample, d.stride_placement, d.stem_width) == (
        "deep", "avg", "3x3", 64)
    assert d.constructor_name == "ResNet50D" and d.depth == 50
    assert keras_resnet.get_spec("resnet200d").blocks_per_stage == (3, 24, 36, 3)
    with pytest.raises(ValueError, match="stem"):
        keras_resnet.get_spec("resnet20").replace(stem="deep")
    with pytest.raises(ValueError, match="downsample"):
        d.replace(downsample="max")
