/* A VirtGPU device: what the host says of its device, presented to ggml as
 * a GPU so that llama.cpp offloads layers to it (-ngl), whatever the host
 * runs on. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "frontend.h"

static struct vgpu_device *device_of(ggml_backend_dev_t dev)
{
    return dev->context;
}

static const struct ggml_backend_device_i device_iface;

/* ---- asking the host ---------------------------------------------------- */

static const struct apir_msg_none no_args;

static bool fetch_string(struct vgpu_remote *r, bool (*call)(struct vgpu_remote *, const struct apir_msg_none *,
                                                           struct apir_msg_string *),
                         char *out, size_t cap)
{
    struct apir_msg_string reply;
    if (!call(r, &no_args, &reply)) {
        return false;
    }
    const size_t n = strnlen(reply.value, cap - 1); /* a longer name is cut */
    memcpy(out, reply.value, n);
    out[n] = '\0';
    return true;
}

/* a size property of the device's buffer type */
static bool fetch_buft_size(struct vgpu_device *d,
                            bool (*call)(struct vgpu_remote *, const struct apir_msg_u64 *, struct apir_msg_u64 *),
                            size_t *out)
{
    const struct apir_msg_u64 req = { .value = d->buft_handle };
    struct apir_msg_u64 reply;
    if (!call(d->remote, &req, &reply)) {
        return false;
    }
    *out = (size_t)reply.value;
    return true;
}

static bool fetch_memory(struct vgpu_device *d)
{
    struct apir_msg_memory reply;
    if (!vgpu_device_get_memory(d->remote, &no_args, &reply)) {
        return false;
    }
    d->memory_free = (size_t)reply.free_bytes;
    d->memory_total = (size_t)reply.total_bytes;
    return true;
}

/* The host's CPU is a remote accelerator to the guest: shown as a GPU. */
static bool fetch_type(struct vgpu_device *d)
{
    struct apir_msg_u32 reply;
    if (!vgpu_device_get_type(d->remote, &no_args, &reply)) {
        return false;
    }
    d->type = reply.value == GGML_BACKEND_DEVICE_TYPE_IGPU ? GGML_BACKEND_DEVICE_TYPE_IGPU
                                                           : GGML_BACKEND_DEVICE_TYPE_GPU;
    return true;
}

static bool fetch_buffer_type(struct vgpu_device *d)
{
    struct apir_msg_u64 reply;
    if (!vgpu_device_get_buffer_type(d->remote, &no_args, &reply)) {
        return false;
    }
    d->buft_handle = reply.value;
    return fetch_buft_size(d, vgpu_buffer_type_get_alignment, &d->alignment) &&
           fetch_buft_size(d, vgpu_buffer_type_get_max_size, &d->max_size);
}

bool vgpu_device_init(struct vgpu_device *d, struct vgpu_remote *remote, int index, ggml_backend_reg_t reg)
{
    char host_name[VGPU_NAME_SIZE / 2];
    d->remote = remote;
    d->index = index;
    if (!fetch_string(remote, vgpu_device_get_name, host_name, sizeof host_name) ||
        !fetch_string(remote, vgpu_device_get_description, d->description, sizeof d->description) ||
        !fetch_type(d) || !fetch_memory(d) || !fetch_buffer_type(d)) {
        LOG_ERROR("cannot read the host device's properties");
        return false;
    }
    snprintf(d->name, sizeof d->name, "VirtGPU%d-%s", index, host_name);
    d->buft = (struct ggml_backend_buffer_type){ .iface = vgpu_buffer_type_iface, .device = &d->dev, .context = d };
    d->dev = (struct ggml_backend_device){ .iface = device_iface, .reg = reg, .context = d };
    vgpu_cache_init(&d->supports_op);
    vgpu_cache_init(&d->alloc_size);
    LOG_INFO("%s: %s, %zu MiB, through %s", d->name, d->description, d->memory_total >> 20,
             remote->transport->name);
    return true;
}

/* ---- supports_op, cached ------------------------------------------------ */

static bool ask_supports_op(struct vgpu_device *d, const struct ggml_tensor *op)
{
    struct apir_msg_op req;
    vgpu_inline_op(op, &req.op);
    struct apir_msg_boolean reply = { .value = false };
    return vgpu_device_supports_op(d->remote, &req, &reply) && reply.value;
}

static bool dev_supports_op(ggml_backend_dev_t dev, const struct ggml_tensor *op)
{
    struct vgpu_device *d = device_of(dev);
    const uint64_t key = vgpu_op_key(op, 0);
    uint64_t supported;
    if (!vgpu_cache_get(&d->supports_op, key, &supported)) {
        supported = ask_supports_op(d, op);
        vgpu_cache_put(&d->supports_op, key, supported);
    }
    return supported != 0;
}

/* ---- the rest of the device interface ----------------------------------- */

static const char *dev_get_name(ggml_backend_dev_t dev)
{
    return device_of(dev)->name;
}

static const char *dev_get_description(ggml_backend_dev_t dev)
{
    return device_of(dev)->description;
}

static void dev_get_memory(ggml_backend_dev_t dev, size_t *free_bytes, size_t *total)
{
    struct vgpu_device *d = device_of(dev);
    fetch_memory(d); /* keeps the last known values when the host does not answer */
    *free_bytes = d->memory_free;
    *total = d->memory_total;
}

static enum ggml_backend_dev_type dev_get_type(ggml_backend_dev_t dev)
{
    return device_of(dev)->type;
}

static void dev_get_props(ggml_backend_dev_t dev, struct ggml_backend_dev_props *props)
{
    memset(props, 0, sizeof *props);
    props->name = dev_get_name(dev);
    props->description = dev_get_description(dev);
    props->type = dev_get_type(dev);
    dev_get_memory(dev, &props->memory_free, &props->memory_total);
}

static ggml_backend_t dev_init_backend(ggml_backend_dev_t dev, const char *params)
{
    (void)params;
    return vgpu_backend_init(device_of(dev));
}

static ggml_backend_buffer_type_t dev_get_buffer_type(ggml_backend_dev_t dev)
{
    return &device_of(dev)->buft;
}

static bool dev_supports_buft(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft)
{
    return buft == &device_of(dev)->buft;
}

static const struct ggml_backend_device_i device_iface = {
    .get_name = dev_get_name,
    .get_description = dev_get_description,
    .get_memory = dev_get_memory,
    .get_type = dev_get_type,
    .get_props = dev_get_props,
    .init_backend = dev_init_backend,
    .get_buffer_type = dev_get_buffer_type,
    .get_host_buffer_type = NULL,
    .buffer_from_host_ptr = NULL,
    .supports_op = dev_supports_op,
    .supports_buft = dev_supports_buft,
    .offload_op = NULL,
    .event_new = NULL,
    .event_free = NULL,
    .event_synchronize = NULL,
};
