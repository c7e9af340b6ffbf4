"""The run directory of ``keras-resnet train``, in one place: what it holds, who writes
it (:func:`keras_resnet.training.train`, through the functions here) and how the
commands that use a run read it back (``predict``, ``evaluate``, ``export``, ``demo``,
through :func:`read_run`). No other module knows these file names.

    config.json        what was asked; a rerun with the same config resumes, a different
                       one is refused unless overwrite (RunConfigMismatch)
    inference.json     what a finished network takes and returns: registry name,
                       family, input size (H, W, C), the evaluation resize, class
                       names, preprocessing (see InputRecord)
    pixel_mean.npy     the training set's per-pixel mean, (H, W, C) float32 in [0, 1]
                       units: the preprocessing is ``image / 255 - pixel_mean``
    class_names.json   the class names again (runs written before inference.json)
    log.csv            one row per finished epoch (never rewritten on resume)
    checkpoints/       last.weights.h5, best.weights.h5 (+ best.json)
    backup/            two backup slots (model + optimiser), see training.callbacks
    tensorboard/       TensorBoard logs
    model.keras        the final model (plain Keras; loads without this package)
    metrics.json       holdout and test metrics of the final model (centre view)
    curves.png         training / validation error curves

A run that stops before its first epoch is logged leaves nothing behind that blocks
the next command: :func:`discard_unstarted` removes the directory it created.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import numpy as np

from .arch.specs import get_spec
from .io import atomic_write, write_file

CONFIG = "config.json"
INFERENCE = "inference.json"
MODEL = "model.keras"
PIXEL_MEAN = "pixel_mean.npy"
CLASS_NAMES = "class_names.json"
LOG = "log.csv"
METRICS = "metrics.json"
CURVES = "curves.png"
CHECKPOINTS = "checkpoints"
BACKUP = "backup"
TENSORBOARD = "tensorboard"

# config.json keys that say where a run computed: recorded (and updated on resume), not
# compared, so a run can resume on another machine
PLACEMENT_KEYS = ("backend", "devices")
# config.json keys added after runs were first written, with the value an older run
# had in effect (so that the same command still resumes it)
CONFIG_DEFAULTS = {"precision": "float32", "image_size": None, "weights": None,
                   "freeze_backbone": 0, "skip_bad_images": False}
# The evaluation transform of ImageNet-family networks (section 3.4): shorter side 256,
# centre 224 crop. Other crop sizes keep the ratio (crop 64: resize 73).
IMAGENET_RESIZE_PER_CROP = 256 / 224


class RunConfigMismatch(ValueError):
    """``out`` holds a run with another configuration."""


@dataclasses.dataclass(frozen=True)
class InputRecord:
    """What a trained network takes and returns (``inference.json``).

    Attributes:
        model: registry name of the network (``"resnet20"``).
        family: ``"cifar"`` or ``"imagenet"``: the evaluation transform.
        input_shape: ``(H, W, C)`` the network takes after preprocessing, pixels.
        resize: ImageNet family: the shorter side, pixels, an image is resized to
            before the centre ``H x W`` crop; None for the CIFAR family (images of
            another size are resized to ``H x W``).
        class_names: names by class index, or None.
        dataset: what it was trained on (as given to ``train``).
    """

    model: str
    family: str
    input_shape: tuple
    resize: int | None
    class_names: tuple | None
    dataset: str | None = None

    def to_json(self) -> dict:
        return {"format_version": 1, "model": self.model, "family": self.family,
                "input_shape": list(self.input_shape), "resize": self.resize,
                "class_names": None if self.class_names is None else list(self.class_names),
                "dataset": self.dataset,
                "preprocessing": {"mode": "pixel_mean", "scale": 1 / 255,
                                  "mean_file": PIXEL_MEAN, "std": None}}


def imagenet_resize(crop: int) -> int:
    """The evaluation resize (shorter side) for an ImageNet-family crop size."""
    return int(round(crop * IMAGENET_RESIZE_PER_CROP))


# ------------------------------------------------------------------ writing (train)
def prepare(out, config: dict, *, overwrite: bool, chief: bool,
            placement: dict | None = None) -> bool:
    """Check ``out`` against ``config`` and write ``config.json``.

    A run with the same config is resumed; one with another config is refused unless
    ``overwrite`` (then deleted). Returns True when this call created ``out`` (so that
    :func:`discard_unstarted` may remove it again).

    Raises:
        RunConfigMismatch: ``out`` holds a run with another configuration.
    """
    path = os.path.join(out, CONFIG)
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        for key in PLACEMENT_KEYS:
            old.pop(key, None)
        for key, value in CONFIG_DEFAULTS.items():
            old.setdefault(key, value)
        if old != config:
            if not overwrite:
                changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
                raise RunConfigMismatch(
                    f"{out} holds a run with a different configuration (changed: "
                    f"{', '.join(f'{k}: {old.get(k)!r} -> {config.get(k)!r}' for k in changed)}). "
                    "Use another --out, the same options to resume, or --overwrite to "
                    "start afresh (deletes that run).")
            if chief:
                shutil.rmtree(out)
    created = not os.path.exists(out)
    if chief:
        os.makedirs(out, exist_ok=True)
        write_file(path, json.dumps({**config, **(placement or {})}, indent=2) + "\n")
    return created


def discard_unstarted(out, created: bool) -> bool:
    """Remove ``out`` if this process ``created`` it and no epoch has been logged yet
    (a run that failed before its first epoch: bad data, out of memory, Ctrl-C), so the
    corrected command starts afresh instead of meeting a half-made run. Returns whether
    it removed anything."""
    if created and os.path.isdir(out) and finished_epochs(out) == 0:
        shutil.rmtree(out, ignore_errors=True)
        return True
    return False


def write_inputs(out, record: InputRecord, pixel_mean) -> None:
    """Write ``inference.json``, ``pixel_mean.npy`` and ``class_names.json``."""
    atomic_write(os.path.join(out, PIXEL_MEAN), lambda p: np.save(p, pixel_mean))
    if record.class_names:
        write_file(os.path.join(out, CLASS_NAMES), json.dumps(list(record.class_names)) + "\n")
    write_file(os.path.join(out, INFERENCE), json.dumps(record.to_json(), indent=2) + "\n")


def read_pixel_mean(out):
    """The stored pixel mean of a run being resumed, or None."""
    path = os.path.join(out, PIXEL_MEAN)
    return np.load(path).astype("float32") if os.path.exists(path) else None


def paths(out) -> dict:
    """Where ``train`` writes each file of the run ``out``."""
    return {"model": os.path.join(out, MODEL), "metrics": os.path.join(out, METRICS),
            "log": os.path.join(out, LOG), "checkpoints": os.path.join(out, CHECKPOINTS),
            "backup": os.path.join(out, BACKUP), "tensorboard": os.path.join(out, TENSORBOARD),
            "curves": os.path.join(out, CURVES)}


# ------------------------------------------------------------------ reading
def is_run_dir(path) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, CONFIG))


def run_of_model_file(path) -> str | None:
    """The run directory whose ``model.keras`` ``path`` is, or None: that file read on
    its own would lose what the run recorded beside it (class names, pixel mean,
    dataset), so the commands read it as its run."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path) == MODEL and os.path.isfile(path) and is_run_dir(folder):
        return os.path.dirname(path) or "."
    return None


