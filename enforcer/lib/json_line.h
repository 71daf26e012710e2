/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One JSON object written as one line into a caller's fixed buffer, with
 * no allocation: the audit daemon's hot path writes hundreds of thousands
 * of these a second. Strings are escaped as cJSON escapes them, so a
 * record reads the same either way.
 *
 *	struct json_line j;
 *	json_line_begin(&j, buf, sizeof(buf));
 *	json_line_str(&j, "type", "deny");
 *	json_line_u64(&j, "pid", 42);
 *	len = json_line_end(&j);	// {"type":"deny","pid":42}\n, or -ENOSPC
 */
#ifndef CGFENCE_JSON_LINE_H
#define CGFENCE_JSON_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_line {
	char *buf;
	size_t cap, len;
	bool first;    /* no member written yet at this nesting level */
	bool overflow; /* something did not fit: json_line_end fails */
};

void json_line_begin(struct json_line *j, char *buf, size_t cap);
/* The line's length with its '\n' (and a NUL after it), or -ENOSPC. */
long json_line_end(struct json_line *j);

void json_line_str(struct json_line *j, const char *key, const char *s);
/*
 * Bytes that come from containers: at most max of them (and at most 256),
 * printable ASCII kept, anything else written as the four characters
 * \xNN, so every line is valid UTF-8 and shows what the bytes were.
 */
void json_line_safe_str(struct json_line *j, const char *key, const char *s,
			size_t max);
void json_line_u64(struct json_line *j, const char *key, uint64_t value);
void json_line_null(struct json_line *j, const char *key);
void json_line_true(struct json_line *j, const char *key);
/* A nested object: json_line_object_begin(j, "kubernetes") ... _end(j). */
void json_line_object_begin(struct json_line *j, const char *key);
void json_line_object_end(struct json_line *j);

#endif
