/* keras_resnet native inference kernel (see keras_resnet/native.py).
 *
 * One routine, `conv_gemm`, computes a convolution as a matrix product whose rows are
 * output pixels and whose reduction runs over "segments" (one per kernel tap) of
 * input channels:
 *
 *     C[dest(m)][n] = act( sum_s sum_k A[(m + seg_off[s]) * lda + k] * W[s][k][n]
 *                          + bias[n] (+ R[dest(m)][n]) )
 *
 * for virtual output rows m = y * vw + x (x >= w are padding columns and are not
 * stored), dest(m) = y * dwp + x + doff. A 1x1 convolution is one segment; a 3x3
 * stride-1 convolution over a zero-bordered input is nine segments whose offsets are
 * the taps' displacements in the flattened input. W is packed in panels of 32 output
 * channels (panel p: all segments' rows, 32 floats each), so the inner loop streams it.
 *
 * Register tile: 14 output pixels x 32 channels = 28 AVX-512 accumulators. Threads:
 * OpenMP over (tile, panel) pairs; panels outermost when the weights are the larger
 * operand (late, small-spatial layers), tiles outermost otherwise.
 *
 * fp32 throughout; compiled on the machine that runs it (-march=native), AVX-512 only.
 */
#include <immintrin.h>
#include <omp.h>

#define MR 14
#define NR 32
#define PF 24 /* weight rows prefetched ahead */

#if !defined(__AVX512F__)
#error "keras_resnet's native kernel needs AVX-512 (this CPU or compiler lacks it)"
#endif

static inline void kernel(const float* A, int lda, const int* seg_off, int nseg, int kseg,
                          const float* Bp, __m512 acc[MR][2], int mr) {
    for (int r = 0; r < MR; r++) {
        acc[r][0] = _mm512_setzero_ps();
        acc[r][1] = _mm512_setzero_ps();
    }
    if (mr == MR) {
        for (int s = 0; s < nseg; s++) {
            const float* a = A + (long)seg_off[s] * lda;
            for (int k = 0; k < kseg; k++) {
                __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
                _mm_prefetch((const char*)(Bp + PF * NR), _MM_HINT_T0);
                _mm_prefetch((const char*)(Bp + PF * NR + 16), _MM_HINT_T0);
                Bp += NR;
#pragma GCC unroll 14
                for (int r = 0; r < MR; r++) {
                    __m512 av = _mm512_set1_ps(a[(long)r * lda + k]);
                    acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
                }
            }
        }
    } else {
        for (int s = 0; s < nseg; s++) {
            const float* a = A + (long)seg_off[s] * lda;
            for (int k = 0; k < kseg; k++) {
                __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
                Bp += NR;
                for (int r = 0; r < mr; r++) {
                    __m512 av = _mm512_set1_ps(a[(long)r * lda + k]);
                    acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
                }
            }
        }
    }
}

static inline void tile(const float* A, int lda, const int* seg_off, int nseg, int kseg,
                        const float* Bp, const float* bias, const float* R, float* C,
                        int ldc, int M, int relu, int vw, int w, int dwp, int doff,
                        int p, int t) {
    __m512 acc[MR][2];
    int m0 = t * MR, mr = M - m0 < MR ? M - m0 : MR;
    kernel(A + (long)m0 * lda, lda, seg_off, nseg, kseg, Bp + (long)p * nseg * kseg * NR,
           acc, mr);
    __m512 bb0 = _mm512_loadu_ps(bias + p * NR), bb1 = _mm512_loadu_ps(bias + p * NR + 16);
    __m512 z = _mm512_setzero_ps();
    for (int r = 0; r < mr; r++) {
        int m = m0 + r, y = m / vw, x = m - y * vw;
        if (x >= w) continue;
        long d = (long)(y * dwp + x + doff) * ldc + p * NR;
        __m512 v0 = _mm512_add_ps(acc[r][0], bb0), v1 = _mm512_add_ps(acc[r][1], bb1);
        if (R) {
            v0 = _mm512_add_ps(v0, _mm512_loadu_ps(R + d));
            v1 = _mm512_add_ps(v1, _mm512_loadu_ps(R + d + 16));
        }
        if (relu) {
            v0 = _mm512_max_ps(v0, z);
            v1 = _mm512_max_ps(v1, z);
        }
        _mm512_storeu_ps(C + d, v0);
        _mm512_storeu_ps(C + d + 16, v1);
    }
}

