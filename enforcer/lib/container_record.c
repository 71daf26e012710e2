// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "container_record.h"
#include "util.h"

#define RECORDS_DIR	"containers"
#define RECORD_MAX_SIZE (4 * 1024 * 1024) /* 1 MiB of OCI state, escaped */

static void add_string(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

char *container_record_format(const struct container_record *r)
{
	cJSON *obj = cJSON_CreateObject(), *ann;
	char id[24];
	char *text = NULL;

	if (!obj)
		return NULL;
	snprintf(id, sizeof(id), "%" PRIu64, r->cgroup_id);
	add_string(obj, "container_id", r->container_id);
	add_string(obj, "cgroup", r->cgroup);
	cJSON_AddStringToObject(obj, "cgroup_id", id); /* a double rounds */
	add_string(obj, "policy_dir", r->policy_dir);
	add_string(obj, "policy_file", r->policy_file);
	ann = cJSON_AddObjectToObject(obj, "annotations");
	for (size_t i = 0; ann && i < r->nannotations; i++)
		cJSON_AddStringToObject(ann, r->annotations[i].key,
					r->annotations[i].value);
	add_string(obj, "policy", r->policy);
	add_string(obj, "selected_by", r->selected_by);
	add_string(obj, "kept", r->kept);
	cJSON_AddBoolToObject(obj, "without_cap_net_raw",
			      r->without_cap_net_raw);
	if (ann)
		text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	return text;
}

static int copy_string(const cJSON *obj, const char *key, bool nullable,
		       char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (nullable && (!v || cJSON_IsNull(v)))
		return 0;
	if (!cJSON_IsString(v))
		return -EINVAL;
	*out = strdup(v->valuestring);
	return *out ? 0 : -ENOMEM;
}

int container_record_parse(const char *text, struct container_record *r)
{
	cJSON *obj = cJSON_Parse(text);
	const cJSON *ann, *a;
	char *id = NULL;
	unsigned long long n;
	int err;

	memset(r, 0, sizeof(*r));
	if (!obj)
		return -EINVAL;
	err = copy_string(obj, "container_id", false, &r->container_id);
	if (!err)
		err = copy_string(obj, "cgroup", false, &r->cgroup);
	if (!err)
		err = copy_string(obj, "cgroup_id", false, &id);
	if (!err)
		err = parse_uint(id, 1, UINT64_MAX, &n);
	if (!err)
		r->cgroup_id = n;
	if (!err)
		err = copy_string(obj, "policy_dir", false, &r->policy_dir);
	if (!err)
		err = copy_string(obj, "policy_file", true, &r->policy_file);
	if (!err)
		err = copy_string(obj, "policy", true, &r->policy);
	if (!err)
		err = copy_string(obj, "selected_by", false, &r->selected_by);
	if (!err)
		err = copy_string(obj, "kept", true, &r->kept);
	r->without_cap_net_raw = cJSON_IsTrue(
		cJSON_GetObjectItemCaseSensitive(obj, "without_cap_net_raw"));
	ann = cJSON_GetObjectItemCaseSensitive(obj, "annotations");
	if (!err && !cJSON_IsObject(ann))
		err = -EINVAL;
	if (!err) {
		size_t count = cJSON_GetArraySize(ann);

		r->annotations =
			calloc(count ? count : 1, sizeof(*r->annotations));
		if (!r->annotations)
			err = -ENOMEM;
	}
	cJSON_ArrayForEach(a, ann)
	{
		struct oci_annotation *to;

		if (err)
			break;
		to = &r->annotations[r->nannotations];

		if (!cJSON_IsString(a)) {
			err = -EINVAL;
			break;
		}
		to->key = strdup(a->string);
		to->value = strdup(a->valuestring);
		r->nannotations++;
		if (!to->key || !to->value) {
			err = -ENOMEM;
			break;
		}
	}
	free(id);
	cJSON_Delete(obj);
	if (err)
		container_record_free(r);
	return err;
}

void container_record_free(struct container_record *r)
{
	free(r->container_id);
	free(r->cgroup);
	free(r->policy_dir);
	free(r->policy_file);
	for (size_t i = 0; i < r->nannotations; i++) {
		free(r->annotations[i].key);
		free(r->annotations[i].value);
	}
	free(r->annotations);
	free(r->policy);
	free(r->selected_by);
	free(r->kept);
	memset(r, 0, sizeof(*r));
}

int container_record_write(int run_fd, const struct container_record *r)
{
	_cleanup_free_ char *text = container_record_format(r);

	if (!text)
		return -ENOMEM;
	return id_file_write(run_fd, RECORDS_DIR, r->cgroup_id, text);
}

int container_record_read(int run_fd, uint64_t cgroup_id,
			  struct container_record *r)
{
	_cleanup_free_ char *text = NULL;
	int err;

	memset(r, 0, sizeof(*r));
	err = id_file_read(run_fd, RECORDS_DIR, cgroup_id, RECORD_MAX_SIZE,
			   &text);
	if (err)
		return err;
	err = container_record_parse(text, r);
	if (!err && r->cgroup_id != cgroup_id) {
		container_record_free(r);
		err = -EINVAL;
	}
	return err;
}

int container_record_pod(int run_fd, uint64_t cgroup_id,
			 struct k8s_identity *out)
{
	struct container_record r;
	int found;

	memset(out, 0, sizeof(*out));
	if (run_fd < 0 || container_record_read(run_fd, cgroup_id, &r))
		return 0;
	found = k8s_identity_from_annotations(r.annotations, r.nannotations,
					      out);
	container_record_free(&r);
	return found;
}

int container_record_remove(int run_fd, uint64_t cgroup_id)
{
	return id_file_remove(run_fd, RECORDS_DIR, cgroup_id);
}

int container_record_list(int run_fd, uint64_t **ids, size_t *n)
{
	return id_file_list(run_fd, RECORDS_DIR, ids, n);
}

void container_record_remove_unconfined(int run_fd, const char *container_id)
{
	uint64_t *ids = NULL;
	size_t n = 0;

	if (container_record_list(run_fd, &ids, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		struct container_record r;

		if (container_record_read(run_fd, ids[i], &r))
			continue;
		if (!r.policy && !strcmp(r.container_id, container_id))
			container_record_remove(run_fd, ids[i]);
		container_record_free(&r);
	}
	free(ids);
}
