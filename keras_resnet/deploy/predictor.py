"""A Predictor: the fastest verified runtime for a Keras image model, numpy in and out.

``model.predict`` is built for datasets: each call sets up a data adapter and a
distribution context, which costs ~100 ms on a 2-core CPU, more than a whole
ResNet-50 forward pass. A :class:`Predictor` converts the model once for each runtime
and calls it directly::

    p = keras_resnet.Predictor(model)              # backend="auto", float32
    probs = p(images)                              # (N, H, W, C) or (H, W, C)
    p.backend, p.precision, p.report               # which one, and every candidate

    # the fastest path within an accuracy budget: float32, bf16 and int8 candidates
    p = keras_resnet.Predictor(model, precision="auto", min_agreement=0.995,
                               calibration_images=x_train[:300], verify_images=x_val)

Backends, each built from the same model through Keras' own exporters and checked
against the Keras model on the verification images before use:

* ``"openvino"`` — the OpenVINO IR (``Model.export(format="openvino")``) compiled for the
  CPU at f32 inference precision; at bf16 with ``precision="bfloat16"`` (CPUs with
  AVX512_BF16 or AMX units); or quantised to int8 by NNCF (:mod:`.quantize`);
* ``"onnxruntime"`` — the ONNX file (``Model.export(format="onnx")``) in ONNX Runtime;
* ``"litert"`` — the TFLite file (:func:`keras_resnet.export.tflite`'s converter) in
  LiteRT's XNNPACK: float32, or full-integer int8;
* ``"keras"`` — the model itself under ``tf.function`` (``jax.jit`` under JAX): always
  available, the fallback.

Precisions: ``"float32"`` (the default) verifies each backend within ``rtol`` of Keras.
``"bfloat16"`` and ``"int8"`` are verified by top-1 agreement with Keras >=
``min_agreement`` on the verification images (classifiers: one 2-D output), or within a
relative error of 0.1 (feature maps: bfloat16 keeps 8 significant bits, int8 8 bits of
each tensor's calibrated range). int8 needs ``calibration_images``. ``"auto"`` makes every
candidate the CPU and the arguments allow — float32 on every backend, bf16 where
OpenVINO reports bf16 units, int8 on OpenVINO and LiteRT when calibration images are
given — verifies each, times the verified ones at ``timing_batch`` and keeps the
fastest. A candidate that is missing, skipped, fails to convert or to verify is
recorded in ``report`` with the reason and never used.

Over 400 lines because the :class:`Predictor` is one unit (its arguments, candidates,
verification and timing share its state); the files it runs come from :mod:`.writers`'
and :mod:`.tflite`'s converters and its check is :mod:`.verify`'s.
"""

from __future__ import annotations

import numbers
import os
import shutil
import tempfile
import time
import typing
import warnings
import weakref

import numpy as np

from .keras_export import export_with_keras
from .quantize import quantize_ir
from .runtimes import LiteRTRunner, OnnxRuntimeRunner, OpenVINORunner, openvino_cpu_capabilities
from ..pretrained.transforms import as_preprocessing
from .serving import (as_batch, as_image_array, check_batch, check_image_values,
                      first_layer, keras_call, looks_like_pixels, random_images,
                      raw_pixel_bound, serving_model, takes_negatives)
from .timing import interleaved_latency_ms
from .tflite import tflite_flatbuffer
from .verify import (CalibrationVerificationWarning, ExportVerificationError, check_outputs,
                     check_reference_finite, reference_outputs, score_keys)

