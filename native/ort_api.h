/* The part of ONNX Runtime's C API (OrtApi) that native/ort_binding.c uses, declared by hand.
 *
 * Why by hand: the binding must build on a machine that has only a C compiler and Node's headers (CI
 * reaches the npm registry and Debian, neither of which ships onnxruntime_c_api.h). OrtApi is a table
 * of function pointers whose order ONNX Runtime keeps stable across releases (new entries are only
 * appended), so a function is its index in that table. The indices below were read from ORT's
 * onnxruntime_c_api.h (ORT_API_VERSION 29) with offsetof(OrtApi, Name) / sizeof(void*); every entry
 * used here exists since API version 17, which is what the binding requests. Signatures are as in that
 * header; on Linux and macOS ORT_API_CALL is the default calling convention. */
#ifndef RRLHF_ORT_API_H
#define RRLHF_ORT_API_H
#include <stddef.h>
#include <stdint.h>

typedef struct OrtStatus OrtStatus;
typedef struct OrtEnv OrtEnv;
typedef struct OrtSession OrtSession;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtValue OrtValue;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtIoBinding OrtIoBinding;
typedef struct OrtAllocator OrtAllocator;
typedef struct OrtRunOptions OrtRunOptions;
typedef struct OrtCUDAProviderOptionsV2 OrtCUDAProviderOptionsV2;
typedef struct OrtCustomOpDomain OrtCustomOpDomain;
typedef struct OrtKernelInfo OrtKernelInfo;
typedef struct OrtKernelContext OrtKernelContext;
typedef struct OrtShapeInferContext OrtShapeInferContext;

typedef struct OrtApiBase {
  const void *const *(*GetApi)(uint32_t version); /* really `const OrtApi*`: we index it as a table */
  const char *(*GetVersionString)(void);
} OrtApiBase;
typedef const OrtApiBase *(*OrtGetApiBaseFn)(void);

#define RRLHF_ORT_API_VERSION 17

/* enums (values from onnxruntime_c_api.h) */
enum { ORT_LOGGING_LEVEL_FATAL = 4 };
enum { OrtDeviceAllocator = 0, OrtArenaAllocator = 1 };
enum { OrtMemTypeDefault = 0 };
enum { ORT_ENABLE_ALL = 99 };
enum { ORT_SEQUENTIAL = 0 };

/* A custom op's schema and kernel callbacks (onnxruntime_c_api.h's struct OrtCustomOp, whose fields
 * ORT reads up to what `version` says exists; element types are ONNXTensorElementDataType, an int-sized
 * enum, and characteristics/memory types int-sized enums too). */
typedef struct OrtCustomOp {
  uint32_t version;
  void *(*CreateKernel)(const struct OrtCustomOp *op, const void *const *api, const OrtKernelInfo *info);
  const char *(*GetName)(const struct OrtCustomOp *op);
  const char *(*GetExecutionProviderType)(const struct OrtCustomOp *op);
  int (*GetInputType)(const struct OrtCustomOp *op, size_t index);
  size_t (*GetInputTypeCount)(const struct OrtCustomOp *op);
  int (*GetOutputType)(const struct OrtCustomOp *op, size_t index);
  size_t (*GetOutputTypeCount)(const struct OrtCustomOp *op);
  void (*KernelCompute)(void *kernel, OrtKernelContext *context);
  void (*KernelDestroy)(void *kernel);
  int (*GetInputCharacteristic)(const struct OrtCustomOp *op, size_t index);
  int (*GetOutputCharacteristic)(const struct OrtCustomOp *op, size_t index);
  int (*GetInputMemoryType)(const struct OrtCustomOp *op, size_t index);
  int (*GetVariadicInputMinArity)(const struct OrtCustomOp *op);
  int (*GetVariadicInputHomogeneity)(const struct OrtCustomOp *op);
  int (*GetVariadicOutputMinArity)(const struct OrtCustomOp *op);
  int (*GetVariadicOutputHomogeneity)(const struct OrtCustomOp *op);
  OrtStatus *(*CreateKernelV2)(const struct OrtCustomOp *op, const void *const *api, const OrtKernelInfo *info, void **kernel);
  OrtStatus *(*KernelComputeV2)(void *kernel, OrtKernelContext *context);
  OrtStatus *(*InferOutputShapeFn)(const struct OrtCustomOp *op, OrtShapeInferContext *ctx);
  int (*GetStartVersion)(const struct OrtCustomOp *op);
  int (*GetEndVersion)(const struct OrtCustomOp *op);
  /* version >= 18 (not read at the version the binding declares) */
  size_t (*GetMayInplace)(int **input_index, int **output_index);
  void (*ReleaseMayInplace)(int *input_index, int *output_index);
  size_t (*GetAliasMap)(int **input_index, int **output_index);
  void (*ReleaseAliasMap)(int *input_index, int *output_index);
} OrtCustomOp;
enum { ORT_INVALID_ARGUMENT = 2 };
enum { ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT = 1 };

