/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cJSON allocates every node and every string on its own: a policy of a
 * million addresses costs two million mallocs, their headers (a third of
 * the tree's memory) and as many frees. While an arena is active, cJSON's
 * allocations are carved from a few large blocks that json_arena_end()
 * returns to the system at once; the tree need not (and must not) be
 * given to cJSON_Delete after that. One arena at a time (the enforcer is
 * single-threaded); outside one cJSON has its usual hooks. Built
 * with a sanitizer, there is no arena, so each node stays checked. Pure.
 *
 *	struct json_arena a;
 *	json_arena_begin(&a);
 *	root = cJSON_Parse(text);
 *	... read root ...
 *	json_arena_end(&a);	(root is gone)
 */
#ifndef CGFENCE_JSON_ARENA_H
#define CGFENCE_JSON_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct json_arena_block;

struct json_arena {
	struct json_arena_block *blocks; /* newest first */
	bool active;
};

/* Routes cJSON's allocations to a; -EBUSY when another arena is active. */
int json_arena_begin(struct json_arena *a);
/* Frees everything allocated in a (a no-op for an arena never begun). */
void json_arena_end(struct json_arena *a);
/* Whether trees parsed in a are released by json_arena_end() alone. */
bool json_arena_owns_trees(const struct json_arena *a);

#endif
