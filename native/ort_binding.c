/* A small Node binding to ONNX Runtime's C API whose one purpose is device-resident outputs on any
 * execution provider. onnxruntime-node can keep an output on the device only for WebGPU (its IO binding
 * hard-codes the "WebGPU_Buf" memory info), so on CUDA every weight, optimizer moment and KV cache
 * would cross PCIe on every run. Here a session binds each output either to host memory or to the
 * provider's device memory; a device output comes back as an opaque handle that owns the OrtValue and
 * can be fed to the next run as it is.
 *
 * It loads the libonnxruntime that onnxruntime-node ships (dlopen of the same file, so the process has
 * one ONNX Runtime), and is used by engine/runtime/native.ts. JavaScript API:
 *   init(libPath) -> version string
 *   createSession(modelBytes, { provider: 'cpu'|'cuda', deviceId, threads, logLevel, profilePrefix,
 *                               memPattern: 0|1, configs: [[key, value]...], providerOptions: [[key, value]...] }) -> Promise<session>
 *   run(session, inputNames, inputs, outputNames, onDevice[]) -> Promise<output[]>
 *       input: { type, dims, data: TypedArray } (host) or a handle from an earlier run (device)
 *       output: { type, dims, data: ArrayBuffer } (host) or { type, dims, handle } (device)
 *   release(handleOrSession) -> frees now instead of at garbage collection
 *   tuneHostAllocator() -> whether glibc's malloc was told to keep freed blocks (needs no init())
 * `type` is ONNX's TensorProto element type number. Session creation and runs execute on libuv's
 * thread pool; malformed arguments throw at once. */
#define NAPI_VERSION 8
#include <node_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "ort_api.h"
#include "custom_ops.h"

#ifndef NODE_GYP_MODULE_NAME
#define NODE_GYP_MODULE_NAME rrlhf_ort
#endif

static const void *const *api; /* OrtApi, as a table of function pointers; set once init succeeded */
static OrtEnv *ort_env;
static OrtMemoryInfo *cpu_mem;
static const char *ort_version;
#define F(name) ((name##_t)api[ORT_##name])
#define RELEASE(kind, p) (((Release_t)api[ORT_Release##kind])((void *)(p)))

/* ---- errors ------------------------------------------------------------------------------------ */

/* Takes an OrtStatus (freed here) and returns a malloc'ed message, or NULL when OK. */
static char *status_message_with(const void *const *table, OrtStatus *st) {
  if (!st) return NULL;
  char *m = strdup(((GetErrorMessage_t)table[ORT_GetErrorMessage])(st));
  ((Release_t)table[ORT_ReleaseStatus])(st);
  return m;
}
static char *status_message(OrtStatus *st) { return status_message_with(api, st); }
static napi_value throw_msg(napi_env env, const char *m) { napi_throw_error(env, NULL, m); return NULL; }
/* Settles an async call's promise: rejected with an Error(err) when err is set, else resolved. */
static void settle(napi_env env, napi_deferred d, const char *err, napi_value value) {
  if (!err) { napi_resolve_deferred(env, d, value); return; }
  napi_value msg, e;
  napi_create_string_utf8(env, err, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &e);
  napi_reject_deferred(env, d, e);
}
#define NAPI(call) do { if ((call) != napi_ok) { const napi_extended_error_info *ei; napi_get_last_error_info(env, &ei); \
  napi_throw_error(env, NULL, ei && ei->error_message ? ei->error_message : "napi call failed"); return NULL; } } while (0)
#define ORT(call) do { char *m_ = status_message(call); if (m_) { napi_throw_error(env, NULL, m_); free(m_); return NULL; } } while (0)

/* ---- handles ----------------------------------------------------------------------------------- */

typedef struct {
  OrtSession *session;
  OrtMemoryInfo *device_mem; /* where device-bound outputs go */
  int inflight;              /* runs in progress: release waits for them */
  int release_pending;
} Session;

typedef struct {
  OrtValue *value;
  int inflight;
  int release_pending;
} DeviceValue;

static const int HANDLE_TAG_SESSION = 0x5e55, HANDLE_TAG_VALUE = 0xdeb1;
typedef struct { int tag; void *p; } Handle;

