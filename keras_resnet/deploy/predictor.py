"""A Predictor: the fastest verified runtime for a Keras image model, numpy in and out.

``model.predict`` is built for datasets: each call sets up a data adapter and a
distribution context, which costs ~100 ms on a 2-core CPU, more than a whole
ResNet-50 forward pass. A :class:`Predictor` converts the model once for each runtime
and calls it directly::

    p = keras_resnet.Predictor(model)              # backend="auto", float32
    probs = p(images)                              # (N, H, W, C) or (H, W, C)
    p.backend, p.report                            # which one, and every candidate

Backends, each built from the same model through Keras' own exporters and checked
against the Keras model on probe images before use:

* ``"openvino"`` — the OpenVINO IR (``Model.export(format="openvino")``) compiled for the
  CPU at f32 inference precision, or bf16 with ``precision="bfloat16"``;
* ``"onnxruntime"`` — the ONNX file (``Model.export(format="onnx")``) in ONNX Runtime;
* ``"litert"`` — the float32 TFLite file (:func:`keras_resnet.export.tflite`'s converter)
  in LiteRT's XNNPACK;
* ``"keras"`` — the model itself under ``tf.function`` (``jax.jit`` under JAX): always
  available, the fallback.

``"auto"`` times every verified candidate at ``timing_batch`` and keeps the fastest.
It only ever picks float32 backends: bfloat16 is used when asked for
(``precision="bfloat16"``), and is then verified by top-1 agreement >= 99.5% with Keras
on the probe images (classifiers) or within rtol 0.1 (feature maps), as the TFLite
float16 export is. A backend that is missing, fails to convert or to verify is recorded
in ``report`` with the reason and never used.
"""

from __future__ import annotations

import numbers
import os
import tempfile

import numpy as np

from ..numerics import max_abs_error, within_tolerance
from .keras_export import export_with_keras
from .serving import check_batch, keras_call, serving_model
from .timing import median_latency_ms

BACKENDS = ("openvino", "onnxruntime", "litert", "keras")
PRECISIONS = ("float32", "bfloat16")
BF16_MIN_AGREEMENT = 0.995
# bfloat16 keeps 8 significant bits: OpenVINO's bf16 ResNet-50 differs from Keras by
# up to 3e-2 x max|ref| (docs/benchmarks.md); feature maps get a bound with room.
BF16_RTOL = 0.1
REMOVED = {"native": "the home-made native engine was removed in favour of OpenVINO",
           "tf": "the frozen TensorFlow graph was removed; 'keras' runs the model itself"}


def _build(name, model, serving, signature, precision, num_threads, folder):
    from .runtimes import LiteRTRunner, OnnxRuntimeRunner, OpenVINORunner

    if name == "openvino":
        import openvino  # noqa: F401  (ImportError: not installed)

        xml = os.path.join(folder, "model.xml")
        export_with_keras(serving, xml, "openvino", signature)
        return OpenVINORunner(xml, precision, num_threads, signature.output_names)
    if name == "onnxruntime":
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401

        path = os.path.join(folder, "model.onnx")
        export_with_keras(serving, path, "onnx", signature)
        return OnnxRuntimeRunner(path, num_threads)
    if name == "litert":
        from .export import tflite_flatbuffer

        if None in signature.input_shape:
            raise ValueError("LiteRT needs a fixed input size")
        return LiteRTRunner(tflite_flatbuffer(serving, signature), signature.input_name,
                            num_threads)
    return _KerasRunner(serving)


class _KerasRunner:
    runtime = "keras"

    def __init__(self, serving):
        import keras

        self.fn = keras_call(serving)
        self._np = keras.ops.convert_to_numpy

    def __call__(self, x):
        return {k: np.asarray(self._np(v), "float32") for k, v in self.fn(x).items()}


