/* The engine's custom CPU ops (native/adamw_op.c), registered on a session's options by ort_binding.c. */
#ifndef RRLHF_ADAMW_OP_H
#define RRLHF_ADAMW_OP_H
#include "ort_api.h"

/* The ONNX domain of the engine's own ops; engine/graph/lowering.ts RRLHF_DOMAIN names the same. */
#define RRLHF_OP_DOMAIN "ai.rrlhf"

/* Adds the custom-op domain for a session of `threads` intra-op threads (0: ORT's default, one per core).
 * Returns NULL, or a malloc'ed error message. */
char *rrlhf_add_custom_ops(const void *const *api, OrtSessionOptions *so, int threads);
#endif
