"""The one comparison with Keras (keras_resnet.deploy.verify): a check that must fail
fails, with the numbers, for the exporters and the Predictor alike."""

import numpy as np
import pytest

from keras_resnet.deploy import verify
from keras_resnet.deploy.predictor import Predictor
from keras_resnet.deploy.verify import (ChanceLevelError, ExportVerificationError,
                                        check_not_chance, check_outputs, check_quantized)


def scores(n=400, classes=10, seed=0):
    return np.random.default_rng(seed).normal(size=(n, classes)).astype("float32")


def flip_top1(x, fraction):
    """A copy of the scores ``x`` whose top-1 class changes on the first ``fraction``."""
    y = x.copy()
    n = int(round(fraction * len(y)))
    y[:n] = np.roll(y[:n], 1, axis=1)
    assert np.mean(y.argmax(1) == x.argmax(1)) == pytest.approx(1 - fraction)
    return y


def test_full_precision_within_rtol_passes_and_beyond_it_fails():
    ref = {"C4": np.linspace(-3, 3, 2 * 4 * 4 * 8, dtype="float32").reshape(2, 4, 4, 8)}
    bound = 1e-4 * 3.0  # rtol x max(1, max|ref|)
    ok = check_outputs({"C4": ref["C4"] + 0.9 * bound}, ref, rtol=1e-4, what="ONNX Runtime")
    assert ok["within_tolerance"] and ok["rtol"] == 1e-4
    assert ok["max_abs_error"]["C4"] == pytest.approx(0.9 * bound, rel=1e-3)
    with pytest.raises(ExportVerificationError,
                       match=r"ONNX Runtime outputs differ from Keras beyond rtol=0.0001"):
        check_outputs({"C4": ref["C4"] + 1.1 * bound}, ref, rtol=1e-4, what="ONNX Runtime")
    # one element off is enough; a NaN is never within tolerance
    bad = ref["C4"].copy()
    bad[1, 2, 3, 4] = np.nan
    with pytest.raises(ExportVerificationError, match="differ from Keras"):
        check_outputs({"C4": bad}, ref, rtol=1.0)
    with pytest.raises(ExportVerificationError, match=r"outputs \['C5'\] != Keras' \['C4'\]"):
        check_outputs({"C5": ref["C4"]}, ref, rtol=1.0)


def test_reduced_precision_agreement_below_the_bound_fails():
    ref = {"predictions": scores()}
    at = check_quantized({"predictions": flip_top1(ref["predictions"], 0.02)}, ref,
                         "int8", "TFLite")  # 98% = the int8 bound: passes
    assert at["top1_agreement"] == pytest.approx(0.98)
    assert at["required_agreement"] == verify.MIN_AGREEMENT["int8"]
    below = {"predictions": flip_top1(ref["predictions"], 0.0225)}
    with pytest.raises(ExportVerificationError,
                       match=r"int8 TFLite agrees with Keras on 97.75% of top-1 predictions "
                             r"\(< 98.00% on 400 images\)") as e:
        check_quantized(below, ref, "int8", "TFLite")
    assert e.value.fields["top1_agreement"] == pytest.approx(0.9775)
    # float16's bound is tighter: the same file fails at 98%
    with pytest.raises(ExportVerificationError, match="< 99.50%"):
        check_quantized({"predictions": flip_top1(ref["predictions"], 0.02)}, ref,
                        "float16", "TFLite")
    nan = ref["predictions"].copy()
    nan[0, 0] = np.nan
    with pytest.raises(ExportVerificationError, match="not finite"):
        check_quantized({"predictions": nan}, ref, "int8", "TFLite")


def test_reduced_precision_feature_maps_get_a_relative_bound():
    ref = {"C5": np.ones((2, 2, 2, 4), "float32") * 2.0}
    ok = check_quantized({"C5": ref["C5"] + 0.19}, ref, "int8", "OpenVINO")
    assert "top1_agreement" not in ok and ok["rtol"] == verify.QUANTIZED_RTOL["int8"]
    with pytest.raises(ExportVerificationError, match=r"int8 OpenVINO feature maps differ "
                                                      r"from Keras beyond rtol=0.1"):
        check_quantized({"C5": ref["C5"] + 0.21}, ref, "int8", "OpenVINO")


