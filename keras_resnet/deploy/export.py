"""Deployment files, each verified by running the written file with its own runtime.

    from keras_resnet import export
    export.saved_model(model, "out/sm", verify_images=x)
    export.onnx(model, "out/m.onnx", verify_images=x)          # ONNX Runtime
    export.openvino(model, "out/m.xml", verify_images=x)       # OpenVINO runtime
    export.tflite(model, "out/m.tflite", quantization="int8",  # LiteRT
                  representative_data=x[:200], verify_images=x, labels=y)

Any Keras image model is accepted (functional, Sequential, nested, dict outputs such as
a backbone's ``C2``..``C5``, mixed precision): each is first put in one serving form
(:func:`~keras_resnet.deploy.serving.serving_model`): an input named ``images`` with any
batch size and float32 outputs named like the model's. A mixed-precision model is
written as a float32 file and compared at a tolerance for its policy.

Writers: ONNX and OpenVINO IR come from Keras' own ``Model.export`` (``format="onnx"``
through tf2onnx, ``format="openvino"``). SavedModel and TFLite use Keras'
``ExportArchive`` directly, because ``Model.export`` gives less there: its SavedModel
names the outputs ``output_0``... and takes no uint8 input, and its LiteRT export names
the signature ``serve`` and enables TensorFlow "select" ops, which the LiteRT runtime
of ``ai-edge-litert`` does not run; ours converts with builtin ops only and keeps the
signature ``serving_default`` with named tensors.

Checks (the project's tolerance rule ``max|a-b| <= rtol * max(1, max|ref|)``): SavedModel
rtol 1e-5, ONNX / OpenVINO / float32 TFLite rtol 1e-4 (mixed-precision models: the
policy's tolerance); TFLite float16 top-1 agreement >= 99.5%, dynamic-range and int8
(TFLite, and OpenVINO through NNCF) >= 98%; quantised feature maps within rtol 0.01
(float16) or 0.1. With ``labels`` (100 or more), an export whose Keras model is itself at chance
level on the verification images is refused: those images are not what the model
takes. A file that fails is never left behind (it is checked before it is moved into
place) and :class:`ExportVerificationError` says by how much. Every file carries its
metadata (input, outputs, preprocessing, class names: :mod:`.metadata`) and gets a
``<path>.report.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import warnings

import numpy as np

from ..io import atomic_write, write_file
# chance level (numerics.chance_threshold) on >= 100 images: not the model's input
# (shared with evaluate's warning)
from ..numerics import CHANCE_MIN_IMAGES, chance_threshold, max_abs_error, within_tolerance
from . import metadata as meta
from .runtimes import (SIGNATURE, LiteRTRunner, OnnxRuntimeRunner, OpenVINORunner,
                       SavedModelRunner, open_artifact)  # noqa: F401  (export.open_artifact)
from .keras_export import ModelRebuildError, _first_line, _input_spec, export_with_keras
from .metadata import read_metadata  # noqa: F401  (export.read_metadata, as in the README)
from .serving import INPUT_NAME, check_batch, keras_call, serving_model
from .timing import median_latency_ms

QUANTIZATIONS = (None, "float16", "dynamic", "int8")  # TFLite
SAVED_MODEL_RTOL = 1e-5
TFLITE_RTOL = ONNX_RTOL = OPENVINO_RTOL = 1e-4
MIN_AGREEMENT = {"float16": 0.995, "dynamic": 0.98, "int8": 0.98}
# Outputs that are not class scores (a backbone's feature maps) get a relative-error bound
# instead: float16 weights keep 11 significant bits; int8 keeps 8 bits of each tensor's
# calibrated range, 2e-2 of error on ResNet-50 logits in docs/benchmarks.md.
QUANTIZED_RTOL = {"float16": 1e-2, "dynamic": 0.1, "int8": 0.1}


class ExportVerificationError(RuntimeError):
    """The exported artifact does not reproduce the Keras model, or the verification
    images are not what the model takes."""


class ChanceLevelError(ExportVerificationError):
    """The Keras model itself is at chance level on the labelled verification images.

    Attributes: ``accuracy`` (its top-1, 0..1) and ``images`` (how many)."""

    def __init__(self, message, accuracy, images):
        super().__init__(message)
        self.accuracy, self.images = accuracy, images


# ------------------------------------------------------------------ shared steps
def reference_outputs(model, signature, x, batch_size=64):
    """The Keras model's own outputs on ``x`` (inference mode), by output name."""
    import keras

    from .serving import _named

    parts = []
    for i in range(0, len(x), batch_size):
        try:
            y = model(np.asarray(x[i:i + batch_size], "float32"), training=False)
        except Exception as e:
            if "NHWC" in str(e) and signature.data_format == "channels_first":
                raise ValueError(
                    "the Keras reference cannot run: TensorFlow's CPU convolutions take "
                    "channels_last (NHWC) only, and this model is channels_first. Export "
                    "it without verify_images (the file is still checked to load), on a "
                    "machine with a GPU, or build the model channels_last") from None
            raise
        _, named = _named(model, y)
        parts.append({k: keras.ops.convert_to_numpy(v).astype("float32")
                      for k, v in zip(signature.output_names, named.values())})
    return {k: np.concatenate([p[k] for p in parts]) for k in signature.output_names}


