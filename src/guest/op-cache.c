/* Answers of the host that depend only on a tensor's shape and op
 * (supports_op, get_alloc_size), cached per device: the scheduler asks
 * supports_op for every node of every graph. */
#include <string.h>

#include "frontend.h"
#include "op-cache.h"

/* The key is mixed a 64-bit word at a time (multiply and xor-shift). */
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

void vgpu_cache_init(struct vgpu_cache *c)
{
    pthread_mutex_init(&c->lock, NULL);
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
