/* A thread-safe map from an APIR context id to a pointer, O(1) per
 * operation: open addressing with linear probing. The guest picks context
 * ids, so the hash is keyed with a per-process random seed: ids that
 * collide cannot be chosen without knowing it.
 *
 * A table starts as CTX_TABLE_INIT (no storage); it allocates on the first
 * add and frees its storage when its last id is removed, so a table that is
 * emptied needs no destructor. */
#ifndef CTX_TABLE_H
#define CTX_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctx_table_slot {
    uint32_t ctx_id;
    void *value; /* NULL: the slot is free */
};

struct ctx_table {
    pthread_mutex_t lock;
    struct ctx_table_slot *slots; /* 1 << capacity_log2 of them, or NULL */
    unsigned capacity_log2;
    size_t count;
};

#define CTX_TABLE_INIT { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 }

/* Maps ctx_id to value (not NULL). Returns false when ctx_id is already
 * mapped, or when out of memory. */
bool ctx_table_add(struct ctx_table *table, uint32_t ctx_id, void *value);

/* The value mapped to ctx_id, or NULL. */
void *ctx_table_find(struct ctx_table *table, uint32_t ctx_id);

/* Unmaps ctx_id; returns the value it was mapped to, or NULL. */
void *ctx_table_remove(struct ctx_table *table, uint32_t ctx_id);

#endif
