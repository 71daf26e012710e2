/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the test probes (probe.c, attack.c) share: errno names, the one-word
 * result, joining a cgroup and a network namespace, addresses, waiting with
 * the --timeout-ms timeout. Each probe is one file that includes this.
 */
#ifndef CGFENCE_TEST_PROBE_COMMON_H
#define CGFENCE_TEST_PROBE_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int timeout_ms = 1500;

static const char *errno_name(int e)
{
	switch (e) {
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ECONNRESET:
		return "ECONNRESET";
	case ENETUNREACH:
		return "ENETUNREACH";
	case EHOSTUNREACH:
		return "EHOSTUNREACH";
	case ENETDOWN:
		return "ENETDOWN";
	case ENOENT:
		return "ENOENT";
	case ENODEV:
		return "ENODEV";
	case ENXIO:
		return "ENXIO";
	case EADDRINUSE:
		return "EADDRINUSE";
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case EINVAL:
		return "EINVAL";
	case EAFNOSUPPORT:
		return "EAFNOSUPPORT";
	case EPROTONOSUPPORT:
		return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT:
		return "ESOCKTNOSUPPORT";
	case EPROTOTYPE:
		return "EPROTOTYPE";
	case ENOPROTOOPT:
		return "ENOPROTOOPT";
	case EOPNOTSUPP:
		return "EOPNOTSUPP"; /* ENOTSUP is the same number */
	case EDESTADDRREQ:
		return "EDESTADDRREQ";
	case EMSGSIZE:
		return "EMSGSIZE";
	case ENOBUFS:
		return "ENOBUFS";
	case ENOMEM:
		return "ENOMEM";
	case ENOSYS:
		return "ENOSYS";
	case EFAULT:
		return "EFAULT";
	case EAGAIN:
		return "EAGAIN";
	case EINTR:
		return "EINTR";
	case EIO:
		return "EIO";
	case EBADF:
		return "EBADF";
	case ENOTSOCK:
		return "ENOTSOCK";
	case ENOTCONN:
		return "ENOTCONN";
	case EISCONN:
		return "EISCONN";
	case EPIPE:
		return "EPIPE";
	case ECANCELED:
		return "ECANCELED";
	default:
		return strerror(e);
	}
}

static int result(int err)
{
	puts(err ? errno_name(err) : "ok");
	return err ? 1 : 0;
}

static int sock_type(const char *proto)
{
	return strcmp(proto, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM;
}

static int join_cgroup(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0\n", 2) != 2) {
		perror(path);
		return -1;
	}
	close(fd);
	return 0;
}

static int join_netns(const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		perror(path);
		return -1;
	}
	close(fd);
	return 0;
}

static int make_addr(const char *host, const char *port,
		     struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(atoi(port));
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(atoi(port));
		*len = sizeof(*in6);
		return 0;
	}
	fprintf(stderr, "bad address %s\n", host);
	exit(2);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (now_ms() time); 0 or an errno. */
static int wait_until(int fd, short events, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	long long left = deadline - now_ms();
	int n = poll(&p, 1, left > 0 ? (int)left : 0);

	if (n < 0)
		return errno;
	return n == 0 ? ETIMEDOUT : 0;
}

static int wait_fd(int fd, short events)
{
	return wait_until(fd, events, now_ms() + timeout_ms);
}

/*
 * The pause between two sends: GAP milliseconds, or, when GAP is a path,
 * a handshake: GAP.sent is made now, then the second send waits (60 s at
 * most) until GAP exists. A test changes the policy in between however
 * slow the machine, instead of racing a fixed gap.
 */
static void pause_between_sends(const char *gap)
{
	char sent[4096];
	long long deadline = now_ms() + 60000;

	if (gap[0] >= '0' && gap[0] <= '9') {
		usleep(atoi(gap) * 1000);
		return;
	}
	snprintf(sent, sizeof(sent), "%s.sent", gap);
	close(open(sent, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	while (access(gap, F_OK) && now_ms() < deadline)
		usleep(10000);
}

/* Connects with a timeout; returns 0 or an errno. */
static int connect_to(int fd, struct sockaddr_storage *ss, socklen_t len)
{
	int flags = fcntl(fd, F_GETFL), err;
	socklen_t elen = sizeof(err);

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)ss, len) == 0)
		goto done;
	if (errno != EINPROGRESS)
		return errno;
	err = wait_fd(fd, POLLOUT);
	if (err)
		return err;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	if (err)
		return err;
done:
	fcntl(fd, F_SETFL, flags);
	return 0;
}

#endif
