// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "audit_read.h"

int audit_record_read(char *line, size_t len, cJSON **out)
{
	cJSON *rec;

	*out = NULL;
	if (len && line[len - 1] == '\n')
		line[--len] = '\0';
	if (!len)
		return 0;
	/*
	 * A record is the whole line: `log --json` passes it on as one JSON
	 * value. cJSON alone would take '{...} garbage', and stop at a NUL.
	 */
	if (memchr(line, '\0', len))
		return -EINVAL;
	rec = cJSON_ParseWithLengthOpts(line, len + 1, NULL, true);
	if (!cJSON_IsObject(rec)) {
		cJSON_Delete(rec);
		return -EINVAL;
	}
	*out = rec;
	return 0;
}

const char *audit_record_str(const cJSON *rec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *audit_record_k8s(const cJSON *rec, const char *key)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(rec, "kubernetes");

	return cJSON_IsObject(k) ? audit_record_str(k, key) : NULL;
}

void audit_record_pod_text(const cJSON *rec, char *buf, size_t len,
			   bool with_container)
{
	const char *ns = audit_record_k8s(rec, "namespace"),
		   *pod = audit_record_k8s(rec, "pod"),
		   *container = audit_record_k8s(rec, "container");

	if (!ns || !pod)
		buf[0] = '\0';
	else if (with_container && container)
		snprintf(buf, len, "%s/%s/%s", ns, pod, container);
	else
		snprintf(buf, len, "%s/%s", ns, pod);
}

static double num_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/*
 * Converting an out-of-range double (1e300, -1) to an integer is
 * undefined: only whole numbers within range are taken.
 */
unsigned long long audit_record_uint(const cJSON *rec, const char *key,
				     unsigned long long max)
{
	double v = num_field(rec, key);

	if (!(v >= 0 && v <= (double)max) || v != (double)(unsigned long long)v)
		return 0;
	return (unsigned long long)v;
}

void audit_record_target(const cJSON *rec, char *buf, size_t len)
{
	const char *proto = audit_record_str(rec, "protocol"),
		   *dev = audit_record_str(rec, "device");
	const char *dst = audit_record_str(rec, "dst"),
		   *src = audit_record_str(rec, "src");
	const char *addr = dst ? dst : src;
	int port = (int)audit_record_uint(rec, "dport", 65535);
	int v6 = addr && strchr(addr, ':');

	if (dev) {
		snprintf(buf, len, "%s %s", dev,
			 audit_record_str(rec, "access") ?: "");
	} else if (audit_record_str(rec, "socket")) {
		snprintf(buf, len, "socket %s",
			 audit_record_str(rec, "socket"));
	} else if (addr && port) {
		snprintf(buf, len, "%s%s%s%s:%d/%s", src ? "from " : "",
			 v6 ? "[" : "", addr, v6 ? "]" : "", port,
			 proto ?: "?");
	} else if (addr) {
		snprintf(buf, len, "%s%s/%s", src ? "from " : "", addr,
			 proto ?: "?");
	} else {
		buf[0] = '\0';
	}
}
