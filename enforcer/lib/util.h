/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small helpers every module uses: scoped cleanup and logging. */
#ifndef CGFENCE_UTIL_H
#define CGFENCE_UTIL_H

#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f)  __attribute__((cleanup(f)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void freep(void *p)
{
	free(*(void **)p);
}

#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_free_	_cleanup_(freep)

extern bool log_verbose;

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Nanoseconds on clock (CLOCK_REALTIME for records, CLOCK_BOOTTIME ...). */
uint64_t clock_ns(clockid_t clock);

/* Writes all of buf, retrying short writes and EINTR; 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/*
 * A whole decimal number from min to max and nothing else: "5x", "-1", "",
 * " 5", "0x10" and overflow are refused. 0, -EINVAL (not a number) or
 * -ERANGE (outside min..max). Every numeric option goes through it.
 */
/*
 * The ids of the files named <decimal id><suffix> in dir (which it takes
 * and closes), in directory order; others are passed over. *ids: free().
 */
int dir_list_id_files(int dir, const char *suffix, uint64_t **ids, size_t *n);

int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out);

/*
 * The one bounded reader: fd to its end into a NUL-terminated buffer of at
 * most max bytes (-EFBIG beyond). The buffer starts at size_hint + 1 (a
 * regular file's size: one read sees its end) and grows. When wait is set,
 * it runs before every read (the hook's stdin: poll with its deadline) and
 * its non-zero result ends the read with that error.
 */
struct bounded_read {
	size_t max;
	size_t size_hint;
	int (*wait)(int fd, const void *ctx);
	const void *wait_ctx;
};
int read_fd_bounded(int fd, const struct bounded_read *how, char **out,
		    size_t *len);

/*
 * JSON text holds a string with the escape \u0000, which cJSON turns into
 * a NUL that silently ends the string: inputs refuse it.
 */
bool json_text_has_nul_escape(const char *text, size_t len);

/*
 * Opens path read-only when it is a regular file (the input files: a
 * policy, an audit log). O_NONBLOCK, so that opening a FIFO returns at
 * once instead of waiting for a writer; the FIFO is then refused like
 * every file that is not regular (a device such as /dev/zero never ends).
 * Returns the fd (st: its fstat), -EISDIR for a directory, -EINVAL for
 * anything else that is not a regular file (as policy_dir.c says it), or
 * -errno.
 */
int open_regular_file(const char *path, struct stat *st);
/* The message for an open_regular_file() error ("not a regular file"). */
const char *file_error_text(int err);

/*
 * Opens a regular file below dir_fd with openat2(RESOLVE_BENEATH): a
 * symbolic link is followed while it stays below dir_fd (-EXDEV when it
 * leads out). O_NONBLOCK, so that a FIFO planted there cannot hang the
 * caller; -EINVAL when not a regular file, -EFBIG when larger than max.
 * 0 and *out, or -errno.
 */
int open_file_beneath(int dir_fd, const char *file, off_t max, int *out,
		      struct stat *st);
/* The message for an open_file_beneath() error ("is not a regular file"). */
const char *beneath_error_text(int err);

/* Reads a whole small file (procfs, sysfs) into a NUL-terminated buffer. */
int read_small_file(const char *path, char **out, size_t max);

/*
 * An absolute path in one spelling: no repeated or trailing slashes, no
 * "." components. Lexical only (no symbolic links resolved: a policy
 * directory that is a link swapped to a new target stays the same path).
 */
void path_normalize(char *path);

/*
 * Whether two policy directory paths name the same directory now: the
 * same spelling, or the same directory through symbolic links (a cgroup
 * fenced from the directory by one path, and hookd, reload or set given
 * another, a link to it or its real path).
 */
bool policy_dir_same(const char *a, const char *b);

/*
 * path made absolute against the working directory and normalized, with
 * no link resolved: a policy file's sets are read next to the path it is
 * named by, so a link to the file elsewhere must not move them. 0,
 * -ENAMETOOLONG or getcwd()'s -errno.
 */
int path_absolute(const char *path, char *out, size_t len);

/*
 * The paths a command that follows a policy directory takes (hook, reload,
 * set): all absolute (a runtime's working directory is not ours to
 * resolve against), and *policy_dir in one spelling, copied to buf.
 * Logs "CMD: ..." and returns -EINVAL otherwise.
 */
int policy_paths_prepare(const char *cmd, const char **policy_dir,
			 const char *bpffs, const char *lifecycle_log,
			 char *buf, size_t len);

/* dir_fd/name and everything below it, never through a symbolic link. */
void remove_tree_at(int dir_fd, const char *name);

/* The same below dir_fd, never through a symbolic link; len may be NULL. */
int read_file_at(int dir_fd, const char *name, size_t max, char **out,
		 size_t *len);

/*
 * Replaces dir_fd/name with buf in one rename (written to name.tmp first):
 * a reader sees the old file or the new one, never a part.
 */
int write_file_at(int dir_fd, const char *name, const void *buf, size_t len,
		  mode_t mode);

/* The directory dir_fd/name (made 0700 first when create), never a link. */
int open_dir_below(int dir_fd, const char *name, bool create);

/*
 * One JSON file per cgroup, "<id>.json", in the folder below the run
 * directory run_fd (-1: there is none, -ENOENT): container records,
 * recording descriptions. Written in one rename, read up to max bytes;
 * listing a folder that does not exist yet gives no ids.
 */
int id_file_write(int run_fd, const char *folder, uint64_t id,
		  const char *text);
int id_file_read(int run_fd, const char *folder, uint64_t id, size_t max,
		 char **text);
int id_file_remove(int run_fd, const char *folder, uint64_t id);
int id_file_list(int run_fd, const char *folder, uint64_t **ids, size_t *n);

#endif
