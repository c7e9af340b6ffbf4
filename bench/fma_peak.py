"""The machine's float32 and bfloat16 peaks, measured, not taken from a datasheet.

* FMA probe (float32): a tiny C loop (compiled here with the system's C compiler)
  keeping ``ACC`` independent vector accumulators busy with fused multiply-adds, one
  copy per thread; 2 FLOPs per multiply-add per lane. AVX-512 if the CPU has it, else
  AVX2.
* bf16 probe: the same kind of loop around ``vdpbf16ps`` (AVX512_BF16: each 32-bit
  lane adds two bf16 x bf16 products to a float32 accumulator, so 2 multiply-adds = 4
  FLOPs per lane per instruction), with 512-bit and with 256-bit vectors. Only built
  where ``/proc/cpuinfo`` lists ``avx512_bf16``; elsewhere reported "not available".
  Some CPUs (AMD Zen 4) run a 512-bit instruction as two 256-bit halves, so the two
  widths are both timed and the better one is the peak.
* GEMM: a large float32 matrix product (TensorFlow/oneDNN and NumPy/BLAS), the best
  a real kernel gets.

    python bench/fma_peak.py [--threads 1 2]

Prints GFLOP/s (JSON, then a two-line summary); ``measure()`` is used by
bench/inference_backends.py.
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

INCLUDES = r"""
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
"""

# The driver: ``probe THREADS ITERS`` runs ``work`` on THREADS threads and prints
# "LANES GFLOP/s"; each probe defines LANES, ACC, FLOPS_PER_LANE and ``work`` around it.
MAIN = r"""
static long iters;
static volatile float sink;
static void *work(void *arg);

