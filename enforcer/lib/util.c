// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "util.h"

bool log_verbose;

static void log_vprint(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint("cgfence: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint("cgfence: ", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vprint("cgfence: debug: ", fmt, ap);
	va_end(ap);
}

uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int read_fd_bounded(int fd, const struct bounded_read *how, char **out,
		    size_t *out_len)
{
	size_t len = 0, cap = how->size_hint < how->max ? how->size_hint + 1
							: how->max + 1;
	_cleanup_free_ char *buf = NULL;

	if (cap < 4096 && how->max >= 4096 && !how->size_hint)
		cap = 4096;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		int err;

		if (len == cap) {
			char *bigger;

			if (cap > how->max)
				return -EFBIG;
			cap = cap * 2 > how->max + 1 ? how->max + 1 : cap * 2;
			bigger = realloc(buf, cap + 1);
			if (!bigger)
				return -ENOMEM;
			buf = bigger;
		}
		if (how->wait && (err = how->wait(fd, how->wait_ctx)))
			return err;
		n = read(fd, buf + len, cap - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += n;
	}
	if (len > how->max)
		return -EFBIG;
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	if (out_len)
		*out_len = len;
	return 0;
}

int open_regular_file(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st)) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	}
	return fd;
}

const char *file_error_text(int err)
{
	return err == -EINVAL ? "not a regular file" : strerror(-err);
}

int open_file_beneath(int dir_fd, const char *file, off_t max, int *out,
		      struct stat *st)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int fd = -1;

	fd = (int)syscall(SYS_openat2, dir_fd, file, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	if (fstat(fd, st))
		return -errno;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	if (st->st_size > max)
		return -EFBIG;
	*out = fd;
	fd = -1;
	return 0;
}

const char *beneath_error_text(int err)
{
	switch (err) {
	case -EXDEV:
		return "is a symbolic link that leads outside the policy "
		       "directory; links are followed only within it";
	case -ELOOP:
		return "is a symbolic link that never ends in a file";
	case -EINVAL:
		return "is not a regular file";
	case -EFBIG:
		return "is larger than the policy size limit";
	default:
		return strerror(-err);
	}
}

int read_small_file(const char *path, char **out, size_t max)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct bounded_read how = {.max = max};

	if (fd < 0)
		return -errno;
	return read_fd_bounded(fd, &how, out, NULL);
}

