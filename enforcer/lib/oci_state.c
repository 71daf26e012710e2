// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cgfence_abi.h"
#include "oci_state.h"
#include "util.h"

static int fail(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Runtimes pick ids from [A-Za-z0-9_.+-]; anything printable but '/' passes. */
static bool valid_container_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= CGF_CONTAINER_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '/')
			return false;
	return true;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A later duplicate would be invisible to cJSON's lookups: refuse it.
 * Sorted, so that a megabyte of keys costs n log n, not n squared.
 */
static int find_duplicate_key(const cJSON *obj, char *dup, size_t dup_len)
{
	const char **keys;
	size_t n = 0;
	int found = 0;

	for (const cJSON *a = obj->child; a; a = a->next)
		n++;
	if (n < 2)
		return 0;
	keys = malloc(n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	n = 0;
	for (const cJSON *a = obj->child; a; a = a->next)
		keys[n++] = a->string;
	qsort(keys, n, sizeof(*keys), compare_strings);
	for (size_t i = 1; i < n && !found; i++) {
		if (!strcmp(keys[i - 1], keys[i])) {
			snprintf(dup, dup_len, "%s", keys[i]);
			found = 1;
		}
	}
	free(keys);
	return found;
}

static char *dup_string(const cJSON *node)
{
	return strdup(node->valuestring);
}

static int read_annotations(const cJSON *obj, struct oci_state *s, char *why,
			    size_t why_len)
{
	size_t n = 0;
	char dup[65];
	int err;

	if (!cJSON_IsObject(obj))
		return fail(why, why_len, "\"annotations\" must be an object");
	err = find_duplicate_key(obj, dup, sizeof(dup));
	if (err < 0)
		return err;
	if (err)
		return fail(why, why_len, "annotation \"%s\" appears twice",
			    dup);
	for (const cJSON *a = obj->child; a; a = a->next)
		n++;
	if (!n)
		return 0;
	s->annotations = calloc(n, sizeof(*s->annotations));
	if (!s->annotations)
		return -ENOMEM;
	for (const cJSON *a = obj->child; a; a = a->next) {
		struct oci_annotation *e = &s->annotations[s->nannotations];

		if (!a->string[0]) /* runtime-spec: keys MUST NOT be empty */
			return fail(why, why_len,
				    "an annotation has an empty key");
		if (!cJSON_IsString(a))
			return fail(why, why_len,
				    "annotation \"%.64s\" must be a string",
				    a->string);
		e->key = strdup(a->string);
		e->value = dup_string(a);
		s->nannotations++;
		if (!e->key || !e->value)
			return -ENOMEM;
	}
	return 0;
}

static int read_state(const cJSON *root, struct oci_state *s, char *why,
		      size_t why_len)
{
	const cJSON *id, *status, *pid, *bundle, *ann;
	char dup[65];
	int err;

	if (!cJSON_IsObject(root))
		return fail(why, why_len, "the state is not a JSON object");
	err = find_duplicate_key(root, dup, sizeof(dup));
	if (err < 0)
		return err;
	if (err)
		return fail(why, why_len, "\"%s\" appears twice", dup);

	id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (!cJSON_IsString(id))
		return fail(why, why_len, "no container \"id\" string");
	if (!valid_container_id(id->valuestring))
		return fail(why, why_len,
			    "container id \"%.64s\" is empty, longer than %d "
			    "bytes, or has spaces, '/' or control characters",
			    id->valuestring, CGF_CONTAINER_ID_LEN - 1);
	status = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!cJSON_IsString(status))
		return fail(why, why_len, "no \"status\" string");

	pid = cJSON_GetObjectItemCaseSensitive(root, "pid");
	if (pid) {
		double v = cJSON_GetNumberValue(pid);

		if (!cJSON_IsNumber(pid) || v < 0 || v > INT_MAX ||
		    v != (double)(long long)v)
			return fail(why, why_len,
				    "\"pid\" is not a process id");
		s->pid = (pid_t)v;
	}
	bundle = cJSON_GetObjectItemCaseSensitive(root, "bundle");
	if (bundle && !cJSON_IsString(bundle))
		return fail(why, why_len, "\"bundle\" must be a string");

	s->id = dup_string(id);
	s->status = dup_string(status);
	s->bundle = bundle ? dup_string(bundle) : NULL;
	if (!s->id || !s->status || (bundle && !s->bundle))
		return -ENOMEM;

	ann = cJSON_GetObjectItemCaseSensitive(root, "annotations");
	if (ann && !cJSON_IsNull(ann))
		return read_annotations(ann, s, why, why_len);
	return 0;
}

int oci_state_parse(const char *text, size_t len, struct oci_state *out,
		    char *why, size_t why_len)
{
	cJSON *root;
	int err;

	memset(out, 0, sizeof(*out));
	if (len > OCI_STATE_MAX_SIZE)
		return fail(why, why_len, "the state is larger than %u bytes",
			    OCI_STATE_MAX_SIZE);
	if (memchr(text, '\0', len))
		return fail(why, why_len, "the state contains a NUL byte");
	if (json_text_has_nul_escape(text, len))
		return fail(why, why_len,
			    "the state contains \\u0000 in a string, which "
			    "would cut it short");
	root = cJSON_ParseWithLength(text, len);
	if (!root)
		return fail(why, why_len, "the state is not valid JSON");
	err = read_state(root, out, why, why_len);
	cJSON_Delete(root);
	if (err == -ENOMEM)
		snprintf(why, why_len, "out of memory");
	if (err)
		oci_state_free(out);
	return err;
}

void oci_state_free(struct oci_state *s)
{
	for (size_t i = 0; i < s->nannotations; i++) {
		free(s->annotations[i].key);
		free(s->annotations[i].value);
	}
	free(s->annotations);
	free(s->id);
	free(s->status);
	free(s->bundle);
	memset(s, 0, sizeof(*s));
}

const char *oci_state_annotation(const struct oci_state *s, const char *key)
{
	for (size_t i = 0; i < s->nannotations; i++)
		if (!strcmp(s->annotations[i].key, key))
			return s->annotations[i].value;
	return NULL;
}

int oci_config_may_hold_cap(const char *bundle, const char *cap, char *why,
			    size_t why_len)
{
	_cleanup_free_ char *text = NULL;
	cJSON *root, *caps, *bounding, *item;
	char path[4096];
	int err, found = 1;

	if (!bundle || bundle[0] != '/')
		return fail(why, why_len,
			    "the state names no bundle directory");
	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", bundle) >=
	    sizeof(path))
		return fail(why, why_len, "the bundle path is too long");
	err = read_small_file(path, &text, OCI_CONFIG_MAX_SIZE);
	if (err) {
		snprintf(why, why_len, "%s: %s", path, strerror(-err));
		return err;
	}
	root = cJSON_Parse(text);
	if (!root) {
		snprintf(why, why_len, "%s: not valid JSON", path);
		return -EINVAL;
	}
	caps = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "process"),
		"capabilities");
	bounding = cJSON_GetObjectItemCaseSensitive(caps, "bounding");
	if (cJSON_IsArray(bounding)) {
		found = 0;
		cJSON_ArrayForEach(
			item, bounding) if (cJSON_IsString(item) &&
					    !strcmp(item->valuestring, cap))
			found = 1;
	}
	cJSON_Delete(root);
	return found;
}