def _keras_batch1_ms(model, x):
    """Batch-1 latency of the Keras model itself, compiled as the backend allows, to the
    outputs in numpy (JAX computes asynchronously: this waits for the result)."""
    import keras

    fn = keras_call(model)

    def run(a):
        return keras.tree.map_structure(keras.ops.convert_to_numpy, fn(a))

    return median_latency_ms(run, np.asarray(x[:1], "float32"), repeats=20, warmup=1)


def keras_latency_key() -> str:
    """The report's name for the Keras model's own latency: how it was compiled."""
    import keras

    return {"tensorflow": "keras_tf_function", "jax": "keras_jax_jit"}.get(
        keras.backend.backend(), f"keras_{keras.backend.backend()}")


def _classifier_key(ref):
    key = next(iter(ref))
    return key if ref[key].ndim == 2 and len(ref) == 1 else None


def class_indices(labels, classes: int):
    """``labels`` as a 1-D integer array of class indices: integer labels, integral
    floats, or one-hot rows of ``classes`` columns; ValueError for anything else."""
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


def check_not_chance(ref, labels, what="verify_images"):
    """ExportVerificationError if the Keras model itself is at chance level on labelled
    verification images (a sign they were not preprocessed as the model expects)."""
    key = _classifier_key(ref)
    if labels is None or key is None:
        return None
    y = class_indices(labels, ref[key].shape[1])
    if len(y) != len(ref[key]):
        raise ValueError(f"labels: {len(y)} labels for {len(ref[key])} images")
    classes = ref[key].shape[1]
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= classes:
        raise ValueError(f"labels: expected class indices in 0..{classes - 1} (the model has "
                         f"{classes} outputs), got values {y.min()}..{y.max()}")
    accuracy = float(np.mean(ref[key].argmax(1) == y))
    chance = accuracy <= chance_threshold(classes, len(y))
    if len(y) < CHANCE_MIN_IMAGES and chance:
        import warnings

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


def compare(got, ref, rtol, what):
    """Report fields for a runtime's outputs ``got`` against Keras' ``ref`` (dicts by
    output name); ExportVerificationError beyond the tolerance."""
    if set(got) != set(ref):
        raise ExportVerificationError(f"{what} outputs {sorted(got)} != Keras' {sorted(ref)}")
    errors = {k: max_abs_error(got[k], ref[k]) for k in ref}
    if not all(within_tolerance(got[k], ref[k], rtol) for k in ref):
        raise ExportVerificationError(
            f"{what} outputs differ from Keras beyond rtol={rtol}: {errors}")
    return {"rtol": rtol, "max_abs_error": errors, "within_tolerance": True}


def _agreement(got, ref, labels, key):
    out = {"top1_agreement": float(np.mean(got[key].argmax(1) == ref[key].argmax(1)))}
    if labels is not None:
        y = class_indices(labels, ref[key].shape[1])
        out["keras_accuracy"] = float(np.mean(ref[key].argmax(1) == y))
        out["artifact_accuracy"] = float(np.mean(got[key].argmax(1) == y))
    return out


def _write_report(path, report):
    write_file(path + ".report.json", json.dumps(report, indent=2) + "\n")


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


@dataclasses.dataclass
class _Job:
    """What an export checked and computed before writing anything."""

    model: object  # the model exported (behind its preprocessing, if asked)
    serving: object  # its serving form (serving.serving_model)
    signature: object
    x: object  # verification images as the file takes them, or None
    ref: dict | None  # the Keras model's outputs on x, by name
    rtol: float
    record: dict  # the metadata stored in the file


