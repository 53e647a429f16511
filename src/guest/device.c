/* A VirtGPU device: what the host says of its device, presented to ggml as
 * a GPU so that llama.cpp offloads layers to it (-ngl), whatever the host
 * runs on. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "apir/names.h"
#include "backend.h"
#include "buffer.h"
#include "calls.h"
#include "device.h"
#include "env-switch.h"
#include "frontend.h"
#include "lock.h"
#include "op-cache.h"
#include "remote.h"
#include "shared-buffer.h"
#include "wire.h"

static struct vgpu_device *device_of(ggml_backend_dev_t dev)
{
    return dev->context;
}

static const struct ggml_backend_device_i device_iface;

/* ---- asking the host ---------------------------------------------------- */

static const struct wire_msg_none no_args;

static bool fetch_string(struct vgpu_remote *r, bool (*call)(struct vgpu_remote *, const struct wire_msg_none *,
                                                           struct wire_msg_string *),
                         char *out, size_t cap)
{
    struct wire_msg_string reply;
    if (!call(r, &no_args, &reply)) {
        return false;
    }
    const size_t n = strnlen(reply.value, cap - 1); /* a longer name is cut */
    memcpy(out, reply.value, n);
    out[n] = '\0';
    return true;
}

/* a size property of buffer type b */
static bool fetch_buft_size(struct vgpu_buft *b,
                            bool (*call)(struct vgpu_remote *, const struct wire_msg_u64 *, struct wire_msg_u64 *),
                            size_t *out)
{
    const struct wire_msg_u64 req = { .value = b->handle };
    struct wire_msg_u64 reply;
    if (!call(b->device->remote, &req, &reply)) {
        return false;
    }
    *out = (size_t)reply.value;
    return true;
}

static bool fetch_memory(struct vgpu_device *d)
{
    struct wire_msg_memory reply;
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
    struct wire_msg_u32 reply;
    if (!vgpu_device_get_type(d->remote, &no_args, &reply)) {
        return false;
    }
    d->type = reply.value == GGML_BACKEND_DEVICE_TYPE_IGPU ? GGML_BACKEND_DEVICE_TYPE_IGPU
                                                           : GGML_BACKEND_DEVICE_TYPE_GPU;
    return true;
}

/* Describes the host's buffer type `handle` in b: its sizes, and the name
 * ggml shows (llama.cpp logs "<name> model buffer size"). */
static bool fetch_buft(struct vgpu_device *d, struct vgpu_buft *b, uint64_t handle, bool extra)
{
    *b = (struct vgpu_buft){ .device = d, .handle = handle, .extra = extra };
    b->buft = (struct ggml_backend_buffer_type){ .iface = vgpu_buffer_type_iface, .device = &d->dev, .context = b };
    if (!fetch_buft_size(b, vgpu_buffer_type_get_alignment, &b->alignment) ||
        !fetch_buft_size(b, vgpu_buffer_type_get_max_size, &b->max_size)) {
        return false;
    }
    if (!extra) {
        snprintf(b->name, sizeof b->name, "%s", d->name);
        return true;
    }
    const struct wire_msg_u64 req = { .value = handle };
    struct wire_msg_string host_name;
    if (!vgpu_buffer_type_get_name(d->remote, &req, &host_name)) {
        return false;
    }
    snprintf(b->name, sizeof b->name, "VirtGPU%d-%.*s", d->index, VGPU_NAME_SIZE / 2, host_name.value);
    return true;
}

/* Whether the host's device has a host buffer type (pinned memory, which
 * its copies take by DMA): then the guest offers shared memory as its own
 * (unless ENV_NO_HOST_BUFFER says not to); a CPU host would gain nothing.
 * Not in a VM: llama.cpp reads model weights from their file into a host
 * buffer, which a VM's blob mapping cannot take. */
static bool fetch_has_host_buffer(struct vgpu_device *d)
{
    if (!d->remote->transport->blobs_are_ordinary_memory) {
        return false;
    }
    if (env_switch_on(ENV_NO_HOST_BUFFER)) {
        return false;
    }
    struct wire_msg_props props = { .host_buffer = false };
    return vgpu_device_get_props(d->remote, &no_args, &props) && props.host_buffer;
}

static bool fetch_buffer_type(struct vgpu_device *d)
{
    struct wire_msg_u64 reply;
    return vgpu_device_get_buffer_type(d->remote, &no_args, &reply) && fetch_buft(d, &d->buft, reply.value, false);
}

