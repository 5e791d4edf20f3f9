/* AdamWStep: one AdamW update of a parameter group in one pass, registered with ONNX Runtime as a custom op
 * (domain ai.rrlhf, version 1; native/custom_ops.c) by the native binding on every CPU session.
 *
 * Why: written in standard ONNX ops, AdamW is a dozen elementwise kernels per parameter group, each a
 * full pass over memory (engine/runtime/optim.ts appendAdamW); on a 14M-parameter model that is ~1.7 GB
 * of memory traffic per step, a fifth of a small PPO update step (docs/engine.md § Fused AdamW). ORT's
 * inference build has no optimizer kernel. This does the same arithmetic in one pass:
 *
 *   inputs  p, g, m, v [n] float32; decay, b1, mScale, b2, vScale, epsC, stepSize: float32 scalars
 *   m' = m·b1 + g·mScale;  v' = v·b2 + (g·g)·vScale;  p' = p·decay − (m' / (√v' + epsC))·stepSize
 *   outputs p', m', v' [n]
 *
 * in the order and float32 rounding of the ONNX form (each product and sum rounded, no fused
 * multiply-add: the build passes -ffp-contract=off), so the two forms agree bit for bit
 * (test/integration/fused-adamw.test.ts). Large groups split over the session's intra-op thread count
 * with threads of our own: ORT's pool is idle while this kernel runs (sequential execution). */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include "custom_ops.h"

enum { N_TENSORS = 4, N_SCALARS = 7, N_OUT = 3 };
/* Below this many values per thread, starting a thread costs more than it saves. */
static const size_t MIN_PER_THREAD = 1 << 17;

typedef struct {
  const float *restrict p, *restrict g, *restrict m, *restrict v;
  float *restrict po, *restrict mo, *restrict vo;
  float decay, b1, ms, b2, vs, eps, step;
  size_t lo, hi;
} Chunk;

static void *adamw_range(void *arg) {
  const Chunk *c = arg;
  const float decay = c->decay, b1 = c->b1, ms = c->ms, b2 = c->b2, vs = c->vs, eps = c->eps, step = c->step;
  for (size_t i = c->lo; i < c->hi; i++) {
    const float g = c->g[i];
    const float m2 = c->m[i] * b1 + g * ms;
    const float v2 = c->v[i] * b2 + (g * g) * vs;
    const float p = c->p[i] * decay;
    c->po[i] = p - (m2 / (sqrtf(v2) + eps)) * step;
    c->mo[i] = m2;
    c->vo[i] = v2;
  }
  return NULL;
}


OrtStatus *rrlhf_adamw_compute(const RrlhfKernel *k, OrtKernelContext *ctx) {
  const OrtValue *in[N_TENSORS + N_SCALARS];
  OrtStatus *st = NULL;
  for (size_t i = 0; i < N_TENSORS + N_SCALARS; i++) if ((st = CALL(KernelContext_GetInput)(ctx, i, &in[i]))) return st;
  int64_t dims[8]; size_t rank = 0;
  const size_t n = rrlhf_shape(k, in[0], dims, &rank, &st);
  if (st) return st;
  for (size_t i = 1; i < N_TENSORS; i++) {
    const size_t ni = rrlhf_shape(k, in[i], NULL, NULL, &st);
    if (st) return st;
    if (ni != n) return rrlhf_fail(k, "AdamWStep: p, g, m and v must have the same number of values");
  }
  float s[N_SCALARS];
  for (size_t i = 0; i < N_SCALARS; i++) {
    const size_t ni = rrlhf_shape(k, in[N_TENSORS + i], NULL, NULL, &st);
    if (st) return st;
    if (ni != 1) return rrlhf_fail(k, "AdamWStep: decay, b1, mScale, b2, vScale, epsC and stepSize must be scalars");
    void *d;
    if ((st = CALL(GetTensorMutableData)((OrtValue *)in[N_TENSORS + i], &d))) return st;
    s[i] = *(const float *)d;
  }
  void *src[N_TENSORS], *dst[N_OUT];
  for (size_t i = 0; i < N_TENSORS; i++) if ((st = CALL(GetTensorMutableData)((OrtValue *)in[i], &src[i]))) return st;
  for (size_t i = 0; i < N_OUT; i++) {
    OrtValue *o;
    if ((st = CALL(KernelContext_GetOutput)(ctx, i, dims, rank, &o)) || (st = CALL(GetTensorMutableData)(o, &dst[i]))) return st;
  }
  size_t parts = (size_t)(k->op->threads > 1 ? k->op->threads : 1);
  if (parts > n / MIN_PER_THREAD) parts = n / MIN_PER_THREAD > 0 ? n / MIN_PER_THREAD : 1;
  if (parts > 64) parts = 64;
  Chunk c[64];
  pthread_t tid[64];
  int started[64] = {0};
  for (size_t t = 0; t < parts; t++) {
    c[t] = (Chunk){ src[0], src[1], src[2], src[3], dst[0], dst[1], dst[2], s[0], s[1], s[2], s[3], s[4], s[5], s[6], n * t / parts, n * (t + 1) / parts };
    /* Chunk 0 runs here; a thread that cannot start runs here too. */
    if (t > 0) started[t] = pthread_create(&tid[t], NULL, adamw_range, &c[t]) == 0;
  }
  adamw_range(&c[0]);
  for (size_t t = 1; t < parts; t++) {
    if (started[t]) pthread_join(tid[t], NULL);
    else adamw_range(&c[t]);
  }
  return NULL;
}