void path_normalize(char *path)
{
	char *out = path;

	for (const char *in = path; *in;) {
		if (*in == '/') {
			while (*in == '/')
				in++;
			/* "." as a whole component */
			if (in[0] == '.' && (in[1] == '/' || !in[1])) {
				in++;
				continue;
			}
			*out++ = '/';
			continue;
		}
		*out++ = *in++;
	}
	if (out > path + 1 && out[-1] == '/')
		out--;
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

bool policy_dir_same(const char *a, const char *b)
{
	struct stat sa, sb;

	if (!strcmp(a, b))
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && S_ISDIR(sa.st_mode) &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int path_absolute(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/') {
		n = snprintf(out, len, "%s", path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = snprintf(out, len, "%s/%s", cwd, path);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	path_normalize(out);
	return 0;
}

int policy_paths_prepare(const char *cmd, const char **policy_dir,
			 const char *bpffs, const char *lifecycle_log,
			 char *buf, size_t len)
{
	if ((*policy_dir)[0] != '/' || bpffs[0] != '/' ||
	    lifecycle_log[0] != '/') {
		log_error("%s: --policy-dir, --bpffs and --lifecycle-log must "
			  "be absolute paths",
			  cmd);
		return -EINVAL;
	}
	if (strlen(*policy_dir) >= len) {
		log_error("%s: --policy-dir: path too long", cmd);
		return -EINVAL;
	}
	strcpy(buf, *policy_dir);
	path_normalize(buf);
	*policy_dir = buf;
	return 0;
}

void remove_tree_at(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name,
			O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct dirent *de;
	DIR *d;

	if (fd < 0) {
		unlinkat(dir_fd, name, 0);
		return;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR)
			remove_tree_at(dirfd(d), de->d_name);
		else
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	unlinkat(dir_fd, name, AT_REMOVEDIR);
}

int read_file_at(int dir_fd, const char *name, size_t max, char **out,
		 size_t *len)
{
	_cleanup_close_ int fd = openat(
		dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct bounded_read how = {.max = max};
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	how.size_hint = (size_t)st.st_size;
	return read_fd_bounded(fd, &how, out, len);
}

int open_dir_below(int dir_fd, const char *name, bool create)
{
	int fd;

	if (create && mkdirat(dir_fd, name, 0700) && errno != EEXIST)
		return -errno;
	fd = openat(dir_fd, name,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

int write_file_at(int dir_fd, const char *name, const void *buf, size_t len,
		  mode_t mode)
{
	char tmp[256];
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dir_fd, tmp,
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    mode);
	if (fd < 0)
		return -errno;
	err = fchmod(fd, mode) ? -errno : 0; /* whatever the umask */
	if (!err)
		err = write_all(fd, buf, len);
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dir_fd, tmp, dir_fd, name))
		err = -errno;
	if (err)
		unlinkat(dir_fd, tmp, 0);
	return err;
}

int dir_list_id_files(int dir, const char *suffix, uint64_t **ids, size_t *n)
{
	size_t count = 0, cap = 0, slen = strlen(suffix);
	uint64_t *list = NULL;
	struct dirent *de;
	DIR *d = fdopendir(dir);

	*ids = NULL;
	*n = 0;
	if (!d) {
		int err = -errno;

		close(dir);
		return err;
	}
	while ((de = readdir(d))) {
		char digits[32];
		unsigned long long id;
		size_t len = strlen(de->d_name);

		if (len <= slen || len - slen >= sizeof(digits) ||
		    strcmp(de->d_name + len - slen, suffix))
			continue;
		memcpy(digits, de->d_name, len - slen);
		digits[len - slen] = '\0';
		if (parse_uint(digits, 1, UINT64_MAX, &id))
			continue;
		if (count == cap) {
			uint64_t *bigger;

			cap = cap ? cap * 2 : 64;
			bigger = realloc(list, cap * sizeof(*list));
			if (!bigger) {
				free(list);
				closedir(d);
				return -ENOMEM;
			}
			list = bigger;
		}
		list[count++] = id;
	}
	closedir(d);
	*ids = list;
	*n = count;
	return 0;
}

int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out)
{
	unsigned long long v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (~0ull - (*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (*p - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

bool json_text_has_nul_escape(const char *text, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '"') {
			in_string = !in_string;
		} else if (in_string && text[i] == '\\') {
			if (i + 5 < len && !strncmp(text + i + 1, "u0000", 5))
				return true;
			i++; /* the escaped byte */
		}
	}
	return false;
}

static int id_folder(int run_fd, const char *folder, bool create)
{
	return run_fd < 0 ? -ENOENT : open_dir_below(run_fd, folder, create);
}

static void id_file_name(char *buf, size_t len, uint64_t id)
{
	snprintf(buf, len, "%" PRIu64 ".json", id);
}

int id_file_write(int run_fd, const char *folder, uint64_t id, const char *text)
{
	_cleanup_close_ int dir = id_folder(run_fd, folder, true);
	char name[32];

	if (dir < 0)
		return dir;
	id_file_name(name, sizeof(name), id);
	return write_file_at(dir, name, text, strlen(text), 0600);
}

int id_file_read(int run_fd, const char *folder, uint64_t id, size_t max,
		 char **text)
{
	_cleanup_close_ int dir = id_folder(run_fd, folder, false);
	char name[32];

	*text = NULL;
	if (dir < 0)
		return dir;
	id_file_name(name, sizeof(name), id);
	return read_file_at(dir, name, max, text, NULL);
}

int id_file_remove(int run_fd, const char *folder, uint64_t id)
{
	_cleanup_close_ int dir = id_folder(run_fd, folder, false);
	char name[32];

	if (dir < 0)
		return dir;
	id_file_name(name, sizeof(name), id);
	return unlinkat(dir, name, 0) ? -errno : 0;
}

int id_file_list(int run_fd, const char *folder, uint64_t **ids, size_t *n)
{
	int dir = id_folder(run_fd, folder, false);

	*ids = NULL;
	*n = 0;
	if (dir < 0)
		return dir == -ENOENT ? 0 : dir;
	return dir_list_id_files(dir, ".json", ids, n); /* closes dir */
}