/* The host's extra buffer types; none from a host without ext_extra_bufts. */
static void fetch_extra_bufts(struct vgpu_device *d)
{
    struct wire_msg_handles reply = { .value = { .count = 0 } };
    vgpu_lock(d->remote);
    const uint32_t rc = vgpu_ext_extra_bufts_locked(d->remote, &no_args, &reply);
    vgpu_unlock(d->remote);
    for (uint32_t i = 0; rc == APIR_CALL_OK && i < reply.value.count; i++) {
        struct vgpu_buft *b = &d->extra[d->n_extra];
        if (!fetch_buft(d, b, reply.value.items[i], true)) {
            LOG_WARN("%s: an extra buffer type of the host could not be described; it is not used", d->name);
            continue;
        }
        d->extra_list[d->n_extra++] = &b->buft;
        LOG_INFO("%s: extra buffer type %s", d->name, b->name);
    }
    d->extra_list[d->n_extra] = NULL;
}

bool vgpu_device_init(struct vgpu_device *d, struct vgpu_remote *remote, int index, ggml_backend_reg_t reg)
{
    char host_name[VGPU_NAME_SIZE / 2];
    d->remote = remote;
    d->index = index;
    if (!fetch_string(remote, vgpu_device_get_name, host_name, sizeof host_name)) {
        LOG_ERROR("cannot read the host device's properties");
        return false;
    }
    snprintf(d->name, sizeof d->name, "VirtGPU%d-%s", index, host_name);
    if (!fetch_string(remote, vgpu_device_get_description, d->description, sizeof d->description) ||
        !fetch_type(d) || !fetch_memory(d) || !fetch_buffer_type(d)) {
        LOG_ERROR("cannot read the host device's properties");
        return false;
    }
    fetch_extra_bufts(d);
    if ((d->has_host_buft = fetch_has_host_buffer(d))) {
        vgpu_shared_buft_init(d);
    }
    d->dev = (struct ggml_backend_device){ .iface = device_iface, .reg = reg, .context = d };
    vgpu_cache_init(&d->supports_op);
    vgpu_cache_init(&d->alloc_size);
    LOG_INFO("%s: %s, %zu MiB, through %s", d->name, d->description, d->memory_total >> 20,
             remote->transport->name);
    return true;
}

/* ---- supports_op, cached ------------------------------------------------ */

#define WEIGHT_BUFT_SALT 0x3e1a7b0f5ull

static bool ask_supports_op(struct vgpu_device *d, const struct ggml_tensor *op)
{
    struct wire_msg_op req;
    vgpu_inline_op(op, &req.op);
    struct wire_msg_boolean reply = { .value = false };
    return vgpu_device_supports_op(d->remote, &req, &reply) && reply.value;
}

/* with the op's weight (src[0]) in a buffer of type b: the host's plain
 * supports_op does not know where the sources are */
static bool ask_supports_op_with_weight_in(const struct vgpu_buft *b, const struct ggml_tensor *op)
{
    struct wire_msg_buft_op req = { .buft = b->handle };
    vgpu_inline_op(op, &req.op);
    struct wire_msg_boolean reply = { .value = false };
    return vgpu_ext_buft_supports_op(b->device->remote, &req, &reply) && reply.value;
}

/* The host's answer, once per shape: plain, or with the weight in a buffer
 * of extra type weight_buft (not NULL). */
static bool cached_supports_op(struct vgpu_device *d, const struct ggml_tensor *op, const struct vgpu_buft *weight_buft)
{
    const uint64_t key = vgpu_op_key(op, weight_buft ? WEIGHT_BUFT_SALT + weight_buft->handle : 0);
    uint64_t supported;
    if (!vgpu_cache_get(&d->supports_op, key, &supported)) {
        supported = weight_buft ? ask_supports_op_with_weight_in(weight_buft, op) : ask_supports_op(d, op);
        vgpu_cache_put(&d->supports_op, key, supported);
    }
    return supported != 0;
}

/* the VirtGPU buffer type behind a ggml one of dev, or NULL */
static struct vgpu_buft *vgpu_buft_of(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft)
{
    struct vgpu_device *d = device_of(dev);
    if (buft == &d->buft.buft) {
        return &d->buft;
    }
    for (uint32_t i = 0; i < d->n_extra; i++) {
        if (buft == &d->extra[i].buft) {
            return &d->extra[i];
        }
    }
    return NULL;
}

