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
/* guest: set (not 0), no host buffer type in shared memory is offered */
#define ENV_NO_HOST_BUFFER "GGML_VIRTGPU_NO_HOST_BUFFER"

/* ---- hypervisor (APIR component, apir-server) --------------------------- */

#define ENV_BACKEND_LIBRARY "VIRGL_APIR_BACKEND_LIBRARY"
#define ENV_ROUTE_VENUS "VIRGL_ROUTE_VENUS_TO_APIR"
#define ENV_APIR_LOG_FILE "VIRGL_APIR_LOG_TO_FILE"
/* the virglrenderer-ABI library (libvirglrenderer.so.1 for QEMU): the real
 * virglrenderer it forwards what is not APIR to ("none": none) */
#define ENV_REAL_VIRGLRENDERER "GGML_VIRTGPU_VIRGLRENDERER"
/* the virglrenderer-ABI library: the apir-server (its socket) that serves a
 * VMM's APIR contexts; unset: the library starts a private one */
#define ENV_SERVER_SOCKET "APIR_SERVER_SOCKET"
/* the apir-server program that library starts (default: the one installed,
 * or built, beside it) */
#define ENV_SERVER_PROGRAM "GGML_VIRTGPU_APIR_SERVER"
/* set: apir-server serves without its sandbox (--no-sandbox), for debugging */
#define ENV_NO_SANDBOX "GGML_VIRTGPU_NO_SANDBOX"
/* ggml's own: set, its abort handler does not fork gdb for a backtrace */
#define ENV_GGML_NO_BACKTRACE "GGML_NO_BACKTRACE"

/* ---- host (backend library) --------------------------------------------- */

#define ENV_GGML_LIBRARY_PATH "APIR_LLAMA_CPP_GGML_LIBRARY_PATH"
#define ENV_GGML_LIBRARY_REG "APIR_LLAMA_CPP_GGML_LIBRARY_REG"
#define ENV_BACKEND_LOG_FILE "APIR_LLAMA_CPP_LOG_TO_FILE"
/* a directory: each context writes its calls and graphs there, the seed of
 * the fuzz corpus (tests/fuzz/README.md) */
#define ENV_CAPTURE_DIR "GGML_VIRTGPU_CAPTURE_DIR"
/* host: set (not 0), the guest's shared memory is not pinned for the device's copies */
#define ENV_NO_PIN "GGML_VIRTGPU_NO_PIN"
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

/* ---- limits of a context (apir-server's --max-* options) ---------------- */

#define APIR_CFG_MAX_CONTEXT_MEMORY "apir.limits.context_memory"
#define APIR_CFG_MAX_BUFFERS "apir.limits.buffers"
#define APIR_CFG_MAX_GRAPH_NODES "apir.limits.graph_nodes"
#define APIR_CFG_MAX_COMMAND_BYTES "apir.limits.command_bytes"
#define APIR_CFG_MAX_GRAPH_SECONDS "apir.limits.graph_seconds"
#define APIR_CFG_MAX_BLOB_MEMORY "apir.limits.blob_memory"
#define ENV_MAX_CONTEXT_MEMORY "APIR_MAX_CONTEXT_MEMORY"
#define ENV_MAX_BUFFERS "APIR_MAX_BUFFERS"
#define ENV_MAX_GRAPH_NODES "APIR_MAX_GRAPH_NODES"
#define ENV_MAX_COMMAND_BYTES "APIR_MAX_COMMAND_BYTES"
#define ENV_MAX_GRAPH_SECONDS "APIR_MAX_GRAPH_SECONDS"
#define ENV_MAX_BLOB_MEMORY "APIR_MAX_BLOB_MEMORY"
#define OPT_MAX_CONTEXT_MEMORY "--max-context-memory"
#define OPT_MAX_BUFFERS "--max-buffers"
#define OPT_MAX_GRAPH_NODES "--max-graph-nodes"
#define OPT_MAX_COMMAND_BYTES "--max-command-bytes"
#define OPT_MAX_GRAPH_SECONDS "--max-graph-seconds"
#define OPT_MAX_BLOB_MEMORY "--max-blob-memory"
#define DEFAULT_MAX_CONTEXT_MEMORY 0 /* none: the device's memory bounds it */
#define DEFAULT_MAX_BUFFERS 4096
#define DEFAULT_MAX_GRAPH_NODES 262144 /* a large model's graph has about 16k */
#define DEFAULT_MAX_COMMAND_BYTES 1048576 /* guests send at most a few KiB */
#define DEFAULT_MAX_GRAPH_SECONDS 10 /* a large prompt batch on a CPU host takes a few */
/* none: weights in a device's host buffers live in blobs, as large as the model */
#define DEFAULT_MAX_BLOB_MEMORY 0

