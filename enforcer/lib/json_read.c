// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_read.h"
#include "util.h"

/* ---- Reporting ---- */

struct src_pos value_pos(const struct parse_ctx *ctx, const cJSON *node)
{
	const struct json_event *ev =
		json_positions_event(&ctx->jp, node, false);

	return ev ? ev->pos : (struct src_pos){0};
}

/* Position of the member's key; its value's position for array elements. */
struct src_pos key_pos(const struct parse_ctx *ctx, const cJSON *node)
{
	const struct json_event *ev =
		json_positions_event(&ctx->jp, node, true);

	return ev ? ev->pos : value_pos(ctx, node);
}

void report(struct parse_ctx *ctx, struct src_pos pos, const char *fmt, ...)
{
	struct parse_error *e;
	va_list ap;

	if (++ctx->nerrors > POLICY_MAX_ERRORS)
		return;
	if (!ctx->errors)
		ctx->errors = calloc(POLICY_MAX_ERRORS, sizeof(*ctx->errors));
	if (!ctx->errors) {
		ctx->oom = true;
		return;
	}
	e = &ctx->errors[ctx->nerrors - 1];
	e->pos = pos;
	e->seq = ctx->nerrors;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static int compare_errors_by_position(const void *a, const void *b)
{
	const struct parse_error *x = a, *y = b;

	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	/* Same place: keep the order they were found in. */
	return x->seq < y->seq ? -1 : 1;
}

/*
 * Checks run section by section, and an object's keys before its values;
 * listing by position reads like the file.
 */
void flush_errors(struct parse_ctx *ctx, struct diags *d)
{
	unsigned int listed = ctx->nerrors < POLICY_MAX_ERRORS
				      ? ctx->nerrors
				      : POLICY_MAX_ERRORS;

	if (!ctx->errors)
		return;
	qsort(ctx->errors, listed, sizeof(*ctx->errors),
	      compare_errors_by_position);
	for (unsigned int i = 0; i < listed; i++)
		diags_add(d, ctx->file, ctx->errors[i].pos, "%s",
			  ctx->errors[i].msg);
	if (ctx->nerrors > listed)
		diags_add(d, ctx->file, (struct src_pos){0},
			  "%u more errors not shown", ctx->nerrors - listed);
}

/* "path: " before a message, nothing at the top level. */
const char *path_sep(const char *path)
{
	return *path ? ": " : "";
}

const char *subpath(char *buf, const char *path, const char *key)
{
	/* The precisions let the compiler see the result always fits. */
	snprintf(buf, PATH_LEN, "%.80s%s%.32s", path, *path ? "." : "", key);
	return buf;
}

const char *index_path(char *buf, const char *path, size_t i)
{
	snprintf(buf, PATH_LEN, "%.100s[%zu]", path, i);
	return buf;
}

void *ctx_calloc(struct parse_ctx *ctx, size_t n, size_t size)
{
	void *p;

	if (!n)
		return NULL;
	p = calloc(n, size);
	if (!p)
		ctx->oom = true;
	return p;
}

char *ctx_strdup(struct parse_ctx *ctx, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		ctx->oom = true;
	return copy;
}

/* ---- Typed access to JSON values ---- */

const char *json_kind_name(int type)
{
	switch (type & 0xff) {
	case cJSON_Object:
		return "an object";
	case cJSON_Array:
		return "an array";
	case cJSON_String:
		return "a string";
	case cJSON_Number:
		return "a number";
	case cJSON_True:
	case cJSON_False:
		return "a boolean";
	case cJSON_NULL:
		return "null";
	default:
		return "an unknown value";
	}
}

bool expect_type(struct parse_ctx *ctx, const cJSON *node, const char *path,
		 int type)
{
	if ((node->type & 0xff) == type)
		return true;
	report(ctx, value_pos(ctx, node), "%s%sexpected %s, got %s", path,
	       path_sep(path), json_kind_name(type),
	       json_kind_name(node->type));
	return false;
}

const char *expect_string(struct parse_ctx *ctx, const cJSON *node,
			  const char *path)
{
	return expect_type(ctx, node, path, cJSON_String) ? node->valuestring
							  : NULL;
}

/*
 * The number as written in the file. cJSON only keeps a double, which
 * cannot tell "80" from "80.0" nor hold every 64-bit integer.
 */
/*
 * The number as written, for messages and exact integer parsing. A number
 * longer than the buffer is cut and ends in "..." (no integer we take is
 * that long: number_text_to_integer refuses it).
 */
void number_text(const struct parse_ctx *ctx, const cJSON *node, char *buf,
		 size_t size)
{
	const struct json_event *ev =
		json_positions_event(&ctx->jp, node, false);
	size_t n;

	if (!ev) {
		snprintf(buf, size, "%.17g", node->valuedouble);
		return;
	}
	n = strspn(ctx->text + ev->offset, "+-0123456789.eE");
	if (n >= size) {
		memcpy(buf, ctx->text + ev->offset, size - 4);
		strcpy(buf + size - 4, "...");
		return;
	}
	memcpy(buf, ctx->text + ev->offset, n);
	buf[n] = '\0';
}

/*
 * Returns 0, -EINVAL when not written as an integer (a fraction, an
 * exponent), -EDOM for leading zeros (JSON has none, and "010" must not be
 * taken for 10 or 8), or -ERANGE (too long).
 */
int number_text_to_integer(const char *text, long long *out)
{
	const char *digits = text[0] == '-' ? text + 1 : text;
	size_t n = strlen(digits);

	if (n > 3 && !strcmp(digits + n - 3, "..."))
		return -ERANGE; /* cut by number_text: longer than any we take */
	if (!*digits || digits[strspn(digits, "0123456789")])
		return -EINVAL;
	if (digits[0] == '0' && digits[1])
		return -EDOM;
	errno = 0;
	*out = strtoll(text, NULL, 10);
	return errno == ERANGE ? -ERANGE : 0;
}

/* An integer in [min, max]; what names it in messages ("port 0 is ..."). */
bool read_integer_in_range(struct parse_ctx *ctx, const cJSON *node,
			   const char *path, const char *what, long long min,
			   long long max, long long *out)
{
	char text[32];
	long long v;
	int err;

	number_text(ctx, node, text, sizeof(text));
	err = number_text_to_integer(text, &v);
	if (err == -EINVAL) {
		report(ctx, value_pos(ctx, node), "%s: %s %s is not an integer",
		       path, what, text);
		return false;
	}
	if (err == -EDOM) {
		report(ctx, value_pos(ctx, node),
		       "%s: %s %s has leading zeros, which JSON does not allow",
		       path, what, text);
		return false;
	}
	if (err || v < min || v > max) {
		report(ctx, value_pos(ctx, node),
		       "%s: %s %s is out of range (%lld-%lld)", path, what,
		       text, min, max);
		return false;
	}
	*out = v;
	return true;
}

/* "\"a\", \"b\" or \"c\"" */
static void format_choices(char *buf, size_t size, const char *const *words,
			   size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		const char *sep = !i ? "" : i == n - 1 ? " or " : ", ";

		used += snprintf(buf + used, size - used, "%s\"%s\"", sep,
				 words[i]);
	}
}

