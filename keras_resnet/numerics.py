"""The project's one tolerance rule for comparing outputs against a reference.

    max|a - ref| <= rtol * max(1, max|ref|)

Relative to the reference's largest magnitude (so logits of any scale compare
fairly) but never tighter than ``rtol`` in absolute terms (so outputs near zero do
not demand impossible precision). Used by the tests, the weight converters and the
export verifiers alike.
"""

from __future__ import annotations

import numpy as np


def max_abs_error(actual, reference) -> float:
    a = np.asarray(actual, dtype="float64")
    r = np.asarray(reference, dtype="float64")
    if a.shape != r.shape:
        raise ValueError(f"shapes differ: {a.shape} vs reference {r.shape}")
    return float(np.max(np.abs(a - r))) if a.size else 0.0


def tolerance(reference, rtol: float) -> float:
    r = np.asarray(reference, dtype="float64")
    return rtol * max(1.0, float(np.max(np.abs(r))) if r.size else 0.0)


def within_tolerance(actual, reference, rtol: float = 1e-4) -> bool:
    if np.asarray(actual).shape != np.asarray(reference).shape:
        return False
    if not np.all(np.isfinite(actual)):
        return False
    return max_abs_error(actual, reference) <= tolerance(reference, rtol)


def assert_close(actual, reference, rtol: float = 1e-4, what: str = "outputs"):
    """Raise AssertionError (with the numbers) unless ``actual`` matches ``reference``."""
    if not np.all(np.isfinite(actual)):
        raise AssertionError(f"{what}: non-finite values")
    err = max_abs_error(actual, reference)
    tol = tolerance(reference, rtol)
    if not err <= tol:
        raise AssertionError(
            f"{what} differ: max|a-ref| = {err:.3g} > {tol:.3g} "
            f"(rtol {rtol:g} x max(1, max|ref|))"
        )


# Chance level: a classifier whose top-1 accuracy is within min(p / 2, 5 points) of
# chance (p = 1 / classes), or within two binomial standard errors of it
# (sqrt(p (1 - p) / n)), is taken as not seeing the inputs it was trained on (or as not
# trained): the exports refuse to verify against it on CHANCE_MIN_IMAGES or more
# labelled images (warn below that) and evaluate warns. For 10 classes that is the
# earlier rule of 1.5 x chance (15%); for 2 classes 55% (60% on 100 images), where
# 1.5 x chance would call a 74% network "at chance".
CHANCE_MIN_IMAGES = 100


def chance_threshold(classes: int, images: int) -> float:
    """The top-1 accuracy at or below which a score over ``images`` labelled images of
    ``classes`` classes is at chance level (see above)."""
    p = 1.0 / max(int(classes), 1)
    noise = 2.0 * (p * (1.0 - p) / max(int(images), 1)) ** 0.5
    return max(p + min(p / 2, 0.05), p + noise)


def at_chance_level(accuracy: float, classes: int, images: int) -> bool:
    """Whether a top-1 ``accuracy`` over ``images`` (>= :data:`CHANCE_MIN_IMAGES`)
    labelled images of ``classes`` classes is at chance level."""
    return images >= CHANCE_MIN_IMAGES and accuracy <= chance_threshold(classes, images)