int main(int argc, char **argv) {
    int threads = atoi(argv[1]);
    iters = atol(argv[2]);
    pthread_t t[256];
    struct timespec t0, t1;
    if (threads < 1 || threads > 256) return 2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], 0, work, 0);
    for (int i = 0; i < threads; i++) pthread_join(t[i], 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    printf("%d %.6f\n", LANES, (double)FLOPS_PER_LANE * LANES * ACC * (double)iters * threads
                               / s / 1e9);
    return 0;
}
"""

# float32: one fused multiply-add (2 FLOPs) per lane per instruction.
FMA_SOURCE = INCLUDES + r"""
#if defined(__AVX512F__)
typedef __m512 vec; enum { LANES = 16 };
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
static float first(vec v) { return _mm512_cvtss_f32(v); }
#else
typedef __m256 vec; enum { LANES = 8 };
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
static float first(vec v) { return _mm256_cvtss_f32(v); }
#endif
enum { ACC = 12, FLOPS_PER_LANE = 2 };
""" + MAIN + r"""
static void *work(void *arg) {
    vec a[ACC], m = SET1(0.9999f), c = SET1(1e-4f);
    for (int k = 0; k < ACC; k++) a[k] = SET1((float)k);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < ACC; k++) a[k] = FMA(a[k], m, c);
    vec s = a[0];
    for (int k = 1; k < ACC; k++) s = ADD(s, a[k]);
    sink = first(s);
    return arg;
}
"""

# bfloat16: vdpbf16ps adds a[2i]*b[2i] + a[2i+1]*b[2i+1] (bf16 inputs) to float32 lane
# i: 2 multiply-adds = 4 FLOPs per 32-bit lane per instruction. WIDTH is 512 or 256.
BF16_SOURCE = INCLUDES + r"""
#if WIDTH == 512
typedef __m512 vec; typedef __m512bh bvec; enum { LANES = 16 };
#define SET1 _mm512_set1_ps
#define DP _mm512_dpbf16_ps
#define TO_BF16 _mm512_cvtne2ps_pbh
#define ADD _mm512_add_ps
static float first(vec v) { return _mm512_cvtss_f32(v); }
#else
typedef __m256 vec; typedef __m256bh bvec; enum { LANES = 8 };
#define SET1 _mm256_set1_ps
#define DP _mm256_dpbf16_ps
#define TO_BF16 _mm256_cvtne2ps_pbh
#define ADD _mm256_add_ps
static float first(vec v) { return _mm256_cvtss_f32(v); }
#endif
enum { ACC = 16, FLOPS_PER_LANE = 4 };
""" + MAIN + r"""
static void *work(void *arg) {
    vec a[ACC];
    bvec x = TO_BF16(SET1(1e-3f), SET1(2e-3f)), y = TO_BF16(SET1(0.5f), SET1(0.25f));
    for (int k = 0; k < ACC; k++) a[k] = SET1((float)k);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < ACC; k++) a[k] = DP(a[k], x, y);
    vec s = a[0];
    for (int k = 1; k < ACC; k++) s = ADD(s, a[k]);
    sink = first(s);
    return arg;
}
"""


def cpu_flags():
    """The CPU feature flags of /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _compile_and_run(source, flags, threads, iters, repeats):
    """(best GFLOP/s, lanes) over ``repeats`` runs of the compiled probe, or
    (None, reason)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None, "no C compiler"
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "probe.c"), os.path.join(d, "probe")
        with open(src, "w") as f:
            f.write(source)
        done = subprocess.run([cc, "-O3", "-funroll-loops", *flags, "-pthread", src,
                               "-o", exe], capture_output=True, text=True)
        if done.returncode:
            return None, "compile failed: " + done.stderr.strip()[:300]
        best, lanes = 0.0, None
        for _ in range(repeats):
            out = subprocess.run([exe, str(threads), str(iters)], capture_output=True,
                                 text=True, check=True).stdout.split()
            lanes, best = int(out[0]), max(best, float(out[1]))
        return best, lanes


def fma_probe(threads, iters=100_000_000, repeats=5):
    """(GFLOP/s, lanes) of the float32 FMA loop, best of ``repeats``, or (None, reason)."""
    return _compile_and_run(FMA_SOURCE, ["-march=native"], threads, iters, repeats)


def bf16_probe(threads, width=512, iters=50_000_000, repeats=5):
    """(GFLOP/s, lanes) of the ``vdpbf16ps`` loop at ``width`` bits (512 or 256), best of
    ``repeats``, or (None, reason) where the CPU lacks AVX512_BF16."""
    if "avx512_bf16" not in cpu_flags():
        return None, "not available: the CPU has no avx512_bf16 (/proc/cpuinfo)"
    flags = ["-mavx512f", "-mavx512vl", "-mavx512bf16", f"-DWIDTH={width}"]
    return _compile_and_run(BF16_SOURCE, flags, threads, iters, repeats)


def gemm_peak(n=2048, repeats=5):
    """Best GFLOP/s of an n x n float32 matrix product, per library."""
    import numpy as np

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    a = np.random.default_rng(0).standard_normal((n, n)).astype("float32")
    b = np.random.default_rng(1).standard_normal((n, n)).astype("float32")
    ta, tb = tf.constant(a), tf.constant(b)
    mm = tf.function(lambda x, y: tf.matmul(x, y))
    results = {}
    for name, fn in (("tensorflow", lambda: mm(ta, tb).numpy()), ("numpy", lambda: a @ b)):
        fn()
        best = min(_time(fn) for _ in range(repeats))
        results[name] = 2 * n ** 3 / best / 1e9
    return results


def _time(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(threads=None, repeats=5):
    """Both peaks and the GEMMs. Keys: ``fma_probe`` / ``bf16_probe`` (GFLOP/s by thread
    count; bf16 by vector width, then thread count), ``fp32_peak_gflops`` /
    ``bf16_peak_gflops`` (the best of each; bf16 None where not available, with
    ``bf16_note`` saying why), ``gemm_2048``, ``cpu_avx512_bf16``."""
    threads = sorted(set(threads or [1, os.cpu_count() or 1]))
    result = {"fma_probe": {}, "gemm_2048": gemm_peak(repeats=repeats)}
    for t in threads:
        gflops, lanes = fma_probe(t, repeats=repeats)
        result["fma_probe"][str(t)] = gflops
        result["fma_lanes"] = lanes
        if gflops is None:
            result["fma_note"] = lanes
    fp32 = [v for v in result["fma_probe"].values() if v]
    result["fp32_peak_gflops"] = max(fp32) if fp32 else None
    result["cpu_avx512_bf16"] = "avx512_bf16" in cpu_flags()
    result["bf16_probe"] = {}
    notes = []
    for width in (512, 256):
        per_width = result["bf16_probe"][str(width)] = {}
        for t in threads:
            gflops, lanes = bf16_probe(t, width, repeats=repeats)
            per_width[str(t)] = gflops
            if gflops is None and lanes not in notes:
                notes.append(lanes)
    bf16 = [v for w in result["bf16_probe"].values() for v in w.values() if v]
    result["bf16_peak_gflops"] = max(bf16) if bf16 else None
    if notes:
        result["bf16_note"] = "; ".join(notes)
    return result


def summary(result):
    """Two lines: the float32 and the bf16 peak."""
    fp32 = result["fp32_peak_gflops"]
    lines = [f"float32 FMA peak: {fp32:.0f} GFLOP/s (by threads: "
             + ", ".join(f"{t}: {v:.0f}" for t, v in result["fma_probe"].items() if v) + ")"
             if fp32 else f"float32 FMA peak: not measured ({result.get('fma_note')})"]
    bf16 = result["bf16_peak_gflops"]
    if bf16:
        per = "; ".join(f"{w}-bit " + ", ".join(f"{t} threads {v:.0f}" for t, v in d.items()
                                                if v)
                        for w, d in result["bf16_probe"].items())
        ratio = f"; {bf16 / fp32:.2f}x the float32 peak" if fp32 else ""
        lines.append(f"bf16 vdpbf16ps peak: {bf16:.0f} GFLOP/s ({per}){ratio}")
    else:
        lines.append(f"bf16 peak: {result.get('bf16_note', 'not available')}")
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=None)
    r = measure(p.parse_args().threads)
    print(json.dumps(r, indent=2))
    print(summary(r))
