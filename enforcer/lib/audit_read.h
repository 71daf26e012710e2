/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading the audit log back (`cgfence log`): one JSON object per line, as
 * audit.c and lifecycle.c write them. A log is input: a field of another
 * type than expected is absent, and a number out of range reads as 0.
 * Pure: no kernel, no libbpf.
 */
#ifndef CGFENCE_AUDIT_READ_H
#define CGFENCE_AUDIT_READ_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Counts in records stay exact as doubles up to 2^53. */
#define AUDIT_COUNT_MAX (1ull << 53)

/*
 * One line of the log, len bytes and a NUL after them (as getline() hands
 * it over); a trailing newline is cut off in place. 0 and the record
 * (cJSON_Delete() it), 0 and NULL for an empty line, or -EINVAL when the
 * line is not one JSON object and nothing else.
 */
int audit_record_read(char *line, size_t len, cJSON **out);

/* A string field, or NULL. */
const char *audit_record_str(const cJSON *rec, const char *key);

/*
 * A field of the record's "kubernetes" object ("namespace", "pod",
 * "container"), or NULL when the record names no pod.
 */
const char *audit_record_k8s(const cJSON *rec, const char *key);

/*
 * The pod as one text: "shop/web-0/nginx", "shop/web-0" (a sandbox, or
 * no container name); "" when the record names no pod.
 */
void audit_record_pod_text(const cJSON *rec, char *buf, size_t len,
			   bool with_container);

/* A whole number from 0 to max, or 0 when the record has none. */
unsigned long long audit_record_uint(const cJSON *rec, const char *key,
				     unsigned long long max);

/*
 * What a denial was about: "10.0.0.13:443/tcp", "from [fd00::9]:22/tcp",
 * "c 1:5 rw", "socket packet raw"; "" when the record names nothing.
 */
void audit_record_target(const cJSON *rec, char *buf, size_t len);

#endif