def check_destination(path, suffix=None):
    """A clear error, before any work, for a path the export could not or should not
    write: a missing or wrong suffix, an existing folder where a file goes, a folder
    that is not a SavedModel (it would be replaced), the working directory or one above
    it, an unwritable parent. Returns the path as a string."""
    path = os.path.expanduser(os.fspath(path))
    if suffix and not path.endswith(suffix):
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
    os.makedirs(parent, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"cannot write to {parent!r}")
    return path


def _tag_class_names(settings):
    """Class names of a registry tag given as preprocessing settings (the same names
    ``predict`` shows: :attr:`keras_resnet.Weights.class_names`), else None."""
    from ..pretrained.weights import registered

    tag = registered(settings) if isinstance(settings, str) else None
    if tag is None:
        return None
    try:
        return list(tag.class_names)
    except ValueError:  # no names recorded
        return None


def _check_class_names(class_names, serving, model_name):
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


def _prepare(model, *, input_name, raw_uint8, verify_images, labels, rtol, default_rtol,
             preprocessing, class_names, include_preprocessing, batch_size=None) -> _Job:
    """The checks and the Keras reference that come before anything is written."""
    from .serving import preprocessing_settings, with_preprocessing

    from_tag = class_names is None
    if from_tag:  # a weights tag knows its classes
        class_names = _tag_class_names(preprocessing) or _tag_class_names(include_preprocessing)

    if include_preprocessing is not None:
        model = with_preprocessing(model, include_preprocessing)
        raw_uint8 = True
        preprocessing = preprocessing if preprocessing is not None else include_preprocessing
    serving, signature = serving_model(model, input_name=input_name, raw_uint8=raw_uint8,
                                       batch_size=batch_size)
    if preprocessing is not None and include_preprocessing is None:
        from .serving import check_preprocessing_fits

        check_preprocessing_fits(preprocessing_settings(preprocessing), signature.input_shape,
                                 signature.data_format, model.name,
                                 preprocessing if isinstance(preprocessing, str) else None)
    if from_tag:  # a tag's names are recorded only where they fit (not on a backbone or
        try:      # a network fine-tuned to other classes)
            _check_class_names(class_names, serving, model.name)
        except ValueError:
            class_names = None
    else:
        _check_class_names(class_names, serving, model.name)
    x = ref = None
    if verify_images is not None:
        x = check_batch(verify_images, signature, "verify_images")
        ref = reference_outputs(model, signature, x)
        check_not_chance(ref, labels)
    if rtol is None:  # a mixed-precision model is compared at its policy's tolerance
        rtol = default_rtol if signature.policy == "float32" else signature.rtol
    record = meta.build_metadata(
        signature, model.name, class_names=class_names,
        in_model=signature.input_dtype == "uint8",
        preprocessing=None if preprocessing is None else preprocessing_settings(preprocessing))
    return _Job(model, serving, signature, x, ref, rtol, record)


def _report(fmt, path, job, size, **extra):
    sig = job.signature
    return {"format": fmt, "path": path, "input": sig.input_name,
            "input_dtype": sig.input_dtype, "input_shape": [None, *sig.input_shape],
            "outputs": list(sig.output_names), "policy": sig.policy, "size_bytes": size,
            **extra, "metadata": job.record}


def _verify_float(runner, job, labels, what):
    """Run the written file on the verification images: outputs within job.rtol of
    Keras', top-1 agreement (classifiers), batch-1 latency against Keras."""
    got = runner(job.x)
    result = {"verified_images": int(len(job.x)), **compare(got, job.ref, job.rtol, what)}
    key = _classifier_key(job.ref)
    if key is not None:
        result.update(_agreement(got, job.ref, labels, key))
    result["latency_ms_batch1"] = {
        runner.runtime: median_latency_ms(runner, job.x[:1], repeats=20, warmup=1),
        keras_latency_key(): _keras_batch1_ms(job.model, job.x)}
    return result


@contextlib.contextmanager
def _converter(name, job):
    """A converter's own failure (a long trace from inside tf2onnx or OpenVINO's
    frontend) as one ValueError that names the model and the format."""
    try:
        yield
    except ModelRebuildError:
        raise  # already says what happened and what to do
    except Exception as e:
        raise ValueError(f"the {name} converter cannot take model "
                         f"{job.model.name!r} ({type(e).__name__}: {_first_line(e)[:240]}); "
                         "the other formats may: try export.saved_model / tflite / onnx / "
                         "openvino")