/* index in OrtApi, then the signature */
#define ORT_CreateStatus 0
typedef OrtStatus *(*CreateStatus_t)(int code, const char *msg);
#define ORT_GetErrorMessage 2
typedef const char *(*GetErrorMessage_t)(const OrtStatus *);
#define ORT_CreateEnv 3
typedef OrtStatus *(*CreateEnv_t)(int level, const char *logid, OrtEnv **out);
#define ORT_CreateSessionFromArray 8
typedef OrtStatus *(*CreateSessionFromArray_t)(const OrtEnv *, const void *data, size_t len, const OrtSessionOptions *, OrtSession **out);
#define ORT_CreateSessionOptions 10
typedef OrtStatus *(*CreateSessionOptions_t)(OrtSessionOptions **out);
#define ORT_SetSessionExecutionMode 13
typedef OrtStatus *(*SetSessionExecutionMode_t)(OrtSessionOptions *, int mode);
#define ORT_EnableProfiling 14
typedef OrtStatus *(*EnableProfiling_t)(OrtSessionOptions *, const char *prefix);
#define ORT_DisableMemPattern 17
typedef OrtStatus *(*DisableMemPattern_t)(OrtSessionOptions *);
#define ORT_SetSessionLogSeverityLevel 22
typedef OrtStatus *(*SetSessionLogSeverityLevel_t)(OrtSessionOptions *, int level);
#define ORT_SetSessionGraphOptimizationLevel 23
typedef OrtStatus *(*SetSessionGraphOptimizationLevel_t)(OrtSessionOptions *, int level);
#define ORT_SetIntraOpNumThreads 24
typedef OrtStatus *(*SetIntraOpNumThreads_t)(OrtSessionOptions *, int n);
#define ORT_CreateCustomOpDomain 26
typedef OrtStatus *(*CreateCustomOpDomain_t)(const char *domain, OrtCustomOpDomain **out);
#define ORT_CustomOpDomain_Add 27
typedef OrtStatus *(*CustomOpDomain_Add_t)(OrtCustomOpDomain *, const OrtCustomOp *op);
#define ORT_AddCustomOpDomain 28
typedef OrtStatus *(*AddCustomOpDomain_t)(OrtSessionOptions *, OrtCustomOpDomain *);
#define ORT_CreateTensorWithDataAsOrtValue 49
typedef OrtStatus *(*CreateTensorWithDataAsOrtValue_t)(const OrtMemoryInfo *, void *data, size_t bytes, const int64_t *shape, size_t rank, int type, OrtValue **out);
#define ORT_GetTensorMutableData 51
typedef OrtStatus *(*GetTensorMutableData_t)(OrtValue *, void **out);
#define ORT_GetTensorElementType 60
typedef OrtStatus *(*GetTensorElementType_t)(const OrtTensorTypeAndShapeInfo *, int *out);
#define ORT_GetDimensionsCount 61
typedef OrtStatus *(*GetDimensionsCount_t)(const OrtTensorTypeAndShapeInfo *, size_t *out);
#define ORT_GetDimensions 62
typedef OrtStatus *(*GetDimensions_t)(const OrtTensorTypeAndShapeInfo *, int64_t *dims, size_t n);
#define ORT_GetTensorShapeElementCount 64
typedef OrtStatus *(*GetTensorShapeElementCount_t)(const OrtTensorTypeAndShapeInfo *, size_t *out);
#define ORT_GetTensorTypeAndShape 65
typedef OrtStatus *(*GetTensorTypeAndShape_t)(const OrtValue *, OrtTensorTypeAndShapeInfo **out);
#define ORT_CreateMemoryInfo 68
typedef OrtStatus *(*CreateMemoryInfo_t)(const char *name, int alloc_type, int id, int mem_type, OrtMemoryInfo **out);
#define ORT_CreateCpuMemoryInfo 69
typedef OrtStatus *(*CreateCpuMemoryInfo_t)(int alloc_type, int mem_type, OrtMemoryInfo **out);
#define ORT_AllocatorFree 76
typedef OrtStatus *(*AllocatorFree_t)(OrtAllocator *, void *p);
#define ORT_GetAllocatorWithDefaultOptions 78
typedef OrtStatus *(*GetAllocatorWithDefaultOptions_t)(OrtAllocator **out);
#define ORT_KernelContext_GetInputCount 88
typedef OrtStatus *(*KernelContext_GetInputCount_t)(const OrtKernelContext *, size_t *out);
#define ORT_KernelContext_GetInput 90
typedef OrtStatus *(*KernelContext_GetInput_t)(const OrtKernelContext *, size_t index, const OrtValue **out);
#define ORT_KernelContext_GetOutput 91
typedef OrtStatus *(*KernelContext_GetOutput_t)(OrtKernelContext *, size_t index, const int64_t *dims, size_t rank, OrtValue **out);
/* KernelContext_ParallelFor (since API 17): fn(usr_data, i) for i < total on the session's intra-op pool, in
 * num_batch batches. Index counted from an API-30 header and checked against a second binding's offsets. */
