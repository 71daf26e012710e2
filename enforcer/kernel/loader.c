// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgfence.skel.h"
#include "cgfence_abi.h"
#include "loader.h"
#include "lsm.h"
#include "cgfence.digest.h"
#include "util.h"

const struct cgf_prog_desc cgf_prog_descs[CGF_PROG__COUNT] = {
	CGF_PROG_DESCS_INIT};

const char *const cgf_map_names[CGF_MAP__COUNT] = {CGF_MAP_NAMES_INIT};

/* Set while a load that may fail and is retried runs: its errors are debug. */
static bool libbpf_quiet;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if ((level == LIBBPF_DEBUG || libbpf_quiet) && !log_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void state_init(struct cgf_state *st)
{
	memset(st, 0, sizeof(*st));
	st->dir_fd = -1;
	st->run_fd = -1;
	for (int i = 0; i < CGF_PROG__COUNT; i++)
		st->prog_fds[i] = -1;
	for (int i = 0; i < CGF_MAP__COUNT; i++)
		st->map_fds[i] = -1;
}

void state_close(struct cgf_state *st)
{
	for (int i = 0; i < CGF_PROG__COUNT; i++)
		if (st->prog_fds[i] >= 0)
			close(st->prog_fds[i]);
	for (int i = 0; i < CGF_MAP__COUNT; i++)
		if (st->map_fds[i] >= 0)
			close(st->map_fds[i]);
	if (st->run_fd >= 0)
		close(st->run_fd);
	if (st->dir_fd >= 0)
		close(st->dir_fd); /* releases the lock */
	state_init(st);
}

const char *state_error_text(int err)
{
	switch (err) {
	case -ETIMEDOUT:
		return "timed out waiting for the state lock held by another "
		       "cgfence";
	case -EMEDIUMTYPE:
		return "not on a bpf filesystem (mount -t bpf bpf DIR)";
	case -ENOENT:
		return "no cgfence state pinned here";
	case -EEXIST:
		return "programs of another cgfence build are pinned and in "
		       "use";
	default:
		return strerror(-err);
	}
}

void state_unlock(struct cgf_state *st)
{
	if (st->dir_fd >= 0)
		close(st->dir_fd);
	st->dir_fd = -1;
}

static bool is_bpffs(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC;
}

static const char bpf_root[] = "/sys/fs/bpf";

int bpffs_mount_root(void)
{
	if (!is_bpffs(bpf_root) &&
	    mount("bpf", bpf_root, "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

int bpffs_prepare(const char *dir)
{
	int err;

	if (strncmp(dir, bpf_root, strlen(bpf_root)) == 0) {
		err = bpffs_mount_root();
		if (err)
			return err;
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (!is_bpffs(dir))
		return -EMEDIUMTYPE;
	return 0;
}

static int lock_dir(int fd, unsigned int timeout_ms)
{
	struct timespec pause = {0, 5 * 1000 * 1000};

	for (unsigned int waited = 0;; waited += 5) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
}

static int pin_path(char *buf, size_t len, const char *dir, const char *sub,
		    const char *kind, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s/%s_%s", dir, sub, kind, name) >=
	    len)
		return -ENAMETOOLONG;
	return 0;
}

/* Opens the pin of every program and map; the first error but ENOENT wins. */
static int open_pinned(struct cgf_state *st)
{
	char path[PATH_MAX];
	int err, first = 0;

	for (int i = 0; i < CGF_PROG__COUNT; i++) {
		err = pin_path(path, sizeof(path), st->dir, "obj", "prog",
			       cgf_prog_descs[i].name);
		if (err)
			return err;
		st->prog_fds[i] = bpf_obj_get(path);
		if (st->prog_fds[i] < 0 && errno == ENOENT &&
		    cgf_prog_descs[i].needs_bpf_lsm)
			continue; /* loaded where the BPF LSM was not active */
		if (st->prog_fds[i] < 0 && (!first || first == -ENOENT))
			first = -errno;
	}
	for (int i = 0; i < CGF_MAP__COUNT; i++) {
		err = pin_path(path, sizeof(path), st->dir, "obj", "map",
			       cgf_map_names[i]);
		if (err)
			return err;
		st->map_fds[i] = bpf_obj_get(path);
		if (st->map_fds[i] < 0 && (!first || first == -ENOENT))
			first = -errno;
	}
	return first;
}

/* SHA-256 of the embedded object, computed by the build (Makefile). */
static void elf_digest(uint8_t out[32])
{
	static const uint8_t digest[32] = CGF_ELF_SHA256;

	memcpy(out, digest, sizeof(digest));
}

/*
 * Loads the object and pins it under obj/, atomically via a rename; the
 * LSM program only when with_lsm (a kernel without the BPF LSM would attach
 * it and never run it).
 */
static int load_and_pin_once(struct cgf_state *st, bool with_lsm, int lsm_error)
{
	struct cgfence *skel;
	struct cgf_meta meta = {.abi_version = CGF_ABI_VERSION,
				.lsm_load_error = with_lsm ? 0 : lsm_error};
	char staging[64], path[PATH_MAX], final[PATH_MAX];
	__u32 zero = 0;
	int err;

	snprintf(staging, sizeof(staging), "staging_%d", (int)getpid());
	remove_tree_at(st->dir_fd, staging);
	if (mkdirat(st->dir_fd, staging, 0700))
		return -errno;

	skel = cgfence__open();
	if (!skel) {
		err = -errno;
		goto out_remove;
	}
	for (int i = 0; i < CGF_PROG__COUNT && !with_lsm; i++)
		if (cgf_prog_descs[i].needs_bpf_lsm)
			bpf_program__set_autoload(
				bpf_object__find_program_by_name(
					skel->obj, cgf_prog_descs[i].name),
				false);
	err = cgfence__load(skel);
	if (err)
		goto out_destroy;
	elf_digest(meta.elf_digest);
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.cgf_meta), &zero,
				  &meta, BPF_ANY);
	if (!err) {
		struct cgf_cgroup_stats none = {};
		__u64 catch_all = CGF_STATS_CATCH_ALL;

		err = bpf_map_update_elem(bpf_map__fd(skel->maps.cgf_stats),
					  &catch_all, &none, BPF_NOEXIST);
	}
	if (err)
		goto out_destroy;
	for (int i = 0; i < CGF_PROG__COUNT; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(
			skel->obj, cgf_prog_descs[i].name);

		if (!prog) {
			err = -ENOENT;
			goto out_destroy;
		}
		if (!bpf_program__autoload(prog))
			continue;
		pin_path(path, sizeof(path), st->dir, staging, "prog",
			 cgf_prog_descs[i].name);
		err = bpf_program__pin(prog, path);
		if (err)
			goto out_destroy;
	}
	for (int i = 0; i < CGF_MAP__COUNT; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(
			skel->obj, cgf_map_names[i]);

		if (!map) {
			err = -ENOENT;
			goto out_destroy;
		}
		pin_path(path, sizeof(path), st->dir, staging, "map",
			 cgf_map_names[i]);
		err = bpf_map__pin(map, path);
		if (err)
			goto out_destroy;
	}
	snprintf(path, sizeof(path), "%s/%s", st->dir, staging);
	snprintf(final, sizeof(final), "%s/obj", st->dir);
	if (rename(path, final)) {
		err = -errno;
		goto out_destroy;
	}
	cgfence__destroy(skel); /* the pins keep everything alive */
	return 0;

out_destroy:
	cgfence__destroy(skel);
out_remove:
	remove_tree_at(st->dir_fd, staging);
	return err;
}

/*
 * With the LSM program where the BPF LSM is active; where the kernel still
 * refuses to load it (some kernels forbid trampoline programs), without it,
 * and the reason is kept for the messages (lsm.h).
 */
static int load_and_pin(struct cgf_state *st)
{
	int err;

	if (bpf_lsm_active() == 1) {
		libbpf_quiet = true;
		err = load_and_pin_once(st, true, 0);
		libbpf_quiet = false;
		if (!err)
			return 0;
		log_debug("loading with the BPF LSM program: %s; trying "
			  "without it",
			  strerror(-err));
		return load_and_pin_once(st, false, err);
	}
	return load_and_pin_once(st, false, 0);
}

static void close_fds(struct cgf_state *st)
{
	for (int i = 0; i < CGF_PROG__COUNT; i++) {
		if (st->prog_fds[i] >= 0)
			close(st->prog_fds[i]);
		st->prog_fds[i] = -1;
	}
	for (int i = 0; i < CGF_MAP__COUNT; i++) {
		if (st->map_fds[i] >= 0)
			close(st->map_fds[i]);
		st->map_fds[i] = -1;
	}
}

int state_count_cgroups(const struct cgf_state *st)
{
	__u64 key, next;
	int n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(st->map_fds[CGF_MAP_CGROUP_INFO], prev,
				    &next) == 0) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

/* Why the pinned programs lack the LSM program, for bpf_lsm_describe(). */
static void note_lsm_load_error(const struct cgf_state *st)
{
	struct cgf_meta meta;
	__u32 zero = 0;

	if (state_has_bpf_lsm(st) ||
	    bpf_map_lookup_elem(st->map_fds[CGF_MAP_META], &zero, &meta))
		return;
	if (meta.lsm_load_error)
		bpf_lsm_note_load_failure(meta.lsm_load_error);
}

int state_reserve_epochs(struct cgf_state *st, size_t n, uint32_t *first)
{
	struct cgf_meta meta;
	__u32 zero = 0;

	if (n == 0 || n > UINT32_MAX / 2)
		return -EINVAL;
	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_META], &zero, &meta))
		return -errno;
	/*
	 * Never handed out twice: a verdict kept under an epoch (a CPU's
	 * recent peer, the peer table, a socket's mark) would pass for the
	 * next configuration given it, of this cgroup or another, and the
	 * socket marks cannot all be found to clear. Used up, every change
	 * is refused (fence_error_text says what to do). 0 is what a socket
	 * never marked reads: a block never holds it.
	 */
	if (meta.last_epoch > UINT32_MAX - n)
		return -EOVERFLOW;
	*first = meta.last_epoch + 1;
	meta.last_epoch += n;
	if (bpf_map_update_elem(st->map_fds[CGF_MAP_META], &zero, &meta,
				BPF_EXIST))
		return -errno;
	return 0;
}

