// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "lifecycle.h"
#include "util.h"

static const char *const kind_names[] = {
	[LIFECYCLE_APPLIED] = "applied",
	[LIFECYCLE_REPLACED] = "replaced",
	[LIFECYCLE_REMOVED] = "removed",
	[LIFECYCLE_UNCONFINED] = "unconfined",
	[LIFECYCLE_CHANGED] = "changed",
	[LIFECYCLE_KEPT] = "kept",
	[LIFECYCLE_POLICY_INVALID] = "policy-invalid",
};

static void add_string_or_null(cJSON *obj, const char *key, const char *value)
{
	if (value && *value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

/* Raw decimal: a double would round ids above 2^53. */
static void add_u64_or_null(cJSON *obj, const char *key, uint64_t value)
{
	char text[24];

	if (!value) {
		cJSON_AddNullToObject(obj, key);
		return;
	}
	snprintf(text, sizeof(text), "%" PRIu64, value);
	cJSON_AddRawToObject(obj, key, text);
}

void lifecycle_version_text(const uint8_t digest[32], char out[13])
{
	for (int i = 0; i < 6; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

char *lifecycle_format(const struct lifecycle_event *ev, uint64_t realtime_ns)
{
	cJSON *obj = cJSON_CreateObject();
	char when[48];
	char *line;

	if (!obj)
		return NULL;
	audit_format_time(realtime_ns, when, sizeof(when));
	cJSON_AddStringToObject(obj, "time", when);
	/* The audit log's record type; "event" says which. */
	cJSON_AddStringToObject(obj, "type", "lifecycle");
	cJSON_AddStringToObject(obj, "event", kind_names[ev->kind]);
	add_string_or_null(obj, "source", ev->source);
	add_string_or_null(obj, "container_id", ev->container_id);
	add_string_or_null(obj, "cgroup", ev->cgroup);
	add_u64_or_null(obj, "cgroup_id", ev->cgroup_id);
	k8s_identity_add_json(obj, ev->kubernetes);
	add_string_or_null(obj, "policy", ev->policy);
	/* Hex, as in the deny records and `cgfence apply` output. */
	if (ev->policy_id) {
		char id[16];

		snprintf(id, sizeof(id), "%08x", ev->policy_id);
		cJSON_AddStringToObject(obj, "policy_id", id);
	} else {
		cJSON_AddNullToObject(obj, "policy_id");
	}
	if (ev->version)
		cJSON_AddStringToObject(obj, "version", ev->version);
	add_string_or_null(obj, "mode", ev->mode);
	if (ev->selected_by)
		cJSON_AddStringToObject(obj, "selected_by", ev->selected_by);
	if (ev->families_fenced_by)
		cJSON_AddStringToObject(obj, "families_fenced_by",
					ev->families_fenced_by);
	if (ev->previous_policy) {
		char id[16];

		cJSON_AddStringToObject(obj, "previous_policy",
					ev->previous_policy);
		snprintf(id, sizeof(id), "%08x", ev->previous_policy_id);
		cJSON_AddStringToObject(obj, "previous_policy_id", id);
		if (ev->previous_version)
			cJSON_AddStringToObject(obj, "previous_version",
						ev->previous_version);
	}
	if (ev->policy_dir)
		cJSON_AddStringToObject(obj, "policy_dir", ev->policy_dir);
	if (ev->file)
		cJSON_AddStringToObject(obj, "file", ev->file);
	if (ev->reason)
		cJSON_AddStringToObject(obj, "reason", ev->reason);
	line = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	return line;
}

/* Creates the log's own directory (one level) when it is missing. */
static int make_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return -ENOENT;
	*slash = '\0';
	if (mkdir(dir, 0750) && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_log(const char *path)
{
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
		    O_NOCTTY | O_NONBLOCK;
	int fd = open(path, flags, 0640);
	struct stat st;

	if (fd < 0 && errno == ENOENT) {
		int err = make_parent_dir(path);

		if (err)
			return err;
		fd = open(path, flags, 0640);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int lifecycle_record(const char *log_path, const struct lifecycle_event *ev)
{
	_cleanup_free_ char *line = NULL;
	_cleanup_close_ int fd = -1;
	size_t len;
	ssize_t n;

	if (!log_path || log_path[0] != '/')
		return -EINVAL;
	line = lifecycle_format(ev, clock_ns(CLOCK_REALTIME));
	if (!line)
		return -ENOMEM;
	len = strlen(line);
	line[len++] = '\n'; /* replaces the NUL: written by length below */
	fd = open_log(log_path);
	if (fd < 0)
		return fd;
	/* One write: appended lines of concurrent hooks never interleave. */
	n = write(fd, line, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}