static void session_free(Session *s) {
  if (s->session) RELEASE(Session, s->session);
  if (s->device_mem && s->device_mem != cpu_mem) RELEASE(MemoryInfo, s->device_mem);
  s->session = NULL; s->device_mem = NULL;
}
static void value_free(DeviceValue *v) { if (v->value) RELEASE(Value, v->value); v->value = NULL; }

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  Handle *h = data;
  if (h->tag == HANDLE_TAG_SESSION) { Session *s = h->p; session_free(s); free(s); }
  else { DeviceValue *v = h->p; value_free(v); free(v); }
  free(h);
}

static Handle *get_handle(napi_env env, napi_value v, int tag) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  Handle *h;
  if (napi_get_value_external(env, v, (void **)&h) != napi_ok || !h || h->tag != tag) return NULL;
  return h;
}

/* ---- small N-API helpers ----------------------------------------------------------------------- */

static int get_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, key, out) != napi_ok) return 0;
  napi_valuetype t; napi_typeof(env, *out, &t);
  return t != napi_undefined && t != napi_null;
}
static char *get_string(napi_env env, napi_value v) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) return NULL;
  char *s = malloc(n + 1);
  napi_get_value_string_utf8(env, v, s, n + 1, &n);
  return s;
}
static int get_int(napi_env env, napi_value obj, const char *key, int dflt) {
  napi_value v; int32_t x;
  if (!get_prop(env, obj, key, &v) || napi_get_value_int32(env, v, &x) != napi_ok) return dflt;
  return x;
}
static size_t elem_size(int type) {
  switch (type) {
    case 1: case 6: case 12: return 4;      /* float, int32, uint32 */
    case 7: case 11: case 13: return 8;     /* int64, double, uint64 */
    case 2: case 3: case 9: return 1;       /* uint8, int8, bool */
    case 4: case 5: case 10: case 16: return 2; /* uint16, int16, float16, bfloat16 */
    default: return 0;
  }
}

static size_t typedarray_elem_size(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: return 8;
    default: return 0;
  }
}

/* ---- init -------------------------------------------------------------------------------------- */

static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!api) {
    if (argc < 1) return throw_msg(env, "init(libPath): the path of libonnxruntime is required");
    char *path = get_string(env, argv[0]);
    if (!path) return throw_msg(env, "init(libPath): libPath must be a string");
    void *lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    free(path);
    if (!lib) return throw_msg(env, dlerror());
    OrtGetApiBaseFn get = (OrtGetApiBaseFn)dlsym(lib, "OrtGetApiBase");
    if (!get) return throw_msg(env, "libonnxruntime has no OrtGetApiBase");
    const OrtApiBase *base = get();
    const void *const *table = base->GetApi(RRLHF_ORT_API_VERSION);
    if (!table) return throw_msg(env, "this libonnxruntime does not provide C API version 17");
    /* F() and RELEASE() read `api`: use the table directly until everything is in place. */
    OrtEnv *e = NULL; OrtMemoryInfo *m = NULL;
    char *err = status_message_with(table, ((CreateEnv_t)table[ORT_CreateEnv])(ORT_LOGGING_LEVEL_FATAL, "rrlhf", &e));
    if (!err) err = status_message_with(table, ((CreateCpuMemoryInfo_t)table[ORT_CreateCpuMemoryInfo])(OrtDeviceAllocator, OrtMemTypeDefault, &m));
    if (err) { napi_throw_error(env, NULL, err); free(err); return NULL; }
    ort_env = e; cpu_mem = m; ort_version = base->GetVersionString();
    api = table;
  }
  napi_value ver;
  NAPI(napi_create_string_utf8(env, ort_version, NAPI_AUTO_LENGTH, &ver));
  return ver;
}

/* ---- sessions ---------------------------------------------------------------------------------- */

/* [[key, value], ...] of strings from a JS array into parallel malloc'ed C string arrays. Returns 0,
 * or -1 when the array is malformed (the arrays are then freed and *n is 0). */
