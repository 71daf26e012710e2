// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Diagnostics collected while reading user input: "FILE:LINE:COL: what". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

static int diags_reserve_one(struct diags *d)
{
	size_t cap;
	char **lines;

	if (d->count < d->cap)
		return 0;
	cap = d->cap ? d->cap * 2 : 8;
	lines = realloc(d->lines, cap * sizeof(*lines));
	if (!lines)
		return -1;
	d->lines = lines;
	d->cap = cap;
	return 0;
}

/*
 * Out of memory loses the message: there is nobody better placed to report
 * it, and the caller's own return code already says what went wrong.
 */
void diags_add(struct diags *d, const char *file, struct src_pos pos,
	       const char *fmt, ...)
{
	char *msg = NULL, *line = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;

	if (file && pos.line)
		n = asprintf(&line, "%s:%u:%u: %s", file, pos.line, pos.col,
			     msg);
	else if (file)
		n = asprintf(&line, "%s: %s", file, msg);
	else if (pos.line)
		n = asprintf(&line, "%u:%u: %s", pos.line, pos.col, msg);
	else
		n = asprintf(&line, "%s", msg);
	free(msg);
	if (n < 0)
		return;

	if (diags_reserve_one(d)) {
		free(line);
		return;
	}
	d->lines[d->count++] = line;
}

void diags_print(const struct diags *d, FILE *out)
{
	for (size_t i = 0; i < d->count; i++) {
		fputs(d->lines[i], out);
		fputc('\n', out);
	}
}

void diags_free(struct diags *d)
{
	for (size_t i = 0; i < d->count; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->count = 0;
	d->cap = 0;
}

void diags_move(struct diags *to, struct diags *from)
{
	for (size_t i = 0; i < from->count; i++) {
		if (diags_reserve_one(to)) {
			free(from->lines[i]);
			continue;
		}
		to->lines[to->count++] = from->lines[i];
	}
	free(from->lines);
	*from = (struct diags){0};
}
