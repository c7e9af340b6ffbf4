"""The one comparison of a runtime's outputs with the Keras model's, for every exporter
and for the :class:`~keras_resnet.deploy.predictor.Predictor`.

* :func:`reference_outputs` — the Keras model's own outputs on the verification images;
* :func:`check_outputs` — the rule: full precision within ``rtol`` of Keras (the
  project's tolerance ``max|a-b| <= rtol * max(1, max|ref|)``,
  :func:`keras_resnet.numerics.within_tolerance`); a reduced precision (float16,
  bfloat16, int8) keeps top-1 agreement with Keras >= a bound on a classifier (one 2-D
  output), or stays within ``rtol`` on anything else (a backbone's feature maps, which
  have no top-1 to count). :class:`ExportVerificationError` says by how much it failed;
* :func:`verify_runner` — runs a written file on the images, applies the rule and
  reports accuracy and batch-1 latency against Keras (what an export's report holds);
* :func:`check_not_chance` — the chance-level rule: labelled verification images on
  which the Keras model itself is at chance level are not what the model takes.

The tolerances of each format live here too, so that one file says what "verified"
means.
"""

from __future__ import annotations

import warnings

import numpy as np

# chance level (numerics.chance_threshold) on >= 100 images: not the model's input
# (shared with evaluate's warning)
from ..numerics import (CHANCE_MIN_IMAGES, chance_threshold, max_abs_error, tolerance,
                        within_tolerance)
from .serving import _named
from .timing import keras_batch1_ms, keras_latency_key, median_latency_ms

# full precision: rtol against Keras (mixed-precision models: their policy's tolerance)
SAVED_MODEL_RTOL = 1e-5
TFLITE_RTOL = ONNX_RTOL = OPENVINO_RTOL = 1e-4
# reduced precision, classifiers: the least top-1 agreement with Keras
MIN_AGREEMENT = {"float16": 0.995, "dynamic": 0.98, "int8": 0.98}
# Outputs that are not class scores (a backbone's feature maps) get a relative-error bound
# instead: float16 weights keep 11 significant bits; int8 keeps 8 bits of each tensor's
# calibrated range, 2e-2 of error on ResNet-50 logits in docs/benchmarks.md.
QUANTIZED_RTOL = {"float16": 1e-2, "dynamic": 0.1, "int8": 0.1}


class ExportVerificationError(RuntimeError):
    """The exported artifact does not reproduce the Keras model, or the verification
    images are not what the model takes.

    Attribute ``fields``: what :func:`check_outputs` measured before it failed
    (``max_abs_error``, ``top1_agreement``), {} otherwise."""

    fields: dict = {}


class CalibrationVerificationWarning(UserWarning):
    """An int8 file or candidate was checked on the images it was calibrated on (no
    ``verify_images`` given): its agreement with Keras on new images may be lower."""


class UnverifiedExportWarning(UserWarning):
    """A file was written without a comparison with Keras: Keras cannot run the model
    here (a channels_first model on a CPU) and no images were given to check it on."""


class ReferenceUnavailableError(ValueError):
    """Keras cannot compute the reference outputs on this machine (a channels_first
    model on a CPU, whose TensorFlow convolutions take channels_last only)."""


class ChanceLevelError(ExportVerificationError):
    """The Keras model itself is at chance level on the labelled verification images.

    Attributes: ``accuracy`` (its top-1, 0..1) and ``images`` (how many)."""

    def __init__(self, message, accuracy, images):
        super().__init__(message)
        self.accuracy, self.images = accuracy, images


def reference_outputs(model, signature, x, batch_size=64) -> dict:
    """The Keras model's own outputs on ``x`` (inference mode), by output name.

    Args:
        model: the Keras model; signature: its :class:`.serving.Signature`.
        x: a batch ``(N, *signature.input_shape)`` as the model takes it.

    Returns:
        ``{output name: float32 array (N, ...)}`` in ``signature.output_names`` order.

    Raises:
        ReferenceUnavailableError: (a ValueError) a channels_first model on a CPU whose
            convolutions take NHWC only.
    """
    import keras

    parts = []
    for i in range(0, len(x), batch_size):
        try:
            y = model(np.asarray(x[i:i + batch_size], "float32"), training=False)
        except Exception as e:
            if "NHWC" in str(e) and signature.data_format == "channels_first":
                raise ReferenceUnavailableError(
                    "the Keras reference cannot run: TensorFlow's CPU convolutions take "
                    "channels_last (NHWC) only, and this model is channels_first. Export "
                    "it without verify_images (the file is then written unverified, with "
                    "a warning), on a machine with a GPU, or build the model "
                    "channels_last") from None
            raise
        _, named = _named(model, y)
        parts.append({k: keras.ops.convert_to_numpy(v).astype("float32")
                      for k, v in zip(signature.output_names, named.values())})
    return {k: np.concatenate([p[k] for p in parts]) for k in signature.output_names}