def test_the_predictor_checks_with_the_same_rule():
    """Predictor._check is check_outputs, reported instead of raised."""
    ref = {"predictions": scores()}
    entry = Predictor._check({"predictions": flip_top1(ref["predictions"], 0.01)}, ref,
                             1e-4, "int8", min_agreement=0.995)
    assert not entry["verified"] and "< 99.50% on 400 images" in entry["error"]
    assert entry["top1_agreement"] == pytest.approx(0.99)
    loose = Predictor._check({"predictions": flip_top1(ref["predictions"], 0.01)}, ref,
                             1e-4, "int8", min_agreement=0.95)
    assert loose["verified"] and "error" not in loose
    # float32 counts no agreement: the tolerance decides
    entry = Predictor._check({"predictions": ref["predictions"] + 1e-3}, ref, 1e-4, "float32")
    assert not entry["verified"] and entry["error"].startswith("outputs differ from Keras")
    assert "top1_agreement" not in entry and entry["max_abs_error"]["predictions"] > 0
    maps = {"C5": np.ones((2, 2, 2, 4), "float32")}
    entry = Predictor._check({"C5": maps["C5"] + 0.2}, maps, 1e-4, "bfloat16")
    assert entry["error"].startswith("outputs differ from Keras")
    assert "rtol 0.1" in entry["error"]
    entry = Predictor._check({"other": maps["C5"]}, maps, 1e-4, "float32")
    assert not entry["verified"] and "!= Keras'" in entry["error"]


def test_the_chance_level_rule():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 200)
    at_chance = {"predictions": scores(200, 10, seed=2)}  # unrelated to the labels
    with pytest.raises(ChanceLevelError, match="chance level on verify_images") as e:
        check_not_chance(at_chance, labels)
    assert e.value.images == 200 and e.value.accuracy < 0.2
    assert isinstance(e.value, ExportVerificationError)
    # a model that sees its images: the accuracy, no error
    trained = {"predictions": np.eye(10, dtype="float32")[labels] * 5 + scores(200, 10)}
    assert check_not_chance(trained, labels) > 0.9
    # one-hot labels are class indices too
    assert check_not_chance(trained, np.eye(10)[labels]) == check_not_chance(trained, labels)
    # under 100 images: a warning, not an error
    with pytest.warns(UserWarning, match="at chance level"):
        check_not_chance({"predictions": at_chance["predictions"][:50]}, labels[:50])
    # no labels, or not a classifier: no rule
    assert check_not_chance(at_chance, None) is None
    assert check_not_chance({"C5": np.zeros((200, 2, 2, 4), "float32")}, labels) is None
    with pytest.raises(ValueError, match="199 labels for 200 images"):
        check_not_chance(trained, labels[:199])
    with pytest.raises(ValueError, match=r"class indices in 0\.\.9"):
        check_not_chance(trained, labels + 10)


def test_a_one_column_classifier_is_checked_by_its_decisions():
    """A binary classifier's (N, 1) output: argmax is always 0, so top-1 "agreed" on
    every image whatever the file answered. A sigmoid's probabilities are counted by
    their decision (above 0.5); any other one-column output is bounded."""
    rng = np.random.default_rng(0)
    prob = {"p": rng.uniform(0, 1, (200, 1)).astype("float32")}
    flipped = {"p": 1 - prob["p"]}  # every decision the other way
    assert verify.top1_agreement(flipped["p"], prob["p"]) == 0.0
    with pytest.raises(ExportVerificationError, match="agrees with Keras on 0.00%"):
        check_quantized(flipped, prob, "int8", "TFLite")
    ok = check_quantized({"p": prob["p"] + 0.01 * (prob["p"] < 0.49)}, prob, "int8", "TFLite")
    assert ok["top1_agreement"] == 1.0
    # one column that is not a probability (a logit, or a regression: nothing tells them
    # apart) has no class to count: it is bounded, like a feature map
    value = {"z": rng.normal(40, 3, size=(200, 1)).astype("float32")}
    assert verify.score_keys(value) == [] and verify.score_keys(prob) == ["p"]
    assert check_quantized({"z": value["z"] + 4}, value, "int8", "TFLite")["within_tolerance"]
    with pytest.raises(ExportVerificationError, match="beyond rtol=0.1"):
        check_quantized({"z": value["z"] + 6}, value, "int8", "TFLite")
    # with labels: accuracy by the same decision, and chance level counted on 2 classes
    y = (prob["p"][:, 0] > 0.5).astype(int)
    assert verify.accuracy_fields(prob, prob, y)["keras_accuracy"] == 1.0
    assert check_not_chance(prob, y) == 1.0


