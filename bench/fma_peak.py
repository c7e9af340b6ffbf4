"""The machine's float32 peak, measured two ways.

* FMA probe: a tiny C loop (compiled here with the system's C compiler) keeping
  ``ACC`` independent vector accumulators busy with fused multiply-adds, one copy per
  thread; 2 FLOPs per multiply-add per lane. AVX-512 if the CPU has it, else AVX2.
* GEMM: a large float32 matrix product (TensorFlow/oneDNN and NumPy/BLAS), the best
  a real kernel gets.

    python bench/fma_peak.py [--threads 1 2]

Prints GFLOP/s; ``measure()`` is used by bench/inference_backends.py.
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

C_SOURCE = r"""
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
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
enum { ACC = 12 };
static long iters;
static volatile float sink;

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

int main(int argc, char **argv) {
    int threads = atoi(argv[1]);
    iters = atol(argv[2]);
    pthread_t t[64];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], 0, work, 0);
    for (int i = 0; i < threads; i++) pthread_join(t[i], 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    printf("%d %.6f\n", LANES, 2.0 * LANES * ACC * (double)iters * threads / s / 1e9);
    return 0;
}
"""


def fma_probe(threads, iters=100_000_000, repeats=5):
    """(GFLOP/s, lanes) of the best of ``repeats`` runs, or (None, reason)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None, "no C compiler"
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "fma.c"), os.path.join(d, "fma")
        with open(src, "w") as f:
            f.write(C_SOURCE)
        done = subprocess.run([cc, "-O3", "-funroll-loops", "-march=native", "-pthread", src,
                               "-o", exe],
                              capture_output=True, text=True)
        if done.returncode:
            return None, done.stderr.strip()[:300]
        best, lanes = 0.0, None
        for _ in range(repeats):
            out = subprocess.run([exe, str(threads), str(iters)], capture_output=True,
                                 text=True, check=True).stdout.split()
            lanes, best = int(out[0]), max(best, float(out[1]))
        return best, lanes


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


def measure(threads=None):
    threads = threads or [1, os.cpu_count()]
    result = {"fma_probe": {}, "gemm_2048": gemm_peak()}
    for t in sorted(set(threads)):
        gflops, lanes = fma_probe(t)
        result["fma_probe"][str(t)] = gflops
        result["fma_lanes"] = lanes
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=None)
    print(json.dumps(measure(p.parse_args().threads), indent=2))
