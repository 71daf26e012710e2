// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <cjson/cJSON.h>

#include "json_arena.h"

/* The sanitizers check each of cJSON's allocations only if it has its own. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define ARENA_ENABLED 0
#endif
#endif
#ifndef ARENA_ENABLED
#define ARENA_ENABLED 1
#endif

/* Blocks double from 256 KiB to 16 MiB: a 64 MiB file needs about 20. */
#define BLOCK_FIRST (256u << 10)
#define BLOCK_MAX   (16u << 20)
#define ALIGN	    16

struct json_arena_block {
	struct json_arena_block *next;
	size_t size; /* of the mapping, this header included */
	size_t used;
};

static struct json_arena *current;

static size_t header_size(void)
{
	return (sizeof(struct json_arena_block) + ALIGN - 1) &
	       ~(size_t)(ALIGN - 1);
}

static struct json_arena_block *block_new(size_t want)
{
	struct json_arena_block *b;
	void *mem;

	mem = mmap(NULL, want, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	b = mem;
	b->size = want;
	b->used = header_size();
	return b;
}

static void *arena_malloc(size_t size)
{
	struct json_arena_block *b;
	size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);

	if (!current || need < size)
		return malloc(size);
	b = current->blocks;
	if (!b || b->size - b->used < need) {
		size_t want = b ? b->size * 2 : BLOCK_FIRST;

		if (want > BLOCK_MAX)
			want = BLOCK_MAX;
		if (want < need + header_size())
			want = need + header_size();
		b = block_new(want);
		if (!b)
			return NULL;
		b->next = current->blocks;
		current->blocks = b;
	}
	b->used += need;
	return (char *)b + b->used - need;
}

static bool in_arena(const struct json_arena *a, const void *ptr)
{
	for (const struct json_arena_block *b = a->blocks; b; b = b->next)
		if ((uintptr_t)ptr >= (uintptr_t)b &&
		    (uintptr_t)ptr < (uintptr_t)b + b->size)
			return true;
	return false;
}

/* Arena memory is released with its arena; the rest goes back to malloc. */
static void arena_free(void *ptr)
{
	if (ptr && current && in_arena(current, ptr))
		return;
	free(ptr);
}

int json_arena_begin(struct json_arena *a)
{
	a->blocks = NULL;
	a->active = false;
	if (!ARENA_ENABLED)
		return 0;
	if (current)
		return -EBUSY;
	cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = arena_malloc,
				       .free_fn = arena_free});
	a->active = true;
	current = a;
	return 0;
}

void json_arena_end(struct json_arena *a)
{
	struct json_arena_block *b = a->blocks, *next;

	if (!a->active)
		return;
	for (; b; b = next) {
		next = b->next;
		munmap(b, b->size);
	}
	a->blocks = NULL;
	a->active = false;
	if (current == a) {
		current = NULL;
		cJSON_InitHooks(NULL); /* malloc, free and realloc again */
	}
}

bool json_arena_owns_trees(const struct json_arena *a)
{
	return a->active;
}
