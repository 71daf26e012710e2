// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence-hook: what a runtime runs as its OCI hook. It hands the state and
 * its arguments to the resident `cgfence hookd`, which does the work with
 * programs and tables already open, and exits with the status hookd gives.
 * Without a hookd listening it runs `cgfence hook` itself (the binary next
 * to this one), so a host without hookd fences containers the same way,
 * only slower.
 *
 * A runtime starts a hook twice per container, and starting this small
 * static program costs less than half of starting `cgfence`: that is the
 * point of the split (tests/bench/hook_overhead.sh). It links libc only.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../hookd_proto.h"

static const char usage[] =
	"usage: cgfence-hook [--socket PATH] [cgfence hook options] [STAGE]\n"
	"OCI runtime hook: passes the container state on stdin and the options to\n"
	"`cgfence hookd` listening on PATH (default " HOOKD_DEFAULT_SOCKET "), or,\n"
	"when none listens, runs `cgfence hook` with them. See `cgfence hook --help`.\n";

/* One line on stderr, as `cgfence hook` writes its errors. */
__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cgfence: hook: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/* The state, bounded like `cgfence hook` bounds it; -errno on failure. */
static int read_state(char *buf, size_t cap, size_t *len, long deadline_ms)
{
	*len = 0;
	for (;;) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		long left = deadline_ms - now_ms();
		ssize_t n;
		int r;

		r = poll(&p, 1, left > 0 ? (int)left : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ETIMEDOUT;
		n = read(STDIN_FILENO, buf + *len, cap - *len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		*len += n;
		if (*len == cap)
			return -EFBIG;
	}
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* No hookd: the same work by `cgfence hook`, fed the state we read. */
static int run_cgfence_hook(int nargs, char **args, const char *state,
			    size_t len)
{
	char self[PATH_MAX], *argv[HOOKD_MAX_ARGS + 3];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	int fd;

	if (n <= 0 || (size_t)n >= sizeof(self) - sizeof("cgfence")) {
		fail("cannot find its own binary: %s", strerror(errno));
		return 1;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	strcpy(slash + 1, "cgfence");

	fd = memfd_create("oci-state", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, state, len) || lseek(fd, 0, SEEK_SET) ||
	    dup2(fd, STDIN_FILENO) < 0) {
		fail("cannot pass the state to %s: %s", self, strerror(errno));
		return 1;
	}
	argv[0] = "cgfence";
	argv[1] = "hook";
	memcpy(argv + 2, args, nargs * sizeof(*args));
	argv[nargs + 2] = NULL;
	execv(self, argv);
	fail("cannot run %s: %s", self, strerror(errno));
	return 1;
}

static int send_request(int fd, int nargs, char **args, const char *state,
			size_t len)
{
	static char argbuf[HOOKD_MAX_ARGS_LEN];
	struct hookd_request req = { .magic = HOOKD_MAGIC,
				     .version = HOOKD_VERSION,
				     .state_len = len };
	int fds[2] = { STDOUT_FILENO, STDERR_FILENO };
	char control[CMSG_SPACE(sizeof(fds))] = { 0 };
	struct iovec iov[3];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3,
			      .msg_control = control,
			      .msg_controllen = sizeof(control) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	size_t sent = 0, total;
	ssize_t n;

	for (int i = 0; i < nargs; i++) {
		size_t l = strlen(args[i]) + 1;

		if (req.args_len + l > sizeof(argbuf))
			return -E2BIG;
		memcpy(argbuf + req.args_len, args[i], l);
		req.args_len += l;
	}
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	iov[0] = (struct iovec){ &req, sizeof(req) };
	iov[1] = (struct iovec){ argbuf, req.args_len };
	iov[2] = (struct iovec){ (void *)state, len };
	total = sizeof(req) + req.args_len + len;
	n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	sent = n;
	/* The rest, if the socket took only part: without the fds again. */
	if (sent < total) {
		char *rest = malloc(total - sent), *p = rest;

		if (!rest)
			return -ENOMEM;
		for (int i = 0; i < 3; i++) {
			size_t skip = sent > iov[i].iov_len ? iov[i].iov_len : sent;

			memcpy(p, (char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
			p += iov[i].iov_len - skip;
			sent -= skip;
		}
		n = write_all(fd, rest, p - rest);
		free(rest);
		return n;
	}
	return 0;
}

static int await_reply(int fd, long deadline_ms, struct hookd_reply *reply)
{
	size_t got = 0;

	while (got < sizeof(*reply)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = deadline_ms - now_ms();
		ssize_t n;
		int r = poll(&p, 1, left > 0 ? (int)left : 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ETIMEDOUT;
		n = read(fd, (char *)reply + got, sizeof(*reply) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		got += n;
	}
	return reply->magic == HOOKD_MAGIC ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
	static char state[HOOKD_MAX_STATE_LEN + 1];
	const char *socket_path = HOOKD_DEFAULT_SOCKET;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	unsigned long timeout_s = HOOKD_DEFAULT_TIMEOUT_S;
	char *args[HOOKD_MAX_ARGS];
	struct hookd_reply reply;
	long deadline_ms;
	int nargs = 0, fd, err;
	size_t len;

	/* --socket is ours; everything else is `cgfence hook`'s. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("%s", usage);
			return 0;
		}
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			socket_path = argv[++i];
			continue;
		}
		if (!strncmp(argv[i], "--socket=", 9)) {
			socket_path = argv[i] + 9;
			continue;
		}
		if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			unsigned long t = strtoul(argv[i + 1], NULL, 10);

			if (t)
				timeout_s = t;
		}
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

	deadline_ms = now_ms() + timeout_s * 1000;
	err = read_state(state, sizeof(state), &len,
			 now_ms() + timeout_s * 900);
	if (err) {
		fail("cannot read the container state on stdin: %s",
		     err == -EFBIG ? "larger than 1 MiB" :
		     err == -ETIMEDOUT ? "timed out" : strerror(-err));
		return 1;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail("socket: %s", strerror(errno));
		return 1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return run_cgfence_hook(nargs, args, state, len);
		fail("cannot reach cgfence hookd at %s: %s", socket_path,
		     strerror(errno));
		return 1;
	}
	err = send_request(fd, nargs, args, state, len);
	if (!err)
		err = await_reply(fd, deadline_ms, &reply);
	if (err) {
		if (err == -ETIMEDOUT)
			fail("timed out after %lu s waiting for cgfence hookd at %s",
			     timeout_s, socket_path);
		else
			fail("cgfence hookd at %s gave no answer: %s", socket_path,
			     err == -EPIPE || err == -ECONNRESET ?
				     "connection closed" : strerror(-err));
		return 1;
	}
	return reply.status;
}
