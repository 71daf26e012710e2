// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "json_line.h"

static const char hex[] = "0123456789abcdef";

static void put(struct json_line *j, const char *s, size_t n)
{
	/* Two bytes stay free for the closing "}\n" or a nested one. */
	if (j->overflow || j->cap - j->len < n + 3) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

static void put_char(struct json_line *j, char c)
{
	put(j, &c, 1);
}

void json_line_begin(struct json_line *j, char *buf, size_t cap)
{
	*j = (struct json_line){.buf = buf, .cap = cap, .first = true};
	put_char(j, '{');
}

long json_line_end(struct json_line *j)
{
	put_char(j, '}');
	if (j->overflow)
		return -ENOSPC;
	j->buf[j->len++] = '\n';
	j->buf[j->len] = '\0';
	return j->len;
}

/* The escapes cJSON writes: \" \\ \b \f \n \r \t, other controls \u00XX. */
static void put_escaped(struct json_line *j, unsigned char c)
{
	char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

	switch (c) {
	case '"':
	case '\\':
		esc[1] = c;
		break;
	case '\b':
		esc[1] = 'b';
		break;
	case '\f':
		esc[1] = 'f';
		break;
	case '\n':
		esc[1] = 'n';
		break;
	case '\r':
		esc[1] = 'r';
		break;
	case '\t':
		esc[1] = 't';
		break;
	default:
		if (c >= 0x20) {
			put_char(j, c);
			return;
		}
		put(j, esc, 6);
		return;
	}
	put(j, esc, 2);
}

static void put_key(struct json_line *j, const char *key)
{
	if (!j->first)
		put_char(j, ',');
	j->first = false;
	put_char(j, '"');
	put(j, key, strlen(key));
	put(j, "\":", 2);
}

/* Bytes JSON text carries as they are: cJSON escapes only these others. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

void json_line_str(struct json_line *j, const char *key, const char *s)
{
	put_key(j, key);
	put_char(j, '"');
	while (*s) {
		size_t run = 0;

		while (plain(s[run]))
			run++;
		put(j, s, run); /* one copy for a run of plain bytes */
		s += run;
		if (*s)
			put_escaped(j, *s++);
	}
	put_char(j, '"');
}

void json_line_safe_str(struct json_line *j, const char *key, const char *s,
			size_t max)
{
	size_t i = 0;

	put_key(j, key);
	put_char(j, '"');
	if (max > 256)
		max = 256;
	while (i < max && s[i]) {
		size_t run = 0;
		unsigned char c;

		while (i + run < max && plain(s[i + run]) &&
		       (unsigned char)s[i + run] < 0x7f)
			run++;
		put(j, s + i, run);
		i += run;
		if (i >= max || !s[i])
			break;
		c = s[i++];
		if (c >= 0x20 && c < 0x7f) {
			put_escaped(j, c); /* " or \ */
		} else {
			/* \xNN, its backslash escaped in JSON text: \\xNN */
			char shown[5] = {'\\', '\\', 'x', hex[c >> 4],
					 hex[c & 15]};

			put(j, shown, sizeof(shown));
		}
	}
	put_char(j, '"');
}

void json_line_u64(struct json_line *j, const char *key, uint64_t value)
{
	char digits[20];
	size_t n = sizeof(digits);

	put_key(j, key);
	do {
		digits[--n] = '0' + value % 10;
		value /= 10;
	} while (value);
	put(j, digits + n, sizeof(digits) - n);
}

void json_line_null(struct json_line *j, const char *key)
{
	put_key(j, key);
	put(j, "null", 4);
}

void json_line_true(struct json_line *j, const char *key)
{
	put_key(j, key);
	put(j, "true", 4);
}

void json_line_object_begin(struct json_line *j, const char *key)
{
	put_key(j, key);
	put_char(j, '{');
	j->first = true;
}

void json_line_object_end(struct json_line *j)
{
	put_char(j, '}');
	j->first = false;
}
