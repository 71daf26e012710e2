/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finding cgroup v2 directories: the mount, a process's cgroup, ids. */
#ifndef CGFENCE_CGROUP_H
#define CGFENCE_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The cgroup2 mount point from /proc/self/mountinfo, or -ENOENT. */
int cgroup2_mount_find(char *buf, size_t len);

/* Joins the cgroup2 mount with the "0::" line of /proc/PID/cgroup. */
int cgroup_resolve_from_pid(pid_t pid, char *buf, size_t len);

/*
 * Opens a cgroup v2 directory (O_DIRECTORY|O_CLOEXEC) and returns its id.
 * -ENOTDIR / -EMEDIUMTYPE when it is not a cgroup2 directory.
 */
int cgroup_open(const char *dir, int *fd_out, uint64_t *id_out);

#define CGROUP_ROOT_ID 1

/*
 * Opens a cgroup by id through its kernfs file handle, whatever its path
 * (renamed, or seen from another mount namespace). -ESTALE once the
 * cgroup has been removed.
 */
int cgroup_open_by_id(uint64_t id, int *fd_out);

#endif
