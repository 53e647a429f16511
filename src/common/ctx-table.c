/* The context-id table: linear probing, at most half full, with
 * backward-shift deletion (no tombstones, so lookups stay short however
 * many ids come and go). */
#include "ctx-table.h"

#include <stdlib.h>

#include "seeded-hash.h"

#define MIN_CAPACITY_LOG2 3

/* ---- the keyed hash ------------------------------------------------------ */

static size_t home_slot(const struct ctx_table *table, uint32_t ctx_id)
{
    return (size_t)(seeded_hash(ctx_id) >> (64 - table->capacity_log2));
}

/* ---- probing ------------------------------------------------------------- */

static size_t capacity(const struct ctx_table *table)
{
    return table->slots != NULL ? (size_t)1 << table->capacity_log2 : 0;
}

static size_t slot_mask(const struct ctx_table *table)
{
    return capacity(table) - 1;
}

/* The slot holding ctx_id, or the free slot that ends its probe sequence
 * (there is one: the table is never more than half full). */
static size_t probe(const struct ctx_table *table, uint32_t ctx_id)
{
    const size_t mask = slot_mask(table);
    size_t i = home_slot(table, ctx_id);
    while (table->slots[i].value != NULL && table->slots[i].ctx_id != ctx_id) {
        i = (i + 1) & mask;
    }
    return i;
}

static bool grow(struct ctx_table *table)
{
    const unsigned new_log2 = table->capacity_log2 ? table->capacity_log2 + 1 : MIN_CAPACITY_LOG2;
    struct ctx_table_slot *new_slots = calloc((size_t)1 << new_log2, sizeof *new_slots);
    if (new_slots == NULL) {
        return false;
    }
    const struct ctx_table old = *table;
    table->slots = new_slots;
    table->capacity_log2 = new_log2;
    for (size_t i = 0; i < capacity(&old); i++) {
        if (old.slots[i].value != NULL) {
            table->slots[probe(table, old.slots[i].ctx_id)] = old.slots[i];
        }
    }
    free(old.slots);
    return true;
}

/* Whether an entry at pos whose home slot is home must stay when the slot
 * hole before it is emptied: its home lies cyclically in (hole, pos]. */
static bool stays_behind_hole(const struct ctx_table *table, size_t home, size_t hole, size_t pos)
{
    const size_t mask = slot_mask(table);
    const size_t home_dist = (home - hole) & mask;
    return home_dist != 0 && home_dist <= ((pos - hole) & mask);
}

/* Empties slot hole, moving back the entries after it whose probe sequence
 * went through it, so that every probe sequence stays unbroken. */
static void empty_slot(struct ctx_table *table, size_t hole)
{
    const size_t mask = slot_mask(table);
    for (size_t pos = (hole + 1) & mask; table->slots[pos].value != NULL; pos = (pos + 1) & mask) {
        if (!stays_behind_hole(table, home_slot(table, table->slots[pos].ctx_id), hole, pos)) {
            table->slots[hole] = table->slots[pos];
            hole = pos;
        }
    }
    table->slots[hole].value = NULL;
}

/* ---- the operations ------------------------------------------------------ */

static bool add_locked(struct ctx_table *table, uint32_t ctx_id, void *value)
{
    if (table->count > 0 && table->slots[probe(table, ctx_id)].value != NULL) {
        return false;
    }
    if (2 * (table->count + 1) > capacity(table) && !grow(table)) {
        return false;
    }
    table->slots[probe(table, ctx_id)] = (struct ctx_table_slot){ ctx_id, value };
    table->count++;
    return true;
}

bool ctx_table_add(struct ctx_table *table, uint32_t ctx_id, void *value)
{
    if (value == NULL) {
        return false;
    }
    pthread_mutex_lock(&table->lock);
    const bool added = add_locked(table, ctx_id, value);
    pthread_mutex_unlock(&table->lock);
    return added;
}

void *ctx_table_find(struct ctx_table *table, uint32_t ctx_id)
{
    pthread_mutex_lock(&table->lock);
    void *value = table->count > 0 ? table->slots[probe(table, ctx_id)].value : NULL;
    pthread_mutex_unlock(&table->lock);
    return value;
}

static void *remove_locked(struct ctx_table *table, uint32_t ctx_id)
{
    if (table->count == 0) {
        return NULL;
    }
    const size_t i = probe(table, ctx_id);
    void *value = table->slots[i].value;
    if (value == NULL) {
        return NULL;
    }
    empty_slot(table, i);
    if (--table->count == 0) {
        free(table->slots);
        table->slots = NULL;
        table->capacity_log2 = 0;
    }
    return value;
}

void *ctx_table_remove(struct ctx_table *table, uint32_t ctx_id)
{
    pthread_mutex_lock(&table->lock);
    void *value = remove_locked(table, ctx_id);
    pthread_mutex_unlock(&table->lock);
    return value;
}
