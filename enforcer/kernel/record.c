// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/bpf.h>

#include "cgroup.h"
#include "record.h"
#include "recording.h"
#include "util.h"

static int record_path(const struct cgf_state *st, uint64_t cgroup_id,
		       char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/records/%" PRIu64, st->dir,
			     cgroup_id) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int record_open(const struct cgf_state *st, uint64_t cgroup_id)
{
	char path[PATH_MAX];
	int fd, err = record_path(st, cgroup_id, path, sizeof(path));

	if (err)
		return err;
	fd = bpf_obj_get(path);
	return fd >= 0 ? fd : -errno;
}

static int record_create(struct cgf_state *st, uint64_t cgroup_id,
			 uint32_t size)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts,
		    .map_flags = BPF_F_NO_PREALLOC); /* as cgf_record_inner */
	struct cgf_record_key overflow = {.kind = CGF_REC_OVERFLOW};
	struct cgf_record_value none = {};
	char path[PATH_MAX];
	int fd, err;

	err = record_path(st, cgroup_id, path, sizeof(path));
	if (err)
		return err;
	if (mkdirat(st->dir_fd, "records", 0700) && errno != EEXIST)
		return -errno;
	/* One entry more than asked: the overflow counter, inserted first. */
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cgf_record",
			    sizeof(struct cgf_record_key),
			    sizeof(struct cgf_record_value), size + 1, &opts);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &overflow, &none, BPF_NOEXIST) ||
	    bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int record_start(struct cgf_state *st, uint64_t cgroup_id, uint32_t size)
{
	struct recording_info info;
	int fd = record_open(st, cgroup_id), err;
	bool made = false;

	if (fd == -ENOENT) {
		fd = record_create(st, cgroup_id, size);
		made = true;
	}
	if (fd < 0)
		return fd;
	err = bpf_map_update_elem(st->map_fds[CGF_MAP_RECORDS], &cgroup_id, &fd,
				  BPF_ANY)
		      ? -errno
		      : 0;
	close(fd);
	if (err) {
		if (made)
			record_remove(st, cgroup_id);
		return err;
	}
	/* The description: apply fills in what it knows (attach.c). */
	if (recording_read(st->run_fd, cgroup_id, &info) == 0 && !made &&
	    info.stopped_ns) {
		info.stopped_ns = 0;
		recording_write(st->run_fd, &info);
	}
	return 0;
}

void record_stop(struct cgf_state *st, uint64_t cgroup_id)
{
	struct recording_info info;

	if (bpf_map_delete_elem(st->map_fds[CGF_MAP_RECORDS], &cgroup_id))
		return; /* it was not recording */
	if (recording_read(st->run_fd, cgroup_id, &info) == 0) {
		info.stopped_ns = clock_ns(CLOCK_REALTIME);
		recording_write(st->run_fd, &info);
	}
}

void record_remove(struct cgf_state *st, uint64_t cgroup_id)
{
	char path[PATH_MAX];

	bpf_map_delete_elem(st->map_fds[CGF_MAP_RECORDS], &cgroup_id);
	if (record_path(st, cgroup_id, path, sizeof(path)) == 0)
		unlink(path);
	if (st->run_fd >= 0)
		recording_remove(st->run_fd, cgroup_id);
}

/* The kernel's account of a map's memory (fdinfo "memlock"), or 0. */
static uint64_t map_memory(int fd)
{
	char path[64], *text = NULL, *line;
	uint64_t bytes = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (read_small_file(path, &text, 4096))
		return 0;
	line = strstr(text, "memlock:");
	if (line)
		bytes = strtoull(line + strlen("memlock:"), NULL, 10);
	free(text);
	return bytes;
}

int record_read(int table_fd, struct record_contents *out)
{
	uint64_t offset = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	struct cgf_record_key key, next;
	struct cgf_record_value v;
	size_t cap = 0;
	void *prev = NULL;

	memset(out, 0, sizeof(*out));
	if (bpf_obj_get_info_by_fd(table_fd, &info, &len))
		return -errno;
	out->size = info.max_entries ? info.max_entries - 1 : 0;
	out->memory_bytes = map_memory(table_fd);
	while (bpf_map_get_next_key(table_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(table_fd, &key, &v))
			continue; /* removed meanwhile */
		if (key.kind == CGF_REC_OVERFLOW) {
			out->not_recorded = v.count;
			continue;
		}
		if (out->n == cap) {
			struct observation *bigger;

			cap = cap ? cap * 2 : 256;
			bigger = realloc(out->obs, cap * sizeof(*bigger));
			if (!bigger) {
				record_contents_free(out);
				return -ENOMEM;
			}
			out->obs = bigger;
		}
		out->obs[out->n++] = (struct observation){
			.key = key,
			.count = v.count,
			.first_ns = v.first_ns + offset,
			.last_ns = v.last_ns + offset,
		};
	}
	return 0;
}

void record_contents_free(struct record_contents *c)
{
	free(c->obs);
	memset(c, 0, sizeof(*c));
}

static bool cgroup_exists(uint64_t cgroup_id)
{
	int fd = -1;

	if (cgroup_open_by_id(cgroup_id, &fd))
		return false;
	close(fd);
	return true;
}

int record_gc(struct cgf_state *st, uint64_t max_age_s)
{
	uint64_t now = clock_ns(CLOCK_REALTIME);
	_cleanup_free_ uint64_t *ids = NULL;
	int removed = 0, fd, err;
	size_t n;

	fd = openat(st->dir_fd, "records", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* The pinned tables are named by their cgroup's id alone. */
	err = dir_list_id_files(fd, "", &ids, &n); /* closes fd */
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct recording_info info;
		uint64_t stopped;

		if (cgroup_exists(ids[i]))
			continue;
		/* Without a description: its cgroup went while it recorded. */
		stopped = recording_read(st->run_fd, ids[i], &info) == 0 &&
					  info.stopped_ns
				  ? info.stopped_ns
				  : 0;
		if (stopped && now - stopped < max_age_s * 1000000000ull)
			continue;
		record_remove(st, ids[i]);
		removed++;
	}
	return removed;
}
