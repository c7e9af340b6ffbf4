"""Run a written artifact with its own runtime: numpy batch in, outputs by name out.

Each runner takes a file as the exporters write it (input named ``images`` unless said
otherwise, outputs named like the Keras model's) and returns ``{name: float32 array}``
for any batch size. Each checks a batch against the input its file declares before the
runtime sees it (a ValueError that says what to change, the same from all four). They
are what the exporters verify with and what the
:class:`~keras_resnet.deploy.predictor.Predictor` serves with; :func:`open_artifact`
opens any of them by file name.

=============  ==================================  ====================================
runtime        file                                package
=============  ==================================  ====================================
ONNX Runtime   ``.onnx``                           ``onnxruntime``
OpenVINO       ``.xml`` + ``.bin`` (IR)            ``openvino``
LiteRT         ``.tflite``                         ``ai-edge-litert``
TensorFlow     SavedModel folder                   ``tensorflow``
=============  ==================================  ====================================
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np

from .metadata import check_openvino_weights, read_metadata, read_preprocessing
from .serving import (Signature, as_image_array, check_batch, check_batch_shape,
                      check_preprocessed, check_uint8_values)

SIGNATURE = "serving_default"
OPENVINO_PRECISIONS = {"float32": "f32", "bfloat16": "bf16"}
_ORT_DTYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8"}


_PIXELS_OR_NORMALISED = (
    "If its network takes 0-255 pixel values as they are, pass images.astype('float32'); "
    "if it was trained on normalised images, normalise them as it was trained")


def _threads(num_threads):
    return int(num_threads or os.cpu_count() or 1)


def _needs(module, extra):
    return ImportError(f"{module} is not installed: pip install 'keras-resnet-zoo[{extra}]'")


class _FileInput:
    """The input a file declares (its batch axis dropped, ``None`` for free sizes, and
    the dtype callers give: ``float32``, or ``uint8`` for a raw-image file), checked on
    every raw runner's call: a batch of the wrong shape would otherwise fail deep inside
    the runtime (OpenVINO's and LiteRT's C++ checks; TensorFlow aborts the process on a
    SavedModel given an image without its batch axis) or, for an empty batch, in a
    runtime's shape inference. Float and integer batches are cast to the file's dtype
    (into a uint8 file only whole numbers in 0..255), so that every runtime takes the
    same arrays. A batch already of the file's dtype and shape costs a few tuple
    comparisons: the Predictor's served calls pass here after its own check."""

    def __init__(self, shape, dtype, runtime):
        shape = [None if s is None or isinstance(s, str) or int(s) < 0 else int(s)
                 for s in shape]
        self.shape, self.dtype, self.runtime = tuple(shape[1:]), np.dtype(dtype), runtime
        self.batch = shape[0] if shape else None  # a file converted for a fixed batch
        four = len(self.shape) == 3
        first = four and self.shape[0] in (1, 3) and self.shape[2] not in (1, 3)
        self.data_format = "channels_first" if first else "channels_last"

    def __call__(self, x):
        x = np.asarray(x)
        what = f"images (this {self.runtime})"
        if not (x.dtype == self.dtype and x.ndim == len(self.shape) + 1 and len(x) and (
                x.shape[1:] == self.shape
                or all(s is None or s == d for s, d in zip(self.shape, x.shape[1:])))):
            check_batch_shape(x, self.shape, self.data_format, what)
            if self.dtype == np.uint8:
                check_uint8_values(x, what)
            with np.errstate(over="ignore", invalid="ignore"):  # refused just below
                x = x.astype(self.dtype, copy=False)
        # after the cast (float64 1e300 becomes inf): OpenVINO answers a NaN batch with
        # finite, plausible scores, LiteRT int8 with one class for every image
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ValueError(f"{what}: contains NaN or infinite values (as {self.dtype})")
        return x

    def run(self, x, fn):
        """``fn(batch)`` (a dict of arrays, batch first) on ``x`` checked by this input.
        A file converted for a fixed batch B (the TFLite exporter writes B = 1; ONNX and
        IR files from other tools may fix it too) gets ``x`` in slices of B, the last one
        padded with copies of its last image and its outputs cut back: the runtimes
        refuse another batch size (OpenVINO and LiteRT with a C++ shape error, ONNX
        Runtime with an invalid-dimensions error), and reshaping a static graph is not
        always possible (XNNPACK's delegate)."""
        return self.split(self(x), fn)

    def split(self, x, fn):
        """:meth:`run` on ``x`` already checked (this input's dtype and sizes, finite):
        the Predictor's fast path, which checks a served batch once for both."""
        b = self.batch
        if b is None or len(x) == b:
            return fn(x)
        parts = []
        for i in range(0, len(x), b):
            part = x[i:i + b]
            n = len(part)
            if n < b:
                part = np.concatenate([part, np.repeat(part[-1:], b - n, axis=0)])
            parts.append({k: v[:n] for k, v in fn(part).items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class OnnxRuntimeRunner:
    """An ``.onnx`` file (path or bytes) in ONNX Runtime's CPU execution provider."""

    runtime = "onnxruntime"

    def __init__(self, model, num_threads=None):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise _needs("onnxruntime", "onnx") from e
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _threads(num_threads)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(os.fspath(model) if not isinstance(model, bytes)
                                            else model, opts,
                                            providers=["CPUExecutionProvider"])
        inputs = [i.name for i in self.session.get_inputs()]
        if len(inputs) != 1:
            raise ValueError(
                f"the ONNX file has {len(inputs)} inputs {inputs}, not one image input: "
                "tf2onnx made some of the model's variables (e.g. an adapted "
                "Normalization layer's mean and variance) into inputs; export this model "
                "as OpenVINO, TFLite or SavedModel, or give Normalization fixed "
                "per-channel mean=/variance= lists (e.g. mean=[0.5, 0.5, 0.5]: single "
                "numbers are made into inputs too)")
        self.input_name = inputs[0]
        declared = self.session.get_inputs()[0]
        self.file_input = _FileInput(
            declared.shape, _ORT_DTYPES.get(declared.type, "float32"), "ONNX file")
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._model, self.num_threads = model, _threads(num_threads)

    def with_threads(self, num_threads):
        """The same file in a new session with ``num_threads`` threads."""
        return OnnxRuntimeRunner(self._model, num_threads)

    def _run(self, x):
        out = self.session.run(None, {self.input_name: x})
        return {k: np.asarray(v, "float32") for k, v in zip(self.output_names, out)}

    def __call__(self, x):
        return self.file_input.run(x, self._run)

    def run_checked(self, x):
        """``x`` already of the file's dtype and sizes and finite: no second check."""
        return self.file_input.split(x, self._run)


def openvino_cpu_capabilities() -> list:
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of this CPU (``"BF16"`` among them where
    it has AVX512_BF16 or AMX units); ImportError without openvino."""
    import openvino as ov

    return list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def _openvino_failure(path, error) -> str:
    """One line for OpenVINO's multi-line error on reading or compiling ``path``: its
    failed check, and the likeliest cause (an ``.xml`` beside the ``.bin`` of another
    export, which a file without this package's record cannot rule out)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    check = next((line for line in lines if line.startswith("Check ")), lines[-1] if lines
                 else type(error).__name__)
    weights = os.path.splitext(path)[0] + ".bin"
    return (f"OpenVINO could not read or compile {path} ({check[:240]}): an IR is the .xml "
            f"and the .bin written with it; if {weights} comes from another export or was "
            "replaced, put the matching pair together, or export it again")


class OpenVINORunner:
    """An OpenVINO IR (``.xml``) compiled for the CPU at ``precision``.

    ``precision="float32"`` sets ``INFERENCE_PRECISION_HINT="f32"`` explicitly: OpenVINO's
    default on CPUs with AVX512_BF16 or AMX is bf16. ``"bfloat16"`` asks for bf16. The
    precision the compiled model reports is checked: a CPU without bf16 units (where
    OpenVINO would quietly run f32) raises ValueError instead. An int8 IR (NNCF's
    ``FakeQuantize`` operations) runs its quantised layers in int8 at either precision.

    The IR keeps a free batch size; each of the first :data:`STATIC_SHAPES` input shapes
    it is called with a second time gets its own compilation at that fixed shape
    (OpenVINO plans memory and picks kernels once for a static shape: 5-15% faster at
    batch 1, measured in docs/benchmarks.md); first calls and later shapes run the
    dynamic one, so that a one-off batch (the Predictor's verification images, a stray
    size) does not take one of the slots the serving sizes need. A static compilation's
    input tensor is bound once to a buffer of its own, which each call copies the batch
    into: OpenVINO's ``infer({0: x})`` wraps the array in a new tensor on every call,
    ~20 us of Python work measured here, as much as a tenth of the shipped ResNet-20's
    batch-1 call. Calls from several threads take turns (a lock): an infer request and
    its buffer serve one batch at a time. This runner does not check that the ``.bin``
    belongs to the ``.xml`` (OpenVINO runs another export's weights of the same
    layout); :func:`open_artifact` does."""

    runtime = "openvino"
    STATIC_SHAPES = 4

    def __init__(self, path, precision="float32", num_threads=None, output_names=None):
        try:
            import openvino as ov
        except ImportError as e:
            raise _needs("openvino", "openvino") from e
        if precision not in OPENVINO_PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(OPENVINO_PRECISIONS)}, "
                             f"got {precision!r}")
        core = ov.Core()
        if precision == "bfloat16" and "BF16" not in openvino_cpu_capabilities():
            raise ValueError(
                "bfloat16 inference needs a CPU with bfloat16 units (AVX512_BF16 or AMX); "
                f"OpenVINO reports this one's capabilities as {openvino_cpu_capabilities()}: "
                "use precision='float32'")
        self.path, self.num_threads = os.fspath(path), _threads(num_threads)
        self.config = {"INFERENCE_PRECISION_HINT": OPENVINO_PRECISIONS[precision],
                       "PERFORMANCE_HINT": "LATENCY",
                       "INFERENCE_NUM_THREADS": self.num_threads}
        self._core = core
        try:
            self.model = core.read_model(self.path)
            self.compiled = core.compile_model(self.model, "CPU", self.config)
        except RuntimeError as e:
            raise ValueError(_openvino_failure(self.path, e)) from None
        ran = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        ran = ran.get_type_name() if hasattr(ran, "get_type_name") else str(ran)
        if ran != OPENVINO_PRECISIONS[precision]:
            raise ValueError(f"OpenVINO compiled the model at {ran}, not the "
                             f"{OPENVINO_PRECISIONS[precision]} asked for")
        self.precision = precision
        self.request = self.compiled.create_infer_request()
        self._static, self._seen = {}, set()
        self._lock = threading.Lock()
        port = self.compiled.inputs[0]
        self.input_name = port.get_any_name()
        self.file_input = _FileInput(
            [d.get_length() if d.is_static else None for d in port.get_partial_shape()],
            port.get_element_type().to_dtype(), "OpenVINO IR")
        self._output_names_asked = output_names
        wanted = set(output_names or ())
        self.output_names = []
        for port in self.compiled.outputs:
            names = port.get_names()
            hit = sorted(names & wanted) or sorted(names, key=len)
            self.output_names.append(hit[0])

    def with_threads(self, num_threads):
        """The same IR compiled again with ``num_threads`` threads."""
        return OpenVINORunner(self.path, self.precision, num_threads,
                              self._output_names_asked)

    def _static_request(self, shape):
        """(request, its bound input buffer) compiled for ``shape``; None on the first
        call at a shape, and once :data:`STATIC_SHAPES` shapes have their own."""
        entry = self._static.get(shape)
        if entry is None and len(self._static) < self.STATIC_SHAPES:
            if shape not in self._seen:  # a first call: the dynamic compilation runs it
                self._seen.add(shape)
                return None
            import openvino as ov

            model = self.model.clone()
            model.reshape({0: list(shape)})
            compiled = self._core.compile_model(model, "CPU", self.config)
            request = compiled.create_infer_request()
            buffer = np.zeros(shape, compiled.inputs[0].get_element_type().to_dtype())
            request.set_input_tensor(ov.Tensor(buffer, shared_memory=True))
            entry = self._static[shape] = (request, buffer)
        return entry

    def __call__(self, x):
        return self.file_input.run(x, self._run)

    def run_checked(self, x):
        """``x`` already of the file's dtype and sizes and finite: no second check."""
        return self.file_input.split(x, self._run)

    def _run(self, x):
        with self._lock:  # one batch at a time in a request and its bound buffer
            entry = self._static_request(tuple(x.shape))
            if entry is not None:
                request, buffer = entry
                np.copyto(buffer, x)
                request.infer()
            else:  # the dynamic compilation
                request = self.request
                request.infer({0: np.ascontiguousarray(x)}, share_inputs=True)
            return {name: np.array(request.get_output_tensor(i).data, "float32")
                    for i, name in enumerate(self.output_names)}