static int get_pairs(napi_env env, napi_value obj, const char *key, char ***keys, char ***vals, size_t *n_out) {
  napi_value arr; uint32_t n = 0; bool is_arr = false;
  *keys = NULL; *vals = NULL; *n_out = 0;
  if (!get_prop(env, obj, key, &arr)) return 0;
  if (napi_is_array(env, arr, &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, arr, &n) != napi_ok) return -1;
  if (n == 0) return 0;
  *keys = calloc(n, sizeof(char *)); *vals = calloc(n, sizeof(char *));
  *n_out = n;
  for (uint32_t i = 0; i < n; i++) {
    napi_value pair, k, v;
    if (napi_get_element(env, arr, i, &pair) != napi_ok || napi_is_array(env, pair, &is_arr) != napi_ok || !is_arr ||
        napi_get_element(env, pair, 0, &k) != napi_ok || napi_get_element(env, pair, 1, &v) != napi_ok) goto bad;
    (*keys)[i] = get_string(env, k); (*vals)[i] = get_string(env, v);
    if (!(*keys)[i] || !(*vals)[i]) goto bad;
  }
  return 0;
bad:
  for (size_t i = 0; i < *n_out; i++) { free((*keys)[i]); free((*vals)[i]); }
  free(*keys); free(*vals); *keys = NULL; *vals = NULL; *n_out = 0;
  return -1;
}
static void free_pairs(char **k, char **v, size_t n) {
  for (size_t i = 0; i < n; i++) { free(k[i]); free(v[i]); }
  free(k); free(v);
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref bytes_ref; /* keeps the model bytes alive while ORT parses them */
  void *bytes; size_t len;
  OrtSessionOptions *so;
  OrtMemoryInfo *dev;
  OrtSession *session;
  char *err;
} CreateJob;

static void create_execute(napi_env env, void *data) {
  (void)env;
  CreateJob *j = data;
  j->err = status_message(F(CreateSessionFromArray)(ort_env, j->bytes, j->len, j->so, &j->session));
}

static void create_complete(napi_env env, napi_status status, void *data) {
  CreateJob *j = data;
  RELEASE(SessionOptions, j->so);
  napi_delete_reference(env, j->bytes_ref);
  if (!j->err && status != napi_ok) j->err = strdup("session creation was cancelled");
  napi_value out = NULL;
  if (!j->err) {
    Session *s = calloc(1, sizeof(Session));
    s->session = j->session; s->device_mem = j->dev;
    Handle *h = malloc(sizeof(Handle)); h->tag = HANDLE_TAG_SESSION; h->p = s;
    if (napi_create_external(env, h, handle_finalize, NULL, &out) != napi_ok) { session_free(s); free(s); free(h); j->err = strdup("could not wrap the session"); }
  } else {
    if (j->session) RELEASE(Session, j->session);
    if (j->dev && j->dev != cpu_mem) RELEASE(MemoryInfo, j->dev);
  }
  settle(env, j->deferred, j->err, out);
  napi_delete_async_work(env, j->work);
  free(j->err); free(j);
}

