/* DecodeMatMul and DecodeMatMulNT: x @ w for the few rows of a decode step, streaming the weight once.
 *
 *   DecodeMatMul    x [..., K], w [K, N] (GPT-2's Conv1D layout)    -> y [..., N]
 *   DecodeMatMulNT  x [..., K], w [N, K] (torch's Linear, x @ wᵀ)   -> y [..., N]
 *
 * Why: a decode step multiplies B rows (one token per sequence) by every weight of the model, so it reads
 * the whole model from memory per token and does 2·B flops per weight: it is limited by how fast the
 * weights stream in, not by arithmetic. ORT's MLAS packs the weight panel by panel and walks it column
 * block by column block, which the hardware prefetchers do not follow: on a 2-core EPYC it read weights at
 * ~5 GB/s where a plain read streams at ~30 GB/s (docs/engine.md § Decode MatMul). These kernels walk
 * the weight in memory order (DecodeMatMul: 16 rows of w at a time, each across its width; NT: 4 rows of w
 * at a time, each along its length) with software prefetch ahead of the reads, and keep the B rows of x
 * and the output tile in cache and registers. Large weights are split by columns over the session's
 * intra-op threads (ORT's pool, through KernelContext_ParallelFor).
 *
 * The sums are in float32 with fused multiply-adds, in a different order than MLAS's, so results agree
 * with ORT's MatMul to float32 rounding, not bit for bit (test/integration/decode-matmul.test.ts). Only
 * the decode graph uses them (engine/graph/ops/nn.ts), and only on CPUs with AVX2 and FMA; elsewhere a
 * plain C loop in the same order computes the same sums. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "custom_ops.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RRLHF_X86 1
#endif

/* Rows of w per block (DecodeMatMul): while a block's 16-column panel is read, the same panel of the next
 * block is prefetched, so a thread's prefetches stay inside its own columns. */
enum { KB = 16 };
/* How far ahead along a row of w (in floats) DecodeMatMulNT prefetches (the best of 64 / 256 / 512 measured). */
enum { PF_NT = 512 };

/* y[m, n] for n in [n0, n1): the portable path, and the tails of the vector one (rows past a multiple of
 * 4, columns past a multiple of 16), summing over k in order as the vector path does per lane. */
static void mm_scalar(const float *x, const float *w, float *y, size_t M, size_t K, size_t N, size_t m0, size_t n0, size_t n1, size_t wk, size_t wn) {
  for (size_t m = m0; m < M; m++)
    for (size_t n = n0; n < n1; n++) {
      float acc = 0.0f;
      for (size_t k = 0; k < K; k++) acc += x[m * K + k] * w[k * wk + n * wn];
      y[m * N + n] = acc;
    }
}
#define nn_scalar(x, w, y, M, K, N, m0, n0, n1) mm_scalar(x, w, y, M, K, N, m0, n0, n1, N, 1)
#define nt_scalar(x, w, y, M, K, N, m0, n0, n1) mm_scalar(x, w, y, M, K, N, m0, n0, n1, 1, K)

#ifdef RRLHF_X86
/* Columns [n0, n1) of y = x @ w, w [K, N]; n1 − n0 a multiple of 16. Blocks of KB rows of w are read
 * across [n0, n1) in 16-column panels; each panel serves every 4-row tile of x, accumulating into y. */
