/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Diagnostics collected while reading user input: "FILE:LINE:COL: what". */
#ifndef CGFENCE_DIAG_H
#define CGFENCE_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct src_pos {
	unsigned int line; /* 1-based; 0 when unknown */
	unsigned int col;  /* 1-based */
};

struct diags {
	char **lines;
	size_t count;
	size_t cap;
};

/* Appends "FILE:LINE:COL: message" (or "FILE: message" without a position). */
void diags_add(struct diags *d, const char *file, struct src_pos pos,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void diags_print(const struct diags *d, FILE *out);
void diags_free(struct diags *d);
/* Appends the lines of from to to; from is left empty. */
void diags_move(struct diags *to, struct diags *from);

#endif
