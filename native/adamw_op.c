/* AdamWStep: the engine's one CPU kernel of its own, registered with ONNX Runtime as a custom op
 * (domain ai.rrlhf, version 1) by the native binding (ort_binding.c) on every CPU session.
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
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ort_api.h"
#include "adamw_op.h"

typedef struct { OrtCustomOp op; int threads; } AdamWOp;
typedef struct { const void *const *api; int threads; } AdamWKernel;

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

#define CALL(name) ((name##_t)k->api[ORT_##name])
static OrtStatus *fail(const AdamWKernel *k, const char *msg) { return CALL(CreateStatus)(ORT_INVALID_ARGUMENT, msg); }

/* Element count of a tensor input, or (size_t)-1 with *st set. */
static size_t count_of(const AdamWKernel *k, const OrtValue *x, int64_t *dims, size_t *rank, OrtStatus **st) {
  OrtTensorTypeAndShapeInfo *info = NULL;
  size_t n = 0, r = 0;
  if ((*st = CALL(GetTensorTypeAndShape)(x, &info))) return (size_t)-1;
  if ((*st = CALL(GetTensorShapeElementCount)(info, &n)) || (*st = CALL(GetDimensionsCount)(info, &r))) { ((Release_t)k->api[ORT_ReleaseTensorTypeAndShapeInfo])(info); return (size_t)-1; }
  if (dims) {
    if (r > 8) { ((Release_t)k->api[ORT_ReleaseTensorTypeAndShapeInfo])(info); *st = fail(k, "AdamWStep: tensors of rank above 8"); return (size_t)-1; }
    *st = CALL(GetDimensions)(info, dims, r);
    *rank = r;
  }
  ((Release_t)k->api[ORT_ReleaseTensorTypeAndShapeInfo])(info);
  return *st ? (size_t)-1 : n;
}

static OrtStatus *compute(void *kernel, OrtKernelContext *ctx) {
  const AdamWKernel *k = kernel;
  const OrtValue *in[N_TENSORS + N_SCALARS];
  OrtStatus *st = NULL;
  for (size_t i = 0; i < N_TENSORS + N_SCALARS; i++) if ((st = CALL(KernelContext_GetInput)(ctx, i, &in[i]))) return st;
  int64_t dims[8]; size_t rank = 0;
  const size_t n = count_of(k, in[0], dims, &rank, &st);
  if (st) return st;
  for (size_t i = 1; i < N_TENSORS; i++) {
    const size_t ni = count_of(k, in[i], NULL, NULL, &st);
    if (st) return st;
    if (ni != n) return fail(k, "AdamWStep: p, g, m and v must have the same number of values");
  }
  float s[N_SCALARS];
  for (size_t i = 0; i < N_SCALARS; i++) {
    const size_t ni = count_of(k, in[N_TENSORS + i], NULL, NULL, &st);
    if (st) return st;
    if (ni != 1) return fail(k, "AdamWStep: decay, b1, mScale, b2, vScale, epsC and stepSize must be scalars");
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
  size_t parts = (size_t)(k->threads > 1 ? k->threads : 1);
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

static OrtStatus *create_kernel(const OrtCustomOp *op, const void *const *api, const OrtKernelInfo *info, void **out) {
  (void)info;
  AdamWKernel *k = malloc(sizeof *k);
  if (!k) return ((CreateStatus_t)api[ORT_CreateStatus])(ORT_INVALID_ARGUMENT, "AdamWStep: out of memory");
  k->api = api; k->threads = ((const AdamWOp *)op)->threads;
  *out = k;
  return NULL;
}
static void destroy_kernel(void *k) { free(k); }
static const char *op_name(const OrtCustomOp *op) { (void)op; return "AdamWStep"; }
static const char *op_provider(const OrtCustomOp *op) { (void)op; return NULL; /* the CPU provider */ }
static int float_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
static size_t n_inputs(const OrtCustomOp *op) { (void)op; return N_TENSORS + N_SCALARS; }
static size_t n_outputs(const OrtCustomOp *op) { (void)op; return N_OUT; }
static int required(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return 0; /* INPUT_OUTPUT_REQUIRED */ }
static int default_memory(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return 0; /* OrtMemTypeDefault */ }
static int one(const OrtCustomOp *op) { (void)op; return 1; }
static int since(const OrtCustomOp *op) { (void)op; return 1; }
static int until(const OrtCustomOp *op) { (void)op; return INT_MAX; }

/* One domain per intra-op thread count, made on first use and kept for the process (ORT needs a domain to
 * outlive every session that uses it). Called on the JavaScript thread only (session options are built
 * there), so no lock. */
static OrtCustomOpDomain *domains[65];
static AdamWOp ops[65];

char *rrlhf_add_custom_ops(const void *const *api, OrtSessionOptions *so, int threads) {
  if (threads <= 0) { long n = sysconf(_SC_NPROCESSORS_ONLN); threads = n > 0 ? (int)n : 1; }
  if (threads > 64) threads = 64;
  OrtStatus *st = NULL;
  if (!domains[threads]) {
    AdamWOp *o = &ops[threads];
    o->op = (OrtCustomOp){
      .version = RRLHF_ORT_API_VERSION, .GetName = op_name, .GetExecutionProviderType = op_provider,
      .GetInputType = float_type, .GetInputTypeCount = n_inputs, .GetOutputType = float_type, .GetOutputTypeCount = n_outputs,
      .KernelDestroy = destroy_kernel, .GetInputCharacteristic = required, .GetOutputCharacteristic = required,
      .GetInputMemoryType = default_memory, .GetVariadicInputMinArity = one, .GetVariadicInputHomogeneity = one,
      .GetVariadicOutputMinArity = one, .GetVariadicOutputHomogeneity = one, .CreateKernelV2 = create_kernel,
      .KernelComputeV2 = compute, .GetStartVersion = since, .GetEndVersion = until,
    };
    o->threads = threads;
    OrtCustomOpDomain *d = NULL;
    if ((st = ((CreateCustomOpDomain_t)api[ORT_CreateCustomOpDomain])(RRLHF_OP_DOMAIN, &d))) goto error;
    if ((st = ((CustomOpDomain_Add_t)api[ORT_CustomOpDomain_Add])(d, &o->op))) { ((Release_t)api[ORT_ReleaseCustomOpDomain])(d); goto error; }
    domains[threads] = d;
  }
  if ((st = ((AddCustomOpDomain_t)api[ORT_AddCustomOpDomain])(so, domains[threads]))) goto error;
  return NULL;
error: {
    char *m = strdup(((GetErrorMessage_t)api[ORT_GetErrorMessage])(st));
    ((Release_t)api[ORT_ReleaseStatus])(st);
    return m;
  }
}
