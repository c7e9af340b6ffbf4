"""keras-tuner search over the paper's design space."""

import json

import keras
import numpy as np
import pytest

from keras_resnet.data import load_split


@pytest.mark.slow
def test_random_search_three_trials_two_depths_best_model_reproduces(tmp_path):
    from keras_resnet.cli import main

    code = main(["tune", "--max-trials", "3", "--epochs", "2", "--n", "1", "2",
                 "--shortcuts", "A", "B", "--max-train-examples", "1000",
                 "--max-val-examples", "400", "--out", str(tmp_path), "--seed", "0"])
    assert code == 0
    result = json.loads((tmp_path / "results.json").read_text())
    trials = result["trials"]
    assert len(trials) >= 3
    assert len({t["hyperparameters"]["n"] for t in trials}) >= 2  # >= 2 depths tried
    best = max(trials, key=lambda t: t["score"])
    assert best["score"] == pytest.approx(result["best_val_accuracy"])
    # Reload the best model and reproduce its recorded validation accuracy.
    model = keras.saving.load_model(tmp_path / "best.keras")
    assert model.name.startswith(f"resnet{6 * best['hyperparameters']['n'] + 2}_")
    # the search scored a seeded random choice of 400 test images (Split.sample)
    x, y = load_split("embedded", "test").sample(400, 0).arrays
    x = x / np.float32(255) - np.load(tmp_path / "pixel_mean.npy")
    accuracy = float(np.mean(np.argmax(model.predict(x, verbose=0), 1) == y))
    assert accuracy == pytest.approx(result["best_val_accuracy"], abs=1e-6)
