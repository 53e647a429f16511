/* Every environment variable and configuration key of the system, spelled
 * once. The seed document is the contract for the APIR_, VIRGL_ and
 * GGML_REMOTING_ names and for the configuration keys; the GGML_VIRTGPU_
 * names are this project's own (see README.md). */
#ifndef APIR_NAMES_H
#define APIR_NAMES_H

/* ---- guest (frontend) --------------------------------------------------- */

/* set: the APIR capset; unset: the Venus capset (the seed's default) */
#define ENV_USE_APIR_CAPSET "GGML_REMOTING_USE_APIR_CAPSET"
/* drm | vtest; unset: vtest when VTEST_SOCKET_NAME is set, else drm */
#define ENV_TRANSPORT "GGML_VIRTGPU_TRANSPORT"
/* the vtest socket (as in Mesa and virglrenderer) */
#define ENV_VTEST_SOCKET "VTEST_SOCKET_NAME"
/* a colon-separated list of vtest sockets, one host each */
#define ENV_SOCKETS "GGML_VIRTGPU_SOCKETS"
/* every component: debug-level logs */
#define ENV_DEBUG "GGML_VIRTGPU_DEBUG"

/* ---- hypervisor (APIR component, apir-server) --------------------------- */

#define ENV_BACKEND_LIBRARY "VIRGL_APIR_BACKEND_LIBRARY"
#define ENV_ROUTE_VENUS "VIRGL_ROUTE_VENUS_TO_APIR"
#define ENV_APIR_LOG_FILE "VIRGL_APIR_LOG_TO_FILE"

/* ---- host (backend library) --------------------------------------------- */

#define ENV_GGML_LIBRARY_PATH "APIR_LLAMA_CPP_GGML_LIBRARY_PATH"
#define ENV_GGML_LIBRARY_REG "APIR_LLAMA_CPP_GGML_LIBRARY_REG"
#define ENV_BACKEND_LOG_FILE "APIR_LLAMA_CPP_LOG_TO_FILE"
/* the registration function when ggml.library.reg is not set */
#define DEFAULT_GGML_LIBRARY_REG "ggml_backend_init"

/* ---- configuration keys of an APIR context ------------------------------ */

#define APIR_CFG_LOAD_LIBRARY_PATH "apir.load_library.path"
#define APIR_CFG_GGML_LIBRARY_PATH "ggml.library.path"
#define APIR_CFG_GGML_LIBRARY_REG "ggml.library.reg"
/* Set (to "1") by an APIR component whose callbacks struct has the
 * get_shmem_size and pin_shmem members; other components pass only the
 * first two. */
#define APIR_CFG_CALLBACKS_SHMEM_SIZE "apir.callbacks.shmem_size"

/* Step 2 of the seed's configuration flow: the keys a new context takes
 * from the environment. X(key, variable) */
#define APIR_CONFIG_FROM_ENVIRONMENT(X)                   \
    X(APIR_CFG_LOAD_LIBRARY_PATH, ENV_BACKEND_LIBRARY)    \
    X(APIR_CFG_GGML_LIBRARY_PATH, ENV_GGML_LIBRARY_PATH)  \
    X(APIR_CFG_GGML_LIBRARY_REG, ENV_GGML_LIBRARY_REG)

#endif
