"""Issue 27 item 3: every registered network has a real, written-out constructor
function (what help(), IDEs and the API reference see), with the registry's defaults."""

import inspect

import keras_resnet
from keras_resnet import constructors
from keras_resnet.zoo import has_imagenet_weights


def test_every_registered_network_has_a_real_function():
    names = {keras_resnet.get_spec(n).constructor_name: n for n in keras_resnet.list_models()}
    defined = {n for n, f in vars(constructors).items()
               if inspect.isfunction(f) and f.__module__ == constructors.__name__
               and not n.startswith("_")}
    assert defined == set(names) == set(keras_resnet._CONSTRUCTOR_NAMES)
    for cname, arch in names.items():
        f = getattr(keras_resnet, cname)
        assert f is getattr(constructors, cname)
        source = inspect.getsource(f)  # written in the module, not made at import
        assert source.startswith(f"def {cname}(") and f'_build("{arch}",' in source
        params = inspect.signature(f).parameters
        spec = keras_resnet.get_spec(arch)
        assert params["name"].default == arch
        assert params["classes"].default == spec.default_classes
        assert params["weights"].default == ("imagenet" if has_imagenet_weights(arch) else None)
        assert f.__annotations__["return"] == "keras.Model"
        doc = f.__doc__
        table = ("Bag of Tricks" if spec.downsample == "avg" else
                 "Table 1" if spec.family == "imagenet" else "section 4.2")
        assert table in doc and f"blocks {list(spec.blocks_per_stage)}" in doc, cname


def test_a_constructor_is_one_call_of_build():
    model = keras_resnet.ResNet20(weights=None, input_shape=(28, 28, 1), classes=3)
    ref = keras_resnet.build("resnet20", input_shape=(28, 28, 1), classes=3)
    assert model.name == "resnet20" and model.count_params() == ref.count_params()
    assert [l.name for l in model.layers] == [l.name for l in ref.layers]
