/* libggml-virtgpu: a GGML backend whose devices are the GPUs (or other
 * backends) of an APIR host, reached through virtio-gpu (transport drm, in a
 * VM) or a vtest socket (transport vtest, e.g. apir-server).
 *
 * Load it into any llama.cpp/ggml program with
 *   GGML_BACKEND_PATH=/path/to/libggml-virtgpu.so
 * Environment: GGML_VIRTGPU_TRANSPORT=drm|vtest (default: vtest when
 * VTEST_SOCKET_NAME is set, else drm), VTEST_SOCKET_NAME (default
 * /tmp/.virgl_test), GGML_VIRTGPU_SOCKETS (several vtest sockets, colon-
 * separated: every device of each), GGML_REMOTING_USE_APIR_CAPSET (set: APIR capset;
 * unset: Venus capset), GGML_VIRTGPU_DEBUG (log every call). */
#ifndef GGML_VIRTGPU_H
#define GGML_VIRTGPU_H

#include "ggml-backend.h"
#include "ggml.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The VirtGPU backend registry; it has no device when the host cannot be
 * reached or refuses (the reason is logged). */
GGML_BACKEND_API ggml_backend_reg_t ggml_backend_virtgpu_reg(void);

#ifdef __cplusplus
}
#endif

#endif
