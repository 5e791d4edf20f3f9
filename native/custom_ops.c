/* What the engine's custom ops share (native/custom_ops.h): schema callbacks, status helpers and the
 * ai.rrlhf domain, one per intra-op thread count. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "custom_ops.h"

OrtStatus *rrlhf_fail(const RrlhfKernel *k, const char *msg) { return CALL(CreateStatus)(ORT_INVALID_ARGUMENT, msg); }

size_t rrlhf_shape(const RrlhfKernel *k, const OrtValue *x, int64_t *dims, size_t *rank, OrtStatus **st) {
  OrtTensorTypeAndShapeInfo *info = NULL;
  size_t n = 0, r = 0;
  const Release_t release = (Release_t)k->api[ORT_ReleaseTensorTypeAndShapeInfo];
  if ((*st = CALL(GetTensorTypeAndShape)(x, &info))) return (size_t)-1;
  if ((*st = CALL(GetTensorShapeElementCount)(info, &n)) || (*st = CALL(GetDimensionsCount)(info, &r))) { release(info); return (size_t)-1; }
  if (dims) {
    if (r > 8) { release(info); *st = rrlhf_fail(k, "ai.rrlhf ops: tensors of rank above 8 are not supported"); return (size_t)-1; }
    *st = CALL(GetDimensions)(info, dims, r);
    *rank = r;
  }
  release(info);
  return *st ? (size_t)-1 : n;
}

static OrtStatus *compute(void *kernel, OrtKernelContext *ctx) {
  const RrlhfKernel *k = kernel;
  return k->op->compute(k, ctx);
}
static OrtStatus *create_kernel(const OrtCustomOp *op, const void *const *api, const OrtKernelInfo *info, void **out) {
  (void)info;
  RrlhfKernel *k = malloc(sizeof *k);
  if (!k) return ((CreateStatus_t)api[ORT_CreateStatus])(ORT_INVALID_ARGUMENT, "ai.rrlhf ops: out of memory");
  k->api = api; k->op = (const RrlhfOp *)op;
  *out = k;
  return NULL;
}
static void destroy_kernel(void *k) { free(k); }
static const char *op_name(const OrtCustomOp *op) { return ((const RrlhfOp *)op)->name; }
static const char *op_provider(const OrtCustomOp *op) { (void)op; return NULL; /* the CPU provider */ }
static int float_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
static size_t n_inputs(const OrtCustomOp *op) { return ((const RrlhfOp *)op)->n_inputs; }
static size_t n_outputs(const OrtCustomOp *op) { return ((const RrlhfOp *)op)->n_outputs; }
static int required(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return 0; /* INPUT_OUTPUT_REQUIRED */ }
static int default_memory(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return 0; /* OrtMemTypeDefault */ }
static int one(const OrtCustomOp *op) { (void)op; return 1; }
static int since(const OrtCustomOp *op) { (void)op; return 1; }
static int until(const OrtCustomOp *op) { (void)op; return INT_MAX; }

static const struct { const char *name; size_t n_in, n_out; OrtStatus *(*compute)(const RrlhfKernel *, OrtKernelContext *); } OPS[] = {
  { "AdamWStep", 11, 3, rrlhf_adamw_compute },
  { "DecodeMatMul", 2, 1, rrlhf_decode_matmul_compute },
  { "DecodeMatMulNT", 2, 1, rrlhf_decode_matmul_nt_compute },
};
enum { N_OPS = sizeof OPS / sizeof OPS[0], MAX_THREADS = 64 };

/* One domain per intra-op thread count, made on first use and kept for the process (ORT needs a domain to
 * outlive every session that uses it). Called on the JavaScript thread only (session options are built
 * there), so no lock. */
static OrtCustomOpDomain *domains[MAX_THREADS + 1];
static RrlhfOp ops[MAX_THREADS + 1][N_OPS];

char *rrlhf_add_custom_ops(const void *const *api, OrtSessionOptions *so, int threads) {
  if (threads <= 0) { long n = sysconf(_SC_NPROCESSORS_ONLN); threads = n > 0 ? (int)n : 1; }
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  OrtStatus *st = NULL;
  if (!domains[threads]) {
    OrtCustomOpDomain *d = NULL;
    if ((st = ((CreateCustomOpDomain_t)api[ORT_CreateCustomOpDomain])(RRLHF_OP_DOMAIN, &d))) goto error;
    for (size_t i = 0; i < N_OPS; i++) {
      RrlhfOp *o = &ops[threads][i];
      o->op = (OrtCustomOp){
        .version = RRLHF_ORT_API_VERSION, .GetName = op_name, .GetExecutionProviderType = op_provider,
        .GetInputType = float_type, .GetInputTypeCount = n_inputs, .GetOutputType = float_type, .GetOutputTypeCount = n_outputs,
        .KernelDestroy = destroy_kernel, .GetInputCharacteristic = required, .GetOutputCharacteristic = required,
        .GetInputMemoryType = default_memory, .GetVariadicInputMinArity = one, .GetVariadicInputHomogeneity = one,
        .GetVariadicOutputMinArity = one, .GetVariadicOutputHomogeneity = one, .CreateKernelV2 = create_kernel,
        .KernelComputeV2 = compute, .GetStartVersion = since, .GetEndVersion = until,
      };
      o->name = OPS[i].name; o->n_inputs = OPS[i].n_in; o->n_outputs = OPS[i].n_out; o->threads = threads; o->compute = OPS[i].compute;
      if ((st = ((CustomOpDomain_Add_t)api[ORT_CustomOpDomain_Add])(d, &o->op))) { ((Release_t)api[ORT_ReleaseCustomOpDomain])(d); goto error; }
    }
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
