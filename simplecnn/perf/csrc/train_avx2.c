/* Weight and bias gradients of a 3x3, stride-1, pad-1 convolution on channels_last (NHWC) fp32 tensors, AVX2+FMA.

   dw[k][kh][kw][c] = sum over n,h,w of x[n][h+kh-1][w+kw-1][c] * dy[n][h][w][k]   (out-of-image x taken as 0)
   db[k]            = sum over n,h,w of dy[n][h][w][k]

   Why this exists: on AVX2-only CPUs oneDNN 3.12 computes this with its older jit:avx2 kernel, and it is a large
   share of a SimpleCNN training step; this one does the same sums faster (docs/performance.md has the figures).
   It is a small GEMM per kernel offset: a register tile of 3 input channels x 32 output channels
   (12 accumulators) streams over the output pixels of a few rows of one image, so the rows it reads stay in L1.

   Threads: the images are split across an OpenMP team, each thread summing into its own slice of `scratch`
   (threads x (9*C*K + K) floats); the slices are then added in thread order, so a result depends only on N and
   the thread count. Built with -fopenmp and loaded after torch, it shares torch's libgomp (same soname) and so
   its thread pool, instead of a second pool competing for the same cores. */
#include <immintrin.h>
#include <omp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 4  /* output rows per block: 4 rows of 28 pixels x 128 B (and the 6 input rows) fit in L1 */
#define KTILE 32

#define LOAD_ACC(i)                                                        \
    __m256 a##i##0 = _mm256_loadu_ps(acc + (size_t)(c0 + i) * K + k0);      \
    __m256 a##i##1 = _mm256_loadu_ps(acc + (size_t)(c0 + i) * K + k0 + 8);  \
    __m256 a##i##2 = _mm256_loadu_ps(acc + (size_t)(c0 + i) * K + k0 + 16); \
    __m256 a##i##3 = _mm256_loadu_ps(acc + (size_t)(c0 + i) * K + k0 + 24);
#define FMA_ACC(i)                                       \
    {                                                    \
        const __m256 b = _mm256_broadcast_ss(xp + i);    \
        a##i##0 = _mm256_fmadd_ps(b, y0, a##i##0);       \
        a##i##1 = _mm256_fmadd_ps(b, y1, a##i##1);       \
        a##i##2 = _mm256_fmadd_ps(b, y2, a##i##2);       \
        a##i##3 = _mm256_fmadd_ps(b, y3, a##i##3);       \
    }