static napi_value js_create_session(napi_env env, napi_callback_info info) {
  if (!api) return throw_msg(env, "call init() first");
  size_t argc = 2; napi_value argv[2];
  NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_msg(env, "createSession(modelBytes, options)");
  void *bytes; size_t len; napi_typedarray_type tt; napi_value ab; size_t off;
  bool is_ta = false;
  napi_is_typedarray(env, argv[0], &is_ta);
  if (!is_ta) return throw_msg(env, "createSession: modelBytes must be a Uint8Array");
  NAPI(napi_get_typedarray_info(env, argv[0], &tt, &len, &bytes, &ab, &off));
  if (tt != napi_uint8_array) return throw_msg(env, "createSession: modelBytes must be a Uint8Array");

  napi_value pv; char *provider = get_prop(env, argv[1], "provider", &pv) ? get_string(env, pv) : strdup("cpu");
  int device_id = get_int(env, argv[1], "deviceId", 0);
  int threads = get_int(env, argv[1], "threads", 0);
  int mem_pattern = get_int(env, argv[1], "memPattern", 1);
  int log_level = get_int(env, argv[1], "logLevel", 3);
  char *profile = get_prop(env, argv[1], "profilePrefix", &pv) ? get_string(env, pv) : NULL;
  char **ck, **cv, **pk, **pvs;
  size_t nc, np;
  if (get_pairs(env, argv[1], "configs", &ck, &cv, &nc) < 0) { free(provider); free(profile); return throw_msg(env, "createSession: configs must be [[key, value], ...] of strings"); }
  if (get_pairs(env, argv[1], "providerOptions", &pk, &pvs, &np) < 0) { free(provider); free(profile); free_pairs(ck, cv, nc); return throw_msg(env, "createSession: providerOptions must be [[key, value], ...] of strings"); }
  /* The provider runs on deviceId and outputs are bound there: say it to both, unless the caller did. */
  if (strcmp(provider, "cuda") == 0) {
    bool has = false;
    for (size_t i = 0; i < np; i++) if (strcmp(pk[i], "device_id") == 0) has = true;
    if (!has) {
      pk = realloc(pk, sizeof(char *) * (np + 1)); pvs = realloc(pvs, sizeof(char *) * (np + 1));
      char buf[16]; snprintf(buf, sizeof buf, "%d", device_id);
      pk[np] = strdup("device_id"); pvs[np] = strdup(buf); np++;
    }
  }

  OrtSessionOptions *so = NULL; OrtCUDAProviderOptionsV2 *cuda = NULL;
  OrtMemoryInfo *dev = NULL; char *err = NULL;
  if ((err = status_message(F(CreateSessionOptions)(&so)))) goto done;
  if ((err = status_message(F(SetSessionGraphOptimizationLevel)(so, ORT_ENABLE_ALL)))) goto done;
  if ((err = status_message(F(SetSessionExecutionMode)(so, ORT_SEQUENTIAL)))) goto done;
  if ((err = status_message(F(SetSessionLogSeverityLevel)(so, log_level)))) goto done;
  if (threads > 0 && (err = status_message(F(SetIntraOpNumThreads)(so, threads)))) goto done;
  if (!mem_pattern && (err = status_message(F(DisableMemPattern)(so)))) goto done;
  if (profile && (err = status_message(F(EnableProfiling)(so, profile)))) goto done;
  for (size_t i = 0; i < nc; i++) if ((err = status_message(F(AddSessionConfigEntry)(so, ck[i], cv[i])))) goto done;
  if (strcmp(provider, "cuda") == 0) {
    if ((err = status_message(F(CreateCUDAProviderOptions)(&cuda)))) goto done;
    if (np && (err = status_message(F(UpdateCUDAProviderOptions)(cuda, (const char *const *)pk, (const char *const *)pvs, np)))) goto done;
    if ((err = status_message(F(SessionOptionsAppendExecutionProvider_CUDA_V2)(so, cuda)))) goto done;
    if ((err = status_message(F(CreateMemoryInfo)("Cuda", OrtDeviceAllocator, device_id, OrtMemTypeDefault, &dev)))) goto done;
  } else if (strcmp(provider, "cpu") == 0) {
    dev = cpu_mem;
    /* The engine's own CPU kernels (AdamWStep, native/adamw_op.c); graphs use them only when lowered for this binding. */
    if ((err = rrlhf_add_custom_ops(api, so, threads))) goto done;
  } else {
    err = malloc(128); snprintf(err, 128, "provider \"%s\" is not supported by this binding (cpu, cuda)", provider); goto done;
  }

done:
  if (cuda) RELEASE(CUDAProviderOptions, cuda); /* the session options hold their own copy */
  free(provider); free(profile); free_pairs(ck, cv, nc); free_pairs(pk, pvs, np);
  if (err) {
    if (so) RELEASE(SessionOptions, so);
    if (dev && dev != cpu_mem) RELEASE(MemoryInfo, dev);
    napi_throw_error(env, NULL, err); free(err); return NULL;
  }
  /* Loading and optimising the model (and, on CUDA, initialising the device) can take seconds: do it
   * on libuv's thread pool and resolve a promise, as onnxruntime-node does. */
  CreateJob *j = calloc(1, sizeof(CreateJob));
  j->bytes = bytes; j->len = len; j->so = so; j->dev = dev;
  napi_value promise, res_name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &j->bytes_ref) != napi_ok) {
    RELEASE(SessionOptions, so); if (dev != cpu_mem) RELEASE(MemoryInfo, dev); free(j);
    return throw_msg(env, "createSession: could not start");
  }
  napi_create_string_utf8(env, "rrlhf-ort-create", NAPI_AUTO_LENGTH, &res_name);
  if (napi_create_async_work(env, NULL, res_name, create_execute, create_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    napi_delete_reference(env, j->bytes_ref); RELEASE(SessionOptions, so); if (dev != cpu_mem) RELEASE(MemoryInfo, dev); free(j);
    return throw_msg(env, "createSession: could not queue the work");
  }
  return promise;
}

