"""Recipes, the learning-rate schedule, run directories, and kill-and-resume."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.training import RECIPES, RunConfigMismatch, make_optimizer, train


def lr_at(optimizer, step):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate(step))) \
        if callable(optimizer.learning_rate) else float(optimizer.learning_rate)


def test_paper_cifar_recipe_is_the_papers():
    r = RECIPES["paper-cifar10"]
    assert (r.batch_size, r.learning_rate, r.momentum, r.weight_decay) == (128, 0.1, 0.9, 1e-4)
    assert "4.2" in r.reference
    # 64k iterations: 164 epochs of 391 steps (50k / 128) is 64,124 iterations.
    opt, base = make_optimizer(r, steps_per_epoch=391, epochs=164, depth=20, global_batch=128)
    sched = opt._learning_rate
    assert isinstance(sched, keras.optimizers.schedules.PiecewiseConstantDecay) and base == 0.1
    assert sched.boundaries == [32062, 48093]  # the paper's 32k and 48k
    rates = [float(sched(s)) for s in (0, 32062, 32063, 48093, 48094, 64124)]
    assert rates == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])  # no warm-up at 20


def test_warm_up_for_110_layers_and_batch_scaling():
    r = RECIPES["paper-cifar10"]
    opt, _ = make_optimizer(r, steps_per_epoch=391, epochs=164, depth=110, global_batch=128)
    sched = opt._learning_rate
    assert [float(sched(s)) for s in (0, 400, 401, 32062, 32063)] == \
        pytest.approx([0.01, 0.01, 0.1, 0.1, 0.01])
    # 4 replicas x 128: the rate scales linearly with the global batch.
    opt, base = make_optimizer(r, steps_per_epoch=98, epochs=164, depth=20, global_batch=512)
    assert base == pytest.approx(0.4) and float(opt._learning_rate(0)) == pytest.approx(0.4)
    opt, base = make_optimizer(r, steps_per_epoch=98, epochs=164, depth=20, global_batch=512,
                               scale_lr=False)
    assert base == 0.1
    # A stock Keras schedule: model.keras files load without this package.
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(sched))
    assert float(again(450)) == pytest.approx(0.1)


def test_imagenet_recipe_divides_on_plateau():
    r = RECIPES["paper-imagenet"]
    assert (r.batch_size, r.schedule, r.weight_decay) == (256, "plateau", 1e-4)
    opt, _ = make_optimizer(r, steps_per_epoch=5000, epochs=120, depth=50, global_batch=256)
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.1)


def small_run(out, **changes):
    options = dict(model="resnet8", dataset="embedded", recipe="fashion-mnist", epochs=1,
                   batch_size=50, out=str(out), max_train_examples=200,
                   max_test_examples=100, verbose=0, plot=False)
    options.update(changes)
    return train(**options)


def test_run_directory_refuses_another_config_and_overwrite_restarts(tmp_path):
    result = small_run(tmp_path / "run")
    files = set(os.listdir(tmp_path / "run"))
    assert {"config.json", "pixel_mean.npy", "log.csv", "model.keras", "metrics.json",
            "checkpoints", "backup", "tensorboard"} <= files
    assert result["resumed_from_epoch"] is None
    with pytest.raises(RunConfigMismatch, match="epochs: 1 -> 2"):
        small_run(tmp_path / "run", epochs=2)
    result = small_run(tmp_path / "run", epochs=2, overwrite=True)
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1] and result["resumed_from_epoch"] is None
    # The trained model carries the paper's coupled weight decay as layer losses.
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")  # plain Keras
    assert len(model.losses) == sum(1 for l in model.layers if getattr(l, "kernel_regularizer", None))
    assert model.get_layer("conv1_conv").kernel_regularizer.l2 == pytest.approx(0.5e-4)


def read_log(path):
    with open(path, newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_rerun_resumes_and_loses_nothing(tmp_path):
    out = tmp_path / "run"
    exe = shutil.which("keras-resnet", path=os.path.dirname(sys.executable))
    cmd = [exe, "train", "--model", "resnet8", "--dataset", "embedded", "--epochs", "5",
           "--batch-size", "32", "--max-train-examples", "1600", "--max-test-examples",
           "200", "--out", str(out), "--log-epochs"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.time() + 300
        while not list((out / "backup").glob("slot-*.json")):  # a backup exists
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.time() < deadline, "no backup after 300 s"
            time.sleep(0.2)
        time.sleep(1.0)  # into the next epoch (an epoch takes a few seconds)
        assert proc.poll() is None, "training finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done_before = read_log(out / "log.csv")
    assert 1 <= len(done_before) < 5
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    text = rerun.stdout
    resumed = int(text.split("Resumed from the backup after epoch ")[1].split()[0])
    assert resumed >= 1 and resumed >= len(done_before) - 1
    assert f"Epoch {resumed + 1}/5" in text and "Epoch 1/5" not in text
    assert read_log(out / "log.csv") == [0, 1, 2, 3, 4]  # each epoch exactly once
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == resumed
    assert (out / "checkpoints" / "best.weights.h5").exists()
    assert not list(out.rglob("*.partial*"))


def test_holdout_count_rule():
    from keras_resnet.training.run import holdout_count

    assert holdout_count(None, 8000) == 800  # default: 10%, the paper's 45k/5k
    assert holdout_count(0.2, 1000) == 200 and holdout_count(5000, 50000) == 5000
    assert holdout_count(0, 100) == 0
    for bad in (-1, 100, 2.5, "10%", True):
        with pytest.raises(ValueError, match="holdout"):
            holdout_count(bad, 100)


def test_default_run_validates_on_a_holdout_and_scores_on_test(tmp_path):
    """The best checkpoint and the curves come from training data held out; the test
    set gives only the final score, and --holdout 0 says it validates on test."""
    result = small_run(tmp_path / "run")
    config = json.load(open(tmp_path / "run" / "config.json"))
    n = result["train_examples"] + result["holdout_examples"]
    assert config["holdout"] == round(0.1 * n) == result["holdout_examples"]
    assert config["validation"] == result["validation"] == "holdout"
    assert {"holdout_accuracy", "test_accuracy"} <= set(result)
    metrics = json.load(open(tmp_path / "run" / "metrics.json"))
    assert metrics["test_examples"] > 0 and metrics["holdout_accuracy"] == \
        result["holdout_accuracy"]
    everything = small_run(tmp_path / "all", holdout=0)
    assert everything["validation"] == "test" and "holdout_accuracy" not in everything
    assert everything["train_examples"] == n
    assert json.load(open(tmp_path / "all" / "config.json"))["validation"] == "test"


def test_cli_holdout_values():
    from keras_resnet.cli import make_parser

    parse = lambda v: make_parser().parse_args(["train", "--holdout", v]).holdout  # noqa: E731
    assert parse("10%") == pytest.approx(0.1) and parse("0.25") == 0.25
    assert parse("5000") == 5000 and parse("0") == 0
    assert make_parser().parse_args(["train"]).holdout is None
    with pytest.raises(SystemExit):
        parse("ten")