__attribute__((target("avx2,fma")))
static void nn_avx2(const float *x, const float *w, float *y, size_t M, size_t K, size_t N, size_t n0, size_t n1) {
  const size_t M4 = M & ~(size_t)3;
  for (size_t kb = 0; kb < K; kb += KB) {
    const size_t ke = kb + KB < K ? kb + KB : K;
    for (size_t n = n0; n < n1; n += 16) {
      for (size_t k = kb + KB; k < ke + KB && k < K; k++) _mm_prefetch((const char *)(w + k * N + n), _MM_HINT_T0);
      for (size_t m = 0; m < M4; m += 4) {
        float *yp = y + m * N + n;
        __m256 a00, a01, a10, a11, a20, a21, a30, a31;
        if (kb == 0) {
          a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = _mm256_setzero_ps();
        } else {
          a00 = _mm256_loadu_ps(yp); a01 = _mm256_loadu_ps(yp + 8);
          a10 = _mm256_loadu_ps(yp + N); a11 = _mm256_loadu_ps(yp + N + 8);
          a20 = _mm256_loadu_ps(yp + 2 * N); a21 = _mm256_loadu_ps(yp + 2 * N + 8);
          a30 = _mm256_loadu_ps(yp + 3 * N); a31 = _mm256_loadu_ps(yp + 3 * N + 8);
        }
        const float *x0 = x + m * K, *x1 = x0 + K, *x2 = x1 + K, *x3 = x2 + K;
        const float *wp = w + kb * N + n;
        for (size_t k = kb; k < ke; k++, wp += N) {
          const __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8);
          __m256 b = _mm256_broadcast_ss(x0 + k); a00 = _mm256_fmadd_ps(b, w0, a00); a01 = _mm256_fmadd_ps(b, w1, a01);
          b = _mm256_broadcast_ss(x1 + k); a10 = _mm256_fmadd_ps(b, w0, a10); a11 = _mm256_fmadd_ps(b, w1, a11);
          b = _mm256_broadcast_ss(x2 + k); a20 = _mm256_fmadd_ps(b, w0, a20); a21 = _mm256_fmadd_ps(b, w1, a21);
          b = _mm256_broadcast_ss(x3 + k); a30 = _mm256_fmadd_ps(b, w0, a30); a31 = _mm256_fmadd_ps(b, w1, a31);
        }
        _mm256_storeu_ps(yp, a00); _mm256_storeu_ps(yp + 8, a01); yp += N;
        _mm256_storeu_ps(yp, a10); _mm256_storeu_ps(yp + 8, a11); yp += N;
        _mm256_storeu_ps(yp, a20); _mm256_storeu_ps(yp + 8, a21); yp += N;
        _mm256_storeu_ps(yp, a30); _mm256_storeu_ps(yp + 8, a31);
      }
      for (size_t m = M4; m < M; m++) { /* a last 1–3 rows, one at a time */
        float *yp = y + m * N + n;
        __m256 a0 = kb == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(yp), a1 = kb == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(yp + 8);
        const float *wp = w + kb * N + n;
        for (size_t k = kb; k < ke; k++, wp += N) {
          const __m256 b = _mm256_broadcast_ss(x + m * K + k);
          a0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp), a0); a1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp + 8), a1);
        }
        _mm256_storeu_ps(yp, a0); _mm256_storeu_ps(yp + 8, a1);
      }
    }
  }
}

__attribute__((target("avx2,fma")))
static inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

/* Columns [n0, n1) of y = x @ wᵀ, w [N, K]; n1 − n0 a multiple of 4. Four rows of w are read along k
 * together, each against two rows of x at a time (8 accumulators); k past a multiple of 8 is summed last. */
__attribute__((target("avx2,fma")))
static void nt_avx2(const float *x, const float *w, float *y, size_t M, size_t K, size_t N, size_t n0, size_t n1) {
  const size_t K8 = K & ~(size_t)7;
  for (size_t n = n0; n < n1; n += 4) {
    const float *w0 = w + n * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
    for (size_t m = 0; m < M; m += 2) {
      const int two = m + 1 < M;
      const float *x0 = x + m * K, *x1 = two ? x0 + K : x0;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      for (size_t k = 0; k < K8; k += 8) {
        if (m == 0) {
          _mm_prefetch((const char *)(w0 + k + PF_NT), _MM_HINT_T0); _mm_prefetch((const char *)(w1 + k + PF_NT), _MM_HINT_T0);
          _mm_prefetch((const char *)(w2 + k + PF_NT), _MM_HINT_T0); _mm_prefetch((const char *)(w3 + k + PF_NT), _MM_HINT_T0);
        }
        const __m256 v0 = _mm256_loadu_ps(x0 + k), v1 = _mm256_loadu_ps(x1 + k);
        __m256 q = _mm256_loadu_ps(w0 + k); a0 = _mm256_fmadd_ps(v0, q, a0); b0 = _mm256_fmadd_ps(v1, q, b0);
        q = _mm256_loadu_ps(w1 + k); a1 = _mm256_fmadd_ps(v0, q, a1); b1 = _mm256_fmadd_ps(v1, q, b1);
        q = _mm256_loadu_ps(w2 + k); a2 = _mm256_fmadd_ps(v0, q, a2); b2 = _mm256_fmadd_ps(v1, q, b2);
        q = _mm256_loadu_ps(w3 + k); a3 = _mm256_fmadd_ps(v0, q, a3); b3 = _mm256_fmadd_ps(v1, q, b3);
      }
      float s[2][4] = { { hsum(a0), hsum(a1), hsum(a2), hsum(a3) }, { hsum(b0), hsum(b1), hsum(b2), hsum(b3) } };
      for (size_t k = K8; k < K; k++)
        for (int j = 0; j < 4; j++) { s[0][j] += x0[k] * w[(n + j) * K + k]; s[1][j] += x1[k] * w[(n + j) * K + k]; }
      memcpy(y + m * N + n, s[0], sizeof s[0]);
      if (two) memcpy(y + (m + 1) * N + n, s[1], sizeof s[1]);
    }
  }
}