# ------------------------------------------------------------------ SavedModel
def _write_saved_model(serving, signature, path, batch=None):
    import keras

    if keras.backend.backend() not in ("tensorflow", "jax"):
        raise ValueError(f"SavedModel and TFLite files are written from the TensorFlow or "
                         f"JAX backend (Keras' ExportArchive), not "
                         f"{keras.backend.backend()!r}: run the export under "
                         "KERAS_BACKEND=tensorflow, or export as ONNX or OpenVINO")
    archive = keras.export.ExportArchive()
    archive.track(serving)
    archive.add_endpoint(SIGNATURE, lambda images: serving(images, training=False),
                         input_signature=[_input_spec(signature, batch)])
    archive.write_out(path, verbose=False)


def saved_model(model, path, *, input_name: str = INPUT_NAME, raw_uint8: bool = False,
                verify_images=None, labels=None, rtol: float | None = None,
                preprocessing: dict | None = None, class_names=None,
                include_preprocessing=None) -> dict:
    """Write ``model`` as a SavedModel folder (signature ``serving_default``, input
    ``input_name``, any batch size, float32 outputs named like the model's) and verify
    it with ``tf.saved_model.load`` on ``verify_images`` (a batch the model takes).

    Args:
        raw_uint8: the input is uint8 images; for a model that normalises its input
            itself (built with ``include_preprocessing``).
        include_preprocessing: settings (a ``preprocessing`` dict as in the registry, or
            ``"caffe"``/``"torch"``/a weights tag) to put in front of the model; the file
            then takes raw uint8 images.
        preprocessing, class_names: recorded in the file's metadata and report.
        rtol: default 1e-5 (float32 model) or the model's dtype policy's tolerance.

    Returns the report (also written to ``<path>.report.json``).

    Raises:
        ValueError: a model or input the exporter cannot take (said why).
        ExportVerificationError: the file does not match Keras; nothing is written.
    """
    path = check_destination(path)
    job = _prepare(model, input_name=input_name, raw_uint8=raw_uint8,
                   verify_images=verify_images, labels=labels, rtol=rtol,
                   default_rtol=SAVED_MODEL_RTOL, preprocessing=preprocessing,
                   class_names=class_names, include_preprocessing=include_preprocessing)
    parent = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        _write_saved_model(job.serving, job.signature, tmp)
        meta.write_saved_model(tmp, job.record)
        report = _report("savedmodel", path, job, _dir_size(tmp))
        if job.x is not None:
            report.update(_verify_float(SavedModelRunner(tmp, input_name), job, labels,
                                        "SavedModel"))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide it from a server
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    _write_report(path, report)
    return report


# ------------------------------------------------------------------ ONNX
def onnx(model, path, *, input_name: str = INPUT_NAME, raw_uint8: bool = False,
         verify_images=None, labels=None, rtol: float | None = None,
         preprocessing: dict | None = None, class_names=None, include_preprocessing=None,
         opset: int | None = None) -> dict:
    """Write ``model`` as an ONNX file (any batch size) through Keras'
    ``Model.export(format="onnx")`` and verify it with ONNX Runtime. Needs
    ``pip install 'keras-resnet-zoo[onnx]'`` (tf2onnx, onnx, onnxruntime). Arguments,
    return value and errors as :func:`saved_model` (default rtol 1e-4); ``opset``: the
    ONNX opset (default: tf2onnx's)."""
    try:
        import onnx as _onnx  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as e:
        raise ImportError("ONNX export needs tf2onnx and onnx: "
                          "pip install 'keras-resnet-zoo[onnx]'") from e
    path = check_destination(path, ".onnx")
    job = _prepare(model, input_name=input_name, raw_uint8=raw_uint8,
                   verify_images=verify_images, labels=labels, rtol=rtol,
                   default_rtol=ONNX_RTOL, preprocessing=preprocessing,
                   class_names=class_names, include_preprocessing=include_preprocessing)

    def write(tmp):
        with _converter("ONNX (tf2onnx)", job):
            export_with_keras(job.serving, tmp, "onnx", job.signature, opset_version=opset)
        meta.write_onnx(tmp, job.record)
        report.update(_report("onnx", path, job, os.path.getsize(tmp)))
        if job.x is not None:
            report.update(_verify_float(OnnxRuntimeRunner(tmp), job, labels, "ONNX Runtime"))

    report = {}
    atomic_write(path, write)
    _write_report(path, report)
    return report


# ------------------------------------------------------------------ OpenVINO
OPENVINO_QUANTIZATIONS = (None, "int8")


