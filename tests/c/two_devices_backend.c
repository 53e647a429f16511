/* A GGML backend library with two devices, for testing hosts with several
 * devices on a machine without GPUs: devices "TestA" and "TestB" both run
 * on ggml's CPU backend, loaded from TWO_DEVICES_CPU_LIBRARY. TestB's
 * buffers stand for a GPU's memory: ggml sees them as not host memory, so
 * a host reads them back through get_tensor as it would a GPU's.
 *
 * For the tests of apir-server's sandbox, TWO_DEVICES_MISBEHAVE makes
 * every graph compute misbehave as a broken or compromised GGML library
 * would: "abort" (through ggml's GGML_ABORT), "fork", "exec" (/bin/true) or
 * "hang" (after saying so on stderr). Only this test library does this.
 *
 * It also brings a stand-in for a GPU runtime's host-memory registration
 * (cudaHostRegister, cudaHostUnregister, cudaGetLastError), which the host
 * library finds in a GGML library's dependencies: each call is logged on
 * stderr, an overlapping registration or an unknown unregistration fails
 * as CUDA's would and leaves an error that cudaGetLastError must clear
 * before the next graph compute (ggml-cuda checks it after its kernels).
 * TWO_DEVICES_PIN_FAIL makes every registration fail. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ggml-backend-impl.h"

struct wrapped_device {
    struct ggml_backend_device dev;
    const char *name;
    const char *description;
};

static ggml_backend_dev_t cpu;
static struct wrapped_device devices[2];
static struct ggml_backend_reg reg;

static struct wrapped_device *wrapped(ggml_backend_dev_t dev)
{
    return (struct wrapped_device *)dev;
}

static const char *get_name(ggml_backend_dev_t dev) { return wrapped(dev)->name; }
static const char *get_description(ggml_backend_dev_t dev) { return wrapped(dev)->description; }
static void get_memory(ggml_backend_dev_t dev, size_t *f, size_t *t) { (void)dev; ggml_backend_dev_memory(cpu, f, t); }
static enum ggml_backend_dev_type get_type(ggml_backend_dev_t dev) { (void)dev; return GGML_BACKEND_DEVICE_TYPE_CPU; }

static void get_props(ggml_backend_dev_t dev, struct ggml_backend_dev_props *props)
{
    ggml_backend_dev_get_props(cpu, props);
    props->name = get_name(dev);
    props->description = get_description(dev);
}

/* ---- a GPU runtime's host-memory registration, stood in for ------------- */

#define PIN_SLOTS 16
#define ERROR_ALREADY_REGISTERED 712 /* cudaErrorHostMemoryAlreadyRegistered */
#define ERROR_NOT_REGISTERED 713     /* cudaErrorHostMemoryNotRegistered */

static struct { char *ptr; size_t size; } pins[PIN_SLOTS];
static int last_error;

static int pin_fail(int code)
{
    last_error = code;
    return code;
}

__attribute__((visibility("default"))) int cudaHostRegister(void *ptr, size_t size, unsigned int flags)
{
    int free_slot = -1;
    for (int i = 0; i < PIN_SLOTS; i++) {
        if (pins[i].ptr == NULL) {
            free_slot = free_slot < 0 ? i : free_slot;
        } else if (pins[i].ptr < (char *)ptr + size && (char *)ptr < pins[i].ptr + pins[i].size) {
            fprintf(stderr, "two_devices_backend: cudaHostRegister(%p, %zu): overlaps a registered range\n", ptr, size);
            return pin_fail(ERROR_ALREADY_REGISTERED);
        }
    }
    if (getenv("TWO_DEVICES_PIN_FAIL") != NULL || free_slot < 0) {
        fprintf(stderr, "two_devices_backend: cudaHostRegister(%p, %zu): failed\n", ptr, size);
        return pin_fail(2); /* cudaErrorMemoryAllocation */
    }
    pins[free_slot].ptr = ptr;
    pins[free_slot].size = size;
    fprintf(stderr, "two_devices_backend: cudaHostRegister(%p, %zu, flags %u): registered\n", ptr, size, flags);
    return 0;
}

__attribute__((visibility("default"))) int cudaHostUnregister(void *ptr)
{
    for (int i = 0; i < PIN_SLOTS; i++) {
        if (pins[i].ptr == ptr) {
            pins[i].ptr = NULL;
            fprintf(stderr, "two_devices_backend: cudaHostUnregister(%p): unregistered\n", ptr);
            return 0;
        }
    }
    fprintf(stderr, "two_devices_backend: cudaHostUnregister(%p): not registered\n", ptr);
    return pin_fail(ERROR_NOT_REGISTERED);
}

__attribute__((visibility("default"))) int cudaGetLastError(void)
{
    const int error = last_error;
    last_error = 0;
    return error;
}

/* what ggml-cuda's check after its kernels would find */
static void check_no_runtime_error(void)
{
    if (last_error != 0) {
        GGML_ABORT("two_devices_backend: runtime error %d left uncleared before a graph compute", last_error);
    }
}

/* ---- misbehaving on request --------------------------------------------- */

struct checked_backend {
    struct ggml_backend backend; /* the CPU backend's, but for compute and free */
    ggml_backend_t cpu;
};

static void misbehave(const char *how)
{
    if (strcmp(how, "abort") == 0) {
        GGML_ABORT("two_devices_backend: graph compute aborts (TWO_DEVICES_MISBEHAVE=abort)");
    } else if (strcmp(how, "fork") == 0) {
        if (fork() == 0) {
            _exit(0);
        }
    } else if (strcmp(how, "exec") == 0) {
        execl("/bin/true", "true", (char *)NULL);
    } else if (strcmp(how, "hang") == 0) {
        fprintf(stderr, "two_devices_backend: graph compute hangs (TWO_DEVICES_MISBEHAVE=hang)\n");
        for (;;) {
            sleep(1);
        }
    }
}