BACKENDS = ("openvino", "onnxruntime", "litert", "keras")
PRECISIONS = ("float32", "bfloat16", "int8", "auto")
# The backends that run each reduced precision here.
REDUCED = {"bfloat16": ("openvino",), "int8": ("openvino", "litert")}
# The default accuracy budget: top-1 agreement with the Keras model. 99.5% is what the
# bf16 path measured on the shipped Fashion-MNIST nets over 10k images (99.90-99.94%,
# docs/benchmarks.md) with room; it is also the TFLite float16 export's bound.
MIN_AGREEMENT = 0.995
BF16_MIN_AGREEMENT = MIN_AGREEMENT  # the name earlier releases exported
# Feature maps (no top-1 to count): bfloat16 keeps 8 significant bits, OpenVINO's bf16
# ResNet-50 differs from Keras by up to 3e-2 x max|ref| (docs/benchmarks.md); int8 keeps
# 8 bits of each tensor's calibrated range (2e-2 on ResNet-50 logits, same page). Both
# get a bound with room, as the TFLite int8 export does.
REDUCED_RTOL = {"bfloat16": 0.1, "int8": 0.1}
BF16_RTOL = REDUCED_RTOL["bfloat16"]
# One thread is kept over all cores only when it is this much faster at the timing
# batch (all candidates and thread counts timed side by side: timing.interleaved_latency_ms).
ONE_THREAD_MARGIN = 0.9
# Default verification images when none are given: seeded random images, more of them
# where the check counts top-1 agreement.
DEFAULT_VERIFY = {"float32": 4, "reduced": 32}
# Feature maps have no top-1 to count: their bfloat16/int8 check bounds the relative
# error of every value, so one image already tests thousands of values, but not the
# images an int8 calibration did not see. A reduced-precision feature-map candidate that
# serves after a check on fewer images than the Predictor checks such candidates on by
# itself (DEFAULT_VERIFY["reduced"]) gets the same warning as a classifier.
FEATURE_MAP_IMAGES = DEFAULT_VERIFY["reduced"]
REMOVED = {"native": "the home-made native engine was removed in favour of OpenVINO",
           "tf": "the frozen TensorFlow graph was removed; 'keras' runs the model itself"}
_ALIASES = {"bf16": "bfloat16", "fp32": "float32", "f32": "float32", "i8": "int8"}


def candidate_name(backend: str, precision: str) -> str:
    """The report's key for a candidate: ``"openvino"`` (float32), ``"openvino:int8"``."""
    return backend if precision == "float32" else f"{backend}:{precision}"


def bf16_unavailable_reason() -> str | None:
    """Why OpenVINO cannot run bf16 on this CPU (None when it can)."""
    try:
        caps = openvino_cpu_capabilities()
    except ImportError:
        return "openvino is not installed: pip install 'keras-resnet-zoo[openvino]'"
    if "BF16" not in caps:
        return ("this CPU has no bfloat16 units (AVX512_BF16 or AMX): OpenVINO reports its "
                f"capabilities as {caps}")
    return None


class SmallVerificationWarning(UserWarning):
    """A reduced-precision candidate was chosen after a check on fewer images than it
    needs: for a classifier, fewer than its ``min_agreement`` can resolve
    (:func:`images_to_resolve`); for feature maps, fewer than
    :data:`FEATURE_MAP_IMAGES`."""


def ranking_ms(entry: dict) -> float:
    """The time a timed candidate's report ``entry`` ranks by when ``backend="auto"``
    chooses: its faster thread variant's side-by-side latency (ms), its ``latency_ms``
    when it was timed on one thread count only."""
    by = entry.get("latency_ms_by_threads")
    return min(by.values()) if by else entry["latency_ms"]


def images_to_resolve(min_agreement) -> int:
    """The fewest verification images whose top-1 agreement can fall below
    ``min_agreement`` by one disagreement and still be distinguished from it: with N
    images agreement moves in steps of 1/N, so 0.995 needs 200 (one image in 200 may
    disagree); 1.0 needs 1 (no image may). It is the least a check can mean, not enough
    to estimate agreement: on 200 images a candidate that truly agrees on 99% passes a
    0.995 budget 40% of the time (binomial P(at most 1 miss), p = 0.01); 3,000 images
    measure a 99.5% agreement to +-0.13 points (one standard error)."""
    if min_agreement >= 1:
        return 1
    return int(np.ceil(round(1 / (1 - min_agreement), 6)))


class _Converter:
    """Each file a candidate needs, converted once into ``folder`` (the float32 IR feeds
    the f32, bf16 and int8 OpenVINO candidates)."""

    def __init__(self, serving, signature, num_threads, folder, calibration):
        self.serving, self.signature = serving, signature
        self.num_threads, self.folder, self.calibration = num_threads, folder, calibration
        self._ir = None

    def ir(self):
        if self._ir is None:
            import openvino  # noqa: F401  (ImportError: not installed)

            path = os.path.join(self.folder, "model.xml")
            export_with_keras(self.serving, path, "openvino", self.signature)
            self._ir = path
        return self._ir