/* X(key, variable, default, apir-server option, its argument, what it
 * bounds): the
 * limits the APIR component (command bytes, blob memory) and the host
 * library (the rest) read from a context's configuration. A value is a number with an
 * optional K, M, G or T suffix (powers of 1024); 0 means no limit. */
#define APIR_LIMITS(X)                                                                               \
    X(APIR_CFG_MAX_CONTEXT_MEMORY, ENV_MAX_CONTEXT_MEMORY, DEFAULT_MAX_CONTEXT_MEMORY,                 \
      OPT_MAX_CONTEXT_MEMORY, "BYTES", "bytes of device buffers one context allocates")                 \
    X(APIR_CFG_MAX_BUFFERS, ENV_MAX_BUFFERS, DEFAULT_MAX_BUFFERS, OPT_MAX_BUFFERS, "N",                   \
      "buffers one context holds")                                                                    \
    X(APIR_CFG_MAX_GRAPH_NODES, ENV_MAX_GRAPH_NODES, DEFAULT_MAX_GRAPH_NODES, OPT_MAX_GRAPH_NODES, "N",  \
      "tensors (nodes and leafs) of one graph")                                                       \
    X(APIR_CFG_MAX_COMMAND_BYTES, ENV_MAX_COMMAND_BYTES, DEFAULT_MAX_COMMAND_BYTES,                    \
      OPT_MAX_COMMAND_BYTES, "BYTES", "bytes of one command")                                          \
    X(APIR_CFG_MAX_GRAPH_SECONDS, ENV_MAX_GRAPH_SECONDS, DEFAULT_MAX_GRAPH_SECONDS,                    \
      OPT_MAX_GRAPH_SECONDS, "SECONDS", "seconds one graph runs")                                     \
    X(APIR_CFG_MAX_BLOB_MEMORY, ENV_MAX_BLOB_MEMORY, DEFAULT_MAX_BLOB_MEMORY, OPT_MAX_BLOB_MEMORY,     \
      "BYTES", "bytes of shared-memory blobs one context holds")

/* where a refusal's log tells the operator to raise a limit, e.g.
 * APIR_LIMIT_KNOBS(OPT_MAX_BUFFERS, ENV_MAX_BUFFERS, APIR_CFG_MAX_BUFFERS) */
#define APIR_LIMIT_KNOBS(option, variable, key) "apir-server " option " (env " variable ", key " key ")"

/* apir-server only: the contexts (guest connections) served at once */
#define OPT_MAX_CONTEXTS "--max-contexts"
#define ENV_MAX_CONTEXTS "APIR_MAX_CONTEXTS"
#define DEFAULT_MAX_CONTEXTS 1024

/* Step 2 of the seed's configuration flow: the keys a new context takes
 * from the environment, the limits included. X(key, variable, ...) */
#define APIR_CONFIG_FROM_ENVIRONMENT(X)                   \
    X(APIR_CFG_LOAD_LIBRARY_PATH, ENV_BACKEND_LIBRARY)    \
    X(APIR_CFG_GGML_LIBRARY_PATH, ENV_GGML_LIBRARY_PATH)  \
    X(APIR_CFG_GGML_LIBRARY_REG, ENV_GGML_LIBRARY_REG)    \
    APIR_LIMITS(X)

#endif
