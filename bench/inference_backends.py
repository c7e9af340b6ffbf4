"""Inference latency of one set of ResNet weights on every CPU runtime the package
deploys to, side by side, and what bfloat16 costs in accuracy on real images.

Paths, each built through the package's public API and each compared with the Keras
model before it is timed:

* ``Keras tf.function``: ``Predictor(model, backend="keras")``;
* ``ONNX Runtime fp32``: ``Predictor(model, backend="onnxruntime")`` (the reference of
  every ratio);
* ``OpenVINO fp32``: ``Predictor(model, backend="openvino")``;
* ``OpenVINO bf16``: ``Predictor(model, backend="openvino", precision="bfloat16")``
  (if the Predictor's bf16 check refuses a random-weight network, the same IR from
  ``export.openvino`` is timed in an ``OpenVINORunner(xml, "bfloat16")`` and the row is
  marked unverified);
* ``LiteRT fp32``: ``Predictor(model, backend="litert")``;
* ``LiteRT int8``: ``export.tflite(model, f, quantization="int8",
  representative_data=...)`` run by ``LiteRTRunner(f)`` (a batch-1 file: batch 32 runs
  as 32 calls; not checked by the exporter, whose top-1 test is meant for trained
  classifiers: the error column measures it);
* ``OpenVINO int8``: ``export.openvino(model, f, quantization="int8",
  representative_data=...)`` (NNCF) run by ``OpenVINORunner(f)`` (unchecked, as above);
* ``Predictor(auto)``: ``Predictor(model)``, which times its float32 candidates at
  batch 1 and keeps the fastest; the row names its pick;
* ``Predictor(auto, any precision)``: ``Predictor(model, precision="auto",
  calibration_images=...)``: float32, bf16 and int8 candidates, each verified (top-1
  agreement >= 99.5% on the calibration images; on random weights reduced precisions
  rarely pass), the fastest kept; the row names its pick.

ResNet-50/101/152 with random weights and randomised BatchNorm statistics (so that a
wrongly folded BN would show), 224x224, logits out (a softmax over 1000 classes would
hide errors in probabilities of ~1e-3), batch 1 and 32, all in one process. One round
times every path (``--repeats`` calls at batch 1, ``max(1, repeats // batch)`` above);
the order reverses each round; the tables give medians, and ratios are taken per round
against ONNX Runtime. Each path's error is ``max|out - keras| / max(1, max|keras|)`` on
4 images. GFLOP/s counts 2 FLOPs per multiply-add of the architecture and is set
against the float32 and bf16 peaks that ``bench/fma_peak.py`` measures in the same run.

Then, on the shipped Fashion-MNIST weights (``resnet20.fashion_mnist``,
``plain20.fashion_mnist``) over the 10,000 test images: accuracy of Keras fp32,
OpenVINO fp32, OpenVINO bf16, OpenVINO int8 (NNCF) and LiteRT int8 (both calibrated on
300 training images), and each one's top-1 agreement with Keras; and what
``Predictor(precision="auto", min_agreement=0.995)`` picks for each net (calibrated on
those 300 images, verified on 1,000 test images) and how fast its pick is against ONNX
Runtime fp32 at batch 1, interleaved in ``max(60, 20 * rounds)`` rounds of 20 calls
each. Then the TFLite
variants (float32 / float16 / dynamic / int8, ``export.tflite``) of the shipped
ResNet-20 and of ResNet-50: size, batch-1 latency against Keras, agreement.

    python bench/inference_backends.py [--depths 18 50 101 152] [--batches 1 32]
        [--rounds 5] [--repeats 4] [--out docs/bench]
    python bench/inference_backends.py --quick      # smoke run: ResNet-18, batch 1,
                                                    # 1 round, 500 test images, temp --out

Writes ``inference_backends.json`` and ``inference_backends.png`` to ``--out``; the
tables come from ``python bench/tables.py <out>``. Do not run beside other work.
"""

import argparse
import concurrent.futures
import gc
import multiprocessing
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# keras_resnet first: its import turns on TensorFlow's oneDNN kernels on CPUs where
# TensorFlow leaves them off (AVX2-only x86), as it does for a user (keras_resnet/cpu.py).
import keras_resnet  # noqa: E402  isort: skip
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")  # the Keras runner retraces for each new batch size

