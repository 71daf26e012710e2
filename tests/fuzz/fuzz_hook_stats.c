// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: hookd's counters file as the daemon reads it at each scrape
 * (hook_stats.h). A text it accepts must render, and format back to a
 * text that parses to the same counters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook_stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hook_stats s, again;
	char *text = malloc(size + 1), *back, *out = NULL;
	size_t out_len = 0;
	FILE *f;
	int line;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (hook_stats_parse(text, &s, &line) == 0) {
		f = open_memstream(&out, &out_len);
		if (f) {
			hook_stats_render(&s, f);
			fclose(f);
		}
		free(out);
		back = hook_stats_format(&s);
		if (!back || hook_stats_parse(back, &again, &line) ||
		    memcmp(&s, &again, sizeof(s))) {
			fprintf(stderr, "fuzz_hook_stats: no round trip\n");
			abort();
		}
		free(back);
	}
	free(text);
	return 0;
}
