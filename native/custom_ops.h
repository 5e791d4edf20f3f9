/* The engine's own CPU kernels, registered with ONNX Runtime as custom ops (domain ai.rrlhf, version 1)
 * by the native binding (ort_binding.c) on every CPU session: AdamWStep (native/adamw_op.c) and
 * DecodeMatMul / DecodeMatMulNT (native/matmul_op.c). native/custom_ops.c holds what they share: the
 * OrtCustomOp callbacks that only describe a schema, and the domain. */
#ifndef RRLHF_CUSTOM_OPS_H
#define RRLHF_CUSTOM_OPS_H
#include "ort_api.h"

/* The ONNX domain of the engine's own ops; engine/graph/lowering.ts RRLHF_DOMAIN names the same. */
#define RRLHF_OP_DOMAIN "ai.rrlhf"

struct RrlhfKernel;
/* One op: its schema (all inputs and outputs float32 tensors) and its compute function. */
typedef struct RrlhfOp {
  OrtCustomOp op; /* first, so the OrtCustomOp* ORT hands back is the RrlhfOp* */
  const char *name;
  size_t n_inputs, n_outputs;
  int threads; /* the session's intra-op thread count */
  OrtStatus *(*compute)(const struct RrlhfKernel *k, OrtKernelContext *ctx);
} RrlhfOp;
typedef struct RrlhfKernel { const void *const *api; const RrlhfOp *op; } RrlhfKernel;

#define CALL(name) ((name##_t)k->api[ORT_##name])
/* An ORT_INVALID_ARGUMENT status with this message. */
OrtStatus *rrlhf_fail(const RrlhfKernel *k, const char *msg);
/* Element count of a tensor, and (dims non-NULL, room for 8) its dims and rank; (size_t)-1 with *st set on failure. */
size_t rrlhf_shape(const RrlhfKernel *k, const OrtValue *x, int64_t *dims, size_t *rank, OrtStatus **st);

OrtStatus *rrlhf_adamw_compute(const RrlhfKernel *k, OrtKernelContext *ctx);
OrtStatus *rrlhf_decode_matmul_compute(const RrlhfKernel *k, OrtKernelContext *ctx);
OrtStatus *rrlhf_decode_matmul_nt_compute(const RrlhfKernel *k, OrtKernelContext *ctx);

/* Adds the custom-op domain for a session of `threads` intra-op threads (0: ORT's default, one per core).
 * Returns NULL, or a malloc'ed error message. */
char *rrlhf_add_custom_ops(const void *const *api, OrtSessionOptions *so, int threads);
#endif
