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
 * starts in a fraction of the time `cgfence` takes (no libraries, and on
 * x86_64 not even libc: rt.h). tests/bench/hook_overhead.sh measures it.
 */
#include <limits.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/un.h>

#include "hookd_proto.h"
#include "version.h"
#include "rt.h"

static const char usage[] =
	"usage: cgfence-hook [--socket PATH] [cgfence hook options] [STAGE]\n"
	"OCI runtime hook: passes the container state on stdin and the options "
	"to\n"
	"`cgfence hookd` listening on PATH (default " HOOKD_DEFAULT_SOCKET
	"), or,\n"
	"when none listens, runs `cgfence hook` with them. See `cgfence hook "
	"--help`.\n";

/* One line on stderr, "cgfence: hook: " and the pieces: as `cgfence hook`. */
static void fail(const char *piece, ...)
{
	static const char prefix[] = "cgfence: hook: ";
	char line[1024];
	size_t len = sizeof(prefix) - 1;
	va_list ap;

	for (size_t i = 0; i < len; i++)
		line[i] = prefix[i];
	va_start(ap, piece);
	for (; piece; piece = va_arg(ap, const char *))
		while (*piece && len < sizeof(line) - 1)
			line[len++] = *piece++;
	va_end(ap);
	line[len++] = '\n';
	rt_write(2, line, len);
}

/* To stdout, or to hookd's socket (where a closed peer must not SIGPIPE us). */
static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		long n = fd == 1 ? rt_write(fd, p, len)
				 : rt_send(fd, p, len, MSG_NOSIGNAL);

		if (n == -ENOTSOCK)
			n = rt_write(fd, p, len);

		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		p += n;
		len -= n;
	}
	return 0;
}

/* Waits for fd to become readable until deadline: 1, 0 on time-out, -errno. */
static long wait_readable(int fd, long deadline_ms)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline_ms - rt_clock_ms();
		long r = rt_ppoll(&p, 1, left > 0 ? left : 0);

		if (r != -EINTR)
			return r;
	}
}

/* The state, bounded like `cgfence hook` bounds it. */
static int read_state(char *buf, size_t cap, size_t *len, long deadline_ms)
{
	*len = 0;
	for (;;) {
		long r = wait_readable(0, deadline_ms);

		if (r <= 0)
			return r < 0 ? (int)r : -ETIMEDOUT;
		r = rt_read(0, buf + *len, cap - *len);
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r <= 0)
			return (int)r;
		*len += r;
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
	long n = rt_readlink("/proc/self/exe", self, sizeof(self));
	long fd, err;
	size_t dir;

	if (n <= 0 || (size_t)n >= sizeof(self) - sizeof(name)) {
		fail("cannot find its own binary: ", rt_strerror(n), NULL);
		return 1;
	}
	for (dir = (size_t)n; dir > 0 && self[dir - 1] != '/'; dir--)
		;
	for (size_t i = 0; i < sizeof(name); i++)
		self[dir + i] = name[i];

	fd = rt_memfd_create("oci-state", MFD_CLOEXEC);
	err = fd < 0 ? fd : write_all((int)fd, state, len);
	if (!err)
		err = rt_lseek((int)fd, 0, SEEK_SET);
	if (!err && fd != 0)
		err = rt_dup3((int)fd, 0, 0);
	if (err < 0) {
		fail("cannot pass the state to ", self, ": ", rt_strerror(err),
		     NULL);
		return 1;
	}
	argv[0] = "cgfence";
	argv[1] = "hook";
	for (int i = 0; i < nargs; i++)
		argv[i + 2] = args[i];
	argv[nargs + 2] = NULL;
	/* The hook clears its environment itself; pass it on untouched. */
	err = rt_execve(self, argv, envp);
	fail("cannot run ", self, ": ", rt_strerror(err), NULL);
	return 1;
}

/* Which namespace of a kind we are in: the inode of /proc/self/ns/KIND. */
static uint64_t ns_inode(const char *path)
{
	struct stat sb;

	return rt_stat(path, &sb) ? 0 : (uint64_t)sb.st_ino;
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
	long n;

	*req = (struct hookd_request){.magic = HOOKD_MAGIC,
				      .version = HOOKD_VERSION,
				      .state_len = (uint32_t)len,
				      .client_pid = (uint32_t)rt_getpid(),
				      .pid_ns = ns_inode("/proc/self/ns/pid"),
				      .mnt_ns = ns_inode("/proc/self/ns/mnt")};
	for (int i = 0; i < nargs; i++) {
		size_t l = rt_strlen(args[i]) + 1;

		if (req->args_len + l > HOOKD_MAX_ARGS_LEN)
			return -E2BIG;
		for (size_t k = 0; k < l; k++)
			argbuf[req->args_len + k] = args[i][k];
		req->args_len += (uint32_t)l;
	}
	header_len = sizeof(*req) + req->args_len;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	for (size_t i = 0; i < sizeof(fds); i++)
		CMSG_DATA(c)[i] = ((const char *)fds)[i];
	iov[0] = (struct iovec){msgbuf, header_len};
	iov[1] = (struct iovec){(void *)state, len};
	n = rt_sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return (int)n;
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
		long r = wait_readable(fd, deadline_ms);

		if (r <= 0)
			return r < 0 ? (int)r : -ETIMEDOUT;
		r = rt_read(fd, (char *)reply + got, sizeof(*reply) - got);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? (int)r : -EPIPE;
		got += r;
	}
	return reply->magic == HOOKD_MAGIC ? 0 : -EPROTO;
}