def openvino(model, path, *, input_name: str = INPUT_NAME, raw_uint8: bool = False,
             verify_images=None, labels=None, rtol: float | None = None,
             preprocessing: dict | None = None, class_names=None,
             include_preprocessing=None, quantization=None,
             representative_data=None) -> dict:
    """Write ``model`` as an OpenVINO IR (``path`` ends in ``.xml``; the weights go to the
    ``.bin`` beside it; any batch size) through Keras' ``Model.export(format="openvino")``
    and verify it with the OpenVINO runtime at f32 inference precision. Needs
    ``pip install 'keras-resnet-zoo[openvino]'``. Arguments, return value and errors as
    :func:`saved_model` (default rtol 1e-4), and:

    Args:
        quantization: ``None`` (float32) or ``"int8"``: post-training quantisation by
            NNCF (:mod:`.quantize`), calibrated on ``representative_data`` (a few
            hundred inputs as the model takes them). Verified like the TFLite int8
            export: top-1 agreement with Keras >= 98% on ``verify_images``
            (classifiers; with ``labels`` the accuracy of both is reported), feature
            maps within rtol 0.1.
    """
    if quantization not in OPENVINO_QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {OPENVINO_QUANTIZATIONS} for "
                         f"OpenVINO, got {quantization!r}")
    if quantization == "int8" and representative_data is None:
        raise ValueError("int8 quantisation needs representative_data (a few hundred "
                         "inputs from the data pipeline)")
    if quantization is None and representative_data is not None:
        raise ValueError("representative_data calibrates int8 files: pass "
                         "quantization='int8' too, or leave it out")
    if not os.fspath(path).endswith(".xml"):
        raise ValueError(f"an OpenVINO IR path ends in .xml (the weights go to the .bin "
                         f"beside it), got {os.fspath(path)!r}")
    path = check_destination(path, ".xml")
    try:
        import openvino as _ov  # noqa: F401
    except ImportError as e:
        raise ImportError("OpenVINO export needs openvino: "
                          "pip install 'keras-resnet-zoo[openvino]'") from e
    job = _prepare(model, input_name=input_name, raw_uint8=raw_uint8,
                   verify_images=verify_images, labels=labels, rtol=rtol,
                   default_rtol=OPENVINO_RTOL, preprocessing=preprocessing,
                   class_names=class_names, include_preprocessing=include_preprocessing)
    rep = None
    if representative_data is not None:
        rep = check_batch(representative_data, job.signature, "representative_data")
    parent = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        xml = os.path.join(tmp, "model.xml")
        with _converter("OpenVINO", job):
            export_with_keras(job.serving, xml, "openvino", job.signature)
        extra = {}
        if quantization == "int8":
            from .quantize import nncf_version, quantize_ir

            float_xml, xml = xml, os.path.join(tmp, "int8.xml")
            with _converter("NNCF int8", job):
                extra["fake_quantize_ops"] = quantize_ir(float_xml, xml, rep)
            extra.update(quantization="int8", nncf=nncf_version(),
                         representative_images=int(len(rep)))
            job.record = {**job.record, "quantization": "int8"}
        meta.write_openvino(xml, job.record)
        size = os.path.getsize(xml) + os.path.getsize(xml[:-4] + ".bin")
        report = _report("openvino", path, job, size, **extra)
        if job.x is not None:
            runner = OpenVINORunner(xml, "float32", output_names=job.signature.output_names)
            if quantization == "int8":
                report.update(_verify_quantized(runner, job, labels, "int8", "OpenVINO"))
            else:
                report.update(_verify_float(runner, job, labels, "OpenVINO"))
        # the weights first: a reader who finds the .xml finds its .bin
        os.replace(xml[:-4] + ".bin", path[:-4] + ".bin")
        os.replace(xml, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _write_report(path, report)
    return report


# ------------------------------------------------------------------ TFLite
def tflite_flatbuffer(serving, signature, quantization=None, representative_data=None,
                      int8_io=False) -> bytes:
    """The TFLite flatbuffer (batch 1, builtin ops only) for a serving model, unverified;
    :func:`tflite` checks the arguments, verifies the result and writes it."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        sm = os.path.join(tmp, "sm")
        _write_saved_model(serving, signature, sm, batch=1)
        converter = tf.lite.TFLiteConverter.from_saved_model(sm, signature_keys=[SIGNATURE])
        if quantization is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization == "int8":
            rep = np.asarray(representative_data, signature.input_dtype)

            def gen():
                for i in range(len(rep)):
                    yield {signature.input_name: rep[i:i + 1]}

            converter.representative_dataset = gen
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if int8_io:
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        try:
            with warnings.catch_warnings():
                # int8 calibration runs TensorFlow's own tf.lite.Interpreter inside the
                # converter, which warns that it is deprecated; the package never uses
                # it (files are verified with ai_edge_litert's interpreter).
                warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
                return converter.convert()
        except Exception as e:  # the converter's own error is a 100 kB MLIR dump
            import re

            ops = sorted(set(re.findall(r"\btf\.(\w+)\(", str(e))))
            why = (f"it has operations with no TFLite builtin kernel: {', '.join(ops)}"
                   if ops else str(e).strip().splitlines()[0][:200] if str(e).strip()
                   else type(e).__name__)
            raise ValueError(f"the TFLite converter cannot take model "
                             f"{serving.name.removesuffix('_serving')!r}: {why}; export it "
                             "as ONNX or OpenVINO, or replace those operations") from None


def tflite(model, path, *, quantization=None, representative_data=None,
           int8_io: bool = False, raw_uint8: bool = False, input_name: str = INPUT_NAME,
           verify_images=None, labels=None, num_threads=None,
           preprocessing: dict | None = None, class_names=None,
           include_preprocessing=None) -> dict:
    """Convert ``model`` to TFLite (batch 1 in the file; the LiteRT runner of
    :mod:`.runtimes` runs any batch) and verify it with LiteRT.

    Args:
        quantization: ``None`` (float32), ``"float16"``, ``"dynamic"`` (int8 weights)
            or ``"int8"`` (full-integer post-training quantisation; needs
            ``representative_data``: a few hundred inputs as the model takes them,
            e.g. from the training pipeline).
        int8_io: with ``"int8"``, make the input and output int8 tensors as well
            (the report's numbers are then computed after dequantising).
        raw_uint8, include_preprocessing, preprocessing, class_names: as
            :func:`saved_model`.
        verify_images, labels: inputs to compare on (and their labels, for accuracy
            and the chance-level check).

    Raises:
        ValueError: bad arguments, a model without a fixed input size, or one the TFLite
            converter cannot take (its first error line).
        ExportVerificationError: the file does not match Keras; nothing is written.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if quantization == "int8" and representative_data is None:
        raise ValueError("int8 quantisation needs representative_data (a few hundred "
                         "inputs from the data pipeline)")
    if int8_io and quantization != "int8":
        raise ValueError("int8_io=True applies to quantization='int8' only")
    path = check_destination(path, ".tflite")
    job = _prepare(model, input_name=input_name, raw_uint8=raw_uint8,
                   verify_images=verify_images, labels=labels, rtol=None,
                   default_rtol=TFLITE_RTOL, preprocessing=preprocessing,
                   class_names=class_names, include_preprocessing=include_preprocessing,
                   batch_size=1)
    if None in job.signature.input_shape:
        raise ValueError("TFLite export needs a fixed input size: build the model with "
                         "input_shape=(H, W, C)")
    rep = None
    if representative_data is not None:
        rep = check_batch(representative_data, job.signature, "representative_data")
    flatbuffer = tflite_flatbuffer(job.serving, job.signature, quantization, rep, int8_io)
    if int8_io:  # the file's tensors are int8: say so, with their quantisation
        job.record = _int8_io_record(flatbuffer, job.record, input_name)
    content = meta.add_to_tflite(flatbuffer, job.record)
    params = int(job.model.count_params())
    report = _report("tflite", path, job, len(content),
                     quantization=quantization or "float32", int8_io=int8_io,
                     keras_params=params, keras_float32_bytes=4 * params)
    report["input_dtype"] = job.record["input"]["dtype"]
    if job.x is not None:
        report.update(verify_tflite(job.model, content, job.x, job.ref, labels, quantization,
                                    input_name, num_threads, rtol=job.rtol))
    write_file(path, content)
    _write_report(path, report)
    return report


def _int8_io_record(content, record, input_name):
    """The metadata record of an ``int8_io`` file: its input and outputs are int8
    tensors, ``real = (q - zero_point) * scale``."""
    run = LiteRTRunner(content, input_name)

    def quant(d):
        scale, zero = d["quantization"]
        return {"dtype": np.dtype(d["dtype"]).name, "scale": float(scale),
                "zero_point": int(zero)}

    record = {**record, "output_quantization": {k: quant(d) for k, d in run.outputs.items()}}
    q = quant(run.input)
    if q["dtype"] != "int8":  # raw uint8 images in (include_preprocessing): unchanged
        return record
    return {**record,
            "input": {**record["input"], "dtype": "int8", "quantization": q,
                      "values": "int8: round(preprocessed / scale + zero_point) "
                                "(keras_resnet's open_artifact takes the float images and "
                                "quantises them itself)"}}


def verify_tflite(model, content, x, ref, labels, quantization, input_name=INPUT_NAME,
                  num_threads=None, rtol=None) -> dict:
    """Run the flatbuffer ``content`` with LiteRT on ``x`` and compare with Keras'
    outputs ``ref``: float32 within ``rtol`` (default 1e-4, or the model's dtype policy's
    tolerance), reduced precisions by top-1 agreement."""
    run = LiteRTRunner(content, input_name, num_threads)
    got = run(x)
    if set(got) != set(ref):
        raise ExportVerificationError(f"TFLite outputs {sorted(got)} != Keras' {sorted(ref)}")
    result = {"verified_images": int(len(x)),
              "max_abs_error": {k: max_abs_error(got[k], ref[k]) for k in ref}}
    key = _classifier_key(ref)
    if key is not None:
        result.update(_agreement(got, ref, labels, key))
        if labels is not None:
            result["tflite_accuracy"] = result["artifact_accuracy"]
    result["latency_ms_batch1"] = {
        "tflite": median_latency_ms(run, x[:1], repeats=20, warmup=1),
        keras_latency_key(): _keras_batch1_ms(model, x)}
    result["speedup_vs_keras"] = (result["latency_ms_batch1"][keras_latency_key()]
                                  / result["latency_ms_batch1"]["tflite"])
    if quantization is None:
        if rtol is None:
            from .serving import model_policy, policy_rtol

            policy = model_policy(model)
            rtol = TFLITE_RTOL if policy == "float32" else policy_rtol(policy)
        ok = all(within_tolerance(got[k], ref[k], rtol) for k in ref)
        result.update({"rtol": rtol, "within_tolerance": ok})
        if not ok:
            raise ExportVerificationError(
                f"float32 TFLite differs from Keras beyond rtol={rtol}: "
                f"{result['max_abs_error']}")
    else:
        result.update(check_quantized(got, ref, quantization, "TFLite"))
    return result


def check_quantized(got, ref, quantization, what) -> dict:
    """The reduced-precision rule of every exporter: classifiers keep top-1 agreement
    with Keras >= :data:`MIN_AGREEMENT` ``[quantization]``; feature maps (a backbone's)
    stay within :data:`QUANTIZED_RTOL`. Report fields; ExportVerificationError
    otherwise."""
    key = _classifier_key(ref)
    if key is None:  # feature maps: no top-1, bound the relative error
        rtol = QUANTIZED_RTOL[quantization]
        errors = {k: max_abs_error(got[k], ref[k]) for k in ref}
        if not all(within_tolerance(got[k], ref[k], rtol) for k in ref):
            raise ExportVerificationError(
                f"{quantization} {what} feature maps differ from Keras beyond rtol={rtol}: "
                f"{errors} (for int8: is representative_data preprocessed like "
                "verify_images?)")
        return {"rtol": rtol, "within_tolerance": True}
    need = MIN_AGREEMENT[quantization]
    agree = float(np.mean(got[key].argmax(1) == ref[key].argmax(1)))
    if agree < need:
        raise ExportVerificationError(
            f"{quantization} {what} agrees with Keras on {agree:.2%} of top-1 predictions "
            f"({len(ref[key])} images), below the required {need:.1%}")
    return {"required_agreement": need}


def _verify_quantized(runner, job, labels, quantization, what):
    """Run a quantised file on the verification images: top-1 agreement (classifiers) or
    the feature-map bound, batch-1 latency against Keras."""
    got = runner(job.x)
    if set(got) != set(job.ref):
        raise ExportVerificationError(f"{what} outputs {sorted(got)} != Keras' "
                                      f"{sorted(job.ref)}")
    result = {"verified_images": int(len(job.x)),
              "max_abs_error": {k: max_abs_error(got[k], job.ref[k]) for k in job.ref}}
    key = _classifier_key(job.ref)
    if key is not None:
        result.update(_agreement(got, job.ref, labels, key))
    result.update(check_quantized(got, job.ref, quantization, what))
    result["latency_ms_batch1"] = {
        runner.runtime: median_latency_ms(runner, job.x[:1], repeats=20, warmup=1),
        keras_latency_key(): _keras_batch1_ms(job.model, job.x)}
    return result


# ------------------------------------------------------- a trained network, whole
FORMATS = ("savedmodel", "onnx", "openvino", "tflite")


def export_trained(trained, path, format: str, *, dataset: str | None = None,
                   quantization=None, int8_io: bool = False,
                   include_preprocessing: bool = False, verify_images: int | None = 1000,
                   representative: int = 300) -> dict:
    """Export a network trained here (:class:`keras_resnet.zoo.Trained`: a run
    directory or a shipped tag, from :func:`keras_resnet.zoo.load_trained`), verified
    on the first ``verify_images`` test images of ``dataset``, with its preprocessing
    and class names in the file. What ``keras-resnet export`` runs.

    The file takes the run's input size (:attr:`Trained.input_shape`; an
    ImageNet-family network trained on any size is fixed to its crop), and images are
    brought to it as evaluation does (resized; ImageNet family: resized and
    centre-cropped).

    Args:
        dataset: where the verification (test split) and calibration (train split)
            images come from; None: the run's own dataset, else ``"embedded"``.
        format: one of :data:`FORMATS`; ``"openvino"`` needs a path ending in ``.xml``.
        quantization: TFLite: None, ``"float16"``, ``"dynamic"`` or ``"int8"``;
            OpenVINO: None or ``"int8"`` (NNCF); int8 is calibrated on
            ``representative`` training images.
        int8_io: TFLite int8 only: int8 input and output tensors.
        include_preprocessing: the file takes raw 0-255 pixels (uint8).
        verify_images: how many test images to verify on; None skips verification.

    Returns:
        the export report (see the exporters).

    Raises:
        ValueError: options that do not go together, or a failed check.
    """
    from ..data.augment import eval_arrays
    from ..data.sources import load_split

    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if format == "openvino" and quantization not in OPENVINO_QUANTIZATIONS:
        raise ValueError(f"--format openvino takes --quantize int8 (NNCF) or none, not "
                         f"{quantization!r}")
    if format not in ("tflite", "openvino") and quantization:
        raise ValueError("--quantize applies to --format tflite and openvino only")
    if format != "tflite" and int8_io:
        raise ValueError("--int8-io applies to --format tflite only")
    if quantization is None and int8_io:
        raise ValueError("--int8-io needs --quantize int8")
    if format == "openvino" and not os.fspath(path).endswith(".xml"):
        raise ValueError(f"--format openvino writes an IR: --out must end in .xml (the "
                         f"weights go to the .bin beside it), got {path!r}")
    mean = np.asarray(trained.pixel_mean, "float32")
    settings = trained.preprocessing
    dataset = dataset or getattr(trained, "dataset", None) or "embedded"
    sizes = dict(resize=trained.resize or 256, crop=trained.input_shape[0])
    model = trained.fixed_size_model()

    def raw(x):  # the uint8 images that the preprocessed batch x came from
        return np.clip(np.round((x + mean) * 255), 0, 255).astype("uint8")

    x = y = rep = None
    if verify_images:
        x, y = eval_arrays(load_split(dataset, "test"), trained.family, mean, verify_images,
                           **sizes)
    if quantization == "int8":
        rep, _ = eval_arrays(load_split(dataset, "train"), trained.family, mean,
                             representative, **sizes)
    options = {"preprocessing": settings, "class_names": trained.class_names}
    if include_preprocessing:
        options["include_preprocessing"] = settings
        x = None if x is None else raw(x)
        rep = None if rep is None else raw(rep)
    try:
        if format == "tflite":
            return tflite(model, path, quantization=quantization,
                          representative_data=rep, int8_io=int8_io, verify_images=x,
                          labels=y, **options)
        if format == "openvino":
            return openvino(model, path, quantization=quantization,
                            representative_data=rep, verify_images=x, labels=y, **options)
        writer = {"savedmodel": saved_model, "onnx": onnx}[format]
        return writer(model, path, verify_images=x, labels=y, **options)
    except ChanceLevelError as e:
        # the images were preprocessed here, with the run's own settings: the network
        # itself is not trained (enough)
        raise ChanceLevelError(
            f"the network is at chance level on the {e.images} {dataset} test images "
            f"({e.accuracy:.1%} top-1), preprocessed with its own settings: it is not trained "
            "enough to verify an export against. Train it longer, or skip the check "
            "(--no-verify / verify_images=None). Nothing was written.", e.accuracy,
            e.images) from None