/* ---- run --------------------------------------------------------------------------------------- */

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref session_ref;
  Session *s;
  size_t nin, nout;
  char **in_names, **out_names;
  OrtValue **in_vals;
  char *in_host;        /* 1 where in_vals[i] is a wrapper over a JS array (released after the run) */
  DeviceValue **in_dev; /* device inputs (inflight counted) */
  napi_ref *in_refs;    /* keep JS arrays and handles alive during the run */
  char *on_device;
  OrtValue **outs;
  size_t nouts;
  char *err;
} RunJob;

static void run_execute(napi_env env, void *data) {
  (void)env;
  RunJob *j = data;
  OrtIoBinding *b = NULL;
  if ((j->err = status_message(F(CreateIoBinding)(j->s->session, &b)))) return;
  for (size_t i = 0; i < j->nin && !j->err; i++) j->err = status_message(F(BindInput)(b, j->in_names[i], j->in_vals[i]));
  for (size_t i = 0; i < j->nout && !j->err; i++)
    j->err = status_message(F(BindOutputToDevice)(b, j->out_names[i], j->on_device[i] ? j->s->device_mem : cpu_mem));
  if (!j->err) j->err = status_message(F(RunWithBinding)(j->s->session, NULL, b));
  if (!j->err) {
    OrtAllocator *alloc; OrtValue **vals = NULL; size_t n = 0;
    j->err = status_message(F(GetAllocatorWithDefaultOptions)(&alloc));
    if (!j->err) j->err = status_message(F(GetBoundOutputValues)(b, alloc, &vals, &n));
    if (!j->err) {
      j->outs = calloc(n ? n : 1, sizeof(OrtValue *));
      if (n) memcpy(j->outs, vals, sizeof(OrtValue *) * n);
      j->nouts = n;
      if (vals) free(status_message(F(AllocatorFree)(alloc, vals)));
    }
  }
  RELEASE(IoBinding, b);
}

/* { type, dims } of an output; NULL with *err set (malloc'ed) when ORT cannot describe it. Runs in the
 * completion callback, outside any JS call, so it must not throw. */
static napi_value value_info(napi_env env, OrtValue *v, int *type_out, size_t *count_out, char **err) {
  OrtTensorTypeAndShapeInfo *ti = NULL;
  int type = 0; size_t rank = 0, count = 0;
  if ((*err = status_message(F(GetTensorTypeAndShape)(v, &ti)))) return NULL;
  if (!(*err = status_message(F(GetTensorElementType)(ti, &type))) &&
      !(*err = status_message(F(GetDimensionsCount)(ti, &rank))))
    *err = status_message(F(GetTensorShapeElementCount)(ti, &count));
  int64_t *dims = calloc(rank ? rank : 1, sizeof(int64_t));
  if (!*err) *err = status_message(F(GetDimensions)(ti, dims, rank));
  RELEASE(TensorTypeAndShapeInfo, ti);
  if (*err) { free(dims); return NULL; }
  napi_value obj, jt, jd;
  napi_create_object(env, &obj);
  napi_create_int32(env, type, &jt);
  napi_set_named_property(env, obj, "type", jt);
  napi_create_array_with_length(env, rank, &jd);
  for (size_t d = 0; d < rank; d++) { napi_value x; napi_create_double(env, (double)dims[d], &x); napi_set_element(env, jd, d, x); }
  napi_set_named_property(env, obj, "dims", jd);
  free(dims);
  *type_out = type; *count_out = count;
  return obj;
}

