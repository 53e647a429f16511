/* Unit tests of the context-id table: add, a duplicate add refused, find,
 * remove, and many ids through growth and removal. */
#include <stdint.h>

#include "check.h"
#include "ctx-table.h"

static void test_add_find_remove(void)
{
    struct ctx_table table = CTX_TABLE_INIT;
    int a, b;
    CHECK(ctx_table_find(&table, 7) == NULL, "an empty table finds nothing");
    CHECK(ctx_table_remove(&table, 7) == NULL, "an empty table removes nothing");
    CHECK(ctx_table_add(&table, 7, &a), "add 7");
    CHECK(!ctx_table_add(&table, 7, &b), "a second add of 7 is refused");
    CHECK(!ctx_table_add(&table, 8, NULL), "a NULL value is refused");
    CHECK(ctx_table_find(&table, 7) == &a, "7 still maps to its first value");
    CHECK(ctx_table_find(&table, 8) == NULL, "8 was never added");
    CHECK(ctx_table_add(&table, 0, &b), "id 0 is an id like any other");
    CHECK(ctx_table_find(&table, 0) == &b, "find 0");
    CHECK(ctx_table_remove(&table, 7) == &a, "remove 7 gives its value");
    CHECK(ctx_table_find(&table, 7) == NULL, "7 is gone after remove");
    CHECK(ctx_table_remove(&table, 7) == NULL, "a second remove of 7 finds nothing");
    CHECK(ctx_table_add(&table, 7, &b), "7 can be added again");
    CHECK(ctx_table_remove(&table, 7) == &b && ctx_table_remove(&table, 0) == &b, "remove the rest");
    CHECK(table.count == 0 && table.slots == NULL, "an emptied table holds no storage");
}

/* a distinct non-NULL value per id */
static void *value_of(uint32_t id)
{
    return (void *)((uintptr_t)id * 8 + 8);
}

#define MANY 5000

/* ids spread over the whole range, and a dense run (guests count from 1) */
static uint32_t id_at(uint32_t i)
{
    return i % 2 ? i * 2654435761u : i;
}

static void test_many_ids(void)
{
    struct ctx_table table = CTX_TABLE_INIT;
    int failed_adds = 0, wrong_finds = 0;
    for (uint32_t i = 0; i < MANY; i++) {
        failed_adds += !ctx_table_add(&table, id_at(i), value_of(id_at(i)));
    }
    CHECK(failed_adds == 0, "%d of %d adds failed", failed_adds, MANY);
    CHECK(table.count == MANY, "count %zu", table.count);
    for (uint32_t i = 0; i < MANY; i++) {
        wrong_finds += ctx_table_find(&table, id_at(i)) != value_of(id_at(i));
    }
    CHECK(wrong_finds == 0, "%d of %d ids found wrong after growth", wrong_finds, MANY);

    /* remove every third id: backward shifts must keep the others findable */
    int wrong_removes = 0;
    for (uint32_t i = 0; i < MANY; i += 3) {
        wrong_removes += ctx_table_remove(&table, id_at(i)) != value_of(id_at(i));
    }
    CHECK(wrong_removes == 0, "%d removes gave a wrong value", wrong_removes);
    wrong_finds = 0;
    for (uint32_t i = 0; i < MANY; i++) {
        void *expected = i % 3 == 0 ? NULL : value_of(id_at(i));
        wrong_finds += ctx_table_find(&table, id_at(i)) != expected;
    }
    CHECK(wrong_finds == 0, "%d of %d ids found wrong after removals", wrong_finds, MANY);

    for (uint32_t i = 0; i < MANY; i++) {
        ctx_table_remove(&table, id_at(i));
    }
    CHECK(table.count == 0 && table.slots == NULL, "all removed, storage freed");
}

int main(void)
{
    test_add_find_remove();
    test_many_ids();
    return FINISH();
}