int state_next_epoch(struct cgf_state *st, uint32_t *epoch)
{
	return state_reserve_epochs(st, 1, epoch);
}

/* 1: the pinned object is another build's, 0: this build's, or -errno. */
static int pinned_build_differs(const struct cgf_state *st)
{
	struct cgf_meta meta = {};
	uint8_t mine[32];
	__u32 zero = 0;

	elf_digest(mine);
	if (st->map_fds[CGF_MAP_META] < 0)
		return -ENOENT;
	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_META], &zero, &meta))
		return -errno;
	return meta.abi_version != CGF_ABI_VERSION ||
	       memcmp(meta.elf_digest, mine, sizeof(mine));
}

/* Every build pins cgf_meta and cgf_cgroup_info: enough to tell. */
static bool is_other_build(const struct cgf_state *st)
{
	return st->map_fds[CGF_MAP_CGROUP_INFO] >= 0 &&
	       pinned_build_differs(st) == 1;
}

/*
 * The pinned object must be this build's; replace it when nothing uses it.
 * 1: replaced (removed), 0: this build's, or -errno.
 */
static int check_pinned_build(struct cgf_state *st)
{
	int n = pinned_build_differs(st);

	if (n <= 0)
		return n;
	n = state_count_cgroups(st);
	if (n > 0) {
		log_error("%s/obj holds programs of another cgfence build that "
			  "still fence %d cgroup(s); detach them first",
			  st->dir, n);
		return -EEXIST;
	}
	log_debug("replacing pinned programs of another cgfence build");
	close_fds(st);
	remove_tree_at(st->dir_fd, "obj");
	return 1;
}