def test_every_head_of_a_multi_head_classifier_is_held_to_the_budget():
    """Two 2-D outputs were "feature maps" (a 0.1 bound on probabilities lets top-1
    flip) and min_agreement was ignored; now each head is counted, the lowest is
    reported, and a feature-map output beside them is still bounded."""
    ref = {"a": scores(seed=1), "b": scores(seed=2)}
    got = {"a": ref["a"], "b": flip_top1(ref["b"], 0.01)}
    with pytest.raises(ExportVerificationError, match=r"99.00% of top-1 predictions on "
                                                      r"output 'b' \(< 99.50%"):
        check_outputs(got, ref, rtol=0.1, min_agreement=0.995)
    fields = check_outputs(got, ref, rtol=0.1, min_agreement=0.99)
    assert fields["top1_agreement"] == pytest.approx(0.99)
    assert fields["top1_agreement_by_output"] == {"a": 1.0, "b": pytest.approx(0.99)}
    assert "within_tolerance" not in fields  # nothing was bounded
    mixed = {"a": ref["a"], "C5": np.ones((400, 2, 2, 4), "float32")}
    fields = check_outputs({"a": ref["a"], "C5": mixed["C5"] + 0.05}, mixed, rtol=0.1,
                           min_agreement=0.995)
    assert fields["top1_agreement"] == 1.0 and fields["within_tolerance"]
    with pytest.raises(ExportVerificationError, match=r"beyond rtol=0.1: max\|error\| \{'C5'"):
        check_outputs({"a": ref["a"], "C5": mixed["C5"] + 0.2}, mixed, rtol=0.1,
                      min_agreement=0.995)


def test_verification_images_that_all_get_one_class_are_refused():
    """Calibration and verification on all-zero images: Keras gives every one the same
    class, and a broken int8 file answering that class everywhere "agreed" 100%."""
    one = np.zeros((verify.ONE_CLASS_MIN_IMAGES, 10), "float32")
    one[:, 3] = 1
    with pytest.raises(ExportVerificationError, match=r"gives all 20 verification images "
                                                      r"the same class \(3\).*several classes"):
        check_quantized({"predictions": one}, {"predictions": one}, "int8", "TFLite")
    # fewer images, or the caller's own made-up images (Predictor: random ones): counted
    few = {"predictions": one[:-1]}
    assert check_quantized(few, few, "int8", "TFLite")["top1_agreement"] == 1.0
    assert check_outputs({"predictions": one}, {"predictions": one}, rtol=0.1,
                         min_agreement=0.99, one_class_min_images=None)["top1_agreement"] == 1
    # full precision compares values: not concerned
    assert check_outputs({"predictions": one}, {"predictions": one}, rtol=1e-4)


def test_one_disagreement_among_too_few_images_says_to_check_on_more():
    """98% tolerates no disagreement below 50 images: an int8 file that differs on one of
    49 calibration images failed with no way forward. The error says so, and only then."""
    ref = {"predictions": scores(n=49)}
    one = {"predictions": flip_top1(ref["predictions"], 1 / 49)}
    with pytest.raises(ExportVerificationError,
                       match=r"97.96% .*on 49 images\); with 49 images a single disagreement "
                             r"fails it \(98.00% tolerates one from 50 images on\): check on "
                             r"more images") as e:
        check_quantized(one, ref, "int8", "TFLite")
    assert e.value.fields["top1_agreement"] == pytest.approx(48 / 49)
    ref = {"predictions": scores(n=40)}
    with pytest.raises(ExportVerificationError) as e:  # four disagreements: no such hint
        check_quantized({"predictions": flip_top1(ref["predictions"], 0.1)}, ref, "int8",
                        "TFLite")
    assert "single disagreement" not in str(e.value)
