/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one hash table: open addressing, linear probing, a power-of-two
 * number of slots kept at most half full (it doubles before that).
 *
 * It maps keys to 32-bit ids and stores no keys: the caller keeps them,
 * usually in an array of its own where the id is the index (interning:
 * the table of distinct rule masks, a string's counter). The caller
 * hashes a key (hashtab_hash_bytes, hashtab_hash_u64) and says when a key
 * is the one of an id (equal); the table keeps each id's hash beside it,
 * so growing calls nobody and a probe asks equal only where the hashes
 * agree, about once per lookup. Pure.
 *
 *	struct hashtab t;
 *	hashtab_init(&t, 0, mask_is_class, classes);
 *	id = hashtab_find(&t, h, &mask);
 *	if (id == HASHTAB_NONE)
 *		err = hashtab_insert(&t, h, id = append(classes, &mask));
 */
#ifndef CGFENCE_HASHTAB_H
#define CGFENCE_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* hashtab_find() found no id; never an id itself. */
#define HASHTAB_NONE UINT32_MAX

/* key is the one the caller keeps for id (ctx: the caller's own state). */
typedef bool (*hashtab_equal_fn)(const void *ctx, uint32_t id, const void *key);

struct hashtab_slot {
	uint32_t hash; /* the low 32 bits of the key's hash */
	uint32_t id1;  /* id + 1; 0: empty */
};

struct hashtab {
	struct hashtab_slot *slots;
	size_t mask; /* number of slots - 1 */
	size_t count;
	hashtab_equal_fn equal;
	const void *ctx;
};

/*
 * An empty table sized for expected ids without growing (0: grow from
 * the smallest size). 0 or -ENOMEM.
 */
int hashtab_init(struct hashtab *t, size_t expected, hashtab_equal_fn equal,
		 const void *ctx);
void hashtab_free(struct hashtab *t);

/* The id whose key equals key (hash: its hash), or HASHTAB_NONE. */
uint32_t hashtab_find(const struct hashtab *t, uint64_t hash, const void *key);

/*
 * Adds id under hash, for a key the table does not hold yet (find it
 * first); id must be below HASHTAB_NONE. 0 or -ENOMEM (when growing).
 */
int hashtab_insert(struct hashtab *t, uint64_t hash, uint32_t id);

/*
 * Hashes of keys: one 64-bit word (a pointer), or bytes (a mask, a
 * string). Inline: a key of constant size (a mask) gets an unrolled loop.
 */

/* MurmurHash3's finalizer: every input bit reaches every output bit. */
static inline uint64_t hashtab_hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* A word at a time; the length goes in so that trailing zeros count. */
static inline uint64_t hashtab_hash_bytes(const void *data, size_t len,
					  uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull), w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	}
	return hashtab_hash_u64(h);
}

#endif