def check_reference_finite(ref, source: str) -> None:
    """Raise ValueError where the Keras model's own outputs ``ref`` on the verification
    images are not finite: nothing can be checked against them, and the runtime's
    outputs would be blamed for the model's (a square root or a log of negative
    values). ``source``: which images (``"verify_images"``, ``"random images"``...)."""
    bad = [k for k, v in ref.items() if not np.all(np.isfinite(v))]
    if not bad:
        return
    name = f" (output {bad[0]!r})" if len(ref) > 1 else ""
    advice = ("give verify_images= (images like the ones it will serve, as it takes "
              "them)" if source == "random images" else
              "are they what the model takes (its preprocessing)?")
    raise ValueError(f"the Keras model's own outputs on the {source} are not finite (NaN or "
                     f"inf){name}: nothing can be verified against them; {advice}")


def classifier_key(ref) -> str | None:
    """The output name of a classifier's scores (one output, counted by
    :func:`score_keys`), else None: labels are counted against that output only."""
    key = next(iter(ref))
    return key if len(ref) == 1 and score_keys(ref) == [key] else None


def score_keys(ref) -> list:
    """The outputs whose top-1 (or decision) a reduced precision is checked by: every
    2-D ``(N, classes)`` output with two or more columns, each head of a multi-head
    classifier on its own, and one-column outputs whose values all lie in [0, 1] (a
    sigmoid's probabilities: a binary classifier). The other outputs get a relative-error
    bound: feature maps, and one-column outputs that may be a regression or a logit
    (nothing tells them apart, and a regression has no class to count)."""
    return [k for k, v in ref.items() if np.ndim(v) == 2 and (
        np.shape(v)[1] > 1 or (np.size(v) and np.min(v) >= 0 and np.max(v) <= 1))]


def decisions(scores):
    """Each row's class: the argmax of ``(N, classes)`` scores; for one column
    ``(N, 1)`` (a sigmoid's probabilities) whether the score is above 0.5."""
    scores = np.asarray(scores)
    if scores.shape[1] > 1:
        return scores.argmax(1)
    return (scores[:, 0] > 0.5).astype("int64")


def top1_agreement(got, ref) -> float:
    """The fraction (0..1) of rows of two ``(N, classes)`` score arrays whose class is
    the same (:func:`decisions`: argmax, or a one-column classifier's decision)."""
    return float(np.mean(decisions(got) == decisions(ref)))


# Top-1 agreement on images to which the Keras model gives one class says nothing (a
# broken int8 file that answers that class everywhere agrees on all of them): from this
# many verification images on, that is refused.
ONE_CLASS_MIN_IMAGES = 20


