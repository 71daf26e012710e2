// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Open addressing over caller-kept keys; see hashtab.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashtab.h"

#define MIN_SLOTS 64

/* A table of nslots takes at most half as many ids: probe runs stay short. */
static bool over_load(size_t count, size_t nslots)
{
	return 2 * count > nslots;
}

int hashtab_init(struct hashtab *t, size_t expected, hashtab_equal_fn equal,
		 const void *ctx)
{
	size_t nslots = MIN_SLOTS;

	while (over_load(expected, nslots))
		nslots *= 2;
	memset(t, 0, sizeof(*t));
	t->slots = calloc(nslots, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = nslots - 1;
	t->equal = equal;
	t->ctx = ctx;
	return 0;
}

void hashtab_free(struct hashtab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
}

uint32_t hashtab_find(const struct hashtab *t, uint64_t hash, const void *key)
{
	uint32_t h = hash;

	for (size_t i = h & t->mask; t->slots[i].id1; i = (i + 1) & t->mask) {
		const struct hashtab_slot *s = &t->slots[i];

		if (s->hash == h && t->equal(t->ctx, s->id1 - 1, key))
			return s->id1 - 1;
	}
	return HASHTAB_NONE;
}

static void place(struct hashtab_slot *slots, size_t mask,
		  struct hashtab_slot s)
{
	size_t i = s.hash & mask;

	while (slots[i].id1)
		i = (i + 1) & mask;
	slots[i] = s;
}

static int grow(struct hashtab *t)
{
	size_t nslots = 2 * (t->mask + 1);
	struct hashtab_slot *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i <= t->mask; i++)
		if (t->slots[i].id1)
			place(slots, nslots - 1, t->slots[i]);
	free(t->slots);
	t->slots = slots;
	t->mask = nslots - 1;
	return 0;
}

int hashtab_insert(struct hashtab *t, uint64_t hash, uint32_t id)
{
	int err;

	if (id == HASHTAB_NONE)
		return -EINVAL;
	if (over_load(t->count + 1, t->mask + 1)) {
		err = grow(t);
		if (err)
			return err;
	}
	place(t->slots, t->mask,
	      (struct hashtab_slot){.hash = (uint32_t)hash, .id1 = id + 1});
	t->count++;
	return 0;
}