def _build(name, precision, model, serving, signature, num_threads, convert):
    """The runner of one candidate (numpy batch in, ``{output name: array}`` out)."""
    if name == "openvino":
        xml = convert.ir()
        if precision == "int8":
            int8 = os.path.join(convert.folder, "int8.xml")
            quantize_ir(xml, int8, convert.calibration)
            # the layers NNCF left in float run at f32: the error is int8's alone
            return OpenVINORunner(int8, "float32", num_threads, signature.output_names)
        return OpenVINORunner(xml, precision, num_threads, signature.output_names)
    if name == "onnxruntime":
        import onnxruntime  # noqa: F401  (optional: ImportError skips the candidate)
        import tf2onnx  # noqa: F401

        path = os.path.join(convert.folder, "model.onnx")
        export_with_keras(serving, path, "onnx", signature)
        return OnnxRuntimeRunner(path, num_threads)
    if name == "litert":
        if None in signature.input_shape:
            raise ValueError("LiteRT needs a fixed input size")
        if precision == "int8":
            content = tflite_flatbuffer(serving, signature, "int8", convert.calibration)
        else:
            content = tflite_flatbuffer(serving, signature)
        return LiteRTRunner(content, signature.input_name, num_threads)
    return _KerasRunner(serving)


class _KerasRunner:
    runtime = "keras"

    def __init__(self, serving):
        import keras

        self.fn = keras_call(serving)
        self._np = keras.ops.convert_to_numpy

    def __call__(self, x):
        return {k: np.asarray(self._np(v), "float32") for k, v in self.fn(x).items()}


def _check_fraction(value, what):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not np.isfinite(value) or not 0 < value <= 1):
        raise ValueError(f"{what} must be a fraction in (0, 1], e.g. 0.995, got {value!r}")
    return float(value)


class _FastPath(typing.NamedTuple):
    """What :meth:`Predictor.__call__` serves without the general checks (see
    :meth:`Predictor._fast_path`)."""

    dtype: np.dtype
    shape: tuple
    bound: float  # values above it look like raw pixels cast to float
    pixels: bool  # the model takes 0-255 pixels (serving.looks_like_pixels must hold)
    negatives: bool  # its preprocessing takes a mean off: a batch with none goes the
    # general way (serving.check_preprocessed: x / 255 with the mean left out)
    call: typing.Callable


# What to do, in the Predictor's words, when images are not what the model takes
# (serving.check_image_values)
_FIX = {
    "preprocess": "pass predictor.preprocessing(pixels) instead",
    "unknown": "pass predictor.preprocessing(images)",
    "raw": "pass the pixels as they are (0-255), before any normalisation",
}