from keras_resnet import Predictor  # noqa: E402
from keras_resnet.deploy import export  # noqa: E402
from keras_resnet.deploy.runtimes import LiteRTRunner, OpenVINORunner  # noqa: E402
from tests.helpers import randomise as _randomise_bn  # noqa: E402  (random BN statistics)

SCHEMA = 3
ORT = "ONNX Runtime fp32"
KERAS = "Keras tf.function"
BF16 = "OpenVINO bf16"
AUTO = "Predictor(auto)"
AUTO_ANY = "Predictor(auto, any precision)"
OV_INT8 = "OpenVINO int8"
PATHS = (KERAS, ORT, "OpenVINO fp32", BF16, OV_INT8, "LiteRT fp32", "LiteRT int8", AUTO,
         AUTO_ANY)
FLOAT32_RTOL = 1e-4
GOAL_AUTO_VS_ORT = 1.10
GOAL_BF16_VS_ORT = 2.0
GOAL_BF16_AGREEMENT = 0.995
GOAL_AUTO_ANY_VS_ORT = 3.0  # issue 28: precision="auto" at a 99.5% budget, batch 1
GOAL_OV_INT8_AGREEMENT = 0.99
CALIBRATION_IMAGES = 300
AUTO_VERIFY_IMAGES = 1000
AUTO_TIMING_CALLS = 20  # calls per path per round when timing the auto pick at batch 1
FASHION_TAGS = ("resnet20.fashion_mnist", "plain20.fashion_mnist")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"


# ------------------------------------------------------------------ helpers
def rel_error(out, ref):
    """The project's error measure: max|out - ref| / max(1, max|ref|)."""
    out, ref = np.asarray(out, "float64"), np.asarray(ref, "float64")
    return float(np.max(np.abs(out - ref)) / max(1.0, float(np.max(np.abs(ref)))))


def _array(out):
    """A runner's single output as an array (Predictors already return one)."""
    if isinstance(out, dict):
        (out,) = out.values()
    return np.asarray(out)


def _in_chunks(fn, x, size=500):
    return np.concatenate([_array(fn(x[i:i + size])) for i in range(0, len(x), size)])


def _ov_precision(obj):
    """The inference precision an OpenVINO Predictor or runner was compiled with
    ('bf16', 'f32'); OpenVINO falls back to f32 where the CPU has no bf16."""
    runner = getattr(obj, "_run", obj)
    compiled = getattr(runner, "compiled", None)
    if compiled is None:
        return None
    return compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()


def openvino_bf16(model, folder, verify_images=None):
    """(callable, info) for OpenVINO at bf16: the Predictor when its bf16 check passes;
    else the exported IR in an OpenVINORunner at bf16, marked unverified."""
    from keras_resnet.deploy.runtimes import openvino_cpu_capabilities

    if "BF16" not in openvino_cpu_capabilities():
        raise ValueError("not available: OpenVINO reports no BF16 capability on this CPU "
                         f"({openvino_cpu_capabilities()})")
    try:
        p = Predictor(model, backend="openvino", precision="bfloat16",
                      verify_images=verify_images)
        entry = p.report["openvino:bfloat16"]
        return p, {"verified": True, "precision": _ov_precision(p),
                   "predictor_check": {k: v for k, v in entry.items() if k != "precision"}}
    except RuntimeError as e:
        reason = str(e)[:300]
    xml = os.path.join(folder, "bf16.xml")
    export.openvino(model, xml)
    runner = OpenVINORunner(xml, "bfloat16")
    return runner, {"verified": False, "precision": _ov_precision(runner),
                    "note": f"Predictor refused bf16 ({reason}); timed the same IR in "
                            "OpenVINORunner(xml, 'bfloat16')"}


def tflite_file(model, path, quantization, representative_data, verify_images, labels=None):
    """export.tflite with its own check; where the check refuses (reduced precision on a
    random-weight network), the file is written unverified and the reason kept."""
    kwargs = dict(quantization=quantization, representative_data=representative_data)
    try:
        report = export.tflite(model, path, verify_images=verify_images, labels=labels,
                               **kwargs)
        return report, {"verified": True}
    except export.ExportVerificationError as e:
        report = export.tflite(model, path, **kwargs)
        return report, {"verified": False, "note": f"export check refused: {str(e)[:200]}"}