void conv_gemm(const float* A, int lda, const int* seg_off, int nseg, int kseg,
               const float* Bp, const float* bias, const float* R, float* C, int ldc,
               int M, int N, int relu, int vw, int w, int dwp, int doff) {
    int npanel = N / NR, ntile = (M + MR - 1) / MR;
    if (N > M) {
#pragma omp parallel for schedule(static) collapse(2)
        for (int p = 0; p < npanel; p++)
            for (int t = 0; t < ntile; t++)
                tile(A, lda, seg_off, nseg, kseg, Bp, bias, R, C, ldc, M, relu, vw, w, dwp,
                     doff, p, t);
    } else {
#pragma omp parallel for schedule(static) collapse(2)
        for (int t = 0; t < ntile; t++)
            for (int p = 0; p < npanel; p++)
                tile(A, lda, seg_off, nseg, kseg, Bp, bias, R, C, ldc, M, relu, vw, w, dwp,
                     doff, p, t);
    }
}

/* Layout of an activation buffer: pixel (y, x) is row y * vw + x + off, cp floats wide. */

/* out(y, x) = max over the ph x pw window at (y*sh, x*sw) of the input (valid padding). */
void max_pool(const float* in, int in_vw, int in_off, float* out, int out_h, int out_w,
              int out_vw, int out_off, int cp, int ph, int pw, int sh, int sw) {
#pragma omp parallel for schedule(static)
    for (int y = 0; y < out_h; y++)
        for (int x = 0; x < out_w; x++) {
            float* o = out + (long)(y * out_vw + x + out_off) * cp;
            for (int c = 0; c < cp; c += 16) {
                __m512 m = _mm512_set1_ps(-__builtin_inff());
                for (int i = 0; i < ph; i++)
                    for (int j = 0; j < pw; j++)
                        m = _mm512_max_ps(m, _mm512_loadu_ps(
                            in + (long)((y * sh + i) * in_vw + x * sw + j + in_off) * cp + c));
                _mm512_storeu_ps(o + c, m);
            }
        }
}

/* out[c] = mean of channel c over the h x w valid pixels. */
void global_avg_pool(const float* in, int h, int w, int vw, int off, int cp, float* out) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < cp; c += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                acc = _mm512_add_ps(acc, _mm512_loadu_ps(in + (long)(y * vw + x + off) * cp + c));
        _mm512_storeu_ps(out + c, _mm512_mul_ps(acc, _mm512_set1_ps(1.0f / (h * w))));
    }
}

/* Space-to-depth: out[(y * ws + x)][(i * sw + j) * c + k] = in(y*sh + i, x*sw + j)[k]
   for y < hs, x < ws; pixels past the input's h x w are zeros. */
void space_to_depth(const float* in, int h, int w, int vw, int off, int c, int sh, int sw,
                    float* out, int hs, int ws) {
#pragma omp parallel for schedule(static)
    for (int y = 0; y < hs; y++)
        for (int x = 0; x < ws; x++) {
            float* o = out + (long)(y * ws + x) * sh * sw * c;
            for (int i = 0; i < sh; i++)
                for (int j = 0; j < sw; j++) {
                    int yy = y * sh + i, xx = x * sw + j;
                    float* d = o + (i * sw + j) * c;
                    if (yy < h && xx < w) {
                        const float* src = in + (long)(yy * vw + xx + off) * c;
                        for (int k = 0; k < c; k++) d[k] = src[k];
                    } else {
                        for (int k = 0; k < c; k++) d[k] = 0.0f;
                    }
                }
        }
}

/* Strided subsample: out(y, x) = in(y*sh, x*sw), out plain (out_h x out_w). */
void subsample(const float* in, int vw, int off, int cp, int sh, int sw, float* out,
               int out_h, int out_w) {
#pragma omp parallel for schedule(static)
    for (int y = 0; y < out_h; y++)
        for (int x = 0; x < out_w; x++) {
            const float* src = in + (long)(y * sh * vw + x * sw + off) * cp;
            float* d = out + (long)(y * out_w + x) * cp;
            for (int c = 0; c < cp; c += 16) _mm512_storeu_ps(d + c, _mm512_loadu_ps(src + c));
        }
}

void set_threads(int n) { omp_set_num_threads(n); }
int kernel_version(void) { return 1; }