static void run_complete(napi_env env, napi_status status, void *data) {
  RunJob *j = data;
  j->s->inflight--;
  for (size_t i = 0; i < j->nin; i++) {
    if (j->in_host[i] && j->in_vals[i]) RELEASE(Value, j->in_vals[i]);
    if (j->in_dev[i]) {
      DeviceValue *d = j->in_dev[i];
      if (--d->inflight == 0 && d->release_pending) value_free(d);
    }
    if (j->in_refs[i]) napi_delete_reference(env, j->in_refs[i]);
  }
  napi_value result = NULL;
  if (!j->err && status != napi_ok) j->err = strdup("the run was cancelled");
  if (!j->err) {
    napi_create_array_with_length(env, j->nouts, &result);
    for (size_t i = 0; i < j->nouts; i++) {
      int type = 0; size_t count = 0; char *e = NULL;
      napi_value o = value_info(env, j->outs[i], &type, &count, &e);
      if (!o) {
        size_t n = strlen(e) + 64; j->err = malloc(n);
        snprintf(j->err, n, "output \"%s\" is not a tensor: %s", j->out_names[i], e); free(e); break;
      }
      if (j->on_device[i]) {
        DeviceValue *d = calloc(1, sizeof(DeviceValue)); d->value = j->outs[i]; j->outs[i] = NULL;
        Handle *h = malloc(sizeof(Handle)); h->tag = HANDLE_TAG_VALUE; h->p = d;
        napi_value ext; napi_create_external(env, h, handle_finalize, NULL, &ext);
        napi_set_named_property(env, o, "handle", ext);
      } else {
        if (!elem_size(type)) {
          j->err = malloc(160); snprintf(j->err, 160, "output \"%s\" has element type %d, which cannot be copied to the host", j->out_names[i], type); break;
        }
        size_t bytes = count * elem_size(type);
        void *src = NULL, *dst = NULL;
        napi_value ab;
        if (bytes && (j->err = status_message(F(GetTensorMutableData)(j->outs[i], &src)))) break;
        if (napi_create_arraybuffer(env, bytes, &dst, &ab) != napi_ok || (bytes && !dst)) { j->err = strdup("could not allocate an output buffer"); break; }
        if (bytes && src) memcpy(dst, src, bytes);
        napi_set_named_property(env, o, "data", ab);
      }
      napi_set_element(env, result, i, o);
    }
  }
  for (size_t i = 0; i < j->nouts; i++) if (j->outs[i]) RELEASE(Value, j->outs[i]);
  settle(env, j->deferred, j->err, result);
  if (j->s->inflight == 0 && j->s->release_pending) session_free(j->s);
  napi_delete_reference(env, j->session_ref);
  napi_delete_async_work(env, j->work);
  for (size_t i = 0; i < j->nin; i++) free(j->in_names[i]);
  for (size_t i = 0; i < j->nout; i++) free(j->out_names[i]);
  free(j->in_names); free(j->out_names); free(j->in_vals); free(j->in_host); free(j->in_dev); free(j->in_refs);
  free(j->on_device); free(j->outs); free(j->err); free(j);
}

static void job_free_partial(napi_env env, RunJob *j) {
  for (size_t i = 0; i < j->nin; i++) {
    if (j->in_host[i] && j->in_vals[i]) RELEASE(Value, j->in_vals[i]);
    if (j->in_dev[i]) j->in_dev[i]->inflight--;
    if (j->in_refs[i]) napi_delete_reference(env, j->in_refs[i]);
    free(j->in_names[i]);
  }
  for (size_t i = 0; i < j->nout; i++) free(j->out_names[i]);
  free(j->in_names); free(j->out_names); free(j->in_vals); free(j->in_host); free(j->in_dev); free(j->in_refs);
  free(j->on_device); free(j);
}