def time_paths(paths, x, rounds, repeats):
    """Seconds per call of each path, one sample per round; order reversed each round."""
    for f in paths.values():  # warm up (first calls allocate and compile)
        f(x)
        f(x)
    times = {k: [] for k in paths}
    names = list(paths)
    for r in range(rounds):
        for k in (names if r % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            for _ in range(repeats):
                paths[k](x)
            times[k].append((time.perf_counter() - start) / repeats)
    return times


def machine_info():
    flags, name = set(), platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    import openvino

    caps = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    versions = {}
    for dist in ("tensorflow", "keras", "onnxruntime", "openvino", "ai-edge-litert",
                 "tf2onnx"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return {"cpu": name, "cpu_count": os.cpu_count(),
            "cpu_flags": sorted(f for f in flags if f in
                                {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
                                 "amx_tile", "amx_bf16", "amx_int8"}),
            "openvino_cpu_capabilities": list(caps), "versions": versions,
            # TensorFlow's own answer (the Keras tf.function row depends on it)
            "tf_onednn": keras_resnet.cpu.tf_onednn_enabled()}


# ------------------------------------------------------------------ the backends table
def build_paths(model, probe, rep, folder):
    """{label: callable returning an array}, and per label what the Predictor / export
    check said, which backend auto picked, build time."""
    paths, info = {}, {}

    def add(label, make):
        t = time.perf_counter()
        try:
            fn, extra = make()
        except Exception as e:  # a runtime that cannot take the model: say so, go on
            info[label] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
            print(f"  {label}: FAILED {info[label]['error']}", flush=True)
            return
        paths[label] = fn
        info[label] = {"build_s": time.perf_counter() - t, **extra}
        print(f"  built {label} in {info[label]['build_s']:.0f} s "
              f"{ {k: v for k, v in extra.items() if k != 'predictor_check'} }", flush=True)

    def int8():
        # Not checked by the exporter: its int8 check (top-1 agreement >= 98%) is for
        # trained classifiers; a random network's logits are too close together. The
        # error column measures it instead.
        path = os.path.join(folder, "int8.tflite")
        report = export.tflite(model, path, quantization="int8", representative_data=rep)
        runner = LiteRTRunner(path)
        return (lambda a: _array(runner(a))), {
            "verified": False, "size_bytes": report["size_bytes"],
            "note": "int8 on random weights: not checked by the exporter"}

    # Predictor(auto) converts and verifies every float32 backend once; the per-runtime
    # rows time those same verified runners (Predictor.runner), so nothing is built twice.
    t = time.perf_counter()
    auto = Predictor(model, verify_images=probe)
    build_s = time.perf_counter() - t
    print(f"  built {AUTO} (all float32 backends) in {build_s:.0f} s -> {auto.backend}",
          flush=True)
    for label, backend in ((KERAS, "keras"), (ORT, "onnxruntime"),
                           ("OpenVINO fp32", "openvino"), ("LiteRT fp32", "litert")):
        entry = auto.report[backend]
        if not entry.get("verified"):
            info[label] = {"error": entry.get("error")}
            continue
        runner = auto.runner(backend)
        paths[label] = lambda a, r=runner: _array(r(a))
        info[label] = {"verified": True, "build_s": None}
    paths[AUTO] = auto
    info[AUTO] = {"verified": True, "backend": auto.backend, "build_s": build_s,
                  "auto_latency_ms": {k: v.get("latency_ms") for k, v in auto.report.items()},
                  "refused": {k: v["error"] for k, v in auto.report.items() if "error" in v}}
    def ov_int8():
        path = os.path.join(folder, "int8.xml")
        report = export.openvino(model, path, quantization="int8", representative_data=rep)
        runner = OpenVINORunner(path, "float32")
        return (lambda a: _array(runner(a))), {
            "verified": False, "size_bytes": report["size_bytes"],
            "note": "int8 on random weights: not checked by the exporter"}

    def auto_any():
        p = Predictor(model, precision="auto", calibration_images=rep)
        threads = p.report[p.candidate].get("num_threads")
        return p, {"verified": True,
                   "backend": p.candidate + (f", {threads} thread(s)" if threads else ""),
                   "candidates": {k: {f: v.get(f) for f in ("verified", "latency_ms",
                                                            "top1_agreement", "num_threads",
                                                            "error", "skipped")}
                                  for k, v in p.report.items()}}

    add(BF16, lambda: openvino_bf16(model, folder))
    add(OV_INT8, ov_int8)
    add("LiteRT int8", int8)
    add(AUTO_ANY, auto_any)
    return paths, info


def bench_depth(depth, batches, rounds, repeats, peaks, rep_images):
    print(f"ResNet-{depth}: building paths", flush=True)
    model = keras_resnet.build(f"resnet{depth}", input_shape=(224, 224, 3),
                               classifier_activation=None)
    _randomise_bn(model)
    macs = keras_resnet.model_complexity(model).macs
    rng = np.random.default_rng(depth)
    probe = rng.uniform(-2, 2, (4, 224, 224, 3)).astype("float32")
    rep = rng.uniform(-2, 2, (rep_images, 224, 224, 3)).astype("float32")
    ref = np.asarray(model(probe, training=False))
    rows = []
    with tempfile.TemporaryDirectory(prefix="inference_backends-") as folder:
        paths, info = build_paths(model, probe, rep, folder)
        errors = {k: rel_error(_array(f(probe)), ref) for k, f in paths.items()}
        for batch in batches:
            x = np.random.default_rng(batch).uniform(
                -2, 2, (batch, 224, 224, 3)).astype("float32")
            times = time_paths(paths, x, rounds, max(1, repeats // batch))
            ort = times.get(ORT)
            for k in PATHS:
                if k not in times:
                    rows.append({"model": f"ResNet-{depth}", "batch": batch, "path": k,
                                 "ms": None, **info.get(k, {})})
                    continue
                t = times[k]
                ms = 1000 * statistics.median(t)
                gflops = 2 * macs * batch / (ms / 1000) / 1e9
                ratios = [o / a for a, o in zip(t, ort)] if ort else None
                row = {"model": f"ResNet-{depth}", "batch": batch, "path": k, "ms": ms,
                       "ms_rounds": [1000 * v for v in t], "img_per_s": batch / (ms / 1000),
                       "gflops": gflops,
                       "pct_of_fp32_peak": (100 * gflops / peaks["fp32_peak_gflops"]
                                            if peaks.get("fp32_peak_gflops") else None),
                       "pct_of_bf16_peak": (100 * gflops / peaks["bf16_peak_gflops"]
                                            if peaks.get("bf16_peak_gflops") else None),
                       "ratio_vs_onnxruntime": statistics.median(ratios) if ratios else None,
                       "ratio_range": [min(ratios), max(ratios)] if ratios else None,
                       "ratio_vs_keras": statistics.median(
                           [b / a for a, b in zip(t, times[KERAS])]) if KERAS in times
                       else None,
                       "max_rel_error": errors[k], "calls_per_round": max(1, repeats // batch),
                       **info[k]}
                rows.append(row)
                pick = f" -> {row['backend']}" if "backend" in row else ""
                prec = f" (ran {row['precision']})" if row.get("precision") else ""
                print(f"ResNet-{depth} batch {batch:3d} {k + pick + prec:34s} {ms:9.1f} ms "
                      f"{gflops:6.1f} GFLOP/s  vs ORT {row['ratio_vs_onnxruntime'] or 0:.2f}x"
                      f"  rel.err {errors[k]:.1e}", flush=True)
        del paths
    del model
    gc.collect()
    keras.backend.clear_session()
    return rows, macs


# ------------------------------------------------------------------ Fashion-MNIST precisions
def fashion_precisions(n_images, rounds, data_dir=FASHION_DIR):
    """On the shipped Fashion-MNIST nets over ``n_images`` test images: accuracy and
    top-1 agreement with Keras of OpenVINO fp32 / bf16 / int8 and LiteRT int8; then the
    pick of ``Predictor(precision="auto")`` timed against ONNX Runtime fp32 at batch 1."""
    from keras_resnet.data import load_idx_dir

    (x_train, _), (x_test, y_test) = load_idx_dir(data_dir)
    rows = []
    for tag in FASHION_TAGS:
        model, preprocess = keras_resnet.load_pretrained(tag)
        x, y = preprocess(x_test[:n_images]), np.asarray(y_test[:n_images])
        cal = preprocess(x_train[:CALIBRATION_IMAGES])
        ref = _in_chunks(Predictor(model, backend="keras", verify_images=x[:8]), x)
        top1 = ref.argmax(1)
        row = {"weights": tag, "images": int(len(x)),
               "keras_fp32_accuracy": float(np.mean(top1 == y))}

        def record(name, out, **extra):
            row[name] = {"accuracy": float(np.mean(out.argmax(1) == y)),
                         "top1_agreement": float(np.mean(out.argmax(1) == top1)),
                         "max_rel_error": rel_error(out, ref), **extra}
            print(f"{tag}: {name} accuracy {row[name]['accuracy']:.2%}, agreement "
                  f"{row[name]['top1_agreement']:.2%} over {len(x)} images", flush=True)

        record("openvino_fp32", _in_chunks(
            Predictor(model, backend="openvino", verify_images=x[:64]), x))
        with tempfile.TemporaryDirectory(prefix="inference_backends-") as folder:
            try:
                run, info = openvino_bf16(model, folder, verify_images=x[:256])
                record("openvino_bf16", _in_chunks(run, x), precision=info["precision"],
                       verified=info["verified"])
            except ValueError as e:  # no bf16 units on this CPU
                row["openvino_bf16"] = {"precision": None, "note": str(e)}
            xml = os.path.join(folder, "int8.xml")
            export.openvino(model, xml, quantization="int8", representative_data=cal)
            record("openvino_int8", _in_chunks(OpenVINORunner(xml), x))
            lite = os.path.join(folder, "int8.tflite")
            export.tflite(model, lite, quantization="int8", representative_data=cal)
            record("litert_int8", _in_chunks(LiteRTRunner(lite), x, 500))
        # what precision="auto" picks within a 99.5% budget, and its speed at batch 1
        auto = Predictor(model, precision="auto", min_agreement=GOAL_BF16_AGREEMENT,
                         calibration_images=cal, verify_images=x[:AUTO_VERIFY_IMAGES])
        ort = Predictor(model, backend="onnxruntime", verify_images=x[:8])
        one = x[:1]
        # many short rounds: a batch-1 call here is 0.2-0.8 ms, and this shared machine
        # has slow phases of about a second in which the same call takes twice as long
        # (measured: 0.19 vs 0.45 ms, pinned to either core); 20-call blocks put both
        # paths of a round in the same phase, 200-call blocks often did not
        times = time_paths({"ort": ort, "auto": auto}, one, max(20 * rounds, 60),
                           AUTO_TIMING_CALLS)
        ratios = [o / a for a, o in zip(times["auto"], times["ort"])]
        row["auto"] = {
            "pick": auto.candidate, "num_threads": auto.report[auto.candidate].get("num_threads"),
            "verified_on": auto.verification,
            "candidates": {k: {f: v.get(f) for f in ("verified", "latency_ms", "top1_agreement",
                                                     "num_threads", "latency_ms_by_threads",
                                                     "latency_ms_alone_by_threads", "error",
                                                     "skipped")}
                           for k, v in auto.report.items()},
            "batch1_ms": 1000 * statistics.median(times["auto"]),
            "onnxruntime_batch1_ms": 1000 * statistics.median(times["ort"]),
            "ratio_vs_onnxruntime": statistics.median(ratios),
            "ratio_range": [min(ratios), max(ratios)]}
        record("auto_pick", _in_chunks(auto, x))
        print(f"{tag}: Predictor(precision='auto') picks {auto.candidate} "
              f"({row['auto']['num_threads']} thread(s)): "
              f"{row['auto']['ratio_vs_onnxruntime']:.2f}x ONNX Runtime fp32 at batch 1",
              flush=True)
        rows.append(row)
        del model, auto, ort
        gc.collect()
    return rows


# ------------------------------------------------------------------ TFLite variants
def tflite_variants(model, x, y, rep, label, rounds, repeats):
    """Each TFLite variant of ``model`` (export.tflite, LiteRT): file size, batch-1
    latency against Keras (interleaved rounds) and top-1 agreement with Keras on ``x``
    (and accuracy where labels ``y`` are given)."""
    keras_p = Predictor(model, backend="keras", verify_images=x[:4])
    ref = _in_chunks(keras_p, x, 250)
    rows = []
    with tempfile.TemporaryDirectory(prefix="inference_backends-") as folder:
        for q in (None, "float16", "dynamic", "int8"):
            path = os.path.join(folder, f"{q or 'float32'}.tflite")
            report, check = tflite_file(model, path, q, rep if q == "int8" else None,
                                        x, y)
            run = LiteRTRunner(path)
            out = _in_chunks(run, x, 250)
            ts = time_paths({"lite": run, "keras": keras_p}, x[:1], rounds, repeats)
            row = {"model": label, "variant": q or "float32",
                   "size_kb": report["size_bytes"] / 1024,
                   "latency_ms": 1000 * statistics.median(ts["lite"]),
                   "keras_tf_function_ms": 1000 * statistics.median(ts["keras"]),
                   "speedup_vs_keras": statistics.median(
                       [k / t for t, k in zip(ts["lite"], ts["keras"])]),
                   "images": int(len(x)),
                   "top1_agreement": float(np.mean(out.argmax(1) == ref.argmax(1))),
                   "max_rel_error": rel_error(out, ref), **check}
            if y is not None:
                row["accuracy"] = float(np.mean(out.argmax(1) == y))
                row["keras_accuracy"] = float(np.mean(ref.argmax(1) == y))
            rows.append(row)
            print(f"{label} TFLite {row['variant']:8s} {row['size_kb']:9.0f} KiB "
                  f"{row['latency_ms']:8.2f} ms ({row['speedup_vs_keras']:.2f}x Keras) "
                  f"agreement {row['top1_agreement']:.4f}", flush=True)
    return rows


# ------------------------------------------------------------------ goals
def _vs_ort(row):
    """'1.52x (rounds 1.48–1.60)', or None without an ONNX Runtime reference."""
    if row.get("ratio_vs_onnxruntime") is None:
        return None
    lo, hi = row["ratio_range"]
    return f"{row['ratio_vs_onnxruntime']:.2f}x (rounds {lo:.2f}–{hi:.2f})"


def goals(result):
    """The issue's goals, each with the measured number and whether it is met (None:
    not measured in this run)."""
    out = []
    rows = {(r["model"], r["batch"], r["path"]): r for r in result["backends"]}
    auto = rows.get(("ResNet-50", 1, AUTO))
    goal = (f"Predictor(auto) >= {GOAL_AUTO_VS_ORT:.2f}x ONNX Runtime fp32, ResNet-50 batch 1, "
            "float32-exact (rtol 1e-4)")
    if auto and auto.get("ms") and _vs_ort(auto):
        exact = auto["max_rel_error"] <= FLOAT32_RTOL
        out.append({"goal": goal,
                    "measured": f"{_vs_ort(auto)}, picks {auto['backend']}, "
                                f"error {auto['max_rel_error']:.1e}",
                    "met": bool(auto["ratio_vs_onnxruntime"] >= GOAL_AUTO_VS_ORT and exact)})
    else:
        out.append({"goal": goal, "measured": "not run", "met": None})
    for r in result["backends"]:
        if r["path"] != BF16:
            continue
        ran = r.get("precision")
        goal = (f"OpenVINO bf16 >= {GOAL_BF16_VS_ORT:.1f}x ONNX Runtime fp32, "
                f"{r['model']} batch {r['batch']}")
        if not r.get("ms"):
            out.append({"goal": goal, "measured": f"not run ({r.get('error')})", "met": None})
            continue
        if not _vs_ort(r):
            out.append({"goal": goal, "measured": "no ONNX Runtime reference", "met": None})
            continue
        measured = (_vs_ort(r) + ("" if r.get("verified") else ", unverified")
                    + ("" if ran == "bf16" else f"; OpenVINO ran {ran}: no bf16 on this CPU"))
        out.append({"goal": goal, "measured": measured,
                    "met": bool(r["ratio_vs_onnxruntime"] >= GOAL_BF16_VS_ORT)
                    if ran == "bf16" else None})
    for r in result["fashion_mnist"]:
        bf16 = r.get("openvino_bf16", {})
        goal = f"bf16 top-1 agreement with Keras >= {GOAL_BF16_AGREEMENT:.1%}, {r['weights']}"
        if bf16.get("precision") != "bf16":
            out.append({"goal": goal, "measured": "not run: no bf16 on this CPU", "met": None})
        else:
            out.append({"goal": goal, "measured": f"{bf16['top1_agreement']:.2%} of "
                                                  f"{r['images']}",
                        "met": bool(bf16["top1_agreement"] >= GOAL_BF16_AGREEMENT)})
        agree = r["openvino_int8"]["top1_agreement"]
        out.append({"goal": f"OpenVINO int8 (NNCF) top-1 agreement with Keras >= "
                            f"{GOAL_OV_INT8_AGREEMENT:.0%}, {r['weights']}",
                    "measured": f"{agree:.2%} of {r['images']}",
                    "met": bool(agree >= GOAL_OV_INT8_AGREEMENT)})
        a = r["auto"]
        lo, hi = a["ratio_range"]
        out.append({"goal": f"Predictor(precision='auto', min_agreement=0.995) >= "
                            f"{GOAL_AUTO_ANY_VS_ORT:.0f}x ONNX Runtime fp32 at batch 1, "
                            f"{r['weights']}",
                    "measured": f"{a['ratio_vs_onnxruntime']:.2f}x (rounds {lo:.2f}–{hi:.2f}), "
                                f"picks {a['pick']} on {a['num_threads']} thread(s), "
                                f"agreement {r['auto_pick']['top1_agreement']:.2%} of "
                                f"{r['images']}",
                    "met": bool(a["ratio_vs_onnxruntime"] >= GOAL_AUTO_ANY_VS_ORT)})
    any50 = rows.get(("ResNet-50", 1, AUTO_ANY))
    goal = (f"Predictor(precision='auto') >= {GOAL_AUTO_ANY_VS_ORT:.0f}x ONNX Runtime fp32, "
            "ResNet-50 batch 1 (CPU with VNNI)")
    vnni = {"avx512_vnni", "amx_int8"} & set(result["machine"]["cpu_flags"])
    if any50 and any50.get("ms") and _vs_ort(any50) and vnni:
        out.append({"goal": goal, "measured": f"{_vs_ort(any50)}, picks {any50['backend']} "
                                              "(random weights: reduced precisions are "
                                              "verified by top-1 agreement on 16 images)",
                    "met": bool(any50["ratio_vs_onnxruntime"] >= GOAL_AUTO_ANY_VS_ORT)})
    else:
        out.append({"goal": goal, "measured": "not run" if vnni else
                    "not run (no VNNI on this CPU)", "met": None})
    return out


# ------------------------------------------------------------------ plot
COLOURS = {KERAS: "#999999", ORT: "#d62728", "OpenVINO fp32": "#1f77b4", BF16: "#9467bd",
           OV_INT8: "#17becf", "LiteRT fp32": "#2ca02c", "LiteRT int8": "#98df8a",
           AUTO: "#ff7f0e", AUTO_ANY: "#8c564b"}


def plot(result, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["backends"] if r.get("ms")]
    models = sorted({r["model"] for r in rows}, key=lambda m: int(m.split("-")[1]))
    batches = sorted({r["batch"] for r in rows})
    fig, axes = plt.subplots(len(models), len(batches), dpi=110, squeeze=False,
                             figsize=(4.2 * len(batches) + 2.2, 3.0 * len(models) + 0.8))
    for i, model in enumerate(models):
        first_names = None
        for j, batch in enumerate(batches):
            ax = axes[i][j]
            sel = {r["path"]: r for r in rows if r["model"] == model and r["batch"] == batch}
            names = [p for p in PATHS if p in sel]
            if not names:
                ax.set_axis_off()
                continue
            # the path on the axis (the same in every cell, so only the first column
            # names them), what auto picked beside its bar
            labels = [f"{n} (ran {sel[n]['precision']})"
                      if n == BF16 and sel[n].get("precision") != "bf16" else n for n in names]
            vals = [sel[n]["img_per_s"] for n in names]
            ax.barh(labels[::-1], vals[::-1], color=[COLOURS[n] for n in names[::-1]])
            for y, n in enumerate(names[::-1]):
                ratio = sel[n].get("ratio_vs_onnxruntime")
                pick = f" → {sel[n]['backend']}" if n in (AUTO, AUTO_ANY) else ""
                if ratio:
                    ax.text(sel[n]["img_per_s"], y, f" {ratio:.2f}x{pick}", va="center",
                            fontsize=7)
            if j > 0 and names == first_names:
                ax.set_yticklabels([])
            if j == 0:
                first_names = names
            ax.set_xlim(0, 1.9 * max(vals))
            ax.set_title(f"{model}, batch {batch}", fontsize=10)
            if i == len(models) - 1:
                ax.set_xlabel("images/s (median; label: vs ONNX Runtime)")
    peaks = result["peak"]
    bf16 = (f"{peaks['bf16_peak_gflops']:.0f}" if peaks.get("bf16_peak_gflops")
            else "not available")
    fig.suptitle(f"CPU inference on {result['machine']['cpu']} "
                 f"({result['machine']['cpu_count']} cores)\nfp32 peak "
                 f"{peaks['fp32_peak_gflops']:.0f} GFLOP/s, bf16 peak {bf16}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


# ------------------------------------------------------------------ main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depths", type=int, nargs="+", default=[18, 50, 101, 152])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=4,
                   help="calls per path per round at batch 1 (batch b: max(1, repeats // b))")
    p.add_argument("--rep-images", type=int, default=16,
                   help="int8 calibration images for the random-weight ResNets")
    p.add_argument("--test-images", type=int, default=10000,
                   help="Fashion-MNIST test images for the bf16 accuracy table")
    p.add_argument("--tflite-images", type=int, default=2000,
                   help="Fashion-MNIST test images for the TFLite variants table")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: ResNet-18, batch 1, 1 round, 2 calls, 500 test images, "
                        "no ResNet-50 TFLite variants, --out a new temp folder")
    p.add_argument("--out", default=None, help="folder for the JSON and the PNG "
                                               "(default docs/bench; --quick: a temp folder)")
    args = p.parse_args(argv)
    if args.quick:
        args.depths, args.batches, args.rounds, args.repeats = [18], [1], 1, 2
        args.rep_images, args.test_images, args.tflite_images = 4, 500, 500
    out = args.out or (tempfile.mkdtemp(prefix="inference_backends-quick-") if args.quick
                       else "docs/bench")
    # the last two phases read the full Fashion-MNIST: check for it before the long ones
    # (a run without it had ended in a FileNotFoundError after converting every depth)
    from keras_resnet.data import load_idx_dir

    try:
        load_idx_dir(FASHION_DIR)
    except FileNotFoundError as err:
        p.error(f"{err}. Install Debian's dataset-fashion-mnist first (`make data`)")
    started = time.time()

    import fma_peak

    peaks = fma_peak.measure(repeats=1 if args.quick else 5)
    print(fma_peak.summary(peaks), flush=True)
    phases = {"peaks": time.time() - started}
    result = {"schema": SCHEMA, "command": " ".join(["python", "bench/inference_backends.py",
                                                     *(argv if argv is not None
                                                       else sys.argv[1:])]),
              "quick": args.quick, "machine": machine_info(), "peak": peaks,
              "rounds": args.rounds, "repeats": args.repeats, "backends": [], "macs": {},
              "phase_seconds": phases}
    for depth in args.depths:
        t = time.time()
        # each depth in a fresh process: the runtimes' compiled models (several per
        # candidate: thread counts, static shapes) are not all returned to the OS, and
        # one process running every depth ran out of 24 GiB at ResNet-152
        with concurrent.futures.ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows, macs = pool.submit(bench_depth, depth, args.batches, args.rounds,
                                     args.repeats, peaks, args.rep_images).result()
        result["backends"] += rows
        result["macs"][f"ResNet-{depth}"] = macs
        phases[f"ResNet-{depth}"] = time.time() - t
    t = time.time()
    result["fashion_mnist"] = fashion_precisions(args.test_images, args.rounds)
    phases["fashion_mnist"] = time.time() - t
    t = time.time()
    (x_train, _), (x_test, y_test) = load_idx_dir(FASHION_DIR)
    small, preprocess = keras_resnet.load_pretrained("resnet20.fashion_mnist")
    lite = tflite_variants(small, preprocess(x_test[:args.tflite_images]),
                           np.asarray(y_test[:args.tflite_images]),
                           preprocess(x_train[:300]), "ResNet-20 (Fashion-MNIST)",
                           args.rounds, 20)
    if not args.quick:
        big = keras_resnet.build("resnet50", input_shape=(224, 224, 3),
                                 classifier_activation=None)
        _randomise_bn(big)
        rng = np.random.default_rng(0)
        lite += tflite_variants(big, rng.uniform(-2, 2, (8, 224, 224, 3)).astype("float32"),
                                None, rng.uniform(-2, 2, (16, 224, 224, 3)).astype("float32"),
                                "ResNet-50 (random weights)", max(3, args.rounds // 2), 3)
    result["tflite"] = lite
    phases["tflite_variants"] = time.time() - t
    result["goals"] = goals(result)
    result["seconds"] = time.time() - started
    print("\nGoals:")
    for g in result["goals"]:
        met = {True: "MET", False: "NOT MET", None: "NOT MEASURED"}[g["met"]]
        print(f"  [{met}] {g['goal']}: {g['measured']}")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "inference_backends.json"), "w") as f:
        json.dump(result, f, indent=2)
    plot(result, os.path.join(out, "inference_backends.png"))
    print("seconds per phase: " + ", ".join(f"{k} {v:.0f}" for k, v in phases.items()))
    print(f"wrote {out}/inference_backends.json and .png ({result['seconds']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
