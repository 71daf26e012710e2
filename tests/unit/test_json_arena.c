// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The cJSON arena: trees parsed inside it read as any other, a failed
 * parse inside it cleans up, trees from outside it can still be deleted
 * while it is active, one arena at a time, and cJSON's usual allocator is
 * back once it ends. Built with a sanitizer there is no arena: the same
 * calls then use malloc, and the tests check that too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json_arena.h"
#include "unit.h"

/* A document of n strings, big enough to need several arena blocks. */
static char *big_document(size_t n)
{
	size_t cap = 32 + n * 24, len = 0;
	char *s = malloc(cap);

	if (!s)
		abort();
	len += snprintf(s + len, cap - len, "{\"to\": [");
	for (size_t i = 0; i < n; i++)
		len += snprintf(s + len, cap - len, "%s\"10.%zu.%zu.%zu\"",
				i ? ", " : "", i >> 16, (i >> 8) & 255,
				i & 255);
	snprintf(s + len, cap - len, "]}");
	return s;
}

static void release(struct json_arena *a, cJSON *root)
{
	if (json_arena_owns_trees(a))
		json_arena_end(a);
	else
		cJSON_Delete(root);
}

static void test_big_tree(void)
{
	struct json_arena a;
	char *text = big_document(200000);
	const cJSON *list, *item;
	size_t n = 0;
	bool ok = true;
	cJSON *root;

	CHECK(json_arena_begin(&a) == 0, "begin");
	root = cJSON_Parse(text);
	CHECK(root, "the document did not parse");
	list = cJSON_GetObjectItemCaseSensitive(root, "to");
	cJSON_ArrayForEach(item, list)
	{
		char want[32];

		snprintf(want, sizeof(want), "10.%zu.%zu.%zu", n >> 16,
			 (n >> 8) & 255, n & 255);
		ok &= cJSON_IsString(item) && !strcmp(item->valuestring, want);
		n++;
	}
	CHECK(n == 200000 && ok, "read back %zu items, all equal: %d", n, ok);
	release(&a, root);
	free(text);
}

static void test_failed_parse(void)
{
	struct json_arena a;
	char *text = big_document(50000);

	/* Cut in the middle of the list: cJSON frees what it built. */
	text[strlen(text) / 2] = '\0';
	CHECK(json_arena_begin(&a) == 0, "begin");
	CHECK(!cJSON_Parse(text), "a truncated document parsed");
	release(&a, NULL);
	free(text);
}

static void test_outside_trees_and_nesting(void)
{
	cJSON *before = cJSON_Parse("{\"a\": [1, 2, 3]}"), *inside;
	struct json_arena a, b;

	CHECK(before, "parse before the arena");
	CHECK(json_arena_begin(&a) == 0, "begin");
	/* A tree from before the arena goes back to malloc. */
	cJSON_Delete(before);
	if (json_arena_owns_trees(&a))
		CHECK(json_arena_begin(&b) == -EBUSY,
		      "a second arena while one is active");
	inside = cJSON_Parse("[\"x\"]");
	CHECK(inside && cJSON_IsString(inside->child), "parse inside");
	release(&a, inside);
	/* After the end, cJSON allocates and frees with malloc again. */
	before = cJSON_Parse("{\"b\": true}");
	CHECK(before && cJSON_IsTrue(before->child), "parse after the arena");
	cJSON_Delete(before);
	/* An arena never begun, or ended twice, ends as a no-op. */
	memset(&b, 0, sizeof(b));
	json_arena_end(&b);
	json_arena_end(&a);
}

int main(void)
{
	test_big_tree();
	test_failed_parse();
	test_outside_trees_and_nesting();
	return unit_done("json_arena");
}
