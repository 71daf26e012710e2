// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence-hook: what a runtime runs as its OCI hook. It hands the state and
 * its arguments to the resident `cgfence hookd`, which does the work with
 * programs and tables already open, and exits with the status hookd gives.
 * Without a hookd listening it runs `cgfence hook` itself (the binary next
 * to this one), so a host without hookd fences containers the same way,
 * only slower.
 *
 * A runtime starts a hook twice per container: this program is small and
 * starts in a fraction of the time `cgfence` takes, linked statically and,
 * where musl-gcc is installed, against musl, whose start-up does no CPU
 * feature detection (glibc's does, and its CPUID instructions exit to the
 * hypervisor). tests/bench/hook_overhead.sh measures it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hookd_proto.h"
#include "version.h"

static const char usage[] =
	"usage: cgfence-hook [--socket PATH] [cgfence hook options] [STAGE]\n"
	"OCI runtime hook: passes the container state on stdin and the options "
	"to\n"
	"`cgfence hookd` listening on PATH (default " HOOKD_DEFAULT_SOCKET
	"), or,\n"
	"when none listens, runs `cgfence hook` with them. See `cgfence hook "
	"--help`.\n";

/* One line on stderr, "cgfence: hook: " and the message, as `cgfence hook`
 * writes it; one write(2), so that lines of concurrent hooks never mix. */
__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	static const char prefix[] = "cgfence: hook: ";
	char line[1024];
	size_t len = sizeof(prefix) - 1;
	va_list ap;
	int n;

	memcpy(line, prefix, len);
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len ? (size_t)n
						      : sizeof(line) - len - 1;
	line[len++] = '\n';
	if (write(2, line, len) < 0)
		return; /* nowhere left to say it */
}

/* To stdout, or to hookd's socket (where a closed peer must not SIGPIPE us). */
static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = fd == 1 ? write(fd, p, len)
				    : send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static long clock_ms(void)
{
	struct timespec t = {0, 0};

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/* Waits for fd to become readable until deadline: 1, 0 on time-out, -errno. */
static int wait_readable(int fd, long deadline_ms)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline_ms - clock_ms();
		/* A timespec, not poll()'s int milliseconds: --timeout is large. */
		struct timespec t = {left > 0 ? left / 1000 : 0,
				     left > 0 ? left % 1000 * 1000000 : 0};
		int r = ppoll(&p, 1, &t, NULL);

		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

/* The state, bounded like `cgfence hook` bounds it. */
static int read_state(char *buf, size_t cap, size_t *len, long deadline_ms)
{
	*len = 0;
	for (;;) {
		int r = wait_readable(0, deadline_ms);
		ssize_t n;

		if (r <= 0)
			return r < 0 ? r : -ETIMEDOUT;
		n = read(0, buf + *len, cap - *len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		*len += (size_t)n;
		if (*len == cap)
			return -EFBIG;
	}
}

/* No hookd: the same work by `cgfence hook`, fed the state we read. */
static int run_cgfence_hook(int nargs, char **args, char **envp,
			    const char *state, size_t len)
{
	static const char name[] = "cgfence";
	char self[PATH_MAX], *argv[HOOKD_MAX_ARGS + 3];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self));
	char *dir;
	int fd, err = 0;

	if (n <= 0 || (size_t)n >= sizeof(self) - sizeof(name)) {
		fail("cannot find its own binary: %s",
		     strerror(n < 0 ? errno : ENAMETOOLONG));
		return 1;
	}
	self[n] = '\0';
	dir = strrchr(self, '/');
	strcpy(dir ? dir + 1 : self, name);

	fd = memfd_create("oci-state", MFD_CLOEXEC);
	if (fd < 0)
		err = -errno;
	if (!err)
		err = write_all(fd, state, len);
	if (!err && lseek(fd, 0, SEEK_SET) < 0)
		err = -errno;
	if (!err && fd != 0 && dup3(fd, 0, 0) < 0)
		err = -errno;
	if (err) {
		fail("cannot pass the state to %s: %s", self, strerror(-err));
		return 1;
	}
	argv[0] = "cgfence";
	argv[1] = "hook";
	for (int i = 0; i < nargs; i++)
		argv[i + 2] = args[i];
	argv[nargs + 2] = NULL;
	/* The hook clears its environment itself; pass it on untouched. */
	execve(self, argv, envp);
	fail("cannot run %s: %s", self, strerror(errno));
	return 1;
}

/* Which namespace of a kind we are in: the inode of /proc/self/ns/KIND. */
static uint64_t ns_inode(const char *path)
{
	struct stat sb;

	return stat(path, &sb) ? 0 : (uint64_t)sb.st_ino;
}

