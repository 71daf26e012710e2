// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "recording.h"
#include "util.h"

#define RECORDING_MAX_SIZE 4096

#define RECORDINGS_DIR "recordings"

char *recording_format(const struct recording_info *r)
{
	cJSON *o = cJSON_CreateObject();
	char id[24], started[24], stopped[24], *text;

	if (!o)
		return NULL;
	/* 64-bit numbers as strings: a JSON number is a double. */
	snprintf(id, sizeof(id), "%" PRIu64, r->cgroup_id);
	snprintf(started, sizeof(started), "%" PRIu64, r->started_ns);
	snprintf(stopped, sizeof(stopped), "%" PRIu64, r->stopped_ns);
	if (!cJSON_AddStringToObject(o, "cgroup_id", id) ||
	    !cJSON_AddStringToObject(o, "container_id", r->container_id) ||
	    !cJSON_AddStringToObject(o, "cgroup", r->cgroup) ||
	    !cJSON_AddStringToObject(o, "policy", r->policy) ||
	    !cJSON_AddNumberToObject(o, "size", r->size) ||
	    !cJSON_AddStringToObject(o, "started_ns", started) ||
	    !cJSON_AddStringToObject(o, "stopped_ns", stopped)) {
		cJSON_Delete(o);
		return NULL;
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static int copy_string(const cJSON *o, const char *key, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= len)
		return -EINVAL;
	strcpy(buf, v->valuestring);
	return 0;
}

static int read_u64(const cJSON *o, const char *key, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	unsigned long long n;

	if (!cJSON_IsString(v) || parse_uint(v->valuestring, 0, UINT64_MAX, &n))
		return -EINVAL;
	*out = n;
	return 0;
}

int recording_parse(const char *text, struct recording_info *r)
{
	cJSON *o = cJSON_Parse(text);
	const cJSON *size;
	int err = -EINVAL;

	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(o))
		goto out;
	size = cJSON_GetObjectItemCaseSensitive(o, "size");
	if (read_u64(o, "cgroup_id", &r->cgroup_id) ||
	    copy_string(o, "container_id", r->container_id,
			sizeof(r->container_id)) ||
	    copy_string(o, "cgroup", r->cgroup, sizeof(r->cgroup)) ||
	    copy_string(o, "policy", r->policy, sizeof(r->policy)) ||
	    !cJSON_IsNumber(size) || size->valuedouble < 0 ||
	    size->valuedouble > UINT32_MAX ||
	    read_u64(o, "started_ns", &r->started_ns) ||
	    read_u64(o, "stopped_ns", &r->stopped_ns))
		goto out;
	r->size = (uint32_t)size->valuedouble;
	err = 0;
out:
	cJSON_Delete(o);
	return err;
}

int recording_write(int run_fd, const struct recording_info *r)
{
	_cleanup_free_ char *text = recording_format(r);

	if (!text)
		return -ENOMEM;
	return id_file_write(run_fd, RECORDINGS_DIR, r->cgroup_id, text);
}

int recording_read(int run_fd, uint64_t cgroup_id, struct recording_info *r)
{
	_cleanup_free_ char *text = NULL;
	int err;

	memset(r, 0, sizeof(*r));
	err = id_file_read(run_fd, RECORDINGS_DIR, cgroup_id,
			   RECORDING_MAX_SIZE, &text);
	if (err)
		return err;
	err = recording_parse(text, r);
	if (!err && r->cgroup_id != cgroup_id)
		err = -EINVAL;
	return err;
}

int recording_remove(int run_fd, uint64_t cgroup_id)
{
	return id_file_remove(run_fd, RECORDINGS_DIR, cgroup_id);
}

int recording_list(int run_fd, uint64_t **ids, size_t *n)
{
	return id_file_list(run_fd, RECORDINGS_DIR, ids, n);
}

int recording_find_container(int run_fd, const char *container_id,
			     struct recording_info *r)
{
	_cleanup_free_ uint64_t *ids = NULL;
	struct recording_info each;
	bool found = false;
	size_t n;
	int err;

	if (!container_id[0])
		return -ENOENT;
	err = recording_list(run_fd, &ids, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (recording_read(run_fd, ids[i], &each) ||
		    strcmp(each.container_id, container_id))
			continue;
		if (!found || each.started_ns > r->started_ns)
			*r = each;
		found = true;
	}
	return found ? 0 : -ENOENT;
}