def check_outputs(got, ref, *, rtol: float, min_agreement: float | None = None,
                  what: str = "", one_class_min_images=...) -> dict:
    """The rule every exporter and the Predictor verify with.

    Args:
        got, ref: ``{output name: array (N, ...)}`` of the runtime and of Keras.
        rtol: the relative bound, ``max|got-ref| <= rtol * max(1, max|ref|)`` per
            output: full precision, and reduced precision on outputs that are not class
            scores.
        min_agreement: None for full precision; for a reduced precision the least top-1
            agreement (0..1] with Keras on every 2-D output (:func:`score_keys`: a
            classifier, each head of a multi-head one, a one-column binary classifier by
            its decision), whose scores must also be finite; other outputs within
            ``rtol``.
        what: who produced ``got`` for the messages (``"ONNX Runtime"``, ``"int8
            TFLite"``); a named file's reduced-precision outputs that are not class
            scores are called its feature maps. Empty for the Predictor, whose report is
            keyed by candidate already.
        one_class_min_images: with a reduced precision, refuse verification images to
            which Keras gives a single class on an output, from this many images on
            (default ``...``: :data:`ONE_CLASS_MIN_IMAGES`; None: never, for images made
            up by the caller, such as random ones).

    Returns:
        report fields: ``max_abs_error`` (by output), then ``top1_agreement`` (the lowest
        over the score outputs; ``top1_agreement_by_output`` when there are several) and
        ``required_agreement`` where agreement was counted, ``rtol`` and
        ``within_tolerance`` where every output was bounded.

    Raises:
        ExportVerificationError: other output names, non-finite class scores, agreement
            below ``min_agreement``, verification images that all get one class, or an
            error beyond ``rtol`` (each said with the numbers).
    """
    who = f"{what} " if what else ""
    if set(got) != set(ref):
        raise ExportVerificationError(f"{who}outputs {sorted(got)} != Keras' {sorted(ref)}")
    result = {"max_abs_error": {k: max_abs_error(got[k], ref[k]) for k in ref}}

    def fail(message):
        error = ExportVerificationError(message)
        error.fields = result
        return error

    keys = score_keys(ref) if min_agreement is not None else []
    if one_class_min_images is ...:
        one_class_min_images = ONE_CLASS_MIN_IMAGES
    for key in keys:
        classes = np.unique(decisions(ref[key]))
        if one_class_min_images is not None and len(ref[key]) >= one_class_min_images \
                and len(classes) == 1:
            name = f" on output {key!r}" if len(ref) > 1 else ""
            raise fail(
                f"the Keras model gives all {len(ref[key])} verification images the same "
                f"class ({int(classes[0])}){name}: top-1 agreement on them cannot tell a "
                "working reduced-precision model from one that answers that class for "
                "everything. Verify on real images of several classes, preprocessed as the "
                "model takes them (verify_images=)")
    agreement = {}
    for key in keys:
        if not np.all(np.isfinite(got[key])):
            raise fail(f"{who}outputs are not finite")
        agreement[key] = top1_agreement(got[key], ref[key])
    if agreement:
        lowest = min(agreement, key=agreement.get)
        result.update(top1_agreement=agreement[lowest], required_agreement=min_agreement)
        if len(agreement) > 1:
            result["top1_agreement_by_output"] = agreement
        if agreement[lowest] < min_agreement:
            name = f" on output {lowest!r}" if len(agreement) > 1 else ""
            n = len(ref[lowest])
            # the fewest images on which min_agreement tolerates one disagreement
            needed = int(np.ceil(1 / max(1 - min_agreement, 1e-9) - 1e-9))
            few = (f"; with {n} images a single disagreement fails it ({min_agreement:.2%} "
                   f"tolerates one from {needed} images on): check on more images (more "
                   "verify_images, or more calibration images where those are checked)"
                   if n < needed and round((1 - agreement[lowest]) * n) <= 1 else "")
            raise fail(f"{what or 'the runtime'} agrees with Keras on "
                       f"{agreement[lowest]:.2%} of top-1 predictions{name} (< "
                       f"{min_agreement:.2%} on {n} images){few}")
    bounded = [k for k in ref if k not in agreement]
    if all(within_tolerance(got[k], ref[k], rtol) for k in bounded):
        if bounded:
            result.update(rtol=rtol, within_tolerance=True)
        return result
    allowed = {k: float(tolerance(ref[k], rtol)) for k in bounded}
    raise fail(
        f"{who}{'feature maps' if min_agreement is not None and what else 'outputs'} "
        f"differ from Keras beyond rtol={rtol}: max|error| "
        f"{ {k: result['max_abs_error'][k] for k in bounded} }, "
        f"allowed {allowed} (rtol {rtol:g} x max(1, max|Keras|))"
        + (" (int8: were the calibration images preprocessed as the model takes them?)"
           if min_agreement is not None else ""))


def compare(got, ref, rtol: float, what: str) -> dict:
    """The full-precision rule: :func:`check_outputs` within ``rtol``."""
    return check_outputs(got, ref, rtol=rtol, what=what)


def check_quantized(got, ref, quantization: str, what: str, agreement: bool = True) -> dict:
    """The reduced-precision rule of the exporters: :func:`check_outputs` with top-1
    agreement >= :data:`MIN_AGREEMENT` ``[quantization]`` (classifiers), feature maps
    within :data:`QUANTIZED_RTOL` ``[quantization]``; ``quantization`` is ``"float16"``,
    ``"dynamic"`` or ``"int8"``. Without ``agreement`` (random images, whose top-1
    classes are near-ties that say nothing of real images) every output is bounded by
    :data:`QUANTIZED_RTOL` instead."""
    return check_outputs(got, ref, rtol=QUANTIZED_RTOL[quantization],
                         min_agreement=MIN_AGREEMENT[quantization] if agreement else None,
                         what=f"{quantization} {what}")


def class_indices(labels, classes: int):
    """``labels`` as a 1-D int64 array of class indices: integer labels, integral
    floats, or one-hot rows ``(N, classes)``.

    Raises:
        ValueError: another dtype, rows that are not one-hot, non-integer values.
    """
    y = np.asarray(labels)
    if y.dtype.kind not in "iufb":
        raise ValueError(f"labels: expected class indices (integers), got dtype {y.dtype}; "
                         "map class names to their indices first")
    if y.ndim == 2 and y.shape[1] == classes and y.shape[1] > 1:
        if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(1) == 1)):
            raise ValueError(f"labels: a 2-D array of shape {y.shape} is taken as one-hot "
                             "rows, but these rows are not one-hot; give class indices")
        return y.argmax(1)
    y = y.reshape(-1)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("labels: expected class indices, got non-integer values")
        y = y.astype("int64")
    return y.astype("int64")


