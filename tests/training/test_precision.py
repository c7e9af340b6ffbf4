"""``train(precision=...)`` / ``--precision``: Keras' mixed policies for a run, recorded
in config.json with the backend and device count; and resuming from a backup trains on
exactly the batches an uninterrupted run does (issue 16 items 1, 3 and 4's premise)."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from keras_resnet.numerics import assert_close
from keras_resnet.training import train
from keras_resnet.training.run import RunConfigMismatch

TINY = dict(model="resnet8", epochs=1, batch_size=32, max_train_examples=64,
            max_test_examples=32, holdout=0, verbose=0, plot=False)


@pytest.mark.parametrize("precision, policy", [("bfloat16", "mixed_bfloat16"),
                                               ("float16", "mixed_float16")])
def test_mixed_precision_run_and_its_record(precision, policy, tmp_path):
    out = tmp_path / precision
    result = train(out=str(out), precision=precision, **TINY)
    assert keras.config.dtype_policy().name == "float32"  # the caller's policy is back
    config = json.loads((out / "config.json").read_text())
    assert (config["precision"], config["backend"], config["devices"]) == \
        (policy, "tensorflow", 1)
    assert result["precision"] == policy and np.isfinite(result["test_accuracy"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(out / "model.keras")
    # the optimiser's state reloads whole (float16: the loss-scale wrapper's too)
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) is \
        (precision == "float16")
    conv = model.get_layer("conv1_conv")
    assert conv.dtype_policy.name == policy and conv.kernel.dtype == "float32"
    x = np.zeros((2, 28, 28, 1), "float32")
    assert model(x).dtype == "float32"  # the classifier's softmax computes in float32
    assert result["loss_scaling"] is (precision == "float16")
    # another precision is another run: refused, not silently mixed
    with pytest.raises(RunConfigMismatch, match="precision"):
        train(out=str(out), precision="float32", **TINY)


def test_precision_errors_and_runs_written_before_the_option(tmp_path, monkeypatch):
    for bad in ("int8", ["float16"], 16):
        with pytest.raises(ValueError, match="precision must be one of"):
            train(out=str(tmp_path / "x"), precision=bad, **TINY)
    keras.config.set_dtype_policy("float16")  # not one a run can record
    try:
        with pytest.raises(ValueError, match="pass precision="):
            train(out=str(tmp_path / "x"), **TINY)
    finally:
        keras.config.set_dtype_policy("float32")
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
        "task": {"type": "worker", "index": 1}}))
    with pytest.raises(ValueError, match="delete the run directory"):
        train(out=str(tmp_path / "x"), overwrite=True, **TINY)
    monkeypatch.delenv("TF_CONFIG")
    assert not (tmp_path / "x").exists()
    out = tmp_path / "old"
    train(out=str(out), **TINY)
    config = json.loads((out / "config.json").read_text())
    assert (config["precision"], config["backend"], config["devices"]) == \
        ("float32", "tensorflow", 1)
    for key in ("precision", "backend", "devices"):  # as an older version wrote it
        del config[key]
    (out / "config.json").write_text(json.dumps(config))
    again = train(out=str(out), **TINY)  # the same run: resumes (already finished)
    assert again["resumed_from_epoch"] == 1
    assert json.loads((out / "config.json").read_text())["precision"] == "float32"


def test_no_precision_keeps_the_callers_mixed_policy(tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        result = train(out=str(tmp_path / "run"), **TINY)
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.config.set_dtype_policy("float32")
    assert result["precision"] == "mixed_bfloat16"
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["precision"] == "mixed_bfloat16"


@pytest.mark.parametrize("units, precision, warns", [
    ([], "bfloat16", True), (["avx512_bf16"], "bfloat16", False),
    (None, "bfloat16", False), ([], "float32", False)])
def test_bf16_on_a_cpu_without_bf16_units_warns(units, precision, warns, tmp_path,
                                                monkeypatch):

    from keras_resnet import cpu
    from keras_resnet.training import strategy

    monkeypatch.setattr(cpu, "cpu_bf16_units", lambda: units)
    real = strategy.choose_placement  # the test's point holds on a GPU machine too
    monkeypatch.setattr(strategy, "choose_placement",
                        lambda s=None: dataclasses.replace(real(s), on_cpu=True))
    # a directory holding another run: train() stops with RunConfigMismatch right after
    # choosing where to compute, so the test trains nothing
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text('{"model": "another"}')
    with warnings.catch_warnings(record=True) as caught, pytest.raises(RunConfigMismatch):
        warnings.simplefilter("always")
        train(out=str(tmp_path / "run"), precision=precision, **TINY)
    ours = [w for w in caught if "without bfloat16 instructions" in str(w.message)]
    assert len(ours) == int(warns)
    if warns:
        assert ours[0].filename == __file__  # points at the caller's line


def test_plateau_counters_survive_a_resume(tmp_path):
    """ReduceLROnPlateau resets itself when fit starts; the backup keeps its counters
    (the learning rate is the optimiser's), so a resumed run waits as long as an
    uninterrupted one before it lowers the rate."""
    from keras_resnet.training.callbacks import RunKeeper

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.optimizer.build(model.trainable_variables)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=5)
    plateau.wait, plateau.best, plateau.cooldown_counter = 3, 0.25, 1
    keeper = RunKeeper(str(tmp_path), stateful=[plateau], verbose=False)
    keeper.set_model(model)
    keeper.on_epoch_end(0, {"val_loss": 0.3})
    fresh = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=5)
    fresh.on_train_begin()  # what fit does: wait 0, best inf
    again = RunKeeper(str(tmp_path), stateful=[fresh], verbose=False)
    assert again.restore(model) == 1
    again.set_model(model)
    again.on_train_begin()
    assert (fresh.wait, fresh.best, fresh.cooldown_counter) == (3, 0.25, 1)


def test_cli_precision_flag(tmp_path):
    exe = shutil.which("keras-resnet", path=os.path.dirname(sys.executable))
    out = tmp_path / "run"
    r = subprocess.run([exe, "train", "--model", "resnet8", "--epochs", "1",
                        "--batch-size", "32", "--max-train-examples", "64",
                        "--max-test-examples", "32", "--holdout", "0", "--precision",
                        "bfloat16", "--out", str(out), "--log-epochs"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "precision mixed_bfloat16" in r.stdout
    assert json.loads((out / "config.json").read_text())["precision"] == "mixed_bfloat16"
    bad = subprocess.run([exe, "train", "--precision", "fp8", "--out", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "invalid choice: 'fp8'" in bad.stderr


def test_resumed_run_equals_the_uninterrupted_one(tmp_path):
    """Keep only the backup after epoch 1 of a finished 2-epoch run (as if it had died
    during epoch 2) and run the same call again: the final weights equal the
    uninterrupted run's, since epoch 2's order and crops/flips depend on (seed, 2) only.
    (With a pipeline whose random state restarts in a new process, epoch 2 would be
    trained on epoch 1's order.)"""
    kwargs = dict(TINY, epochs=2, recipe="paper-cifar10", max_train_examples=96)
    reference = tmp_path / "uninterrupted"
    train(out=str(reference), **kwargs)
    out = tmp_path / "resumed"
    shutil.copytree(reference, out)
    for meta in (out / "backup").glob("slot-*.json"):
        if json.loads(meta.read_text())["epoch"] == 2:
            meta.unlink()
            meta.with_suffix("").with_suffix(".weights.h5").unlink()
    (out / "model.keras").unlink()
    result = train(out=str(out), **kwargs)
    assert result["resumed_from_epoch"] == 1
    with open(out / "log.csv") as f:
        assert [line.split(",")[0] for line in f.read().split()[1:]] == ["0", "1"]
    a = keras.saving.load_model(out / "model.keras").get_weights()
    b = keras.saving.load_model(reference / "model.keras").get_weights()
    for x, y in zip(a, b):
        assert_close(x, y, 1e-5, "resumed vs uninterrupted weights")
