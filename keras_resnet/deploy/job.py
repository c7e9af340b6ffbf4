"""What every exporter does around writing its file: check the destination and the
arguments, build the serving form and the Keras reference (:func:`prepare`, before
anything is written), name a converter's failure in one line, and write the report
``<path>.report.json`` afterwards."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import errno
import json
import os
import signal
import threading
import warnings

from ..io import write_file
from ..pretrained.transforms import as_preprocessing
from ..pretrained.weights import registered
from . import metadata as meta
from . import verify
from .verify import CalibrationVerificationWarning
from .keras_export import ModelRebuildError, _first_line
from .serving import (as_batch, check_batch, check_image_values,
                      check_preprocessing_fits, first_layer, random_images, serving_model,
                      with_preprocessing)


@dataclasses.dataclass
class Job:
    """What an export checked and computed before writing anything."""

    model: object  # the model exported (behind its preprocessing, if asked)
    serving: object  # its serving form (serving.serving_model)
    signature: object  # serving.Signature
    x: object  # verification images as the file takes them (N, H, W, C), or None
    ref: dict | None  # the Keras model's outputs on x, by name (float32 arrays)
    rtol: float  # the full-precision tolerance of this export
    record: dict  # the metadata stored in the file
    rep: object = None  # int8 calibration images as the file takes them, or None
    verified_on: str | None = None  # "verify_images", "representative_data" or
    # "random images" (RANDOM_VERIFY_IMAGES of them: serving.random_images)


# What to do about a folder the export cannot write (the end of its PermissionError)
CHOOSE_WRITABLE = "choose a folder you can write to"
# The folders check_destination made for the export running in this context: a list
# inside removing_created_folders(), which removes them if the export fails; None
# outside one.
_CREATED = contextvars.ContextVar("keras_resnet_export_created_folders", default=None)


def check_destination(path, suffix=None) -> str:
    """A clear error, before any work, for a path the export could not or should not
    write: a missing or wrong suffix, an existing folder where a file goes, a folder
    that is not a SavedModel (it would be replaced), the working directory or one above
    it, an unwritable parent. Creates the parent folder (and the missing ones above
    it) and, inside :func:`removing_created_folders`, records them, so that a failed
    export removes them again. Returns the path as a string.

    Raises:
        ValueError: one of the paths above (said which), or a file where one of the
            parent folders goes.
        PermissionError: the parent folder cannot be made or written (no permission, a
            read-only file system); the message names it and says what to do.
    """
    path = os.path.expanduser(os.fspath(path))
    if suffix and not path.lower().endswith(suffix):  # m.ONNX too, as open_artifact reads
        raise ValueError(f"the file name must end in {suffix} (the runtimes recognise files "
                         f"by it), got {path!r}")
    if suffix and os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder; give a file name ending in {suffix}")
    if suffix == ".xml" and os.path.isdir(path[:-4] + ".bin"):
        raise ValueError(f"{path[:-4] + '.bin'!r} is a folder, and the IR's weights go "
                         "there: remove it or give another file name")
    if not suffix:  # a SavedModel folder
        real, cwd = os.path.realpath(path), os.path.realpath(os.getcwd())
        if cwd == real or cwd.startswith(real.rstrip(os.sep) + os.sep):
            raise ValueError(f"{path!r} is the working directory or one above it; a "
                             "SavedModel export replaces its folder: give a new folder name")
        if os.path.exists(path) and not (
                os.path.isdir(path) and os.path.exists(os.path.join(path, "saved_model.pb"))):
            raise ValueError(f"{path!r} exists and is not a SavedModel; a SavedModel export "
                             "replaces its folder: remove it or give a new folder name")
    parent = os.path.dirname(os.path.abspath(path))
    created = _make_folders(parent)
    if not os.access(parent, os.W_OK):
        _remove_empty(created)
        raise PermissionError(f"cannot write to {parent!r}: {CHOOSE_WRITABLE}")
    record = _CREATED.get()
    if record is not None:
        record.extend(created)
    return path


def _make_folders(folder) -> list:
    """Make the absolute path ``folder`` and the missing folders above it; returns
    those made here, outermost first (one that another process makes meanwhile is
    not counted).

    Raises:
        ValueError: something that is not a folder stands where one of them goes.
        PermissionError: one cannot be made (no permission, a read-only file system);
            those made before it are removed again.
        OSError: any other failure (a full disk, a name too long), after the same.
    """
    missing = []
    while not os.path.isdir(folder):
        if os.path.lexists(folder):
            raise ValueError(f"{folder!r} is not a folder, and the export's folder goes "
                             "there: give another path")
        missing.append(folder)
        folder = os.path.dirname(folder)
    created = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:  # made meanwhile by another process: not ours
            continue
        except OSError as err:
            _remove_empty(created)
            if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise PermissionError(
                    f"cannot write to {os.path.dirname(folder)!r} ({err.strerror.lower()}) "
                    f"to make the folder {os.path.basename(folder)!r}: "
                    f"{CHOOSE_WRITABLE}") from None
            raise
        created.append(folder)
    return created


def _remove_empty(folders) -> None:
    """Remove each of ``folders`` that is empty, the last first (the innermost of
    those :func:`_make_folders` made); a folder that holds anything stays."""
    for folder in reversed(folders):
        try:
            os.rmdir(folder)
        except OSError:  # not empty, or gone
            pass


@contextlib.contextmanager
def removing_created_folders():
    """Run an export so that, if it fails (any exception), the folders
    :func:`check_destination` made for it are removed again: only those, and only
    while empty, so a folder that was there before, or that now holds a file, stays.
    Yields the list of folders made so far (absolute paths). Also a decorator
    (``@removing_created_folders()``); inside another such run, the folders of one that
    succeeds count as the outer run's too."""
    outer = _CREATED.get()
    created = []
    token = _CREATED.set(created)
    # SIGTERM (docker stop, a CI timeout, systemd) ends Python without running any
    # `finally`: an export stopped by it left its hidden temporary folder and a half-
    # written file beside the destination. While the outermost export runs in the main
    # thread with the default handler, SIGTERM raises SystemExit instead, so that the
    # exporters' clean-up runs (once the running converter call returns) and the
    # process still ends, with the status a default SIGTERM ends it with.
    previous = None
    if (outer is None and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
        _TERMINATED.clear()
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield created
    except BaseException:
        _remove_empty(created)
        raise
    finally:
        _CREATED.reset(token)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if outer is not None:
        outer.extend(created)


# Set by SIGTERM during an export: a converter that runs Python inside its own C++ code
# (OpenVINO's frontend) turns the SystemExit into its own RuntimeError, which
# converter_errors would report as "cannot take model"; it re-raises the exit instead.
_TERMINATED = threading.Event()


def _exit_on_sigterm(signum, frame):
    _TERMINATED.set()
    raise SystemExit(128 + signum)


def tag_class_names(settings) -> list | None:
    """Class names of a registry tag given as preprocessing settings (the same names
    ``predict`` shows: :attr:`keras_resnet.Weights.class_names`), else None."""
    tag = registered(settings) if isinstance(settings, str) else None
    if tag is None:
        return None
    try:
        return list(tag.class_names)
    except ValueError:  # no names recorded
        return None


def check_class_names(class_names, serving, model_name) -> None:
    """ValueError unless ``class_names`` (if given) name the columns of the model's one
    2-D output."""
    if class_names is None:
        return
    if isinstance(class_names, str) or not hasattr(class_names, "__len__"):
        raise ValueError(f"class_names must be a list of names, got {class_names!r}")
    shapes = [tuple(o.shape) for o in serving.outputs]
    if len(shapes) != 1 or len(shapes[0]) != 2:
        raise ValueError(f"class_names describe a classifier's scores, but model "
                         f"{model_name!r} returns {len(shapes)} output(s) of shape(s) "
                         f"{shapes}: leave class_names out")
    if len(class_names) != shapes[0][1]:
        raise ValueError(f"{len(class_names)} class_names for the {shapes[0][1]} outputs of "
                         f"model {model_name!r}: give one name per output column")


# Seeded random images an export is verified on when the caller gives no images: enough
# to show a conversion that breaks the network (every output element compared), as few
# as keep an export of a large network quick.
RANDOM_VERIFY_IMAGES = 4


def prepare(model, *, input_name, raw_uint8, verify_images, labels, rtol, default_rtol,
            preprocessing, class_names, include_preprocessing, batch_size=None,
            representative_data=None) -> Job:
    """The checks and the Keras reference that come before anything is written (the
    exporters' arguments, as :func:`keras_resnet.deploy.writers.saved_model` documents
    them; ``default_rtol``: the format's full-precision tolerance for a float32 model).

    ``representative_data`` (int8 files) is checked as ``verify_images`` are; without
    ``verify_images`` the int8 file is verified on it (``Job.verified_on``), with a
    :class:`CalibrationVerificationWarning`. With neither, the file is verified on
    :data:`RANDOM_VERIFY_IMAGES` seeded random images (:func:`.serving.random_images`):
    no file is written unchecked.

    Raises:
        ValueError: a model, argument or preprocessing that does not fit (said why).
        ChanceLevelError: the Keras model is at chance level on the labelled images.
    """
    from_tag = class_names is None
    if from_tag:  # a weights tag knows its classes
        class_names = tag_class_names(preprocessing) or tag_class_names(include_preprocessing)

    if include_preprocessing is not None:
        model = with_preprocessing(model, include_preprocessing)
        raw_uint8 = True
        preprocessing = preprocessing if preprocessing is not None else include_preprocessing
    serving, signature = serving_model(model, input_name=input_name, raw_uint8=raw_uint8,
                                       batch_size=batch_size)
    if preprocessing is not None and include_preprocessing is None:
        check_preprocessing_fits(as_preprocessing(preprocessing), signature.input_shape,
                                 signature.data_format, model.name,
                                 preprocessing if isinstance(preprocessing, str) else None)
    if from_tag:  # a tag's names are recorded only where they fit (not on a backbone or
        try:      # a network fine-tuned to other classes)
            check_class_names(class_names, serving, model.name)
        except ValueError:
            class_names = None
    else:
        check_class_names(class_names, serving, model.name)
    pre = None if preprocessing is None else as_preprocessing(preprocessing)
    inside = first_layer(model)
    rep = None
    if representative_data is not None:
        rep = _images(representative_data, signature, pre, inside, "representative_data")
    x = verified_on = None
    if verify_images is not None:
        x, verified_on = _images(verify_images, signature, pre, inside, "verify_images"), \
            "verify_images"
    elif rep is not None:
        if labels is not None:
            raise ValueError("labels belong to verify_images; without verify_images the "
                             "int8 file is checked on representative_data, which has none: "
                             "pass verify_images= too, or leave labels out")
        warnings.warn(
            "no verify_images: the int8 file is checked on representative_data, the images "
            "it was calibrated on; pass verify_images= (held-out images, with labels= for "
            "accuracy) to check it on images it has not seen",
            CalibrationVerificationWarning, stacklevel=3)
        x, verified_on = rep, "representative_data"
    elif labels is not None:
        raise ValueError("labels belong to verify_images: pass verify_images= too (the "
                         "images they label, as the model takes them), or leave labels out")
    else:  # nothing given: checked on RANDOM_VERIFY_IMAGES random images
        x = random_images(signature, inside.pixels, RANDOM_VERIFY_IMAGES)
        verified_on = "random images"
    try:
        ref = verify.reference_outputs(model, signature, x)
    except verify.ReferenceUnavailableError as e:
        if verified_on != "random images":
            raise
        warnings.warn(f"the file is written unverified: {str(e).split('. Export')[0]}",
                      verify.UnverifiedExportWarning, stacklevel=3)
        x = ref = verified_on = None
    if ref is not None:
        verify.check_reference_finite(ref, verified_on)
        verify.check_not_chance(ref, labels)
    if rtol is None:  # a mixed-precision model is compared at its policy's tolerance
        rtol = default_rtol if signature.policy == "float32" else signature.rtol
    record = meta.build_metadata(
        signature, model.name, class_names=class_names,
        in_model=signature.input_dtype == "uint8",
        preprocessing=pre)
    return Job(model, serving, signature, x, ref, rtol, record, rep, verified_on)


# What to do, in the exporters' words, when verification or calibration images are not
# what the model takes (serving.check_image_values)
_FIX = {
    "preprocess": "give them preprocessed (the preprocessing's __call__), or export with "
                  "include_preprocessing= to write a file that takes uint8 pixels",
    "unknown": "pass preprocessed images, or export with include_preprocessing= for a "
               "file that takes uint8 pixels",
    "raw": "give the pixels as they are (0-255), before any normalisation",
}


def _images(images, signature, preprocessing, inside, what):
    """``images`` (verification or calibration images) as one batch the file takes
    (:func:`.serving.check_batch`), refused by :func:`.serving.check_image_values`
    where they are not what the model takes: a file calibrated or checked on an input it
    never takes would pass its check and serve wrong answers."""
    x = as_batch(images, what)
    check_image_values(x, signature, preprocessing, inside, what, _FIX)
    return check_batch(x, signature, what)


def report_fields(fmt, path, job, size, **extra) -> dict:
    """The report's fields every format has: format, path, input, outputs, dtype
    policy, size in bytes, ``extra``, and the metadata record last."""
    sig = job.signature
    return {"format": fmt, "path": path, "input": sig.input_name,
            "input_dtype": sig.input_dtype, "input_shape": [None, *sig.input_shape],
            "outputs": list(sig.output_names), "policy": sig.policy, "size_bytes": size,
            **({"verified_on": job.verified_on} if job.verified_on else {}),
            **extra, "metadata": job.record}


def write_report(path, report) -> None:
    """Write ``report`` as ``<path>.report.json`` (atomically)."""
    write_file(path + ".report.json", json.dumps(report, indent=2) + "\n")


def dir_size(path) -> int:
    """Bytes of every file under the folder ``path``."""
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


@contextlib.contextmanager
def converter_errors(name, job):
    """A converter's own failure (a long trace from inside tf2onnx or OpenVINO's
    frontend) as one ValueError that names the model and the format."""
    try:
        yield
    except ModelRebuildError:
        raise  # already says what happened and what to do
    except Exception as e:
        if _TERMINATED.is_set():  # stopped by SIGTERM inside the converter, not failed
            raise SystemExit(128 + signal.SIGTERM) from None
        raise ValueError(f"the {name} converter cannot take model "
                         f"{job.model.name!r} ({type(e).__name__}: {_first_line(e)[:240]}); "
                         "the other formats may: try export.saved_model / tflite / onnx / "
                         "openvino")