class Predictor:
    """Run a Keras image model (classifier, feature extractor, backbone) fast.

    Args:
        model: a ``keras.Model`` with one image input (functional, Sequential, nested,
            dict outputs, any dtype policy).
        backend: ``"auto"`` (the fastest verified candidate), or one of
            ``"openvino"``, ``"onnxruntime"``, ``"litert"``, ``"keras"`` (still
            verified; an error if it fails).
        precision: ``"float32"`` (default), ``"bfloat16"`` (OpenVINO, CPUs with bf16
            units), ``"int8"`` (OpenVINO through NNCF, or LiteRT; needs
            ``calibration_images``) or ``"auto"`` (every precision the CPU and the
            arguments allow, within ``min_agreement``).
        min_agreement: the accuracy budget of bfloat16 and int8 candidates: the
            fraction of verification images (0..1] whose top-1 class must equal the
            Keras model's (classifiers). With N images, 1 - 1/N is the finest step:
            0.995 tolerates one disagreement only from 200 images on.
        calibration_images: a batch as the model takes it (same preprocessing as the
            images it will serve; a few hundred from the training data): what int8
            candidates are calibrated on. Without it int8 is no candidate (``report``
            says so).
        verify_images: inputs as the model takes them to check each candidate on;
            default: ``calibration_images`` if given, else seeded uniform [-1, 1]
            images (0-255 for uint8 models and for models that normalise 0-255
            pixels in their first layer: :func:`.serving.takes_0_255`), 4 of them (32 when a reduced precision is
            a candidate, whose check counts top-1 agreement).
        rtol: float32 tolerance, ``max|b - keras| <= rtol * max(1, max|keras|)``
            (mixed-precision models: at least their policy's tolerance).
        timing_batch: batch size the candidates are timed at when there is a choice.
        num_threads: CPU threads per runtime (default: all cores).
        timing_repeats: rounds of timing: in each, every verified candidate (and,
            without ``num_threads``, its one-thread twin) runs a block of calls of about
            2 ms (at least one), side by side; a candidate's ``latency_ms`` is the
            median over rounds of its block's mean time per call.
        preprocessing: what turns pixels into the model's input (a
            :class:`~keras_resnet.Preprocessing`, ``"caffe"``/``"torch"``/``"tf"``, a
            weights tag, or a dict), held as :attr:`preprocessing` for the caller and
            checked against the model's input; None: not known.

    Attributes:
        backend, precision: the runtime and precision that serve the calls.
        report: ``{candidate: entry}`` for every candidate (``"openvino"``,
            ``"openvino:bfloat16"``, ``"openvino:int8"``, ``"litert:int8"``, ...): its
            ``precision``, ``verified``, ``error`` or ``skipped`` reason,
            ``verified_images`` (how many images it was checked on),
            ``max_abs_error``, ``top1_agreement`` (reduced precisions on classifiers),
            ``build_s``, ``chosen`` (True on the one that serves) and, when timed,
            ``latency_ms`` at ``timing_batch`` with the
            ``num_threads`` it runs on (without ``num_threads``, each runtime's file is
            timed on all cores and on one, ``latency_ms_by_threads``, and one thread
            kept only where it is at least 10% faster; for the chosen candidate
            decided by ``latency_ms_alone_by_threads``, its two variants timed again
            without the other candidates). ``backend="auto"`` chooses the candidate
            with the lowest :func:`ranking_ms` (its faster variant's time), so the
            chosen one's ``latency_ms`` (of the variant it serves) need not be the
            lowest in the report.
        verification: how many images the candidates were checked on (``images``),
            which (``source``), ``min_agreement``, ``outputs`` (``"classifier"``:
            reduced precisions checked by top-1 agreement; ``"feature maps"``: by
            relative error) and ``images_to_resolve`` (classifiers:
            :func:`images_to_resolve`; feature maps: :data:`FEATURE_MAP_IMAGES`): a
            bfloat16 or int8 candidate that serves after a check on fewer images
            raises a :class:`SmallVerificationWarning`.
        preprocessing: the :class:`~keras_resnet.Preprocessing` given, or None.

    Calling it with a batch ``(N, H, W, C)`` (any N) or one image ``(H, W, C)`` returns
    what the model returns: an array, or a dict keyed like the model's outputs (a
    backbone's ``"C2"``..``"C5"``), without the batch axis for one image.

    Raises:
        TypeError, ValueError: a model or argument it cannot take (says what to do);
            integer pixels (as images, calibration or verification images) for a
            model that takes float images, unless ``preprocessing`` leaves pixels as
            they are or the model's first layer normalises them; float values no pixel
            0-255 becomes under ``preprocessing`` (raw pixels cast to float); for a
            model that normalises 0-255 pixels in its first layer, floats that look
            normalised already (negative values all below 20, or fractions in [0, 1]).
        ImportError: ``precision="bfloat16"`` or ``"int8"`` on OpenVINO without it.
        RuntimeError: no candidate reproduced the model (each one's reason listed).
    """

    def __init__(self, model, backend="auto", *, precision="float32",
                 min_agreement=MIN_AGREEMENT, calibration_images=None, verify_images=None,
                 rtol=1e-4, timing_batch=1, num_threads=None, timing_repeats=10,
                 preprocessing=None):
        for name, value in (("backend", backend), ("precision", precision)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string, e.g. 'auto', got {value!r}")
        if backend in REMOVED:
            raise ValueError(f"backend {backend!r} no longer exists ({REMOVED[backend]}); "
                             f"choose 'auto' or one of {BACKENDS}")
        if backend != "auto" and backend not in BACKENDS:
            raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
        backend, precision = backend.strip().lower(), precision.strip().lower()
        precision = _ALIASES.get(precision, precision)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision in REDUCED and backend != "auto" and backend not in REDUCED[precision]:
            raise ValueError(f"precision={precision!r} runs on the "
                             f"{' or '.join(repr(b) for b in REDUCED[precision])} backend "
                             f"only, not {backend!r}")
        if precision == "int8" and calibration_images is None:
            raise ValueError("precision='int8' needs calibration_images: a few hundred "
                             "inputs as the model takes them (e.g. from the training data)")
        if precision == "bfloat16" and bf16_unavailable_reason():
            why = bf16_unavailable_reason()
            if why.startswith("openvino is not installed"):
                raise ImportError(f"precision='bfloat16' runs on OpenVINO: {why}")
            raise ValueError(f"precision='bfloat16' needs a CPU with bfloat16 units: {why}; "
                             "use precision='float32'")
        min_agreement = _check_fraction(min_agreement, "min_agreement")
        if (not isinstance(rtol, numbers.Real) or isinstance(rtol, bool)
                or not np.isfinite(rtol) or rtol <= 0):
            raise ValueError(f"rtol must be a positive number, got {rtol!r}")
        if (not isinstance(timing_batch, numbers.Integral) or isinstance(timing_batch, bool)
                or timing_batch < 1):
            raise ValueError(f"timing_batch must be a whole number >= 1, got {timing_batch!r}")
        timing_batch = int(timing_batch)
        serving, self.signature = serving_model(model)
        shape = self.signature.input_shape
        if None in shape:
            raise ValueError(f"Predictor needs a fixed input size, got {(None, *shape)}: "
                             "build the model with input_shape=(H, W, C)")
        self.preprocessing = None if preprocessing is None else as_preprocessing(preprocessing)
        self._first_layer = first_layer(model)
        if self.preprocessing is not None:
            self.preprocessing.check_fits(shape, self.signature.data_format,
                                          f"model {model.name!r}")
        calibration = None
        if calibration_images is not None:
            calibration = self._batch(calibration_images, "calibration_images")
        candidates, skipped = self._candidates(backend, precision, calibration is not None)
        reduced = any(p != "float32" for _, p in candidates)
        if verify_images is not None:
            source = "verify_images"
        elif calibration is not None:
            verify_images, source = calibration, "calibration_images"
        else:
            verify_images = random_images(
                self.signature, self._first_layer.pixels,
                DEFAULT_VERIFY["reduced" if reduced else "float32"])
            source = "random images"
        x = self._batch(verify_images, "verify_images")
        reference = reference_outputs(model, self.signature, x)
        check_reference_finite(reference, source)
        scores = score_keys(reference)
        outputs = ("classifier" if len(scores) == len(reference)
                   else "classifier and feature maps" if scores else "feature maps")
        self.verification = {
            "images": int(len(x)), "source": source, "min_agreement": min_agreement,
            "outputs": outputs,
            "images_to_resolve": (images_to_resolve(min_agreement) if scores
                                  else FEATURE_MAP_IMAGES)}
        # a single class on made-up (random) images says nothing about the caller's data
        self._one_class_min = None if source == "random images" else ...
        rtol = max(rtol, self.signature.rtol)
        self.report = dict(skipped)
        self._runners = {}
        # the converted files live as long as the Predictor (OpenVINO compiles a new
        # batch size from its IR): removed by close() or when it is garbage-collected
        folder = tempfile.mkdtemp(prefix="keras_resnet-predictor-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)
        convert = _Converter(serving, self.signature, num_threads, folder, calibration)
        for name, prec in candidates:
            key = candidate_name(name, prec)
            entry = self.report[key] = {"backend": name, "precision": prec,
                                        "verified_images": int(len(x))}
            started = time.perf_counter()
            try:
                runner = _build(name, prec, model, serving, self.signature, num_threads,
                                convert)
                got = runner(x)
                entry.update(self._check(got, reference, rtol, prec, min_agreement,
                                         self._one_class_min))
            except ImportError as e:
                entry.update(verified=False, error=f"not installed: {e}")
                continue
            except Exception as e:  # a runtime that cannot take this model is skipped
                entry.update(verified=False, error=f"{type(e).__name__}: {str(e)[:300]}")
                continue
            finally:
                entry["build_s"] = round(time.perf_counter() - started, 3)
            if entry["verified"]:
                self._runners[key] = runner
        if not self._runners:
            raise RuntimeError("no backend reproduced the Keras model: " + "; ".join(
                f"{k}: {v.get('error') or v.get('skipped')}" for k, v in self.report.items()))
        if len(candidates) > 1:
            probe = np.resize(x, (timing_batch, *x.shape[1:])).astype(x.dtype)
            chosen = self._time_candidates(probe, timing_repeats, num_threads is None, x,
                                           reference, rtol, min_agreement)
        else:
            (chosen,) = self._runners
        self.candidate = chosen
        self.report[chosen]["chosen"] = True
        self.backend = self.report[chosen]["backend"]
        self.precision = self.report[chosen]["precision"]
        self._run = self._runners[chosen]
        self._fast = self._fast_path(self._run)
        if self.precision != "float32":
            self._warn_if_unresolved(chosen)
        if self.precision == "int8" and source == "calibration_images":
            agreement = self.report[chosen].get("top1_agreement")
            there = "" if agreement is None else f" ({agreement:.2%} top-1 agreement there)"
            warnings.warn(
                f"{chosen} serves after a check on calibration_images, the images it was "
                f"calibrated on{there}; on new images it may agree less: pass "
                "verify_images= (held-out images like the ones it will serve) to check it "
                "on those", CalibrationVerificationWarning, stacklevel=2)

    def _time_candidates(self, probe, rounds, try_one_thread, x, reference, rtol,
                         min_agreement):
        """Time every verified candidate on ``probe`` side by side and write each one's
        ``latency_ms`` and ``num_threads`` into the report. With ``try_one_thread``, each
        runtime's file also runs on one thread (verified like the rest) in the same
        rounds, and one thread is kept where it is clearly faster: on small networks at
        batch 1 the threads' synchronisation can cost more than the second core gives, on
        large ones the opposite, and all cores win at larger batches. The fastest
        candidate's thread count is then settled with its two variants timed alone.
        Returns the fastest candidate's key."""
        # variants[key, threads]: each runner; checks[key, threads] and all_cores[key]
        # for the candidates that also have a verified one-thread variant
        variants, checks, all_cores = {}, {}, {}
        for key, runner in self._runners.items():
            entry = self.report[key]
            entry["timing_batch"] = int(len(probe))
            threads = getattr(runner, "num_threads", None)
            if threads is not None:
                entry["num_threads"] = threads
            variants[key, threads] = runner
            if try_one_thread and threads and threads > 1 and hasattr(runner, "with_threads"):
                try:
                    single = runner.with_threads(1)
                    check = self._check(single(x), reference, rtol, entry["precision"],
                                        min_agreement, self._one_class_min)
                except Exception:  # keep the verified multi-threaded runner
                    continue
                if check["verified"]:
                    variants[key, 1], checks[key, 1] = single, check
                    checks[key, threads] = {f: entry.get(f) for f in check}
                    all_cores[key] = threads
        times = interleaved_latency_ms(variants, probe, rounds)
        for key in list(self._runners):
            entry = self.report[key]
            entry["latency_ms"] = times[key, entry.get("num_threads")]
            if key in all_cores:
                threads = all_cores[key]
                by = entry["latency_ms_by_threads"] = {threads: times[key, threads],
                                                       1: times[key, 1]}
                if by[1] < ONE_THREAD_MARGIN * by[threads]:
                    self._use_variant(key, 1, variants, checks, times)
        # each candidate ranks by its faster variant side by side (a variant it does not
        # serve when one thread is not clearly faster): the chosen one's thread count is
        # settled below, timed alone, and may serve the other variant
        chosen = min(self._runners, key=lambda k: ranking_ms(self.report[k]))
        if chosen in all_cores:
            # The chosen candidate's thread count, timed again with only its own two
            # variants side by side: among all candidates each runtime's worker threads
            # slow the next one's block (ONNX Runtime's and OpenVINO's spin after a
            # call). The shipped ResNet-20's LiteRT int8 measured 0.185 ms on two threads
            # and 0.20 ms on one there, 0.13 and 0.20 ms with only the two (once, on a
            # 2-core Zen 4), and a server runs one runtime. latency_ms stays the
            # side-by-side time.
            threads = all_cores[chosen]
            alone = interleaved_latency_ms(
                {threads: variants[chosen, threads], 1: variants[chosen, 1]}, probe, rounds)
            self.report[chosen]["latency_ms_alone_by_threads"] = alone
            self._use_variant(chosen, 1 if alone[1] < ONE_THREAD_MARGIN * alone[threads]
                              else threads, variants, checks, times)
        return chosen

    def _use_variant(self, key, threads, variants, checks, times):
        """Serve candidate ``key`` with its ``threads``-thread runner; its report entry
        takes that runner's check and side-by-side latency."""
        self._runners[key] = variants[key, threads]
        self.report[key].update(checks[key, threads], latency_ms=times[key, threads],
                                num_threads=threads)

    @staticmethod
    def _candidates(backend, precision, calibrated):
        """[(backend, precision)] to build, and {key: entry} for those skipped, why."""
        backends = BACKENDS if backend == "auto" else (backend,)
        wanted = ["float32"] if precision == "float32" else [precision]
        if precision == "auto":
            wanted = ["float32", "bfloat16", "int8"]
        out, skipped = [], {}
        for prec in wanted:
            for name in backends:
                if prec != "float32" and name not in REDUCED[prec]:
                    continue
                why = None
                if prec == "bfloat16":
                    why = bf16_unavailable_reason()
                elif prec == "int8" and not calibrated:
                    why = ("no calibration_images: int8 ranges are calibrated on images "
                           "the model takes")
                if why:
                    skipped[candidate_name(name, prec)] = {
                        "backend": name, "precision": prec, "verified": False,
                        "skipped": why}
                else:
                    out.append((name, prec))
        return out, skipped

    def _warn_if_unresolved(self, chosen):
        """Warn when a reduced-precision candidate serves after a top-1 agreement check
        on too few images to tell ``min_agreement`` apart from worse: on 1 image any
        agreement is 0% or 100%."""
        v = self.verification
        if v["images"] >= v["images_to_resolve"]:
            return
        if v["outputs"] == "feature maps":
            warnings.warn(
                f"{chosen} serves, but its feature maps were compared with the Keras "
                f"model's on {v['images']} image(s) ({v['source']}), fewer than the "
                f"{v['images_to_resolve']} the Predictor checks on by itself: pass "
                "verify_images= (or calibration_images=) with a few dozen images like "
                "the ones it will serve, or precision='float32'",
                SmallVerificationWarning, stacklevel=3)
            return
        warnings.warn(
            f"{chosen} serves, but its top-1 agreement with the Keras model was "
            f"measured on {v['images']} image(s) ({v['source']}); a min_agreement of "
            f"{v['min_agreement']:.1%} needs at least {v['images_to_resolve']} to be "
            "checked: pass verify_images= (or calibration_images=) with a few hundred "
            "images like the ones it will serve, or precision='float32'",
            SmallVerificationWarning, stacklevel=3)

    @staticmethod
    def _check(got, reference, rtol, precision, min_agreement=MIN_AGREEMENT,
               one_class_min_images=...):
        """A candidate's report entry by :func:`.verify.check_outputs`: float32 within
        ``rtol``; bfloat16 and int8 by top-1 agreement >= ``min_agreement`` (every 2-D
        output: classifiers, each head) and within :data:`REDUCED_RTOL` (feature maps),
        on verification images that do not all get one class. ``verified`` says whether
        it passed, ``error`` why not (a failed check does not raise); a reduced
        precision's entry also keeps the bound it was checked against."""
        reduced = precision != "float32"
        try:  # what="": the report is keyed by candidate already
            fields, failure = check_outputs(
                got, reference, rtol=REDUCED_RTOL.get(precision, rtol),
                min_agreement=min_agreement if reduced else None,
                one_class_min_images=one_class_min_images), None
        except ExportVerificationError as e:
            fields, failure = e.fields, str(e)
        entry = {k: fields[k] for k in ("max_abs_error", "top1_agreement",
                                        "top1_agreement_by_output", "required_agreement",
                                        "rtol") if k in fields}
        entry["verified"] = failure is None
        if failure:
            entry["error"] = failure
        return entry

    def _fast_path(self, runner):
        """The :class:`_FastPath` of batches served without the general checks: a
        C-ordered array of the model's dtype and sizes whose values are finite and (with
        a known preprocessing) below :func:`.serving.raw_pixel_bound` goes to the
        runner's ``run_checked``, checked once here by one min and one max; anything
        else takes the general path, which raises. At batch 1 on the shipped nets (int8,
        0.12-0.17 ms a call) the general path's checks (the Predictor's and the
        runner's) took about a third of the call; ``bench/batch1_processes.py`` times
        both paths. None where the runner casts or refuses what the model takes: its own
        check must run."""
        dtype = np.dtype(self.signature.input_dtype)
        shape = tuple(self.signature.input_shape)
        call = runner
        file_input = getattr(runner, "file_input", None)
        if file_input is not None:
            if file_input.dtype != dtype or any(s not in (None, d) for s, d in
                                                zip(file_input.shape, shape)):
                return None
            call = runner.run_checked
        inside = self._first_layer
        bound = inside.bound if inside.normalises else raw_pixel_bound(self.preprocessing)
        negatives = not inside.normalises and takes_negatives(self.preprocessing)
        return _FastPath(dtype, shape, bound, inside.pixels, negatives, call)

    def __call__(self, images):
        """Outputs for a batch ``(N, H, W, C)`` or one image ``(H, W, C)``."""
        fast = self._fast
        if (fast is not None and type(images) is np.ndarray and images.dtype == fast.dtype
                and images.shape[1:] == fast.shape and len(images)
                and images.flags.c_contiguous):
            if fast.dtype.kind != "f":
                return self.signature.pack(fast.call(images))
            # NaN fails both comparisons; -inf the first; +inf and raw pixels the second;
            # a model that takes pixels sends normalised-looking batches to the checks
            low, high = float(images.min()), float(images.max())
            if (-np.inf < low and high < fast.bound
                    and (not fast.pixels or looks_like_pixels(low, high))
                    and (not fast.negatives or low < 0)):
                return self.signature.pack(fast.call(images))
        return self._serve(images)

    def _serve(self, images):
        """The general path of :meth:`__call__`: every check, any array-like."""
        x = as_image_array(images)
        shape = self.signature.input_shape
        single = x.ndim == len(shape) and all(s in (None, d) for s, d in zip(shape, x.shape))
        if single:
            x = x[None]
        x = self._batch(x, "images")
        out = self._run(np.ascontiguousarray(x))
        if single:
            out = {k: v[0] for k, v in out.items()}
        return self.signature.pack(out)

    def _batch(self, x, what):
        """``x`` (an array, or a dataset or iterable of images: :func:`.serving.as_batch`)
        as one batch the model takes (:func:`.serving.check_batch`), refused by
        :func:`.serving.check_image_values` where its values are not what the model
        takes (raw pixels for a preprocessed input, normalised floats for a model that
        normalises 0-255 pixels itself): they would run and give wrong answers, or, as
        calibration and verification images, pass an int8 candidate checked on the wrong
        values."""
        x = as_batch(x, what)
        check_image_values(x, self.signature, self.preprocessing, self._first_layer, what,
                           _FIX)
        return check_batch(x, self.signature, what)

    def runner(self, candidate: str):
        """The verified runner of ``candidate`` (a backend name for float32, or
        ``"openvino:bfloat16"``, ``"openvino:int8"``, ``"litert:int8"``): numpy batch in,
        ``{output name: array}`` out, e.g. to time each runtime; KeyError (naming the
        verified ones) otherwise."""
        if candidate not in self._runners:
            raise KeyError(f"candidate {candidate!r} is not verified here; verified: "
                           f"{sorted(self._runners)}")
        return self._runners[candidate]

    @property
    def input_shape(self):
        return self.signature.input_shape

    def close(self):
        """Remove the converted files (also done when the Predictor is garbage-collected);
        calls after this may fail where a runtime reads its file again."""
        self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"Predictor(backend={self.backend!r}, precision={self.precision!r}, "
                f"input_shape={self.input_shape})")


# The run-directory workflow ``classify_files`` moved to keras_resnet.workflows (it
# loads networks and image files, which deploy/ does not); its names still resolve here
# for callers, on first use only, so that importing deploy/ never imports
# keras_resnet.data or keras_resnet.zoo.
_MOVED_TO_WORKFLOWS = ("classify_files", "FAST_PATH_IMAGES", "_image_paths")


def __getattr__(name):
    if name in _MOVED_TO_WORKFLOWS:
        import importlib

        return getattr(importlib.import_module("keras_resnet.workflows"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