static napi_value js_run(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value argv[5];
  NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_msg(env, "run(session, inputNames, inputs, outputNames, onDevice)");
  Handle *sh = get_handle(env, argv[0], HANDLE_TAG_SESSION);
  if (!sh) return throw_msg(env, "run: the first argument is not a session");
  Session *s = sh->p;
  if (!s->session || s->release_pending) return throw_msg(env, "run: the session was released");
  uint32_t nin, nin2, nout, nout2;
  NAPI(napi_get_array_length(env, argv[1], &nin)); NAPI(napi_get_array_length(env, argv[2], &nin2));
  NAPI(napi_get_array_length(env, argv[3], &nout)); NAPI(napi_get_array_length(env, argv[4], &nout2));
  if (nin != nin2 || nout != nout2) return throw_msg(env, "run: names and values differ in length");

  RunJob *j = calloc(1, sizeof(RunJob));
  j->s = s; j->nin = nin; j->nout = nout;
  j->in_names = calloc(nin + 1, sizeof(char *)); j->in_vals = calloc(nin + 1, sizeof(OrtValue *));
  j->in_host = calloc(nin + 1, 1); j->in_dev = calloc(nin + 1, sizeof(DeviceValue *)); j->in_refs = calloc(nin + 1, sizeof(napi_ref));
  j->out_names = calloc(nout + 1, sizeof(char *)); j->on_device = calloc(nout + 1, 1);
  char msg[300];
  for (uint32_t i = 0; i < nin; i++) {
    napi_value name, v;
    napi_get_element(env, argv[1], i, &name); napi_get_element(env, argv[2], i, &v);
    j->in_names[i] = get_string(env, name);
    if (!j->in_names[i]) { job_free_partial(env, j); return throw_msg(env, "run: input names must be strings"); }
    if (napi_create_reference(env, v, 1, &j->in_refs[i]) != napi_ok) { job_free_partial(env, j); return throw_msg(env, "run: could not hold an input"); }
    Handle *vh = get_handle(env, v, HANDLE_TAG_VALUE);
    if (vh) {
      DeviceValue *d = vh->p;
      if (!d->value || d->release_pending) { snprintf(msg, sizeof msg, "run: input \"%s\" was released", j->in_names[i]); job_free_partial(env, j); return throw_msg(env, msg); }
      d->inflight++; j->in_dev[i] = d; j->in_vals[i] = d->value;
      continue;
    }
    napi_value jt, jd, jdata;
    if (!get_prop(env, v, "type", &jt) || !get_prop(env, v, "dims", &jd) || !get_prop(env, v, "data", &jdata)) {
      snprintf(msg, sizeof msg, "run: input \"%s\" is neither a device handle nor { type, dims, data }", j->in_names[i]);
      job_free_partial(env, j); return throw_msg(env, msg);
    }
    int32_t type = 0; uint32_t rank = 0; bool is_arr = false;
    if (napi_get_value_int32(env, jt, &type) != napi_ok || !elem_size(type)) {
      snprintf(msg, sizeof msg, "run: input \"%s\" has an unsupported element type", j->in_names[i]); job_free_partial(env, j); return throw_msg(env, msg);
    }
    if (napi_is_array(env, jd, &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, jd, &rank) != napi_ok || rank > 16) {
      snprintf(msg, sizeof msg, "run: input \"%s\" dims must be an array of at most 16 sizes", j->in_names[i]); job_free_partial(env, j); return throw_msg(env, msg);
    }
    int64_t dims[16]; size_t count = 1;
    for (uint32_t d = 0; d < rank; d++) {
      napi_value x; double dv = -1;
      if (napi_get_element(env, jd, d, &x) != napi_ok || napi_get_value_double(env, x, &dv) != napi_ok ||
          !(dv >= 0 && dv == (double)(int64_t)dv && dv <= 9007199254740991.0)) {
        snprintf(msg, sizeof msg, "run: input \"%s\" dims[%u] is not a non-negative integer", j->in_names[i], d); job_free_partial(env, j); return throw_msg(env, msg);
      }
      dims[d] = (int64_t)dv; count *= (size_t)dv;
    }
    void *data; size_t len; napi_typedarray_type tt; napi_value ab; size_t off; bool is_ta = false;
    napi_is_typedarray(env, jdata, &is_ta);
    if (!is_ta || napi_get_typedarray_info(env, jdata, &tt, &len, &data, &ab, &off) != napi_ok) {
      snprintf(msg, sizeof msg, "run: input \"%s\" data is not a typed array", j->in_names[i]); job_free_partial(env, j); return throw_msg(env, msg);
    }
    /* Hold the typed array itself (not the wrapper object, whose .data could change) for the run. */
    napi_delete_reference(env, j->in_refs[i]); j->in_refs[i] = NULL;
    if (napi_create_reference(env, jdata, 1, &j->in_refs[i]) != napi_ok) { job_free_partial(env, j); return throw_msg(env, "run: could not hold an input"); }
    size_t bytes = count * elem_size(type);
    size_t have = len * typedarray_elem_size(tt);
    if (bytes > have) {
      snprintf(msg, sizeof msg, "run: input \"%s\" holds %zu bytes but its dims need %zu", j->in_names[i], have, bytes); job_free_partial(env, j); return throw_msg(env, msg);
    }
    static char empty[8];
    char *e = status_message(F(CreateTensorWithDataAsOrtValue)(cpu_mem, bytes ? data : empty, bytes, dims, rank, type, &j->in_vals[i]));
    if (e) { snprintf(msg, sizeof msg, "run: input \"%s\": %s", j->in_names[i], e); free(e); job_free_partial(env, j); return throw_msg(env, msg); }
    j->in_host[i] = 1;
  }
  for (uint32_t i = 0; i < nout; i++) {
    napi_value name, dv; bool b = false;
    napi_get_element(env, argv[3], i, &name); napi_get_element(env, argv[4], i, &dv);
    j->out_names[i] = get_string(env, name);
    napi_get_value_bool(env, dv, &b);
    j->on_device[i] = b;
    if (!j->out_names[i]) { job_free_partial(env, j); return throw_msg(env, "run: output names must be strings"); }
  }
  napi_value promise, res_name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) { job_free_partial(env, j); return throw_msg(env, "run: could not create a promise"); }
  napi_create_string_utf8(env, "rrlhf-ort-run", NAPI_AUTO_LENGTH, &res_name);
  if (napi_create_reference(env, argv[0], 1, &j->session_ref) != napi_ok ||
      napi_create_async_work(env, NULL, res_name, run_execute, run_complete, j, &j->work) != napi_ok) {
    if (j->session_ref) napi_delete_reference(env, j->session_ref);
    job_free_partial(env, j); return throw_msg(env, "run: could not start the run");
  }
  s->inflight++;
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    s->inflight--; napi_delete_async_work(env, j->work); napi_delete_reference(env, j->session_ref);
    job_free_partial(env, j); return throw_msg(env, "run: could not queue the run");
  }
  return promise;
}