def run_of_checkpoint(path) -> tuple[str, dict] | None:
    """(run directory, its config) when ``path`` is a ``.weights.h5`` in a run's
    ``checkpoints/`` folder, else None."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    run = os.path.dirname(folder)
    if (not path.endswith(".weights.h5") or os.path.basename(folder) != CHECKPOINTS
            or not is_run_dir(run)):
        return None
    try:
        return run, read_config(run)
    except (OSError, ValueError):
        return None


def read_config(run) -> dict:
    """The run's ``config.json``."""
    with open(os.path.join(run, CONFIG)) as f:
        return json.load(f)


def checkpoint_arguments(run, config, checkpoint) -> str:
    """The command-line arguments that load a run's checkpoint file on its own."""
    return (f"--weights {checkpoint} --model {config.get('model')} --pixel-mean "
            f"{os.path.join(run, PIXEL_MEAN)}")


def finished_epochs(out) -> int:
    """Epochs logged in ``log.csv`` (0 when there is none)."""
    try:
        with open(os.path.join(out, LOG)) as f:
            return max(0, sum(1 for line in f if line.strip()) - 1)
    except OSError:
        return 0


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run as :func:`read_run` finds it."""

    path: str
    config: dict
    inputs: InputRecord
    model_path: str
    pixel_mean: np.ndarray


def read_run(path) -> Run:
    """Read a finished run directory.

    Runs written before ``inference.json`` existed are read from ``config.json``,
    ``class_names.json`` and ``pixel_mean.npy`` (whose shape is the network's input:
    the image size for the CIFAR family, the crop for the ImageNet family).

    Raises:
        FileNotFoundError: ``path`` is not a run directory, or the run has not finished
            (the message says how far it got and where its checkpoints are).
    """
    path = os.fspath(path)
    if not is_run_dir(path):
        raise FileNotFoundError(
            f"{path} is a folder but not a run directory of keras-resnet train (it has no "
            f"{CONFIG}): give a run directory, a registry tag, or a .keras / .weights.h5 file")
    config = read_config(path)
    model_path = os.path.join(path, MODEL)
    if not os.path.exists(model_path):
        done = finished_epochs(path)
        last = os.path.join(path, CHECKPOINTS, "last.weights.h5")
        where = (f"its checkpoint after epoch {done} is {last} (load it with "
                 f"{checkpoint_arguments(path, config, last)})"
                 if done and os.path.exists(last) else "no epoch has finished yet")
        raise FileNotFoundError(
            f"{model_path} not found: the run has not finished ({done} of "
            f"{config.get('epochs', '?')} epochs); {where}. Run the same train command "
            "again to resume it")
    mean = np.load(os.path.join(path, PIXEL_MEAN)).astype("float32")
    record_path = os.path.join(path, INFERENCE)
    if os.path.exists(record_path):
        with open(record_path) as f:
            raw = json.load(f)
        inputs = InputRecord(raw["model"], raw["family"], tuple(raw["input_shape"]),
                             raw.get("resize"),
                             tuple(raw["class_names"]) if raw.get("class_names") else None,
                             raw.get("dataset"))
    else:  # a run written before inference.json
        family = get_spec(config["model"]).family
        names = None
        if os.path.exists(os.path.join(path, CLASS_NAMES)):
            with open(os.path.join(path, CLASS_NAMES)) as f:
                names = tuple(json.load(f))
        shape = tuple(int(d) for d in mean.shape)
        inputs = InputRecord(config["model"], family, shape,
                             imagenet_resize(shape[0]) if family == "imagenet" else None,
                             names, config.get("dataset"))
    return Run(path, config, inputs, model_path, mean)


def class_names(path) -> list | None:
    """The class names a run stored, or None."""
    try:
        names = read_run(path).inputs.class_names
    except FileNotFoundError:
        file = os.path.join(path, CLASS_NAMES)
        if not os.path.exists(file):
            return None
        with open(file) as f:
            return list(json.load(f))
    return list(names) if names else None