/* Index of the string in words[], or -1 after reporting. */
int read_keyword(struct parse_ctx *ctx, const cJSON *node, const char *path,
		 const char *const *words, size_t n)
{
	const char *s = expect_string(ctx, node, path);
	char choices[128];

	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, words[i]))
			return i;
	format_choices(choices, sizeof(choices), words, n);
	report(ctx, value_pos(ctx, node), "%s: expected %s, got \"%.64s\"",
	       path, choices, s);
	return -1;
}

/* ---- Objects with a fixed set of keys ---- */

struct keyed_member {
	const cJSON *node;
	size_t index;
};

static struct json_field *find_field(struct json_field *fields, size_t n,
				     const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(fields[i].key, key))
			return &fields[i];
	return NULL;
}

static void format_field_keys(char *buf, size_t size,
			      const struct json_field *fields, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		if (fields[i].unlisted)
			continue;
		used += snprintf(buf + used, size - used, "%s%s",
				 used ? ", " : "", fields[i].key);
	}
}

/* obj must be an object. Reports unknown, duplicate and missing keys. */
void read_fields(struct parse_ctx *ctx, const cJSON *obj, const char *path,
		 struct json_field *fields, size_t n)
{
	const cJSON *member;
	char keys[256];

	cJSON_ArrayForEach(member, obj)
	{
		struct json_field *f = find_field(fields, n, member->string);

		if (!f) {
			format_field_keys(keys, sizeof(keys), fields, n);
			report(ctx, key_pos(ctx, member),
			       "%s%sunknown key \"%.64s\" (expected one of: "
			       "%s)",
			       path, path_sep(path), member->string, keys);
		} else if (f->node) {
			report(ctx, key_pos(ctx, member),
			       "%s%sduplicate key \"%s\" (first on line %u)",
			       path, path_sep(path), f->key,
			       key_pos(ctx, f->node).line);
		} else {
			f->node = member;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (fields[i].required && !fields[i].node)
			report(ctx, value_pos(ctx, obj),
			       "%s%smissing required key \"%s\"", path,
			       path_sep(path), fields[i].key);
}

static int compare_keyed_members(const void *a, const void *b)
{
	const struct keyed_member *x = a, *y = b;
	int c = strcmp(x->node->string, y->node->string);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* For objects with free-form keys; sorting keeps huge objects cheap. */
void report_duplicate_keys(struct parse_ctx *ctx, const cJSON *obj,
			   const char *path, size_t n)
{
	_cleanup_(freep) struct keyed_member *members = NULL;
	const cJSON *member;
	size_t i = 0, first = 0;

	members = ctx_calloc(ctx, n, sizeof(*members));
	if (!members)
		return;
	cJSON_ArrayForEach(member, obj)
	{
		members[i].node = member;
		members[i].index = i;
		i++;
	}
	qsort(members, n, sizeof(*members), compare_keyed_members);
	for (i = 1; i < n; i++) {
		if (strcmp(members[first].node->string,
			   members[i].node->string)) {
			first = i;
			continue;
		}
		report(ctx, key_pos(ctx, members[i].node),
		       "%s: duplicate key \"%.64s\" (first on line %u)", path,
		       members[i].node->string,
		       key_pos(ctx, members[first].node).line);
	}
}
