"""Fast inference: BatchNorm folding and a Predictor that picks a verified backend.

``model.predict`` is built for datasets: each call sets up a data adapter and a
distribution context, which costs ~100 ms on a 2-core CPU, more than a whole
ResNet-50 forward pass. A :class:`Predictor` instead keeps one ready-to-run
executable per backend and calls it directly::

    p = keras_resnet.Predictor(model)          # backend="auto"
    probs = p(images)                          # numpy in, numpy out
    p.report                                   # every backend: latency, error, verified

Backends (each built from the same weights):

* ``"native"`` — this package's own engine (:mod:`keras_resnet.native`): BN folded,
  every convolution one call of an AVX-512 kernel compiled on first use, with bias,
  residual addition and ReLU fused into its store; needs a C compiler with OpenMP.
* ``"tf"`` — the model with every BatchNormalization folded into the convolution
  before it (:func:`fold_batchnorm`), frozen into a TensorFlow graph (variables become
  constants, so Grappler can fuse conv + bias + relu).
* ``"litert"`` — a float32 TFLite flatbuffer run by LiteRT's XNNPACK delegate.
* ``"onnxruntime"`` — this package's ONNX translation (:mod:`keras_resnet.onnxgraph`)
  run by ONNX Runtime, when ``onnx`` and ``onnxruntime`` are installed.

Every candidate is checked against the Keras model itself on probe images (the
project's tolerance rule, rtol 1e-4 by default); ``"auto"`` then times each verified
one at the batch size you name and keeps the fastest. A backend that fails to build
or to verify is recorded in ``report`` with the reason and never used.
"""

from __future__ import annotations

import os
import time

import numpy as np

from . import graphwalk
from .numerics import max_abs_error, within_tolerance

BACKENDS = ("native", "tf", "litert", "onnxruntime")


# ------------------------------------------------------------------ BN folding
def _single_consumer_pairs(model):
    """{conv layer name: bn layer} for every BatchNormalization whose input is a
    Conv2D output used by nothing else."""
    import keras

    readers = graphwalk.consumers(model)
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or not graphwalk.called_once(layer):
            continue
        (t,) = graphwalk.inputs_of(layer)
        conv = graphwalk.producer(t)
        if (isinstance(conv, keras.layers.Conv2D) and len(readers[id(t)]) == 1
                and conv.activation.__name__ == "linear" and conv.groups == 1
                and graphwalk.called_once(conv)):
            axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
            channel_axis = -1 if conv.data_format == "channels_last" else 1
            if axis % 4 == channel_axis % 4:
                pairs[conv.name] = layer
    return pairs


def fold_batchnorm(model):
    """An inference-only copy of ``model`` in which each BatchNormalization that
    directly follows a convolution is folded into it (the convolution gains a bias,
    the BN layer disappears). Outputs equal the original's with ``training=False`` up
    to float rounding; do not train the copy."""
    import keras

    pairs = _single_consumer_pairs(model)
    folded_bns = {bn.name for bn in pairs.values()}

    tensors = {id(t): keras.Input(batch_shape=t.shape, dtype=t.dtype, name=t.name)
               for t in model.inputs}
    for layer in graphwalk.layers_in_order(model):
        inputs = [tensors[id(t)] for t in graphwalk.inputs_of(layer)]
        if layer.name in folded_bns:
            (y,) = inputs
        else:
            config = layer.get_config()
            if layer.name in pairs:
                config["use_bias"] = True
                config.pop("freeze", None)
                clone = keras.layers.Conv2D.from_config(config)
            else:
                clone = layer.__class__.from_config(config)
            y = clone(inputs[0] if len(inputs) == 1 else inputs)
        tensors[id(graphwalk.output_of(layer))] = y
    ins = [tensors[id(t)] for t in model.inputs]
    outs = [tensors[id(t)] for t in model.outputs]
    copy = keras.Model(ins[0] if len(ins) == 1 else ins, outs[0] if len(outs) == 1 else outs,
                       name=model.name + "_folded")
    for layer in model.layers:
        if layer.name in folded_bns or isinstance(layer, keras.layers.InputLayer):
            continue
        target = copy.get_layer(layer.name)
        if layer.name in pairs:
            bn = pairs[layer.name]
            w = np.asarray(layer.kernel.numpy(), "float64")
            c = w.shape[-1]
            gamma = bn.gamma.numpy() if bn.scale else np.ones(c)
            beta = bn.beta.numpy() if bn.center else np.zeros(c)
            scale = gamma / np.sqrt(bn.moving_variance.numpy().astype("float64") + bn.epsilon)
            bias = layer.bias.numpy() if layer.use_bias else np.zeros(c)
            target.set_weights([(w * scale).astype("float32"),
                                (beta + (bias - bn.moving_mean.numpy()) * scale).astype("float32")])
        elif layer.weights:
            target.set_weights(layer.get_weights())
    return copy


# ------------------------------------------------------------------ runners
def _input_spec(model):
    shape = tuple(model.inputs[0].shape)
    dtype = str(model.inputs[0].dtype or "float32")
    return shape, dtype


class _TFRunner:
    def __init__(self, model, num_threads=None):
        import tensorflow as tf
        from tensorflow.python.framework.convert_to_constants import (
            convert_variables_to_constants_v2)

        folded = fold_batchnorm(model)
        shape, dtype = _input_spec(model)
        fn = tf.function(lambda x: folded(x, training=False))
        concrete = fn.get_concrete_function(tf.TensorSpec((None,) + shape[1:], dtype))
        self.frozen = convert_variables_to_constants_v2(concrete)
        self.dtype = dtype
        self._tf = tf

    def __call__(self, x):
        out = self.frozen(self._tf.constant(x, self.dtype))
        return np.asarray(out[0] if isinstance(out, (list, tuple)) else out)