static int has_avx2_fma(void) {
  static int known = -1;
  if (known < 0) { __builtin_cpu_init(); known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
  return known;
}
#endif

/* One matmul split by columns into `parts` ranges, each a multiple of the vector kernel's column group. */
typedef struct { int nt; const float *x, *w; float *y; size_t M, K, N, parts; } Job;

/* Columns of part i of the job: the vector kernel on its groups, the scalar loop on the tail (last part). */
static void run_part(void *arg, size_t i) {
  const Job *j = arg;
  const size_t M = j->M, K = j->K, N = j->N;
  const size_t group = j->nt ? 4 : 16, groups = N / group;
  const size_t n0 = groups * i / j->parts * group, n1 = i + 1 == j->parts ? N : groups * (i + 1) / j->parts * group;
#ifdef RRLHF_X86
  if (has_avx2_fma()) {
    const size_t nv = i + 1 == j->parts ? groups * group : n1;
    if (j->nt) { nt_avx2(j->x, j->w, j->y, M, K, N, n0, nv); nt_scalar(j->x, j->w, j->y, M, K, N, 0, nv, n1); }
    else { nn_avx2(j->x, j->w, j->y, M, K, N, n0, nv); nn_scalar(j->x, j->w, j->y, M, K, N, 0, nv, n1); }
    return;
  }
#endif
  if (j->nt) nt_scalar(j->x, j->w, j->y, M, K, N, 0, n0, n1); else nn_scalar(j->x, j->w, j->y, M, K, N, 0, n0, n1);
}

/* Below this many weight values, splitting across threads costs more than it saves. */
static const size_t MIN_PARALLEL_VALUES = 1 << 16;

static OrtStatus *compute(const RrlhfKernel *k, OrtKernelContext *ctx, int nt) {
  const OrtValue *xv, *wv;
  OrtStatus *st = NULL;
  if ((st = CALL(KernelContext_GetInput)(ctx, 0, &xv)) || (st = CALL(KernelContext_GetInput)(ctx, 1, &wv))) return st;
  int64_t xd[8], wd[8];
  size_t xr = 0, wr = 0;
  rrlhf_shape(k, xv, xd, &xr, &st);
  if (st) return st;
  rrlhf_shape(k, wv, wd, &wr, &st);
  if (st) return st;
  if (xr < 1 || wr != 2) return rrlhf_fail(k, "DecodeMatMul: x must have rank >= 1 and w rank 2");
  const size_t K = (size_t)xd[xr - 1], N = (size_t)(nt ? wd[0] : wd[1]);
  if ((size_t)(nt ? wd[1] : wd[0]) != K) return rrlhf_fail(k, nt ? "DecodeMatMulNT: w must be [N, K] for x [..., K]" : "DecodeMatMul: w must be [K, N] for x [..., K]");
  size_t M = 1;
  for (size_t i = 0; i + 1 < xr; i++) M *= (size_t)xd[i];
  xd[xr - 1] = (int64_t)N;
  OrtValue *yv;
  void *x, *w, *y;
  if ((st = CALL(KernelContext_GetOutput)(ctx, 0, xd, xr, &yv)) || (st = CALL(GetTensorMutableData)(yv, &y)) ||
      (st = CALL(GetTensorMutableData)((OrtValue *)xv, &x)) || (st = CALL(GetTensorMutableData)((OrtValue *)wv, &w))) return st;
  if (M == 0 || N == 0) return NULL;
  if (K == 0) { memset(y, 0, M * N * sizeof(float)); return NULL; }
  /* Split by columns over the session's intra-op pool (idle while this kernel runs: sequential execution). */
  const size_t groups = N / (nt ? 4 : 16);
  size_t parts = K * N >= MIN_PARALLEL_VALUES && k->op->threads > 1 ? (size_t)k->op->threads : 1;
  if (parts > groups) parts = groups > 0 ? groups : 1;
  Job job = { nt, x, w, y, M, K, N, parts };
  if (parts == 1) { run_part(&job, 0); return NULL; }
  return CALL(KernelContext_ParallelFor)(ctx, run_part, parts, parts, &job);
}

OrtStatus *rrlhf_decode_matmul_compute(const RrlhfKernel *k, OrtKernelContext *ctx) { return compute(k, ctx, 0); }
OrtStatus *rrlhf_decode_matmul_nt_compute(const RrlhfKernel *k, OrtKernelContext *ctx) { return compute(k, ctx, 1); }