/* Header, arguments and state in one message, with our stdout and stderr. */
static int send_request(int fd, int nargs, char **args, const char *state,
			size_t len)
{
	static char msgbuf[sizeof(struct hookd_request) + HOOKD_MAX_ARGS_LEN];
	struct hookd_request *req = (struct hookd_request *)msgbuf;
	char *argbuf = msgbuf + sizeof(*req);
	int fds[2] = {1, 2};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(fds))];
	} control;
	struct iovec iov[2];
	struct msghdr msg = {.msg_iov = iov,
			     .msg_iovlen = 2,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	size_t header_len, sent;
	ssize_t n;

	*req = (struct hookd_request){.magic = HOOKD_MAGIC,
				      .version = HOOKD_VERSION,
				      .state_len = (uint32_t)len,
				      .client_pid = (uint32_t)getpid(),
				      .pid_ns = ns_inode("/proc/self/ns/pid"),
				      .mnt_ns = ns_inode("/proc/self/ns/mnt")};
	for (int i = 0; i < nargs; i++) {
		size_t l = strlen(args[i]) + 1;

		if (req->args_len + l > HOOKD_MAX_ARGS_LEN)
			return -E2BIG;
		memcpy(argbuf + req->args_len, args[i], l);
		req->args_len += (uint32_t)l;
	}
	header_len = sizeof(*req) + req->args_len;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	iov[0] = (struct iovec){msgbuf, header_len};
	iov[1] = (struct iovec){(void *)state, len};
	n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	/* The socket may take part of it: the rest without the fds. */
	sent = (size_t)n;
	if (sent < header_len) {
		int err = write_all(fd, msgbuf + sent, header_len - sent);

		if (err)
			return err;
		sent = header_len;
	}
	return write_all(fd, state + (sent - header_len),
			 len - (sent - header_len));
}

static int await_reply(int fd, long deadline_ms, struct hookd_reply *reply)
{
	size_t got = 0;

	while (got < sizeof(*reply)) {
		int r = wait_readable(fd, deadline_ms);
		ssize_t n;

		if (r <= 0)
			return r < 0 ? r : -ETIMEDOUT;
		n = read(fd, (char *)reply + got, sizeof(*reply) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return reply->magic == HOOKD_MAGIC ? 0 : -EPROTO;
}

/* What follows prefix in s, or NULL when s does not start with it. */
static const char *after_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) ? NULL : s + n;
}

/* Decimal digits only; 0 for anything else or on overflow. */
static unsigned long parse_seconds(const char *s)
{
	unsigned long v = 0;

	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000UL)
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v;
}

int main(int argc, char **argv, char **envp)
{
	static char state[HOOKD_MAX_STATE_LEN + 1];
	const char *socket_path = HOOKD_DEFAULT_SOCKET, *v;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	unsigned long timeout_s = HOOKD_DEFAULT_TIMEOUT_S;
	char *args[HOOKD_MAX_ARGS];
	struct hookd_reply reply;
	long deadline_ms;
	int nargs = 0, fd, err;
	size_t len;

	/* Messages and the fds hookd gets need a stdout and a stderr: the
	 * lowest free fd is the closed one, and `cgfence hook` inherits it. */
	for (int std_fd = 1; std_fd <= 2; std_fd++)
		if (fcntl(std_fd, F_GETFD) < 0 && errno == EBADF)
			open("/dev/null", O_RDWR);
	/* --socket is ours; everything else is `cgfence hook`'s. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			write_all(1, usage, sizeof(usage) - 1);
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			static const char version[] =
				"cgfence-hook " CGF_VERSION "\n";

			write_all(1, version, sizeof(version) - 1);
			return 0;
		}
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			socket_path = argv[++i];
			continue;
		}
		if ((v = after_prefix(argv[i], "--socket="))) {
			socket_path = v;
			continue;
		}
		/* hookd checks the value; we only need to know how long to wait. */
		if (!strcmp(argv[i], "--timeout") && i + 1 < argc &&
		    parse_seconds(argv[i + 1]))
			timeout_s = parse_seconds(argv[i + 1]);
		if ((v = after_prefix(argv[i], "--timeout=")) &&
		    parse_seconds(v))
			timeout_s = parse_seconds(v);
		if (nargs == HOOKD_MAX_ARGS) {
			fail("too many arguments");
			return 2;
		}
		args[nargs++] = argv[i];
	}
	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		fail("--socket %s: path too long", socket_path);
		return 2;
	}
	strcpy(addr.sun_path, socket_path);

	deadline_ms = clock_ms() + (long)timeout_s * 1000;
	err = read_state(state, sizeof(state), &len,
			 clock_ms() + (long)timeout_s * 900);
	if (err) {
		fail("cannot read the container state on stdin: %s",
		     err == -EFBIG	 ? "larger than 1 MiB"
		     : err == -ETIMEDOUT ? "timed out"
					 : strerror(-err));
		return 1;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail("socket: %s", strerror(errno));
		return 1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return run_cgfence_hook(nargs, args, envp, state, len);
		fail("cannot reach cgfence hookd at %s: %s", socket_path,
		     strerror(errno));
		return 1;
	}
	err = send_request(fd, nargs, args, state, len);
	if (!err)
		err = await_reply(fd, deadline_ms, &reply);
	if (err == -ETIMEDOUT) {
		fail("timed out waiting for cgfence hookd at %s", socket_path);
		return 1;
	}
	if (err) {
		fail("cgfence hookd at %s gave no answer: %s", socket_path,
		     err == -EPIPE || err == -ECONNRESET ? "connection closed"
							 : strerror(-err));
		return 1;
	}
	if (reply.status == HOOKD_RUN_IT_YOURSELF)
		return run_cgfence_hook(nargs, args, envp, state, len);
	return reply.status;
}