class _LiteRTRunner:
    """The float32 TFLite file run through export's LiteRT signature runner (inputs
    and outputs by name; the runner resizes to the batch it is given)."""

    def __init__(self, model, num_threads=None):
        from .export import _LiteRunner, tflite_flatbuffer

        self.run = _LiteRunner(tflite_flatbuffer(model), "images",
                               num_threads or os.cpu_count())

    def __call__(self, x):
        return next(iter(self.run(x).values()))


class _ORTRunner:
    def __init__(self, model, num_threads=None):
        import onnxruntime as ort

        from .onnxgraph import to_onnx

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads or os.cpu_count()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(to_onnx(model).SerializeToString(), opts,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        _, self.dtype = _input_spec(model)

    def __call__(self, x):
        return self.session.run(None, {self.input_name: np.asarray(x, self.dtype)})[0]


def _NativeRunner(model, num_threads=None):
    from .native import NativeEngine

    return NativeEngine(model, num_threads)


_RUNNERS = {"native": _NativeRunner, "tf": _TFRunner, "litert": _LiteRTRunner,
            "onnxruntime": _ORTRunner}


def median_latency_ms(fn, x, repeats=10, warmup=2):
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


class Predictor:
    """Run a Keras classifier (or feature extractor with one output) fast.

    Args:
        model: a ``keras.Model`` with one fixed-size image input and one output.
        backend: ``"auto"`` (fastest verified), or one of ``"native"``, ``"tf"``,
            ``"litert"``, ``"onnxruntime"`` (still verified; an error if it fails).
        verify_images: inputs (already preprocessed, as the model takes them) to check
            each backend on; default: 4 seeded uniform [-1, 1] (or 0-255 for uint8) images.
        rtol: tolerance of the check, ``max|b - keras| <= rtol * max(1, max|keras|)``.
        timing_batch: batch size that ``"auto"`` times the backends at.
        num_threads: CPU threads for the native engine / LiteRT / ONNX Runtime (default:
            all cores).
    """

    def __init__(self, model, backend="auto", *, verify_images=None, rtol=1e-4,
                 timing_batch=1, num_threads=None, timing_repeats=10):
        import keras

        if not isinstance(model, keras.Model):
            raise TypeError(f"Predictor needs a keras.Model, got {type(model).__name__}; "
                            "build one with keras_resnet.build(...) or load_pretrained(tag)")
        if backend != "auto" and backend not in BACKENDS:
            raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError("Predictor handles models with one input and one output")
        shape, dtype = _input_spec(model)
        if None in shape[1:]:
            raise ValueError(f"Predictor needs a fixed input size, got {shape}: build the "
                             "model with input_shape=(H, W, C)")
        self.input_shape = shape[1:]
        if verify_images is None:
            rng = np.random.default_rng(0)
            verify_images = (rng.integers(0, 256, (4,) + shape[1:]) if dtype == "uint8"
                             else rng.uniform(-1, 1, (4,) + shape[1:]))
        x = np.asarray(verify_images).astype(dtype)
        self._check_shape(x)
        reference = np.asarray(model(x, training=False))
        candidates = BACKENDS if backend == "auto" else (backend,)
        self.report = {}
        self._runners = {}
        for name in candidates:
            entry = self.report[name] = {}
            try:
                runner = _RUNNERS[name](model, num_threads)
                got = runner(x)
                entry["max_abs_error"] = max_abs_error(got, reference)
                entry["verified"] = bool(within_tolerance(got, reference, rtol))
            except ImportError as e:
                entry.update(verified=False, error=f"not installed: {e}")
                continue
            except Exception as e:  # a backend that cannot take this model is skipped
                entry.update(verified=False, error=f"{type(e).__name__}: {e}")
                continue
            if not entry["verified"]:
                entry["error"] = (f"outputs differ from Keras by {entry['max_abs_error']:.3g} "
                                  f"(rtol {rtol})")
                continue
            self._runners[name] = runner
            if backend == "auto":
                probe = np.resize(x, (timing_batch,) + x.shape[1:]).astype(dtype)
                entry["latency_ms"] = median_latency_ms(runner, probe, timing_repeats)
                entry["timing_batch"] = timing_batch
        if not self._runners:
            raise RuntimeError("no backend reproduced the Keras model: "
                               + "; ".join(f"{k}: {v.get('error')}" for k, v in self.report.items()))
        if backend == "auto":
            backend = min(self._runners, key=lambda k: self.report[k]["latency_ms"])
        self.backend = backend
        self._run = self._runners[backend]
        self._dtype = dtype

    def _check_shape(self, x):
        if x.ndim != 4 or tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"expected a batch of shape (N, {', '.join(map(str, self.input_shape))}), "
                             f"got {x.shape}; preprocess (resize, normalise) images first, "
                             "e.g. with the preprocess function of load_pretrained(tag)")

    def __call__(self, images):
        """Outputs for a batch ``(N, H, W, C)`` or one image ``(H, W, C)``."""
        x = np.asarray(images)
        single = x.ndim == len(self.input_shape)
        if single:
            x = x[None]
        self._check_shape(x)
        y = self._run(x.astype(self._dtype, copy=False))
        return y[0] if single else y

    def __repr__(self):
        return f"Predictor(backend={self.backend!r}, input_shape={self.input_shape})"