int main(int argc, char **argv, char **envp)
{
	static char state[HOOKD_MAX_STATE_LEN + 1];
	const char *socket_path = HOOKD_DEFAULT_SOCKET, *v;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	unsigned long timeout_s = HOOKD_DEFAULT_TIMEOUT_S;
	char *args[HOOKD_MAX_ARGS];
	struct hookd_reply reply;
	long deadline_ms, fd;
	int nargs = 0, err;
	size_t len;

	/* Messages and the fds hookd gets need a stdout and a stderr. */
	for (int std_fd = 1; std_fd <= 2; std_fd++)
		if (rt_fcntl(std_fd, F_GETFD, 0) == -EBADF)
			rt_open("/dev/null",
				O_RDWR); /* the lowest free fd: this one */
	/* --socket is ours; everything else is `cgfence hook`'s. */
	for (int i = 1; i < argc; i++) {
		if (rt_streq(argv[i], "--help") || rt_streq(argv[i], "-h")) {
			write_all(1, usage, sizeof(usage) - 1);
			return 0;
		}
		if (rt_streq(argv[i], "--version")) {
			static const char version[] =
				"cgfence-hook " CGF_VERSION "\n";

			write_all(1, version, sizeof(version) - 1);
			return 0;
		}
		if (rt_streq(argv[i], "--socket") && i + 1 < argc) {
			socket_path = argv[++i];
			continue;
		}
		if ((v = rt_after_prefix(argv[i], "--socket="))) {
			socket_path = v;
			continue;
		}
		/* hookd checks the value; we only need to know how long to wait. */
		if (rt_streq(argv[i], "--timeout") && i + 1 < argc &&
		    rt_parse_ulong(argv[i + 1]))
			timeout_s = rt_parse_ulong(argv[i + 1]);
		if ((v = rt_after_prefix(argv[i], "--timeout=")) &&
		    rt_parse_ulong(v))
			timeout_s = rt_parse_ulong(v);
		if (nargs == HOOKD_MAX_ARGS) {
			fail("too many arguments", NULL);
			return 2;
		}
		args[nargs++] = argv[i];
	}
	if (rt_strlen(socket_path) >= sizeof(addr.sun_path)) {
		fail("--socket ", socket_path, ": path too long", NULL);
		return 2;
	}
	for (size_t i = 0; socket_path[i]; i++)
		addr.sun_path[i] = socket_path[i];

	deadline_ms = rt_clock_ms() + (long)timeout_s * 1000;
	err = read_state(state, sizeof(state), &len,
			 rt_clock_ms() + (long)timeout_s * 900);
	if (err) {
		fail("cannot read the container state on stdin: ",
		     err == -EFBIG	 ? "larger than 1 MiB"
		     : err == -ETIMEDOUT ? "timed out"
					 : rt_strerror(err),
		     NULL);
		return 1;
	}

	fd = rt_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail("socket: ", rt_strerror(fd), NULL);
		return 1;
	}
	err = (int)rt_connect((int)fd, &addr, sizeof(addr));
	if (err == -ENOENT || err == -ECONNREFUSED)
		return run_cgfence_hook(nargs, args, envp, state, len);
	if (err) {
		fail("cannot reach cgfence hookd at ", socket_path, ": ",
		     rt_strerror(err), NULL);
		return 1;
	}
	err = send_request((int)fd, nargs, args, state, len);
	if (!err)
		err = await_reply((int)fd, deadline_ms, &reply);
	if (err == -ETIMEDOUT) {
		fail("timed out waiting for cgfence hookd at ", socket_path,
		     NULL);
		return 1;
	}
	if (err) {
		fail("cgfence hookd at ", socket_path, " gave no answer: ",
		     err == -EPIPE || err == -ECONNRESET ? "connection closed"
							 : rt_strerror(err),
		     NULL);
		return 1;
	}
	if (reply.status == HOOKD_RUN_IT_YOURSELF)
		return run_cgfence_hook(nargs, args, envp, state, len);
	return reply.status;
}
