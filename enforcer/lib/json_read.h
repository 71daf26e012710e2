/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading JSON values with positions and messages: the parse context
 * (text, positions, the errors found so far), typed access that reports
 * "FILE:LINE:COL: path: expected ..., got ..." once per problem, numbers
 * exactly as written, objects with a fixed set of keys. The policy
 * language (policy.c) is written on top of it. Pure.
 */
#ifndef CGFENCE_JSON_READ_H
#define CGFENCE_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "diag.h"
#include "json_positions.h"

/* Past this many, errors are counted but not listed. */
#define POLICY_MAX_ERRORS  100
#define POLICY_MAX_MESSAGE 512
/* JSON paths in messages, like "ingress.rules[1023].from[99999]". */
#define PATH_LEN 128

struct parse_error {
	struct src_pos pos;
	unsigned int seq;
	char msg[POLICY_MAX_MESSAGE];
};

struct parse_ctx {
	const char *file;
	const char *text; /* NUL-terminated copy */
	size_t len;
	struct json_positions jp;
	/* The first POLICY_MAX_ERRORS found, listed by position at the end. */
	struct parse_error *errors;
	unsigned int nerrors;
	bool oom;
};

struct json_field {
	const char *key;
	bool required;
	bool unlisted;	   /* accepted here only to give a better message */
	const cJSON *node; /* out: the member, NULL when absent */
};

/* One problem at pos; flush_errors() lists them all in document order. */
void report(struct parse_ctx *ctx, struct src_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void flush_errors(struct parse_ctx *ctx, struct diags *d);

/* Where a node's value, or its member's key, starts. */
struct src_pos value_pos(const struct parse_ctx *ctx, const cJSON *node);
struct src_pos key_pos(const struct parse_ctx *ctx, const cJSON *node);

/* JSON paths for messages ("egress.rules[0].to"), and allocation that
 * marks the context out of memory instead of failing the caller. */
const char *path_sep(const char *path);
const char *subpath(char *buf, const char *path, const char *key);
const char *index_path(char *buf, const char *path, size_t i);
void *ctx_calloc(struct parse_ctx *ctx, size_t n, size_t size);
char *ctx_strdup(struct parse_ctx *ctx, const char *s);

/* Typed access: each reports a wrong type or value and returns NULL/false. */
const char *json_kind_name(int type);
bool expect_type(struct parse_ctx *ctx, const cJSON *node, const char *path,
		 int type);
const char *expect_string(struct parse_ctx *ctx, const cJSON *node,
			  const char *path);
void number_text(const struct parse_ctx *ctx, const cJSON *node, char *buf,
		 size_t size);
int number_text_to_integer(const char *text, long long *out);
bool read_integer_in_range(struct parse_ctx *ctx, const cJSON *node,
			   const char *path, const char *what, long long min,
			   long long max, long long *out);
int read_keyword(struct parse_ctx *ctx, const cJSON *node, const char *path,
		 const char *const *words, size_t n);
/* An object with a fixed set of keys: unknown, duplicate, missing ones. */
void read_fields(struct parse_ctx *ctx, const cJSON *obj, const char *path,
		 struct json_field *fields, size_t n);
void report_duplicate_keys(struct parse_ctx *ctx, const cJSON *obj,
			   const char *path, size_t n);

#endif
