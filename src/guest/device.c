/* A VirtGPU device: what the host says of its device, presented to ggml as
 * a GPU so that llama.cpp offloads layers to it (-ngl), whatever the host
 * runs on. */
#include <stdio.h>
#include <string.h>

#include "frontend.h"

static struct vgpu_device *device_of(ggml_backend_dev_t dev)
{
    return dev->context;
}

/* ---- asking the host ---------------------------------------------------- */

static bool fetch_string(struct vgpu_remote *r, uint32_t call, char *out, size_t cap)
{
    struct apir_decoder dec;
    vgpu_call_begin(r, call);
    const bool ok = vgpu_call_end(r, &dec) && apir_decode_string(&dec, out, cap);
    vgpu_call_release(r);
    return ok;
}

static bool fetch_u64(struct vgpu_remote *r, uint32_t call, const uint64_t *arg, uint64_t *out)
{
    struct apir_decoder dec;
    struct apir_encoder *enc = vgpu_call_begin(r, call);
    if (arg != NULL) {
        apir_encode_u64(enc, *arg);
    }
    bool ok = vgpu_call_end(r, &dec);
    *out = ok ? apir_decode_u64(&dec) : 0;
    ok = ok && !dec.fatal;
    vgpu_call_release(r);
    return ok;
}

static bool fetch_memory(struct vgpu_device *d)
{
    struct apir_decoder dec;
    vgpu_call_begin(d->remote, APIR_CALL_DEVICE_GET_MEMORY);
    bool ok = vgpu_call_end(d->remote, &dec);
    if (ok) {
        const uint64_t free_bytes = apir_decode_u64(&dec), total = apir_decode_u64(&dec);
        ok = !dec.fatal;
        if (ok) {
            d->memory_free = (size_t)free_bytes;
            d->memory_total = (size_t)total;
        }
    }
    vgpu_call_release(d->remote);
    return ok;
}

/* The host's CPU is a remote accelerator to the guest: shown as a GPU. */
static enum ggml_backend_dev_type guest_type(uint64_t host_type)
{
    return host_type == GGML_BACKEND_DEVICE_TYPE_IGPU ? GGML_BACKEND_DEVICE_TYPE_IGPU : GGML_BACKEND_DEVICE_TYPE_GPU;
}

static bool fetch_type(struct vgpu_device *d)
{
    struct apir_decoder dec;
    vgpu_call_begin(d->remote, APIR_CALL_DEVICE_GET_TYPE);
    bool ok = vgpu_call_end(d->remote, &dec);
    const uint32_t host_type = ok ? apir_decode_u32(&dec) : 0;
    ok = ok && !dec.fatal;
    vgpu_call_release(d->remote);
    d->type = guest_type(host_type);
    return ok;
}

bool vgpu_device_init(struct vgpu_device *d, struct vgpu_remote *remote, int index, ggml_backend_reg_t reg)
{
    char host_name[VGPU_NAME_SIZE / 2];
    uint64_t alignment = 0, max_size = 0;
    d->remote = remote;
    d->index = index;
    if (!fetch_string(remote, APIR_CALL_DEVICE_GET_NAME, host_name, sizeof host_name) ||
        !fetch_string(remote, APIR_CALL_DEVICE_GET_DESCRIPTION, d->description, sizeof d->description) ||
        !fetch_type(d) || !fetch_memory(d) || !fetch_u64(remote, APIR_CALL_DEVICE_GET_BUFFER_TYPE, NULL, &d->buft_handle) ||
        !fetch_u64(remote, APIR_CALL_BUFFER_TYPE_GET_ALIGNMENT, &d->buft_handle, &alignment) ||
        !fetch_u64(remote, APIR_CALL_BUFFER_TYPE_GET_MAX_SIZE, &d->buft_handle, &max_size)) {
        LOG_ERROR("cannot read the host device's properties");
        return false;
    }
    snprintf(d->name, sizeof d->name, "VirtGPU%d-%s", index, host_name);
    d->alignment = (size_t)alignment;
    d->max_size = (size_t)max_size;
    d->buft = (struct ggml_backend_buffer_type){ vgpu_buffer_type_iface, &d->dev, d };
    d->dev = (struct ggml_backend_device){ vgpu_device_iface, reg, d };
    pthread_mutex_init(&d->supports_op.lock, NULL);
    pthread_mutex_init(&d->alloc_size.lock, NULL);
    LOG_INFO("%s: %s, %zu MiB, through %s", d->name, d->description, d->memory_total >> 20,
                  remote->transport->name);
    return true;
}

/* ---- supports_op, cached ------------------------------------------------ */

/* The scheduler asks supports_op for every node of every graph: the key is
 * mixed a 64-bit word at a time (multiply and xor-shift). */
static uint64_t mix(uint64_t h, uint64_t word)
{
    h = (h ^ word) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

static uint64_t mix_words(uint64_t h, const void *data, size_t n_words)
{
    for (size_t i = 0; i < n_words; i++) {
        uint64_t word;
        memcpy(&word, (const char *)data + 8 * i, sizeof word);
        h = mix(h, word);
    }
    return h;
}

static uint64_t mix_shape(uint64_t h, const struct ggml_tensor *t)
{
    h = mix(h, (uint64_t)t->type);
    h = mix_words(h, t->ne, GGML_MAX_DIMS);
    return mix_words(h, t->nb, GGML_MAX_DIMS);
}

uint64_t vgpu_op_key(const struct ggml_tensor *t, uint64_t salt)
{
    _Static_assert(sizeof t->op_params % 8 == 0, "op_params is whole words");
    uint64_t h = mix(0x9E3779B97F4A7C15ull, salt);
    h = mix(h, (uint64_t)t->op | (uint64_t)(t->view_src != NULL) << 32);
    h = mix_words(h, t->op_params, sizeof t->op_params / 8);
    h = mix_shape(h, t);
    for (int i = 0; i < GGML_MAX_SRC && t->src[i] != NULL; i++) {
        h = mix_shape(h, t->src[i]);
    }
    return h ? h : 1;
}

bool vgpu_cache_get(struct vgpu_cache *c, uint64_t key, uint64_t *value)
{
    struct vgpu_cache_entry *e = &c->entries[key % VGPU_OP_CACHE_SIZE];
    pthread_mutex_lock(&c->lock);
    const bool hit = e->key == key;
    *value = e->value;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void vgpu_cache_put(struct vgpu_cache *c, uint64_t key, uint64_t value)
{
    struct vgpu_cache_entry *e = &c->entries[key % VGPU_OP_CACHE_SIZE];
    pthread_mutex_lock(&c->lock);
    e->key = key;
    e->value = value;
    pthread_mutex_unlock(&c->lock);
}

static bool ask_supports_op(struct vgpu_device *d, const struct ggml_tensor *op)
{
    struct apir_decoder dec;
    vgpu_encode_inline_tensor(vgpu_call_begin(d->remote, APIR_CALL_DEVICE_SUPPORTS_OP), op);
    const bool ok = vgpu_call_end(d->remote, &dec);
    const bool supported = ok && apir_decode_bool(&dec) && !dec.fatal;
    vgpu_call_release(d->remote);
    return supported;
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

const struct ggml_backend_device_i vgpu_device_iface = {
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