#define STORE_ACC(i)                                                \
    _mm256_storeu_ps(acc + (size_t)(c0 + i) * K + k0, a##i##0);      \
    _mm256_storeu_ps(acc + (size_t)(c0 + i) * K + k0 + 8, a##i##1);  \
    _mm256_storeu_ps(acc + (size_t)(c0 + i) * K + k0 + 16, a##i##2); \
    _mm256_storeu_ps(acc + (size_t)(c0 + i) * K + k0 + 24, a##i##3);

/* The pixels of output rows [hb, he) of image n whose input pixel at offset (kh, kw) lies inside the image. */
#define PIXEL_LOOP(BODY)                                                                   \
    const int w_lo = kw == 0 ? 1 : 0, w_hi = kw == 2 ? W - 1 : W;                          \
    for (int h = hb; h < he; h++) {                                                        \
        const int hi = h + kh - 1;                                                         \
        if (hi < 0 || hi >= H) continue;                                                   \
        const float* yp = dy + ((size_t)h * W + w_lo) * K + k0;                            \
        const float* xp = x + ((size_t)hi * W + w_lo + kw - 1) * C + c0;                   \
        for (int w = w_lo; w < w_hi; w++, yp += K, xp += C) {                              \
            const __m256 y0 = _mm256_loadu_ps(yp), y1 = _mm256_loadu_ps(yp + 8);           \
            const __m256 y2 = _mm256_loadu_ps(yp + 16), y3 = _mm256_loadu_ps(yp + 24);     \
            BODY                                                                           \
        }                                                                                  \
    }

#define TILE_ARGS                                                                                  \
    const float *restrict x, const float *restrict dy, float *restrict acc, int H, int W, int C, int K, int hb, \
        int he, int kh, int kw, int c0, int k0

/* Explicit accumulator variables (not an array): gcc kept an array's accumulators on the stack. */
static void tile3(TILE_ARGS) {
    LOAD_ACC(0) LOAD_ACC(1) LOAD_ACC(2)
    PIXEL_LOOP(FMA_ACC(0) FMA_ACC(1) FMA_ACC(2))
    STORE_ACC(0) STORE_ACC(1) STORE_ACC(2)
}

static void tile2(TILE_ARGS) {
    LOAD_ACC(0) LOAD_ACC(1)
    PIXEL_LOOP(FMA_ACC(0) FMA_ACC(1))
    STORE_ACC(0) STORE_ACC(1)
}

static void tile1(TILE_ARGS) {
    LOAD_ACC(0)
    PIXEL_LOOP(FMA_ACC(0))
    STORE_ACC(0)
}

/* Adds one image's contribution (x: H*W*C, dy: H*W*K) to acc (9*C*K, offset-major then [c][k]) and bias (K). */
static void add_image(const float* x, const float* dy, float* acc, float* bias, int H, int W, int C, int K) {
    for (int hb = 0; hb < H; hb += ROWS) {
        const int he = hb + ROWS < H ? hb + ROWS : H;
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++) {
                float* a = acc + (size_t)(kh * 3 + kw) * C * K;
                for (int k0 = 0; k0 < K; k0 += KTILE) {
                    int c0 = 0;
                    for (; c0 + 3 <= C; c0 += 3) tile3(x, dy, a, H, W, C, K, hb, he, kh, kw, c0, k0);
                    if (C - c0 == 2)
                        tile2(x, dy, a, H, W, C, K, hb, he, kh, kw, c0, k0);
                    else if (C - c0 == 1)
                        tile1(x, dy, a, H, W, C, K, hb, he, kh, kw, c0, k0);
                }
            }
    }
    for (int p = 0; p < H * W; p++, dy += K)
        for (int k = 0; k < K; k++) bias[k] += dy[k];
}

/* out = dy where y > 0, else 0: a ReLU's backward, for one image, into a buffer that stays in cache. */
static void relu_mask(const float* dy, const float* y, float* out, size_t count) {
    const __m256 zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ);
        _mm256_storeu_ps(out + i, _mm256_and_ps(_mm256_loadu_ps(dy + i), keep));
    }
    for (; i < count; i++) out[i] = y[i] > 0.f ? dy[i] : 0.f;
}

/* relu_out: NULL, or the output of a ReLU applied to this convolution's output (NHWC, like dy); then dy is the
   gradient after that ReLU and the kernel applies its backward itself, image by image, instead of a separate
   pass over the whole batch (for conv1, whose input needs no gradient, nothing else needs the masked tensor).
   Returns 0 on success, 1 for shapes it does not handle (K not a multiple of 32, no threads), 2 out of memory. */
int simplecnn_wgrad_nhwc3x3(const float* x, const float* dy, const float* relu_out, float* dw, float* db,
                            float* scratch, int N, int H, int W, int C, int K, int threads) {
    if (K % KTILE != 0 || threads < 1 || C < 1 || H < 1 || W < 1 || N < 1) return 1;
    const size_t slice = (size_t)9 * C * K + K, image_x = (size_t)H * W * C, image_y = (size_t)H * W * K;
    int used = 1; /* the team may be smaller than asked: only its slices were zeroed and filled */
    int failed = 0;
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        if (t == 0) used = nt;
        float* acc = scratch + (size_t)t * slice;
        memset(acc, 0, slice * sizeof(float));
        float* masked = relu_out ? malloc(image_y * sizeof(float)) : NULL;
        if (relu_out && !masked) {
#pragma omp atomic write
            failed = 1;
        } else {
            const int n0 = (int)((long)N * t / nt), n1 = (int)((long)N * (t + 1) / nt);
            for (int n = n0; n < n1; n++) {
                const float* g = dy + (size_t)n * image_y;
                if (masked) {
                    relu_mask(g, relu_out + (size_t)n * image_y, masked, image_y);
                    g = masked;
                }
                add_image(x + (size_t)n * image_x, g, acc, acc + (size_t)9 * C * K, H, W, C, K);
            }
        }
        free(masked);
    }
    if (failed) return 2;
    for (int k = 0; k < K; k++)
        for (int s = 0; s < 9; s++)
            for (int c = 0; c < C; c++) {
                float v = 0.f;
                for (int t = 0; t < used; t++) v += scratch[(size_t)t * slice + ((size_t)s * C + c) * K + k];
                dw[((size_t)k * 9 + s) * C + c] = v;
            }
    for (int k = 0; k < K; k++) {
        float v = 0.f;
        for (int t = 0; t < used; t++) v += scratch[(size_t)t * slice + (size_t)9 * C * K + k];
        db[k] = v;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------------------------
   2x2 max-pool (stride 2), then ReLU, then dropout, on channels_last fp32 — forward and backward in one pass each.

   Why: PyTorch runs each of SimpleCNN's pool → ReLU → dropout chains as seven separate passes
   (max-pool with int64 indices, a zero-fill and a scatter for its backward, ReLU and its backward, the dropout
   mask and its multiplies). Here the forward writes the output and one byte per output element: which of the
   four window positions gets the gradient (0-3, PyTorch's scan order, first maximum wins), or 4 when none does
   (the ReLU or the dropout mask zeroed it). The backward writes the whole input gradient in one pass from it.
   Same arithmetic as the PyTorch ops: out = max * scale where kept, grad = grad_out * scale at the max.

   bits: one random byte per output element (NHWC order); an element is kept when its byte >= threshold
   (threshold = p * 256, so Bernoulli(1 - p) exactly when p * 256 is whole). C must be a multiple of 8. */

#define NO_GRADIENT 4

int simplecnn_pool_relu_dropout_forward(const float* x, const uint8_t* bits, int threshold, float scale, float* out,
                                        uint8_t* code, int N, int H, int W, int C, int threads) {
    if (C % 8 != 0 || H % 2 != 0 || W % 2 != 0 || threads < 1) return 1;
    const int Ho = H / 2, Wo = W / 2;
    const __m256 zero = _mm256_setzero_ps(), vscale = _mm256_set1_ps(scale);
    const __m256i keep_from = _mm256_set1_epi32(threshold - 1), none = _mm256_set1_epi32(NO_GRADIENT);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long row = 0; row < (long)N * Ho; row++) {
        const long n = row / Ho, i = row % Ho;
        const float* top = x + ((n * H + 2 * i) * W) * (size_t)C;
        const float* bottom = top + (size_t)W * C;
        const size_t o = (size_t)row * Wo * C;
        for (int j = 0; j < Wo; j++)
            for (int c = 0; c < C; c += 8) {
                const size_t left = (size_t)(2 * j) * C + c, right = left + C;
                const __m256 v[4] = {_mm256_loadu_ps(top + left), _mm256_loadu_ps(top + right),
                                     _mm256_loadu_ps(bottom + left), _mm256_loadu_ps(bottom + right)};
                __m256 m = v[0];
                __m256i k = _mm256_setzero_si256();
                for (int d = 1; d < 4; d++) {
                    const __m256 gt = _mm256_cmp_ps(v[d], m, _CMP_GT_OQ);
                    m = _mm256_blendv_ps(m, v[d], gt);
                    k = _mm256_blendv_epi8(k, _mm256_set1_epi32(d), _mm256_castps_si256(gt));
                }
                const size_t at = o + (size_t)j * C + c;
                const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(bits + at)));
                const __m256 live = _mm256_and_ps(_mm256_cmp_ps(m, zero, _CMP_GT_OQ),
                                                  _mm256_castsi256_ps(_mm256_cmpgt_epi32(b, keep_from)));
                _mm256_storeu_ps(out + at, _mm256_and_ps(_mm256_mul_ps(m, vscale), live));
                int32_t ks[8];
                _mm256_storeu_si256((__m256i*)ks, _mm256_blendv_epi8(none, k, _mm256_castps_si256(live)));
                for (int e = 0; e < 8; e++) code[at + e] = (uint8_t)ks[e];
            }
    }
    return 0;
}

