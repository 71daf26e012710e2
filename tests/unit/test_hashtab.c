// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The hash table (enforcer/lib/hashtab.c): ids found again across growth,
 * equal hashes told apart by the caller's equality, a table sized up front
 * that never grows, and agreement with a plain array over random
 * find-or-insert sequences. Seed in CGF_TEST_SEED.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashtab.h"
#include "unit.h"

/* Keys the caller keeps: id i is keys[i]. */
struct keys {
	uint64_t *v;
	size_t n;
};

static bool is_key(const void *ctx, uint32_t id, const void *key)
{
	const struct keys *k = ctx;

	return k->v[id] == *(const uint64_t *)key;
}

static uint64_t key_hash(uint64_t v)
{
	return hashtab_hash_u64(v);
}

/* Every hash the same: only the equality tells keys apart. */
static uint64_t same_hash(uint64_t v)
{
	return 42;
}

/* The low 32 bits (the ones the table keeps) the same, the rest not. */
static uint64_t same_low_bits(uint64_t v)
{
	return v << 32 | 7;
}

/* Find-or-insert, as the users do. */
static uint32_t intern(struct hashtab *t, struct keys *k, uint64_t v,
		       uint64_t (*hash)(uint64_t))
{
	uint32_t id = hashtab_find(t, hash(v), &v);

	if (id != HASHTAB_NONE)
		return id;
	k->v[k->n] = v;
	if (hashtab_insert(t, hash(v), k->n))
		return HASHTAB_NONE;
	return k->n++;
}

static void test_grows_and_finds(uint64_t (*hash)(uint64_t), size_t n,
				 const char *what)
{
	struct keys k = {.v = calloc(n, sizeof(uint64_t))};
	struct hashtab t;
	size_t wrong = 0, missing = 0;

	CHECK(k.v && !hashtab_init(&t, 0, is_key, &k), "%s: init", what);
	if (!k.v)
		return;
	for (size_t i = 0; i < n; i++)
		if (intern(&t, &k, i * 0x10001 + 3, hash) != i)
			wrong++;
	CHECK(!wrong && k.n == n && t.count == n, "%s: %zu new keys got ids",
	      what, n);
	CHECK(2 * t.count <= t.mask + 1, "%s: at most half full (%zu of %zu)",
	      what, t.count, t.mask + 1);
	/* Again: every key found, none added. */
	for (size_t i = 0; i < n; i++)
		if (intern(&t, &k, i * 0x10001 + 3, hash) != i)
			wrong++;
	for (size_t i = 0; i < n; i++) {
		uint64_t absent = i * 0x10001 + 4;

		if (hashtab_find(&t, hash(absent), &absent) != HASHTAB_NONE)
			missing++;
	}
	CHECK(!wrong && k.n == n, "%s: %zu keys found again, none added", what,
	      wrong);
	CHECK(!missing, "%s: %zu absent keys found", what, missing);
	hashtab_free(&t);
	free(k.v);
}

static void test_sized_never_grows(void)
{
	enum { N = 1000 };
	uint64_t v[N];
	struct keys k = {.v = v};
	struct hashtab t;
	struct hashtab_slot *slots;
	size_t nslots;

	CHECK(!hashtab_init(&t, N, is_key, &k), "init for %d", N);
	slots = t.slots;
	nslots = t.mask + 1;
	CHECK(nslots == 2048, "%d ids take 2048 slots, not %zu", N, nslots);
	for (int i = 0; i < N; i++)
		intern(&t, &k, i, key_hash);
	CHECK(t.slots == slots && t.mask + 1 == nslots && t.count == N,
	      "sized for %d: never grew", N);
	CHECK(hashtab_insert(&t, 0, HASHTAB_NONE) == -EINVAL,
	      "HASHTAB_NONE is never an id");
	hashtab_free(&t);
	CHECK(!t.slots && !t.count, "free leaves an empty table");
	hashtab_free(&t);

	CHECK(!hashtab_init(&t, 0, is_key, &k), "init empty");
	CHECK(hashtab_find(&t, key_hash(v[0]), &v[0]) == HASHTAB_NONE,
	      "an empty table finds nothing");
	hashtab_free(&t);
}

/* Random find-or-insert over a small universe against a plain array. */
static void test_against_array(uint64_t seed)
{
	enum { UNIVERSE = 3000, OPS = 20000 };
	struct keys k = {.v = calloc(UNIVERSE, sizeof(uint64_t))};
	struct hashtab t;
	size_t bad = 0;

	if (!k.v || hashtab_init(&t, 0, is_key, &k)) {
		CHECK(0, "allocation");
		free(k.v);
		return;
	}
	srand48(seed);
	for (int op = 0; op < OPS; op++) {
		uint64_t v = lrand48() % UNIVERSE * 0x9e3779b1u;
		uint32_t want = HASHTAB_NONE, got;

		for (size_t i = 0; i < k.n; i++)
			if (k.v[i] == v)
				want = i;
		got = hashtab_find(&t, key_hash(v), &v);
		if (got != want)
			bad++;
		if (got == HASHTAB_NONE && lrand48() % 2)
			intern(&t, &k, v, key_hash);
	}
	CHECK(!bad && t.count == k.n,
	      "%zu of %d lookups disagree with the array (seed %" PRIu64 ")",
	      bad, OPS, seed);
	hashtab_free(&t);
	free(k.v);
}

static void test_hashes(void)
{
	static const char a[] = "a\0\0";
	uint64_t h = hashtab_hash_bytes("policy", 6, 0);
	unsigned char seen[4096] = {0};
	size_t buckets = 0;

	CHECK(h == hashtab_hash_bytes("policy", 6, 0), "the same every time");
	CHECK(h != hashtab_hash_bytes("policy", 6, 1), "the seed counts");
	CHECK(hashtab_hash_bytes(a, 1, 0) != hashtab_hash_bytes(a, 2, 0) &&
		      hashtab_hash_bytes(a, 2, 0) !=
			      hashtab_hash_bytes(a, 3, 0),
	      "trailing zero bytes count");
	CHECK(hashtab_hash_bytes("abcdefgh1", 9, 0) !=
		      hashtab_hash_bytes("abcdefgh2", 9, 0),
	      "the bytes after the last whole word count");
	/* Pointers 16 bytes apart spread over the low bits (~2589 expected). */
	for (uint64_t p = 0; p < 4096; p++) {
		size_t b = hashtab_hash_u64(0x7f0000001000ull + 16 * p) & 4095;

		buckets += !seen[b];
		seen[b] = 1;
	}
	CHECK(buckets > 2400, "4096 pointers fill %zu of 4096 buckets",
	      buckets);
}

int main(void)
{
	const char *s = getenv("CGF_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 1;

	test_grows_and_finds(key_hash, 100000, "good hash");
	test_grows_and_finds(same_hash, 2000, "one hash for all");
	test_grows_and_finds(same_low_bits, 2000, "equal low 32 bits");
	test_sized_never_grows();
	test_against_array(seed);
	test_hashes();
	return unit_done("hashtab");
}