class Predictor:
    """Run a Keras image model (classifier, feature extractor, backbone) fast.

    Args:
        model: a ``keras.Model`` with one image input (functional, Sequential, nested,
            dict outputs, any dtype policy).
        backend: ``"auto"`` (fastest verified float32 backend), or one of
            ``"openvino"``, ``"onnxruntime"``, ``"litert"``, ``"keras"`` (still
            verified; an error if it fails).
        precision: ``"float32"`` or ``"bfloat16"`` (OpenVINO only; never chosen by itself).
        verify_images: inputs as the model takes them to check each backend on;
            default: seeded uniform [-1, 1] images (0-255 for uint8 models), 4 of them
            (32 for bfloat16, whose check counts top-1 agreement).
        rtol: float32 tolerance, ``max|b - keras| <= rtol * max(1, max|keras|)``
            (mixed-precision models: at least their policy's tolerance).
        timing_batch: batch size ``"auto"`` times the backends at.
        num_threads: CPU threads per runtime (default: all cores).

    Calling it with a batch ``(N, H, W, C)`` (any N) or one image ``(H, W, C)`` returns
    what the model returns: an array, or a dict keyed like the model's outputs (a
    backbone's ``"C2"``..``"C5"``), without the batch axis for one image.

    Raises:
        TypeError, ValueError: a model or argument it cannot take (says what to do).
        RuntimeError: no backend reproduced the model (each one's reason listed).
    """

    def __init__(self, model, backend="auto", *, precision="float32", verify_images=None,
                 rtol=1e-4, timing_batch=1, num_threads=None, timing_repeats=10):
        if backend in REMOVED:
            raise ValueError(f"backend {backend!r} no longer exists ({REMOVED[backend]}); "
                             f"choose 'auto' or one of {BACKENDS}")
        if backend != "auto" and backend not in BACKENDS:
            raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
        precision = {"bf16": "bfloat16", "fp32": "float32"}.get(precision, precision)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision == "bfloat16" and backend not in ("auto", "openvino"):
            raise ValueError(f"precision='bfloat16' runs on the 'openvino' backend only, "
                             f"not {backend!r}")
        if precision == "bfloat16":
            from .runtimes import openvino_cpu_capabilities

            try:
                if "BF16" not in openvino_cpu_capabilities():
                    raise ValueError(
                        "precision='bfloat16' needs a CPU with bfloat16 units (AVX512_BF16 "
                        "or AMX); OpenVINO reports this one's capabilities as "
                        f"{openvino_cpu_capabilities()}: use precision='float32'")
            except ImportError as e:
                raise ImportError("precision='bfloat16' runs on OpenVINO: pip install "
                                  "'keras-resnet-zoo[openvino]'") from e
        if (not isinstance(rtol, numbers.Real) or isinstance(rtol, bool)
                or not np.isfinite(rtol) or rtol <= 0):
            raise ValueError(f"rtol must be a positive number, got {rtol!r}")
        if int(timing_batch) < 1:
            raise ValueError(f"timing_batch must be >= 1, got {timing_batch}")
        serving, self.signature = serving_model(model)
        shape = self.signature.input_shape
        if None in shape:
            raise ValueError(f"Predictor needs a fixed input size, got {(None, *shape)}: "
                             "build the model with input_shape=(H, W, C)")
        if verify_images is None:
            rng = np.random.default_rng(0)
            n = 32 if precision == "bfloat16" else 4
            verify_images = (rng.integers(0, 256, (n, *shape))
                             if self.signature.input_dtype == "uint8"
                             else rng.uniform(-1, 1, (n, *shape)))
        x = check_batch(verify_images, self.signature, "verify_images")
        from .export import reference_outputs

        reference = reference_outputs(model, self.signature, x)
        rtol = max(rtol, self.signature.rtol)
        if backend == "auto":
            candidates = ("openvino",) if precision == "bfloat16" else BACKENDS
        else:
            candidates = (backend,)
        self.precision = precision
        self.report = {}
        self._runners = {}
        self._folder = tempfile.TemporaryDirectory(prefix="keras_resnet-predictor-")
        for name in candidates:
            entry = self.report[name] = {"precision": precision if name == "openvino"
                                         else "float32"}
            folder = os.path.join(self._folder.name, name)
            os.makedirs(folder)
            try:
                runner = _build(name, model, serving, self.signature, entry["precision"],
                                num_threads, folder)
                got = runner(x)
                entry.update(self._check(got, reference, rtol, entry["precision"]))
            except ImportError as e:
                entry.update(verified=False, error=f"not installed: {e}")
                continue
            except Exception as e:  # a runtime that cannot take this model is skipped
                entry.update(verified=False, error=f"{type(e).__name__}: {str(e)[:300]}")
                continue
            if not entry["verified"]:
                continue
            self._runners[name] = runner
            if backend == "auto":
                probe = np.resize(x, (timing_batch, *x.shape[1:])).astype(x.dtype)
                entry["latency_ms"] = median_latency_ms(runner, probe, timing_repeats)
                entry["timing_batch"] = timing_batch
        if not self._runners:
            raise RuntimeError("no backend reproduced the Keras model: " + "; ".join(
                f"{k}: {v.get('error')}" for k, v in self.report.items()))
        if backend == "auto":
            backend = min(self._runners, key=lambda k: self.report[k]["latency_ms"])
        self.backend = backend
        self._run = self._runners[backend]

    @staticmethod
    def _check(got, reference, rtol, precision):
        if set(got) != set(reference):
            return {"verified": False,
                    "error": f"outputs {sorted(got)} != Keras' {sorted(reference)}"}
        entry = {"max_abs_error": {k: max_abs_error(got[k], reference[k]) for k in reference}}
        (key, ref), = list(reference.items())[:1]
        if precision == "bfloat16" and len(reference) == 1 and ref.ndim == 2:
            agree = float(np.mean(got[key].argmax(1) == ref.argmax(1)))
            entry.update(top1_agreement=agree, verified=agree >= BF16_MIN_AGREEMENT)
            if not entry["verified"]:
                entry["error"] = (f"bfloat16 top-1 agreement {agree:.1%} < "
                                  f"{BF16_MIN_AGREEMENT:.1%}")
            return entry
        tol = BF16_RTOL if precision == "bfloat16" else rtol
        entry["verified"] = all(within_tolerance(got[k], reference[k], tol) for k in reference)
        if not entry["verified"]:
            entry["error"] = (f"outputs differ from Keras by {entry['max_abs_error']} "
                              f"(rtol {tol})")
        return entry

    def __call__(self, images):
        """Outputs for a batch ``(N, H, W, C)`` or one image ``(H, W, C)``."""
        x = np.asarray(images)
        shape = self.signature.input_shape
        single = x.ndim == len(shape) and all(s in (None, d) for s, d in zip(shape, x.shape))
        if single:
            x = x[None]
        x = check_batch(x, self.signature, "images")
        out = self._run(np.ascontiguousarray(x))
        if single:
            out = {k: v[0] for k, v in out.items()}
        return self.signature.pack(out)

    def runner(self, backend: str):
        """The verified runner of ``backend`` (numpy batch in, ``{output name: array}``
        out), e.g. to time each runtime; KeyError (naming the verified ones) otherwise."""
        if backend not in self._runners:
            raise KeyError(f"backend {backend!r} is not verified here; verified: "
                           f"{sorted(self._runners)}")
        return self._runners[backend]

    @property
    def input_shape(self):
        return self.signature.input_shape

    def __repr__(self):
        return (f"Predictor(backend={self.backend!r}, precision={self.precision!r}, "
                f"input_shape={self.input_shape})")