static int run_dir_open(const char *dir, bool create)
{
	const char *base = strrchr(dir, '/');
	_cleanup_close_ int root = -1;

	base = base && base[1] ? base + 1 : "cgfence";
	root = open_dir_below(AT_FDCWD, CGF_RUN_DIR, create);
	if (root < 0)
		return root;
	return open_dir_below(root, base, create);
}

int state_run_dir_open(const char *dir)
{
	return run_dir_open(dir, true);
}

int state_run_dir_find(const char *dir)
{
	return run_dir_open(dir, false);
}

int state_open(struct cgf_state *st, const char *dir, enum state_open_mode mode,
	       unsigned int lock_timeout_ms)
{
	int err;

	state_init(st);
	libbpf_set_print(libbpf_print);
	if (strlen(dir) >= sizeof(st->dir) - 64 || dir[0] != '/')
		return -EINVAL;
	strcpy(st->dir, dir);

	if (mode == STATE_LOAD) {
		err = bpffs_prepare(dir);
		if (err)
			return err;
	}
	st->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dir_fd < 0)
		return -errno;
	err = lock_dir(st->dir_fd, lock_timeout_ms);
	if (err)
		goto fail;

	err = open_pinned(st);
	if (err == -ENOENT && is_other_build(st)) {
		/* Pins of another build, whose programs and maps differ. */
		if (mode == STATE_EXISTING)
			err = 0; /* enough to detach what it fenced */
		else
			err = check_pinned_build(st);
	} else if (err == 0 && mode == STATE_LOAD) {
		err = check_pinned_build(st);
	}
	if (err == 1)
		err = -ENOENT; /* removed: load anew below */
	if (err == -ENOENT && mode == STATE_LOAD) {
		close_fds(st);
		err = load_and_pin(st);
		if (!err)
			err = open_pinned(st);
	}
	if (err)
		goto fail;
	note_lsm_load_error(st);
	if (mkdirat(st->dir_fd, "links", 0700) && errno != EEXIST &&
	    mode == STATE_LOAD) {
		err = -errno;
		goto fail;
	}
	st->run_fd = state_run_dir_open(dir);
	if (st->run_fd < 0)
		log_debug("%s: no table mirrors: policies change by rebuild",
			  CGF_RUN_DIR);
	return 0;