/* the extra buffer type of d that holds t, or NULL */
static const struct vgpu_buft *extra_buft_of(struct vgpu_device *d, const struct ggml_tensor *t)
{
    const struct vgpu_buft *b = t && t->buffer ? vgpu_buft_of(&d->dev, t->buffer->buft) : NULL;
    return b && b->extra ? b : NULL;
}

/* Whether op computes something from a weight src[0] in an empty buffer of
 * d's own type: llama.cpp asking whether the weight may go there
 * (weight_buft_supported: ggml_backend_buft_alloc_buffer(buft, 0)). Its
 * dry run (no_alloc, fitting the model to memory) has empty buffers too,
 * but there view ops and views (of the KV cache) are no weights. */
static bool weight_placement_query(struct vgpu_device *d, const struct ggml_tensor *op)
{
    const struct ggml_tensor *t = op->src[0];
    const bool computes = op->op != GGML_OP_NONE && op->op != GGML_OP_VIEW && op->op != GGML_OP_RESHAPE &&
                          op->op != GGML_OP_PERMUTE && op->op != GGML_OP_TRANSPOSE;
    return computes && t && t->view_src == NULL && t->buffer && t->buffer->buft == &d->buft.buft &&
           ggml_backend_buffer_get_size(t->buffer) == 0;
}

static bool extra_buft_takes_weight(struct vgpu_device *d, const struct ggml_tensor *op)
{
    for (uint32_t i = 0; i < d->n_extra; i++) {
        if (cached_supports_op(d, op, &d->extra[i])) {
            return true;
        }
    }
    return false;
}

static bool dev_supports_op(ggml_backend_dev_t dev, const struct ggml_tensor *op)
{
    struct vgpu_device *d = device_of(dev);
    for (int i = 1; i < GGML_MAX_SRC; i++) {
        if (extra_buft_of(d, op->src[i]) != NULL) {
            return false; /* a repacked tensor is only ever a weight, src[0] */
        }
    }
    const struct vgpu_buft *weight_buft = extra_buft_of(d, op->src[0]);
    if (weight_buft != NULL) {
        return cached_supports_op(d, op, weight_buft);
    }
    /* llama.cpp lists a GPU device's own buffer type before its extra ones
     * and places a weight in the first one whose supports_op says yes (for
     * the CPU it lists the extra ones first): declining the own type where
     * an extra one takes the weight places it there, repacked as natively */
    if (weight_placement_query(d, op) && extra_buft_takes_weight(d, op)) {
        return false;
    }
    return cached_supports_op(d, op, NULL);
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
    props->caps.host_buffer = device_of(dev)->has_host_buft;
}

static ggml_backend_t dev_init_backend(ggml_backend_dev_t dev, const char *params)
{
    (void)params;
    return vgpu_backend_init(device_of(dev));
}

static ggml_backend_buffer_type_t dev_get_buffer_type(ggml_backend_dev_t dev)
{
    return &device_of(dev)->buft.buft;
}

static ggml_backend_buffer_type_t dev_get_host_buffer_type(ggml_backend_dev_t dev)
{
    struct vgpu_device *d = device_of(dev);
    return d->has_host_buft ? &d->host_buft : NULL;
}

static bool dev_supports_buft(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft)
{
    return vgpu_buft_of(dev, buft) != NULL;
}

static const struct ggml_backend_device_i device_iface = {
    .get_name = dev_get_name,
    .get_description = dev_get_description,
    .get_memory = dev_get_memory,
    .get_type = dev_get_type,
    .get_props = dev_get_props,
    .init_backend = dev_init_backend,
    .get_buffer_type = dev_get_buffer_type,
    .get_host_buffer_type = dev_get_host_buffer_type,
    .buffer_from_host_ptr = NULL,
    .supports_op = dev_supports_op,
    .supports_buft = dev_supports_buft,
    .offload_op = NULL,
    .event_new = NULL,
    .event_free = NULL,
    .event_synchronize = NULL,
};

ggml_backend_buffer_type_t *vgpu_device_extra_bufts(ggml_backend_dev_t dev)
{
    return dev != NULL && dev->iface.supports_op == dev_supports_op ? device_of(dev)->extra_list : NULL;
}