def classify_files(paths, weights, *, model: str | None = None, pixel_mean=None,
                   backend: str = "auto", precision: str = "float32", top: int = 3) -> dict:
    """Classify image files with the fastest verified runtime: what
    ``keras-resnet predict`` runs.

    Args:
        paths: image files (PNG, JPEG, BMP, GIF; grey, RGB or RGBA; 8 or 16 bits),
            decoded as the training data are and brought to the network's input as its
            evaluation does (:mod:`keras_resnet.data.images`): CIFAR-family networks
            take them resized to their input size; ImageNet-family ones resized
            (shorter side) and centre-cropped.
        weights: a registry tag (``"resnet20.fashion_mnist"``, ``"resnet50.imagenet"``),
            a run directory of ``keras-resnet train`` (any family), or a model / weights
            file (see :func:`keras_resnet.zoo.load_trained` for ``model`` and
            ``pixel_mean``; a ``.keras`` model that normalises its input itself needs
            no pixel mean).
        backend, precision: as for :class:`Predictor`.
        top: how many classes to list per image, >= 1.

    Returns:
        ``{"backend": name, "backends": Predictor.report, "predictions": [{"image":
        path, "top": [{"class": index, "name": name, "probability": p}, ...]}, ...]}``.

    Raises:
        ValueError: ``top`` < 1, an unreadable file (named, with the decoder's reason).
        FileNotFoundError: a missing image or weights.
    """
    from ..data.augment import eval_arrays
    from ..data.images import read_image
    from ..data.sources import files_split, read_images
    from ..pretrained.classes import imagenet_classes
    from ..pretrained.registry import load_registry
    from ..zoo import load_pretrained, load_trained

    if top < 1:
        raise ValueError(f"--top must be at least 1, got {top}")
    paths = [os.fspath(p) for p in paths]
    entries, _ = load_registry()
    if weights in entries and not os.path.exists(weights):
        entry = entries[weights]
        if entry.input_shape:  # trained here at a fixed size
            net, preprocess = load_pretrained(weights)
            h, w, c = entry.input_shape

            def load(files):
                return preprocess(read_images(files, (h, w), c))
        else:  # published ImageNet weights: their own resize and crop, per image
            net, preprocess = load_pretrained(weights, input_shape=(entry.crop, entry.crop, 3))

            def load(files):
                return np.concatenate([preprocess(read_image(f)) for f in files])
        names = (list(entry.class_names) if entry.class_names else
                 [c[1] for c in imagenet_classes("readable")] if entry.classes == 1000 else None)
    else:
        trained = load_trained(weights, model=model, pixel_mean=pixel_mean)
        names = trained.class_names
        net = trained.fixed_size_model()

        def load(files):  # decoded, resized (and cropped) as the run's evaluation does
            x, _ = eval_arrays(files_split(files), trained.family, trained.pixel_mean,
                               len(files), resize=trained.resize or 256,
                               crop=trained.input_shape[0])
            return x
    x = load(paths)  # (images to classify, and any calibration images: the same way)
    predictor = Predictor(net, backend=backend, precision=precision,
                          verify_images=x[:32] if precision == "bfloat16" else x[:4])
    probs = np.asarray(predictor(x))
    k = min(top, probs.shape[-1])
    predictions = []
    for path, p in zip(paths, probs):
        order = np.argsort(-p)[:k]
        predictions.append({"image": os.fspath(path), "top": [
            {"class": int(i), "name": names[i] if names else str(int(i)),
             "probability": float(p[i])} for i in order]})
    return {"backend": predictor.backend, "backends": predictor.report,
            "predictions": predictions}
