/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pinned cgfence state under a bpffs directory (default
 * /sys/fs/bpf/cgfence):
 *
 *   obj/prog_<name>, obj/map_<name>   programs and maps, loaded once
 *   links/<cgroup id>/<prog name>     one link per fenced cgroup and hook
 *
 * state_open() takes an exclusive lock on the directory (released on close
 * or process exit) and loads the BPF object unless it is pinned already.
 */
#ifndef CGFENCE_LOADER_H
#define CGFENCE_LOADER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/bpf.h>

#define CGF_DEFAULT_BPFFS_DIR	    "/sys/fs/bpf/cgfence"
#define CGF_DEFAULT_LOCK_TIMEOUT_MS 10000
/* User-space mirrors of the kernel tables (enforcer/lib/delta.h); like bpffs,
 * gone at reboot. Without it policies change by rebuild. */
#define CGF_RUN_DIR "/run/cgfence"

/* enum cgf_prog_id and enum cgf_map_id: one constant per program and map of
 * bpf/cgfence.bpf.c, generated from the object (tools/gen_bpf_objects.c). */
#include "cgfence.objects.h"

struct cgf_prog_desc {
	const char *name;
	enum bpf_attach_type attach_type;
	bool needs_bpf_lsm; /* not loaded, pinned or attached without it */
};

extern const struct cgf_prog_desc cgf_prog_descs[CGF_PROG__COUNT];
extern const char *const cgf_map_names[CGF_MAP__COUNT];

struct cgf_state {
	char dir[PATH_MAX];
	int dir_fd; /* holds the lock */
	int run_fd; /* table mirrors (CGF_RUN_DIR/<basename of dir>), or -1 */
	int prog_fds[CGF_PROG__COUNT]; /* -1: not loaded (needs_bpf_lsm) */
	int map_fds[CGF_MAP__COUNT];
};

/* How many programs the pinned state holds (and attaches per cgroup). */
static inline int state_program_count(const struct cgf_state *st)
{
	int n = 0;

	for (int i = 0; i < CGF_PROG__COUNT; i++)
		n += st->prog_fds[i] >= 0;
	return n;
}

/* The pinned state has the BPF LSM program: socket families are fenced. */
static inline bool state_has_bpf_lsm(const struct cgf_state *st)
{
	return st->prog_fds[CGF_PROG_SOCKET_CREATE] >= 0;
}

enum state_open_mode {
	STATE_LOAD,	/* load and pin the object if it is not pinned yet */
	STATE_EXISTING, /* -ENOENT when nothing is pinned */
};

/* Mounts a bpffs on /sys/fs/bpf unless one is there. */
int bpffs_mount_root(void);

/*
 * Creates dir; when it is below /sys/fs/bpf, mounts a bpffs there first if
 * needed. -EMEDIUMTYPE when dir is not on a bpffs.
 */
int bpffs_prepare(const char *dir);

int state_open(struct cgf_state *st, const char *dir, enum state_open_mode mode,
	       unsigned int lock_timeout_ms);
void state_close(struct cgf_state *st);

/* What a state_open() error means, for the message that names the dir. */
const char *state_error_text(int err);

/*
 * For a resident process (hookd), which owns one: like state_open(), but
 * the fds stay open after state_put_kept(), which only unlocks, and the
 * next call reuses them when nothing was replaced on disk meanwhile. One
 * directory at a time; not for concurrent use.
 */
struct state_keeper {
	struct cgf_state st;
	bool open;
	enum state_open_mode mode;
	ino_t obj_ino;
};

int state_open_kept(struct state_keeper *k, struct cgf_state **out,
		    const char *dir, enum state_open_mode mode,
		    unsigned int lock_timeout_ms);
void state_put_kept(struct cgf_state *st);

/*
 * The run directory of the state in dir, CGF_RUN_DIR/<basename of dir>
 * (made if missing): the table mirrors, container records, policy store.
 * An fd or -errno.
 */
int state_run_dir_open(const char *dir);
/* The same, but -ENOENT where there is none yet (nothing to read there). */
int state_run_dir_find(const char *dir);

/* Lets other cgfence processes in while this one keeps its fds (daemon). */
void state_unlock(struct cgf_state *st);

/* Number of fenced cgroups recorded in the pinned state. */
int state_count_cgroups(const struct cgf_state *st);

/*
 * The next configuration epoch (cgf_cgroup_config.epoch), never handed out
 * before on this host while the state is pinned. Needs the state lock.
 */
int state_next_epoch(struct cgf_state *st, uint32_t *epoch);
/* n epochs in a row, first..first+n-1, none of them 0; -EOVERFLOW: used up. */
int state_reserve_epochs(struct cgf_state *st, size_t n, uint32_t *first);

#endif