class LiteRTRunner:
    """A ``.tflite`` file (path or bytes) in the LiteRT interpreter (XNNPACK), through its
    signature runner: tensors by name, never by index. Integer inputs and outputs are
    (de)quantised with the file's own parameters. A file converted for a fixed batch
    (the exporter writes batch 1) runs a larger batch in slices of that size: XNNPACK
    cannot reshape such a graph to another batch. Calls from several threads take turns
    (a lock): the interpreter holds one batch's tensors at a time."""

    runtime = "litert"

    def __init__(self, model, input_name="images", num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        content = model if isinstance(model, bytes) else open(os.fspath(model), "rb").read()
        try:
            self.interpreter = Interpreter(model_content=content,
                                           num_threads=_threads(num_threads))
        except ValueError as e:  # LiteRT's own message names no file
            what = "the TFLite bytes" if isinstance(model, bytes) else os.fspath(model)
            raise ValueError(f"{what} is not a readable TFLite file ({e}): truncated, or "
                             "not a .tflite flatbuffer; export it again") from None
        signatures = self.interpreter.get_signature_list()
        if SIGNATURE not in signatures:
            raise ValueError(f"the TFLite file has no signature {SIGNATURE!r} "
                             f"(it has {sorted(signatures)}); export it with "
                             "keras_resnet.export.tflite")
        runner = self.interpreter.get_signature_runner(SIGNATURE)
        details = runner.get_input_details()
        if input_name not in details and len(details) == 1:  # e.g. TFLiteConverter's own
            input_name = next(iter(details))
        if input_name not in details:
            raise ValueError(f"TFLite signature lacks input {input_name!r}: {sorted(details)}")
        self.input_name = input_name
        self.input = details[input_name]
        quantised = (np.issubdtype(self.input["dtype"], np.integer)
                     and self.input["quantization"][0] not in (0, 0.0))
        self.file_input = _FileInput(  # a fixed batch is run in slices: any N
            self.input["shape_signature"],
            "float32" if quantised else self.input["dtype"], "TFLite file")
        self.batch = self.file_input.batch
        self.outputs = runner.get_output_details()
        self.output_names = list(self.outputs)
        # read once, not tested on every call (a batch-1 call of a small int8 net is
        # ~0.15 ms: microseconds count)
        self._quantised_input = quantised
        self._dequantise = {k: od["quantization"] for k, od in self.outputs.items()
                            if np.issubdtype(od["dtype"], np.integer)}
        # A file with one signature whose tensors are the main graph's input and outputs
        # (what the exporter writes) is run through those tensors directly: the
        # signature runner resizes and re-allocates the input on every call, a few
        # microseconds of a 0.12-0.15 ms int8 call of the shipped nets. (The interpreter's own
        # invoke() refuses to run while a signature runner exists: it holds the
        # interpreter's internals; so one of the two is kept, not both.)
        main_in = [d["index"] for d in self.interpreter.get_input_details()]
        main_out = sorted(d["index"] for d in self.interpreter.get_output_details())
        self._output_index = {k: od["index"] for k, od in self.outputs.items()}
        direct = (len(signatures) == 1 and main_in == [self.input["index"]]
                  and main_out == sorted(self._output_index.values()))
        self.runner = None if direct else runner
        del runner
        self._shape = None  # the input shape the direct path is allocated for
        self._content, self.num_threads = content, _threads(num_threads)
        self._lock = threading.Lock()

    def with_threads(self, num_threads):
        """The same flatbuffer in a new interpreter with ``num_threads`` threads."""
        return LiteRTRunner(self._content, self.input_name, num_threads)

    def _quantise(self, x):
        """Float ``x`` into a quantised (integer) input, with the file's scale and zero."""
        d = self.input
        scale, zero = d["quantization"]
        info = np.iinfo(d["dtype"])
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(d["dtype"])

    def _invoke(self, x):
        if self.runner is not None:
            return self.runner(**{self.input_name: x})
        interpreter, index = self.interpreter, self.input["index"]
        if x.shape != self._shape:
            interpreter.resize_tensor_input(index, x.shape)
            interpreter.allocate_tensors()
            self._shape = x.shape
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        return {k: interpreter.get_tensor(i) for k, i in self._output_index.items()}

    def _run(self, x):
        # a file that is not quantised at its input takes x as checked (its dtype)
        out = self._invoke(self._quantise(x) if self._quantised_input else x)
        result = {}
        for k, v in out.items():
            if k in self._dequantise:
                scale, zero = self._dequantise[k]
                v = (v.astype("float32") - zero) * scale
            result[k] = np.asarray(v, "float32")
        return result

    def __call__(self, x):
        with self._lock:
            return self.file_input.run(x, self._run)

    def run_checked(self, x):
        """``x`` already of the file's dtype and sizes and finite: no second check."""
        with self._lock:
            return self.file_input.split(x, self._run)


class SavedModelRunner:
    """A SavedModel folder through ``tf.saved_model.load`` and its ``serving_default``."""

    runtime = "tensorflow"

    def __init__(self, path, input_name="images", num_threads=None):
        import tensorflow as tf

        try:
            signatures = tf.saved_model.load(os.fspath(path)).signatures
        except (OSError, IndexError, ValueError, tf.errors.OpError) as e:
            # TensorFlow's messages for a damaged folder (an empty one, a missing
            # variables/, a truncated variables file) name its readers, not the folder
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(
                f"{path} is not a readable SavedModel folder ({first[:200]}): it needs "
                "saved_model.pb and the variables/ folder written with it, whole; export "
                "it again") from None
        if SIGNATURE not in signatures:
            raise ValueError(f"{path}: the SavedModel has no signature {SIGNATURE!r} "
                             f"(it has {sorted(signatures)})")
        self.fn = signatures[SIGNATURE]
        inputs = self.fn.structured_input_signature[1]
        if input_name not in inputs and len(inputs) == 1:  # e.g. Keras' own model.export
            input_name = next(iter(inputs))
        if input_name not in inputs:
            raise ValueError(f"{path}: the signature's inputs are {sorted(inputs)}, not "
                             f"{input_name!r}")
        self.input_name = input_name
        spec = inputs[input_name]
        self.dtype = spec.dtype
        self.file_input = _FileInput(spec.shape.as_list(), spec.dtype.as_numpy_dtype,
                                     "SavedModel")
        self._tf = tf
        self.output_names = list(self.fn.structured_outputs)

    def _run(self, x):
        try:
            out = self.fn(**{self.input_name: self._tf.constant(x, self.dtype)})
        except self._tf.errors.UnimplementedError as e:
            if "NCHW" not in str(e):
                raise
            raise ValueError(
                "this SavedModel runs its convolutions channels_first (NCHW), which "
                "TensorFlow's CPU kernels implement only with oneDNN on, and it is off in "
                "this process (TF_ENABLE_ONEDNN_OPTS=0, or TensorFlow imported before "
                "keras_resnet on a CPU where TensorFlow keeps it off): set "
                "TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow is imported, serve it on a GPU, "
                "export the model as ONNX or OpenVINO (both run NCHW on CPUs), or build it "
                "channels_last") from None
        return {k: np.asarray(v.numpy(), "float32") for k, v in out.items()}

    def __call__(self, x):
        return self.file_input.run(x, self._run)


def open_artifact(path, *, precision="float32", num_threads=None, input_name=None):
    """A runner for an exported file chosen by its name: ``.onnx`` (ONNX Runtime),
    ``.xml`` (OpenVINO, ``precision`` ``"float32"`` or ``"bfloat16"``), ``.tflite``
    (LiteRT) or a SavedModel folder (TensorFlow). Call it with a batch ``(N, H, W, C)``
    as the file takes it; it returns ``{output name: float32 array}``.

    A file this package wrote says what it takes (:func:`.metadata.read_metadata`), and
    the runner checks each batch against that before running it: shape, and values
    (raw uint8 pixels for a file with its preprocessing inside, float preprocessed
    images for one without), so that a batch of the wrong kind is a clear error, never
    a quiet cast to the file's dtype. The runner's ``preprocessing`` (a
    :class:`~keras_resnet.Preprocessing`) and ``class_names`` are what the file records.

    Args:
        input_name: the input to feed (TFLite, SavedModel); default: the one the file's
            metadata names, else ``"images"``.

    Raises:
        FileNotFoundError: no such file, or an IR without its ``.bin``.
        ValueError: an unknown kind of file; an IR whose ``.bin`` is not the one it was
            written with (:func:`.metadata.check_openvino_weights`); when called, a batch
            the file does not take.
        ImportError: the runtime is not installed (says which extra to install).
    """
    path = os.path.expanduser(os.fspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found")
    if not os.path.isdir(path) and os.path.getsize(path) == 0:
        raise ValueError(f"{path} is empty")
    suffix = "" if os.path.isdir(path) else os.path.splitext(path)[1].lower()
    if not (os.path.isdir(path) or suffix in (".onnx", ".xml", ".tflite")):
        raise ValueError(f"{path}: expected a .onnx, .xml (OpenVINO IR) or .tflite file or "
                         "a SavedModel folder")
    if suffix == ".xml":  # reads the XML text itself: no openvino needed yet
        check_openvino_weights(path)
    try:
        record = read_metadata(path)
    except ImportError:  # e.g. onnxruntime without the onnx package: no record to check
        record = None
    if input_name is None:
        input_name = (record or {}).get("input", {}).get("name", "images")
    if os.path.isdir(path):
        runner = SavedModelRunner(path, input_name, num_threads)
    elif suffix == ".onnx":
        runner = OnnxRuntimeRunner(path, num_threads)
    elif suffix == ".xml":
        runner = OpenVINORunner(path, precision, num_threads)
    else:
        runner = LiteRTRunner(path, input_name, num_threads)
    return CheckedRunner(runner, record)


class CheckedRunner:
    """A runner behind the input check its file's metadata allows (see
    :func:`open_artifact`); other attributes are the runner's."""

    def __init__(self, runner, record=None):
        self.runner, self.record = runner, record

    def __getattr__(self, name):
        return getattr(self.runner, name)

    @functools.cached_property  # read once: each float batch is checked against it
    def preprocessing(self):
        """The :class:`~keras_resnet.Preprocessing` the file records: how to make its
        float input from pixels, or, for a file that takes raw pixels (recorded
        ``in_model``), what it applies inside; None when it records none."""
        return read_preprocessing(self.record)

    @property
    def class_names(self) -> list | None:
        """The classifier's column names the file records, or None."""
        return (self.record or {}).get("class_names")

    def __call__(self, x):
        x = as_image_array(x)
        info = (self.record or {}).get("input")
        integers = x.dtype.kind in "iu"
        if not info:  # a file written elsewhere: checked as its runtime declares it
            file_input = getattr(self.runner, "file_input", None)
            if integers and file_input is not None and file_input.dtype.kind == "f":
                raise ValueError(
                    f"images: this file takes {file_input.dtype} images and records nothing "
                    f"about them (it has no keras_resnet metadata), got {x.dtype} pixels. "
                    f"{_PIXELS_OR_NORMALISED}")
            return self.runner(x.astype("float32") if x.dtype == np.float64 else x)
        if info["dtype"] == "int8" and integers:
            raise ValueError(
                "images: this file's input tensor is int8, and this runner quantises float "
                "preprocessed images into it with the file's own scale and zero point: "
                f"give the float images, not {x.dtype} values")
        dtype = "uint8" if info["dtype"] == "uint8" else "float32"
        layout = "channels_first" if info.get("layout") == "NCHW" else "channels_last"
        signature = Signature(info["name"], tuple(info["shape"][1:]), dtype, (), "dict",
                              "float32", layout)
        recorded = self.record.get("preprocessing")
        if dtype == "float32" and (recorded or {}).get("in_model") is False:
            if integers:
                raise ValueError(
                    "images: this file takes preprocessed float images (its metadata's "
                    "'preprocessing' says how to make them from pixels: the runner's "
                    f".preprocessing), got {x.dtype} pixels: preprocess them first, or "
                    "export with include_preprocessing= to get a file that takes uint8")
            check_preprocessed(x, self.preprocessing, "images",
                               "give runner.preprocessing(pixels) instead")
        if dtype == "float32" and recorded is None and integers:
            # Cast to float, raw pixels would run and give the classes of wrong inputs
            # whenever the network was trained on normalised images (every pretrained
            # one): the file cannot tell, so the caller says which.
            raise ValueError(
                "images: this file takes float32 images and records no preprocessing "
                f"(it was exported without preprocessing=), got {x.dtype} pixels. "
                f"{_PIXELS_OR_NORMALISED} (or export again with preprocessing= or "
                "include_preprocessing=)")
        return self.runner(check_batch(x, signature, "images"))
