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
static int pf_rows = 24; /* weight rows (32 floats each) prefetched ahead of use */

#if !defined(__AVX512F__)
#error "keras_resnet's native kernel needs AVX-512 (this CPU or compiler lacks it)"
#endif

/* acc[r] += sum over segments and k of A row r times the weight row, for n rows; n is a
   compile-time constant in every instantiation below, so the row loop unrolls and the
   accumulators stay in registers (a runtime bound would spill them to the stack). */
static inline __attribute__((always_inline)) void kernel_n(
        const float* A, int lda, const int* seg_off, int nseg, int kseg, const float* Bp,
        __m512 acc[MR][2], const int n) {
    for (int r = 0; r < MR; r++) {
        acc[r][0] = _mm512_setzero_ps();
        acc[r][1] = _mm512_setzero_ps();
    }
    const long pf = pf_rows;
    for (int s = 0; s < nseg; s++) {
        const float* a = A + (long)seg_off[s] * lda;
        for (int k = 0; k < kseg; k++) {
            __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
            _mm_prefetch((const char*)(Bp + pf * NR), _MM_HINT_T0);
            _mm_prefetch((const char*)(Bp + pf * NR + 16), _MM_HINT_T0);
            Bp += NR;
#pragma GCC unroll 14
            for (int r = 0; r < n; r++) {
                __m512 av = _mm512_set1_ps(a[(long)r * lda + k]);
                acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
            }
        }
    }
}

static inline void kernel(const float* A, int lda, const int* seg_off, int nseg, int kseg,
                          const float* Bp, __m512 acc[MR][2], int mr) {
#define ROWS(n) case n: kernel_n(A, lda, seg_off, nseg, kseg, Bp, acc, n); break;
    switch (mr) {
        ROWS(14) ROWS(13) ROWS(12) ROWS(11) ROWS(10) ROWS(9) ROWS(8)
        ROWS(7) ROWS(6) ROWS(5) ROWS(4) ROWS(3) ROWS(2) ROWS(1)
    }
#undef ROWS
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

/* ---- Winograd F(2x2, 3x3) for 3x3 stride-1 "same" convolutions ----------------
 * Y = A^T [ (G g G^T) . (B^T d B) ] A over 4x4 input tiles d with stride 2: the
 * sixteen elementwise products become sixteen matrix products V[xi] (tiles x Cin)
 * @ U[xi] (Cin x Cout), 2.25x fewer multiplies than the direct convolution. */

/* V[xi][t][c] = (B^T d_t B)[xi] for every 4x4 tile d_t (rows 2*ty-1.., cols 2*tx-1..),
   pixels outside the h x w image read as zeros. */
void wino_input(const float* in, int h, int w, int vw, int off, int cp, float* V,
                int th, int tw) {
    long T = (long)th * tw;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < T; t++) {
        int y0 = 2 * (int)(t / tw) - 1, x0 = 2 * (int)(t % tw) - 1;
        for (int c = 0; c < cp; c += 16) {
            __m512 d[4][4], r[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    int y = y0 + i, x = x0 + j;
                    d[i][j] = (y >= 0 && y < h && x >= 0 && x < w)
                        ? _mm512_loadu_ps(in + (long)(y * vw + x + off) * cp + c)
                        : _mm512_setzero_ps();
                }
            for (int j = 0; j < 4; j++) {
                r[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
                r[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
                r[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
                r[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
            }
            for (int i = 0; i < 4; i++) {
                __m512 v[4];
                v[0] = _mm512_sub_ps(r[i][0], r[i][2]);
                v[1] = _mm512_add_ps(r[i][1], r[i][2]);
                v[2] = _mm512_sub_ps(r[i][2], r[i][1]);
                v[3] = _mm512_sub_ps(r[i][1], r[i][3]);
                for (int j = 0; j < 4; j++)
                    _mm512_storeu_ps(V + ((i * 4 + j) * T + t) * cp + c, v[j]);
            }
        }
    }
}

/* C[b] = A[b] @ W[b] for b < batch (W packed in panels like conv_gemm's). */
void batched_gemm(const float* A, long sa, const float* Bp, long sb, const float* zeros,
                  float* C, long sc, int batch, int lda, int K, int M, int N) {
    int npanel = N / NR, ntile = (M + MR - 1) / MR;
    static const int off0 = 0;
#pragma omp parallel for schedule(static) collapse(3)
    for (int b = 0; b < batch; b++)
        for (int p = 0; p < npanel; p++)
            for (int t = 0; t < ntile; t++)
                tile(A + b * sa, lda, &off0, 1, K, Bp + b * sb, zeros, 0, C + b * sc, N, M, 0,
                     M, M, 0, 0, p, t);
}

/* out(2*ty + a, 2*tx + b) = act((A^T M_t A)[a][b] + bias (+ R)), written through the
   destination layout (row y * dwp + x + doff, ldc floats wide). */
void wino_output(const float* Mx, int th, int tw, int n, const float* bias, const float* R,
                 float* out, int h, int w, int dwp, int doff, int ldc, int relu) {
    long T = (long)th * tw;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < T; t++) {
        int y0 = 2 * (int)(t / tw), x0 = 2 * (int)(t % tw);
        for (int c = 0; c < n; c += 16) {
            __m512 m[4][4], s[2][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    m[i][j] = _mm512_loadu_ps(Mx + ((i * 4 + j) * T + t) * n + c);
            for (int j = 0; j < 4; j++) {
                s[0][j] = _mm512_add_ps(_mm512_add_ps(m[0][j], m[1][j]), m[2][j]);
                s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m[1][j], m[2][j]), m[3][j]);
            }
            __m512 b = _mm512_loadu_ps(bias + c), z = _mm512_setzero_ps();
            for (int a = 0; a < 2; a++) {
                __m512 y[2];
                y[0] = _mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]);
                y[1] = _mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]);
                for (int bb = 0; bb < 2; bb++) {
                    int yy = y0 + a, xx = x0 + bb;
                    if (yy >= h || xx >= w) continue;
                    long d = (long)(yy * dwp + xx + doff) * ldc + c;
                    __m512 v = _mm512_add_ps(y[bb], b);
                    if (R) v = _mm512_add_ps(v, _mm512_loadu_ps(R + d));
                    if (relu) v = _mm512_max_ps(v, z);
                    _mm512_storeu_ps(out + d, v);
                }
            }
        }
    }
}

void set_threads(int n) { omp_set_num_threads(n); }
void set_prefetch_rows(int n) { pf_rows = n; }
int kernel_version(void) { return 1; }