static enum ggml_status checked_compute(ggml_backend_t backend, struct ggml_cgraph *graph)
{
    check_no_runtime_error();
    const char *how = getenv("TWO_DEVICES_MISBEHAVE");
    if (how != NULL) {
        misbehave(how);
    }
    ggml_backend_t inner = ((struct checked_backend *)backend)->cpu;
    return inner->iface.graph_compute(inner, graph);
}

static void checked_free(ggml_backend_t backend)
{
    ggml_backend_free(((struct checked_backend *)backend)->cpu);
    free(backend);
}

/* the CPU backend, wrapped: its graph computes are checked first (and
 * misbehave when asked to) */
static ggml_backend_t init_backend(ggml_backend_dev_t dev, const char *params)
{
    (void)dev;
    ggml_backend_t backend = ggml_backend_dev_init(cpu, params);
    if (backend == NULL) {
        return NULL;
    }
    struct checked_backend *m = malloc(sizeof *m);
    if (m == NULL) {
        ggml_backend_free(backend);
        return NULL;
    }
    m->backend = *backend;
    m->backend.iface.graph_compute = checked_compute;
    m->backend.iface.free = checked_free;
    m->cpu = backend;
    return &m->backend;
}

/* TestB's buffer type: the CPU's, but not host memory */
static struct ggml_backend_buffer_type device_memory;

static ggml_backend_buffer_t device_memory_alloc(ggml_backend_buffer_type_t buft, size_t size)
{
    ggml_backend_buffer_t buffer = ggml_backend_buft_alloc_buffer(ggml_backend_dev_buffer_type(cpu), size);
    if (buffer != NULL) {
        buffer->buft = buft;
    }
    return buffer;
}

static const char *device_memory_name(ggml_backend_buffer_type_t buft)
{
    (void)buft;
    return "TestB";
}

static ggml_backend_buffer_type_t get_buffer_type(ggml_backend_dev_t dev)
{
    return dev == &devices[1].dev ? &device_memory : ggml_backend_dev_buffer_type(cpu);
}

/* a host buffer type, as GPU devices have (CUDA's pinned memory): the host
 * library then moves large tensor transfers through staging memory of this
 * type, which the multi-device tests exercise */
static ggml_backend_buffer_type_t get_host_buffer_type(ggml_backend_dev_t dev)
{
    (void)dev;
    return ggml_backend_dev_buffer_type(cpu);
}

/* the CPU's props say it can wrap host memory: so can these devices */
static ggml_backend_buffer_t buffer_from_host_ptr(ggml_backend_dev_t dev, void *ptr, size_t size, size_t max_tensor_size)
{
    (void)dev;
    return ggml_backend_dev_buffer_from_host_ptr(cpu, ptr, size, max_tensor_size);
}

static bool supports_op(ggml_backend_dev_t dev, const struct ggml_tensor *op)
{
    (void)dev;
    return ggml_backend_dev_supports_op(cpu, op);
}

static bool supports_buft(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft)
{
    return buft == get_buffer_type(dev) || ggml_backend_dev_supports_buft(cpu, buft);
}

static const struct ggml_backend_device_i device_iface = {
    .get_name = get_name,
    .get_description = get_description,
    .get_memory = get_memory,
    .get_type = get_type,
    .get_props = get_props,
    .init_backend = init_backend,
    .get_buffer_type = get_buffer_type,
    .get_host_buffer_type = get_host_buffer_type,
    .buffer_from_host_ptr = buffer_from_host_ptr,
    .supports_op = supports_op,
    .supports_buft = supports_buft,
};

static const char *reg_name(ggml_backend_reg_t r) { (void)r; return "TwoDevices"; }
static size_t reg_count(ggml_backend_reg_t r) { (void)r; return cpu ? 2 : 0; }
static ggml_backend_dev_t reg_device(ggml_backend_reg_t r, size_t i) { (void)r; return i < 2 ? &devices[i].dev : NULL; }

static void load_cpu(void)
{
    const char *path = getenv("TWO_DEVICES_CPU_LIBRARY");
    void *lib = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) : NULL;
    ggml_backend_init_t init = lib ? (ggml_backend_init_t)(uintptr_t)dlsym(lib, "ggml_backend_init") : NULL;
    ggml_backend_reg_t cpu_reg = init ? init() : NULL;
    if (cpu_reg == NULL) {
        fprintf(stderr, "two_devices_backend: set TWO_DEVICES_CPU_LIBRARY to libggml-cpu.so\n");
        return;
    }
    cpu = ggml_backend_reg_dev_get(cpu_reg, 0);
    devices[0] = (struct wrapped_device){ { device_iface, &reg, NULL }, "TestA", "test device A on the CPU" };
    devices[1] = (struct wrapped_device){ { device_iface, &reg, NULL }, "TestB", "test device B on the CPU" };
    device_memory = *ggml_backend_dev_buffer_type(cpu);
    device_memory.iface.get_name = device_memory_name;
    device_memory.iface.alloc_buffer = device_memory_alloc;
    device_memory.iface.is_host = NULL; /* ggml: not host memory */
    device_memory.device = &devices[1].dev;
}

__attribute__((visibility("default"))) ggml_backend_reg_t ggml_backend_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, load_cpu);
    reg = (struct ggml_backend_reg){ GGML_BACKEND_API_VERSION, { reg_name, reg_count, reg_device, NULL }, NULL };
    return &reg;
}
