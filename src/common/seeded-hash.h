/* A hash keyed with a per-process random seed, for tables whose keys a
 * guest chooses (context ids, graph tensor ids): keys that collide cannot
 * be chosen without knowing the seed, so each operation stays O(1). */
#ifndef SEEDED_HASH_H
#define SEEDED_HASH_H

#include <stdint.h>

/* The keyed hash of key. Its top bits pick a slot: for a table of 2^b
 * slots, seeded_hash(key) >> (64 - b), with 1 <= b <= 32. */
uint64_t seeded_hash(uint64_t key);

#endif
