// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connbench: the per-connection load generator of tests/bench/bench.sh.
 *
 *   connbench [--netns NAME] [--cgroup DIR] [--warmup N] [--budget-ms MS]
 *             MODE ADDR PORT N
 *
 *   tcp      N times: socket, connect, send 1 byte, receive the 1-byte
 *            reply, close; one sample is the whole sequence
 *   udp      N unconnected sendto() of 1 byte on one socket; one sample is
 *            one sendto (cgfence judges the first and caches the peer)
 *   udp-new  N times a fresh socket and one sendto; one sample is that
 *            first sendto, which every firewall has to judge in full
 *
 * The server (accept, read a byte, answer it, close; or read and drop
 * datagrams) is a child forked after joining the network namespace and
 * before joining the cgroup, so only the client side is fenced. Latencies
 * come from CLOCK_MONOTONIC. With --budget-ms the run stops early once it
 * has used that much time (at least MIN_SAMPLES samples are always taken),
 * so a slow firewall does not stretch the whole bench; warm-up then gets a
 * tenth of the budget. The result is one line of key=value pairs:
 *
 *   mode=tcp n=3000 p50_ns=21034 p99_ns=30120 mean_ns=22010 min_ns=19011
 *
 * Any failed operation aborts with the errno and exit status 1: a
 * benchmark whose traffic is blocked must not report numbers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_S 2
#define MIN_SAMPLES 20

enum bench_mode { MODE_TCP, MODE_UDP, MODE_UDP_NEW };

static void die(const char *what)
{
	fprintf(stderr, "connbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void join_netns(const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die(path);
	close(fd);
}

static void join_cgroup(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0\n", 2) != 2)
		die(path);
	close(fd);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	/* A blocked flow fails in seconds instead of hanging the bench. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		die("setsockopt");
}

static void serve_tcp(int lfd)
{
	char byte;

	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		if (recv(c, &byte, 1, 0) == 1)
			send(c, &byte, 1, MSG_NOSIGNAL);
		close(c);
	}
}

static void serve_udp(int fd)
{
	char buf[64];

	for (;;)
		recv(fd, buf, sizeof(buf), 0);
}

/* Binds the server socket here and serves from a child; returns its pid. */
static pid_t start_server(enum bench_mode mode, const struct sockaddr_in *addr)
{
	int type = mode == MODE_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;
	pid_t pid;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)))
		die("bind");
	if (type == SOCK_STREAM && listen(fd, 128))
		die("listen");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		if (type == SOCK_STREAM)
			serve_tcp(fd);
		serve_udp(fd);
		_exit(0);
	}
	close(fd);
	return pid;
}

static uint64_t one_tcp_exchange(const struct sockaddr_in *addr)
{
	uint64_t t0 = now_ns();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char byte = 'x';

	if (fd < 0)
		die("socket");
	set_timeouts(fd);
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)))
		die("connect");
	if (send(fd, &byte, 1, MSG_NOSIGNAL) != 1)
		die("send");
	if (recv(fd, &byte, 1, 0) != 1)
		die("recv");
	close(fd);
	return now_ns() - t0;
}

static uint64_t one_sendto(int fd, const struct sockaddr_in *addr)
{
	char byte = 'x';
	uint64_t t0 = now_ns();

	if (sendto(fd, &byte, 1, 0, (const struct sockaddr *)addr, sizeof(*addr)) != 1)
		die("sendto");
	return now_ns() - t0;
}

static uint64_t one_sample(enum bench_mode mode, int udp_fd,
			   const struct sockaddr_in *addr)
{
	uint64_t ns;
	int fd;

	switch (mode) {
	case MODE_TCP:
		return one_tcp_exchange(addr);
	case MODE_UDP:
		return one_sendto(udp_fd, addr);
	case MODE_UDP_NEW:
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		ns = one_sendto(fd, addr);
		close(fd);
		return ns;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned int pct)
{
	size_t rank = (n * pct + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

static void usage(void)
{
	fprintf(stderr, "usage: connbench [--netns NAME] [--cgroup DIR] [--warmup N] "
			"[--budget-ms MS] tcp|udp|udp-new ADDR PORT N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *netns = NULL, *cgroup = NULL;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	enum bench_mode mode;
	long warmup = 100, budget_ms = 0, n;
	uint64_t *samples, sum = 0, budget_ns, start;
	int i = 1, udp_fd = -1, status;
	pid_t server;

	while (i + 1 < argc && !strncmp(argv[i], "--", 2)) {
		if (!strcmp(argv[i], "--netns"))
			netns = argv[i + 1];
		else if (!strcmp(argv[i], "--cgroup"))
			cgroup = argv[i + 1];
		else if (!strcmp(argv[i], "--warmup"))
			warmup = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--budget-ms"))
			budget_ms = atol(argv[i + 1]);
		else
			usage();
		i += 2;
	}
	if (argc - i != 4)
		usage();
	if (!strcmp(argv[i], "tcp"))
		mode = MODE_TCP;
	else if (!strcmp(argv[i], "udp"))
		mode = MODE_UDP;
	else if (!strcmp(argv[i], "udp-new"))
		mode = MODE_UDP_NEW;
	else
		usage();
	if (inet_pton(AF_INET, argv[i + 1], &addr.sin_addr) != 1)
		usage();
	addr.sin_port = htons(atoi(argv[i + 2]));
	n = atol(argv[i + 3]);
	if (n <= 0 || warmup < 0 || budget_ms < 0)
		usage();
	budget_ns = budget_ms ? (uint64_t)budget_ms * 1000000ull : UINT64_MAX;

	if (netns)
		join_netns(netns);
	server = start_server(mode, &addr);
	if (cgroup)
		join_cgroup(cgroup);

	samples = calloc(n, sizeof(*samples));
	if (!samples)
		die("calloc");
	if (mode == MODE_UDP) {
		udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (udp_fd < 0)
			die("socket");
		set_timeouts(udp_fd);
	}
	start = now_ns();
	for (long k = 0; k < warmup && now_ns() - start < budget_ns / 10; k++)
		one_sample(mode, udp_fd, &addr);
	start = now_ns();
	for (long k = 0; k < n; k++) {
		samples[k] = one_sample(mode, udp_fd, &addr);
		if (k + 1 >= MIN_SAMPLES && now_ns() - start >= budget_ns) {
			n = k + 1;
			break;
		}
	}

	kill(server, SIGKILL);
	waitpid(server, &status, 0);

	qsort(samples, n, sizeof(*samples), cmp_u64);
	for (long k = 0; k < n; k++)
		sum += samples[k];
	printf("mode=%s n=%ld p50_ns=%llu p99_ns=%llu mean_ns=%llu min_ns=%llu\n",
	       argv[i], n, (unsigned long long)percentile(samples, n, 50),
	       (unsigned long long)percentile(samples, n, 99),
	       (unsigned long long)(sum / n), (unsigned long long)samples[0]);
	free(samples);
	return 0;
}