def check_not_chance(ref, labels, what="verify_images") -> float | None:
    """The chance-level rule on labelled verification images: a Keras model at chance
    level on them (:func:`keras_resnet.numerics.chance_threshold`) is not seeing what it
    was trained on; they were probably not preprocessed as it expects.

    Args:
        ref: the Keras outputs (:func:`reference_outputs`); labels: class indices or
            one-hot rows for them, or None.

    Returns:
        the Keras model's top-1 accuracy (0..1), or None (no labels, not a classifier).

    Warns:
        UserWarning: at chance level on fewer than ``CHANCE_MIN_IMAGES`` (100) images.

    Raises:
        ChanceLevelError: at chance level on 100 images or more.
        ValueError: labels that are not class indices of this model, or not one per image.
    """
    key = classifier_key(ref)
    if labels is None or key is None:
        return None
    classes = max(2, ref[key].shape[1])  # one column: a binary classifier
    y = class_indices(labels, classes)
    if len(y) != len(ref[key]):
        raise ValueError(f"labels: {len(y)} labels for {len(ref[key])} images")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= classes:
        raise ValueError(f"labels: expected class indices in 0..{classes - 1} (the model has "
                         f"{classes} outputs), got values {y.min()}..{y.max()}")
    accuracy = float(np.mean(decisions(ref[key]) == y))
    chance = accuracy <= chance_threshold(classes, len(y))
    if len(y) < CHANCE_MIN_IMAGES and chance:
        warnings.warn(f"the Keras model is at chance level on {what} ({accuracy:.1%} top-1 on "
                      f"{len(y)} labelled images): are they preprocessed as the model "
                      f"expects? (with {CHANCE_MIN_IMAGES} or more images this is an error)",
                      stacklevel=3)
    if len(y) >= CHANCE_MIN_IMAGES and chance:
        raise ChanceLevelError(
            f"the Keras model itself is at chance level on {what} ({accuracy:.1%} top-1 on "
            f"{len(y)} labelled images, {classes} classes): the images are probably not "
            "preprocessed as the model expects (e.g. raw 0-255 pixels for a model trained "
            "on x/255 - pixel mean). Pass them through the model's preprocessing (the "
            "preprocess function of keras_resnet.load_pretrained, or the run's "
            "pixel_mean.npy), or export a model built with include_preprocessing and "
            "raw_uint8=True. Nothing was written.", accuracy, len(y))
    return accuracy


def accuracy_fields(got, ref, labels) -> dict:
    """A classifier's report fields: ``top1_agreement`` with Keras, and with ``labels``
    ``keras_accuracy`` and ``artifact_accuracy`` (all 0..1); {} for other outputs."""
    key = classifier_key(ref)
    if key is None:
        return {}
    out = {"top1_agreement": top1_agreement(got[key], ref[key])}
    if labels is not None:
        y = class_indices(labels, max(2, ref[key].shape[1]))
        out["keras_accuracy"] = float(np.mean(decisions(ref[key]) == y))
        out["artifact_accuracy"] = float(np.mean(decisions(got[key]) == y))
    return out


def verify_runner(runner, model, x, ref, labels, *, rtol: float,
                  quantization: str | None = None, what: str,
                  verified_on: str | None = None) -> dict:
    """Run a written file on the verification images and check it with
    :func:`check_outputs`: full precision within ``rtol``; a ``quantization``
    (``"float16"``, ``"dynamic"``, ``"int8"``) by :data:`MIN_AGREEMENT` (classifiers) or
    :data:`QUANTIZED_RTOL` (feature maps).

    Args:
        runner: the file's runner (numpy batch in, ``{name: array}`` out; its
            ``runtime`` names it in the latency record); model: the Keras model.
        x: the verification images ``(N, ...)``; ref: Keras' outputs on them.
        labels: their class indices, or None; what: the runtime's name for messages.
        verified_on: ``"random images"`` (:func:`.serving.random_images`): a reduced
            precision is then bounded by :data:`QUANTIZED_RTOL` on every output, not
            counted by agreement, and no ``top1_agreement`` is reported.

    Returns:
        report fields: ``verified_images``, :func:`check_outputs`' fields, the
        classifier's :func:`accuracy_fields`, ``latency_ms_batch1`` of the runtime and
        of Keras.

    Raises:
        ExportVerificationError: the rule fails.
    """
    got = runner(x)
    check = (compare(got, ref, rtol, what) if quantization is None
             else check_quantized(got, ref, quantization, what,
                                  agreement=verified_on != "random images"))
    # top-1 agreement on random images (near-ties) says nothing: not reported
    result = {"verified_images": int(len(x)), **check,
              **({} if verified_on == "random images" else accuracy_fields(got, ref, labels))}
    result["latency_ms_batch1"] = {
        runner.runtime: median_latency_ms(runner, x[:1], repeats=20, warmup=1),
        keras_latency_key(): keras_batch1_ms(model, x)}
    return result