fail:
	state_close(st);
	return err;
}

/*
 * hookd keeps one directory's state open from run to run; a run then takes
 * the lock and checks that nothing it holds was replaced meanwhile: the
 * directory (removed and made anew), obj/ (a newer build swaps it in with
 * a rename, which changes its inode) and the mirror directory.
 */
static int inode_at(int dir_fd, const char *name, ino_t *ino)
{
	struct stat sb;

	if (fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -errno;
	*ino = sb.st_ino;
	return 0;
}

static bool kept_still_current(const struct state_keeper *k, const char *dir,
			       enum state_open_mode mode)
{
	struct stat by_path, held;
	ino_t obj = 0;

	if (stat(dir, &by_path) || fstat(k->st.dir_fd, &held) ||
	    by_path.st_ino != held.st_ino || by_path.st_dev != held.st_dev)
		return false;
	if (inode_at(k->st.dir_fd, "obj", &obj) || obj != k->obj_ino)
		return false;
	if (k->st.run_fd >= 0 &&
	    (fstat(k->st.run_fd, &held) || held.st_nlink == 0))
		return false;
	if (mode == STATE_LOAD && mkdirat(k->st.dir_fd, "links", 0700) &&
	    errno != EEXIST)
		return false;
	return true;
}

static void state_keeper_close(struct state_keeper *k)
{
	if (k->open)
		state_close(&k->st);
	k->open = false;
}

int state_open_kept(struct state_keeper *k, struct cgf_state **out,
		    const char *dir, enum state_open_mode mode,
		    unsigned int lock_timeout_ms)
{
	int err;

	/*
	 * Opened for a poststop (STATE_EXISTING), the state was not checked to
	 * be this build's: the first STATE_LOAD opens it anew, which checks.
	 */
	if (k->open && !strcmp(k->st.dir, dir) &&
	    (mode == STATE_EXISTING || k->mode == STATE_LOAD)) {
		err = lock_dir(k->st.dir_fd, lock_timeout_ms);
		if (err)
			return err;
		if (kept_still_current(k, dir, mode)) {
			*out = &k->st;
			return 0;
		}
	}
	state_keeper_close(k);
	err = state_open(&k->st, dir, mode, lock_timeout_ms);
	if (err)
		return err;
	err = inode_at(k->st.dir_fd, "obj", &k->obj_ino);
	if (err) {
		state_close(&k->st);
		return err;
	}
	k->open = true;
	k->mode = mode;
	*out = &k->st;
	return 0;
}

void state_put_kept(struct cgf_state *st)
{
	flock(st->dir_fd, LOCK_UN);
}
