// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: an address set file (sets/NAME.txt, fed from outside). A set
 * that parses formats back (addr_set_format(), what `cgfence set add|del`
 * writes) to text that parses to the same entries; an entry removed is
 * gone, an entry added is there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr_set.h"

static bool same_entries(const struct addr_set *a, const struct addr_set *b)
{
	if (a->nentries != b->nentries)
		return false;
	for (size_t i = 0; i < a->nentries; i++)
		if (a->entries[i].family != b->entries[i].family ||
		    a->entries[i].prefixlen != b->entries[i].prefixlen ||
		    memcmp(a->entries[i].addr, b->entries[i].addr, 16))
			return false;
	return true;
}

/* The first entry was removed: gone, unless it is the one added. */
static bool cidr_equal_or_added(const struct addr_set *s,
				const struct addr_set *back,
				const struct policy_cidr *add)
{
	const struct policy_cidr *first = &s->entries[0];

	return !addr_set_find(back, first) ||
	       (first->family == add->family &&
		first->prefixlen == add->prefixlen &&
		!memcmp(first->addr, add->addr, 16));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_set *s = NULL, *back = NULL;
	struct policy_cidr add;
	struct diags d = {};
	char *text = NULL, why[256];
	size_t len = 0;

	if (addr_set_parse("f.txt", "f", (const char *)data, size, &s, &d)) {
		diags_free(&d);
		return 0;
	}
	if (addr_set_format(s, NULL, 0, NULL, 0, &text, &len) ||
	    addr_set_parse("f.txt", "f", text, len, &back, &d) ||
	    !same_entries(s, back))
		__builtin_trap();
	addr_set_free(back);
	free(text);
	back = NULL;
	if (policy_parse_cidr("192.0.2.0/24", &add, why, sizeof(why)))
		__builtin_trap();
	if (addr_set_format(s, &add, 1, s->nentries ? &s->entries[0] : NULL,
			    s->nentries ? 1 : 0, &text, &len) ||
	    addr_set_parse("f.txt", "f", text, len, &back, &d) ||
	    !addr_set_find(back, &add) ||
	    (s->nentries && !cidr_equal_or_added(s, back, &add)))
		__builtin_trap();
	addr_set_free(back);
	addr_set_free(s);
	free(text);
	diags_free(&d);
	return 0;
}
