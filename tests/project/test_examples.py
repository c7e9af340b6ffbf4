"""Every example runs in --smoke mode, and its result is checked, not merely run."""

import importlib.util
import os
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def run_example(name, *args):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--smoke", *args])


@pytest.mark.slow
def test_train_cifar10_smoke_learns_the_synthetic_stand_in(tmp_path):
    result = run_example("train_cifar10", "--out", str(tmp_path / "run"))
    assert result["test_accuracy"] >= 0.6  # ten colour classes; chance is 0.1
    assert (tmp_path / "run" / "log.csv").exists()


@pytest.mark.slow
def test_transfer_learning_smoke_reaches_useful_accuracy():
    result = run_example("transfer_learning")
    assert result["target_train_images"] == 500
    assert result["frozen_backbone_accuracy"] >= 0.6  # 5 classes; chance is 0.2
    assert result["fine_tuned_accuracy"] >= 0.7


@pytest.mark.slow
def test_export_tflite_smoke_reports_a_verified_int8_file(tmp_path):
    out = tmp_path / "m.tflite"
    report = run_example("export_tflite", "--out", str(out))
    assert out.exists() and (tmp_path / "m.tflite.report.json").exists()
    assert report["quantization"] == "int8" and report["verified_images"] == 1000
    assert report["top1_agreement"] >= 0.98
    assert report["latency_ms_batch1"]["tflite"] > 0


@pytest.mark.slow
def test_detection_backbone_smoke_shapes_and_export(tmp_path):
    result = run_example("detection_backbone", "--out", str(tmp_path / "fpn"))
    shapes = result["feature_shapes"]["96x224"]
    assert shapes == {"P2": [24, 56], "P3": [12, 28], "P4": [6, 14], "P5": [3, 7]}
    # not a multiple of 32: each level is ceil(previous / 2), as the backbone's C2-C5
    odd = result["feature_shapes"]["100x150"]
    assert odd == {"P2": [25, 38], "P3": [13, 19], "P4": [7, 10], "P5": [4, 5]}
    assert result["export"]["within_tolerance"]


@pytest.mark.slow
def test_tune_smoke_runs_two_trials(tmp_path):
    result = run_example("tune", "--out", str(tmp_path / "tune"))
    assert len(result["trials"]) == 2 and result["best_val_accuracy"] > 0.3  # chance: 0.1


@pytest.mark.slow
@pytest.mark.skipif(sys.version_info < (3, 11), reason="keras-hub needs Python >= 3.11")
def test_retinanet_keras_hub_smoke_learns_and_reloads(tmp_path):
    result = run_example("retinanet_keras_hub", "--out", str(tmp_path / "rn"))
    losses = result["losses"]
    assert len(losses) == 3 and losses[-1] < 0.5 * losses[0], losses
    assert result["reloaded_encoder_class"] == "BackboneModel"
    assert result["reloaded_pyramid_outputs"] == ["P2", "P3", "P4", "P5"]
    assert result["reload_max_abs_difference"] <= 1e-5
    for name in ("detector.keras", "losses.png", "detections.png"):
        assert (tmp_path / "rn" / name).stat().st_size > 0


@pytest.mark.slow
def test_finetune_folder_smoke_runs_the_folder_journey_through_the_cli(tmp_path):
    """train --weights --freeze-backbone on a photo folder (PNG/JPEG, 8/16-bit, grey/RGB),
    evaluate, predict and export, as the README's second example."""
    accuracy, before = run_example("finetune_folder", "--workdir", str(tmp_path))
    run = tmp_path / "run"
    for name in ("model.keras", "inference.json", "model.tflite", "model.tflite.report.json"):
        assert (run / name).exists(), name
    assert accuracy >= 0.65  # shirt vs t-shirt, 2 epochs on 120 images; chance is 0.5
    assert 0.5 <= before <= 1.0