int simplecnn_pool_relu_dropout_backward(const float* grad_out, const uint8_t* code, float scale, float* grad_in,
                                         int N, int H, int W, int C, int threads) {
    if (C % 8 != 0 || H % 2 != 0 || W % 2 != 0 || threads < 1) return 1;
    const int Ho = H / 2, Wo = W / 2;
    const __m256 vscale = _mm256_set1_ps(scale);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long row = 0; row < (long)N * Ho; row++) {
        const long n = row / Ho, i = row % Ho;
        float* top = grad_in + ((n * H + 2 * i) * W) * (size_t)C;
        float* bottom = top + (size_t)W * C;
        const size_t o = (size_t)row * Wo * C;
        for (int j = 0; j < Wo; j++)
            for (int c = 0; c < C; c += 8) {
                const size_t at = o + (size_t)j * C + c, left = (size_t)(2 * j) * C + c, right = left + C;
                const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(grad_out + at), vscale);
                const __m256i k = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(code + at)));
                float* dst[4] = {top + left, top + right, bottom + left, bottom + right};
                for (int d = 0; d < 4; d++)
                    _mm256_storeu_ps(dst[d], _mm256_and_ps(g, _mm256_castsi256_ps(
                                                               _mm256_cmpeq_epi32(k, _mm256_set1_epi32(d)))));
            }
    }
    return 0;
}