/* ---- release ----------------------------------------------------------------------------------- */

static napi_value js_release(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return NULL;
  Handle *h = get_handle(env, argv[0], HANDLE_TAG_VALUE);
  if (h) {
    DeviceValue *d = h->p;
    if (d->inflight) d->release_pending = 1; else value_free(d);
    return NULL;
  }
  h = get_handle(env, argv[0], HANDLE_TAG_SESSION);
  if (h) {
    Session *s = h->p;
    if (s->inflight) s->release_pending = 1; else session_free(s);
    return NULL;
  }
  return throw_msg(env, "release: not a session or device value");
}

/* ORT allocates every host output (updated weights, optimizer moments) afresh each run and frees it when
 * JavaScript drops it. Above glibc's mmap threshold each such block is a fresh mapping whose every page
 * faults on first write; a training step of a 14M-parameter model touched ~170 MB that way (measured:
 * docs/engine.md § Measured performance (November 2026) and what it means). Keeping blocks up to 32 MB (glibc's ceiling for this setting)
 * in the heap, and not trimming the heap below 512 MB, lets the next run reuse the pages. Process-wide. */
static napi_value js_tune_host_allocator(napi_env env, napi_callback_info info) {
  (void)info;
  bool done = false;
#ifdef __GLIBC__
  done = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 512 << 20) == 1;
#endif
  napi_value out; napi_get_boolean(env, done, &out);
  return out;
}

static napi_value init_module(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
    {"createSession", NULL, js_create_session, NULL, NULL, NULL, napi_default, NULL},
    {"run", NULL, js_run, NULL, NULL, NULL, napi_default, NULL},
    {"release", NULL, js_release, NULL, NULL, NULL, napi_default, NULL},
    {"tuneHostAllocator", NULL, js_tune_host_allocator, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, init_module)