#define ORT_KernelContext_ParallelFor 274
typedef OrtStatus *(*KernelContext_ParallelFor_t)(const OrtKernelContext *, void (*fn)(void *, size_t), size_t total, size_t num_batch, void *usr_data);
#define ORT_ReleaseStatus 93
#define ORT_ReleaseMemoryInfo 94
#define ORT_ReleaseSession 95
#define ORT_ReleaseValue 96
#define ORT_ReleaseTensorTypeAndShapeInfo 99
#define ORT_ReleaseSessionOptions 100
#define ORT_ReleaseCustomOpDomain 101
typedef void (*Release_t)(void *);
#define ORT_AddSessionConfigEntry 130
typedef OrtStatus *(*AddSessionConfigEntry_t)(OrtSessionOptions *, const char *key, const char *value);
#define ORT_RunWithBinding 133
typedef OrtStatus *(*RunWithBinding_t)(OrtSession *, const OrtRunOptions *, const OrtIoBinding *);
#define ORT_CreateIoBinding 134
typedef OrtStatus *(*CreateIoBinding_t)(OrtSession *, OrtIoBinding **out);
#define ORT_ReleaseIoBinding 135
#define ORT_BindInput 136
typedef OrtStatus *(*BindInput_t)(OrtIoBinding *, const char *name, const OrtValue *);
#define ORT_BindOutputToDevice 138
typedef OrtStatus *(*BindOutputToDevice_t)(OrtIoBinding *, const char *name, const OrtMemoryInfo *);
#define ORT_GetBoundOutputValues 140
typedef OrtStatus *(*GetBoundOutputValues_t)(const OrtIoBinding *, OrtAllocator *, OrtValue ***out, size_t *count);
#define ORT_SessionOptionsAppendExecutionProvider_CUDA_V2 204
typedef OrtStatus *(*SessionOptionsAppendExecutionProvider_CUDA_V2_t)(OrtSessionOptions *, const OrtCUDAProviderOptionsV2 *);
#define ORT_CreateCUDAProviderOptions 205
typedef OrtStatus *(*CreateCUDAProviderOptions_t)(OrtCUDAProviderOptionsV2 **out);
#define ORT_UpdateCUDAProviderOptions 206
typedef OrtStatus *(*UpdateCUDAProviderOptions_t)(OrtCUDAProviderOptionsV2 *, const char *const *keys, const char *const *values, size_t n);
#define ORT_ReleaseCUDAProviderOptions 208

#endif
