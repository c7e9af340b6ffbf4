"""TrainConfig: the training options as data, the CLI generated from its fields, its
checks, and train()'s two call forms."""

import argparse
import dataclasses
import json
import os
import subprocess
import sys

import pytest

import keras_resnet
from keras_resnet.cli import main, make_parser
from keras_resnet.training import RECIPES, TrainConfig
from keras_resnet.training.config import PRECISIONS, fields

# train's options that are not TrainConfig fields: how the run executes (train()'s
# verbose= and fused_bn= keyword arguments)
RUN_OPTIONS = {"log_epochs", "no_fused_bn"}


def train_parser():
    sub = next(a for a in make_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def test_every_field_has_exactly_one_cli_option_and_vice_versa():
    actions = [a for a in train_parser()._actions if not isinstance(a, argparse._HelpAction)]
    dests = [a.dest for a in actions]
    assert len(dests) == len(set(dests))
    assert set(dests) - RUN_OPTIONS == {f.name for f in fields()}
    by_dest = {a.dest: a for a in actions}
    for f in fields():
        action = by_dest[f.name]
        assert len(action.option_strings) == 1
        assert action.help == f.metadata["help"].replace("%", "%%")  # the same text
        assert f.metadata["help"]  # every field says what it does


def test_cli_defaults_are_the_fields_defaults():
    args = make_parser().parse_args(["train"])
    for f in fields():
        # precision: None in Python (the caller's global policy); the command line's
        # process has the float32 policy, which its help shows
        expected = "float32" if f.name == "precision" else f.default
        assert getattr(args, f.name) == expected, f.name
    config = TrainConfig.from_mapping(args)
    assert config == TrainConfig(precision="float32")
    assert set(PRECISIONS) == set(next(f for f in fields() if f.name == "precision")
                                   .metadata["cli"]["choices"])
    assert tuple(RECIPES) == next(f for f in fields()
                                  if f.name == "recipe").metadata["cli"]["choices"]


def test_cli_values_reach_the_config(monkeypatch):
    import keras_resnet.training

    seen = {}

    def fake_train(config, **kwargs):
        seen.update(config=config, **kwargs)
        return {}

    monkeypatch.setattr(keras_resnet.training, "train", fake_train)
    assert main(["train", "--model", "resnet8", "--epochs", "2", "--no-lr-scaling",
                 "--image-size", "28", "28", "--holdout", "10%", "--log-epochs",
                 "--precision", "BF16", "--out", "runs/x"]) == 0
    assert seen["config"] == TrainConfig("resnet8", epochs=2, scale_lr=False,
                                         image_size=(28, 28), holdout=0.1,
                                         precision="bfloat16", out="runs/x")
    assert seen["verbose"] == 2 and seen["fused_bn"] is True


@pytest.mark.parametrize("command, flag", [
    (["train"], "--max-train-examples"), (["train"], "--max-test-examples"),
    (["evaluate", "--weights", "w"], "--max-examples"), (["tune"], "--max-val-examples")])
@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_limit_of_zero_or_fewer_examples_is_an_error_naming_the_flag(command, flag, value,
                                                                      capsys):
    """--max-train-examples 0 trained on every image (0 read as "no limit")."""
    with pytest.raises(SystemExit) as info:
        make_parser().parse_args(command + [flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: expected a whole number of images >= 1" in err
    assert "leave the option out to use all" in err and repr(value) in err
    assert getattr(make_parser().parse_args(command + [flag, "7"]),
                   flag[2:].replace("-", "_")) == 7


BAD = [
    (dict(model="resnet7"), "Unknown model"),
    (dict(recipe="nope"), "unknown recipe"),
    (dict(epochs=0), "epochs must be a whole number >= 1"),
    (dict(epochs=1.5), "epochs must be a whole number >= 1"),
    (dict(batch_size=-2), "batch_size must be a whole number >= 1"),
    (dict(max_train_examples=-1), "max_train_examples must be"),
    (dict(max_test_examples=2.5), "max_test_examples must be"),
    (dict(epochs=2, weights="w.weights.h5", freeze_backbone=3),
     "freeze_backbone must be between 0 and the 2 epochs"),
    (dict(weights="w.weights.h5", freeze_backbone=-1), "freeze_backbone must be between"),
    (dict(epochs=2, freeze_backbone=1), "needs pretrained weights.*--weights TAG_OR_FILE"),
    (dict(epochs=1, freeze_backbone=2), "needs pretrained weights"),  # not the range
    (dict(holdout=-1), "holdout must be a count >= 0"),
    (dict(holdout="10%"), "holdout must be a count >= 0"),
    (dict(holdout=1.5), "whole count or a fraction below 1"),
    (dict(image_size=(32,)), "image_size must be two whole numbers"),
    (dict(image_size=(0, 32)), "image_size must be two whole numbers"),
    (dict(image_size=(32.0, 32)), "image_size must be two whole numbers"),
    (dict(image_size=32), "image_size must be two whole numbers"),
    (dict(model="resnet18", image_size=(224, 192)), "square crops"),
    (dict(model="resnet18", width_multiplier=2), "CIFAR-family networks"),
    (dict(width_multiplier=0), "width_multiplier must be a number > 0"),
    (dict(shortcut="D"), "shortcut must be one of"),
    (dict(precision="int8"), "precision must be one of"),
    (dict(precision=["float16"]), "precision must be one of"),
]


@pytest.mark.parametrize("options, message", BAD, ids=[str(o) for o, _ in BAD])
def test_each_check_fails_with_a_clear_value_error(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**options)


def test_freezing_without_weights_says_freezing_needs_them_and_names_the_flag(capsys):
    """--freeze-backbone without --weights: the message said "fine-tunes pretrained
    weights", or, past the epochs, only that the count was out of range."""
    for extra in ([], ["--epochs", "1"]):
        assert main(["train", "--model", "resnet8", "--freeze-backbone", "2",
                     "--out", "unused", *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "--freeze-backbone 2 (freeze_backbone) needs pretrained weights" in err
        assert "--weights TAG_OR_FILE" in err and "leave --freeze-backbone out" in err
    assert not os.path.exists("unused")


def test_normal_forms_and_the_resolved_defaults(tmp_path, monkeypatch):
    config = TrainConfig(precision="mixed_float16", image_size=[28, 28])
    assert config.precision == "float16" and config.image_size == (28, 28)
    # the Predictor's spellings too (predict --precision bf16 worked, train's did not)
    for text, name in (("bf16", "bfloat16"), ("BF16", "bfloat16"), (" FP32", "float32"),
                       ("fp16", "float16"), ("Mixed_BFloat16", "bfloat16")):
        assert TrainConfig(precision=text).precision == name
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="int8")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    assert TrainConfig(dataset="photos").dataset == str(tmp_path / "photos")
    spec, recipe, epochs, batch = TrainConfig("resnet20", "cifar10").resolve()
    assert (spec.name, recipe.name, epochs, batch) == ("resnet20", "paper-cifar10",
                                                        recipe.epochs, recipe.batch_size)
    assert TrainConfig(width_multiplier=2).resolve().spec.name != spec.name
    assert TrainConfig().resolve().recipe.name == "fashion-mnist"
    with pytest.raises(TypeError):
        TrainConfig(verbose=0)  # not an option of the run's configuration
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3


def test_the_cli_parser_imports_no_keras():
    code = ("import sys; from keras_resnet.cli.main import make_parser; make_parser(); "
            "print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    root = os.path.dirname(os.path.dirname(keras_resnet.__file__))  # this checkout's
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": root})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


def test_train_takes_a_config_or_keywords_alike(tmp_path):
    from keras_resnet.training import train

    options = dict(recipe="fashion-mnist", epochs=1, batch_size=50,
                   max_train_examples=200, max_test_examples=100)
    by_keywords = train("resnet8", "embedded", out=str(tmp_path / "a"), verbose=0,
                        plot=False, **options)
    config = TrainConfig("resnet8", "embedded", out=str(tmp_path / "b"), **options)
    by_config = train(config, verbose=0, plot=False)
    configs = [json.load(open(tmp_path / d / "config.json")) for d in "ab"]
    assert configs[0] == configs[1]
    assert sorted(os.listdir(tmp_path / "a")) == sorted(os.listdir(tmp_path / "b"))
    assert by_keywords["train_examples"] == by_config["train_examples"]
    with pytest.raises(TypeError, match="give dataset and recipe in the TrainConfig"):
        train(config, "cifar10")
    # keywords beside a config replace its fields: the same run again, complete
    again = train(config, out=str(tmp_path / "b"), verbose=0, plot=False)
    assert again["test_accuracy"] == by_config["test_accuracy"]


def test_freezing_the_backbone_for_every_epoch_is_warned_about(tmp_path):
    from keras_resnet.training import train

    with pytest.warns(UserWarning, match="covers all 1 epochs: only the classifier trains"):
        r = train("resnet20", "embedded", weights="resnet20.fashion_mnist", freeze_backbone=1,
                  epochs=1, batch_size=50, max_train_examples=100, max_test_examples=50,
                  out=str(tmp_path / "run"), verbose=0, plot=False)
    assert r["epochs"] == 1
