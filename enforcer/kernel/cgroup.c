// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cgroup.h"
#include "util.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * The mount found last, reused while it still is a cgroup2 mount: a hook
 * run resolves two cgroups, and hookd one or two per container.
 */
static char found_mount[4096];

static bool still_cgroup2(const char *dir)
{
	struct statfs sfs;

	return dir[0] && statfs(dir, &sfs) == 0 &&
	       sfs.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup2_mount_find(char *buf, size_t len)
{
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;
	int err;

	if (still_cgroup2(found_mount) && strlen(found_mount) < len) {
		strcpy(buf, found_mount);
		return 0;
	}
	err = read_small_file("/proc/self/mountinfo", &text, 1 << 20);
	if (err)
		return err;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *fields[5], *sep, *p = line;
		int i;

		/* id parent dev root mountpoint ... - fstype source opts */
		for (i = 0; i < 5; i++) {
			fields[i] = strsep(&p, " ");
			if (!fields[i])
				break;
		}
		if (i < 5 || !p)
			continue;
		sep = strstr(p, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		unescape_octal(fields[4]);
		if (strlen(fields[4]) >= len ||
		    strlen(fields[4]) >= sizeof(found_mount))
			return -ENAMETOOLONG;
		strcpy(buf, fields[4]);
		strcpy(found_mount, fields[4]);
		return 0;
	}
	return -ENOENT;
}

int cgroup_resolve_from_pid(pid_t pid, char *buf, size_t len)
{
	_cleanup_free_ char *text = NULL;
	char mount[4096], path[64];
	char *line, *save = NULL;
	int err;

	err = cgroup2_mount_find(mount, sizeof(mount));
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	err = read_small_file(path, &text, 1 << 16);
	if (err)
		return err;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		if (strstr(line + 3, "/..") || line[3] != '/')
			return -EINVAL;
		if ((size_t)snprintf(buf, len, "%s%s", mount,
				     strcmp(line + 3, "/") ? line + 3 : "") >=
		    len)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOENT;
}

int cgroup_open(const char *dir, int *fd_out, uint64_t *id_out)
{
	struct statfs sfs;
	struct stat st;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) || fstat(fd, &st)) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		close(fd);
		return -EMEDIUMTYPE;
	}
	/* On cgroup2 the directory's inode number is the cgroup id. */
	*id_out = st.st_ino;
	*fd_out = fd;
	return 0;
}

/* FILEID_KERNFS (include/linux/exportfs.h): the handle is the 64-bit id. */
#define CGROUP_HANDLE_TYPE 0xfe

int cgroup_open_by_id(uint64_t id, int *fd_out)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} handle = {.fh = {.handle_bytes = sizeof(uint64_t),
			   .handle_type = CGROUP_HANDLE_TYPE}};
	_cleanup_close_ int mount_fd = -1;
	char mount[4096];
	int fd, err;

	err = cgroup2_mount_find(mount, sizeof(mount));
	if (err)
		return err;
	mount_fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mount_fd < 0)
		return -errno;
	memcpy(handle.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mount_fd, &handle.fh,
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*fd_out = fd;
	return 0;
}
