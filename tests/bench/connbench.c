// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connbench: the per-connection load generator of tests/bench/bench.sh.
 *
 *   connbench [--warmup N] [--budget-ms MS] [--slice-us US]
 *             MODE ADDR PORT N [LABEL=[NETNS]:[CGROUP] ...]
 *
 *   tcp      socket, connect, send 1 byte, receive the 1-byte reply,
 *            close; one sample is the whole sequence
 *   udp      unconnected sendto() of 1 byte, always on the same socket;
 *            one sample is one sendto (cgfence judges the first datagram
 *            to a peer and caches the verdict)
 *   udp-new  a fresh socket and one sendto; one sample is that first
 *            sendto (the peer is the same every time: cgfence judges
 *            it once for the cgroup, not once per socket)
 *   dns      one name lookup as glibc's getaddrinfo(AF_UNSPEC) does it on
 *            the wire: a fresh non-blocking UDP socket connected to the
 *            resolver, the A and AAAA queries in one sendmmsg, poll and
 *            receive both answers, close; one sample is the whole lookup.
 *            The server is a small resolver that answers every A query
 *            with 127.0.0.1 and every other type with no data; the client
 *            checks ids, flags and the address
 *
 * Each target gets a worker process that joins the network namespace
 * (a name under /run/netns), forks its server there (accept, read a byte,
 * answer it, close; or read and drop datagrams), and only then joins the
 * cgroup, so the client is fenced and the server is not. The workers take
 * turns in slices of --slice-us (default 2 ms, rotating who goes first),
 * so a noisy moment of the machine hits every target alike instead of
 * whichever one was running. A target stops after N samples or after
 * --budget-ms of its own slices (at least MIN_SAMPLES), so a slow
 * firewall does not stretch the run. Without targets the caller's own
 * namespace and cgroup are measured ("self").
 *
 * Latencies come from CLOCK_MONOTONIC. One line per target, in the order
 * given:
 *
 *   target=none mode=tcp n=3000 p50_ns=21034 p99_ns=30120 mean_ns=22010 min_ns=19011
 *
 * A failed operation in any target aborts the run with the errno and exit
 * status 1: a benchmark whose traffic is blocked must not report numbers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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
#define MIN_SAMPLES  20
#define MAX_TARGETS  16
#define RESULT_LEN   256

enum bench_mode { MODE_TCP, MODE_UDP, MODE_UDP_NEW, MODE_DNS, MODE__COUNT };
static const char *const mode_names[] = {"tcp", "udp", "udp-new", "dns"};

struct bench_config {
	enum bench_mode mode;
	struct sockaddr_in addr;
	long n;
	long warmup;
	uint64_t budget_ns;
	uint64_t slice_ns;
};

struct target {
	char *label;
	char *netns;  /* NULL: stay */
	char *cgroup; /* NULL: stay */
	pid_t pid;
	int cmd_fd; /* parent -> worker */
	int res_fd; /* worker -> parent */
	int done;
};

/* What a worker answers to CMD_RUN. */
#define REPLY_MORE  'm'
#define REPLY_DONE  'd'
#define REPLY_READY 'r'
#define CMD_RUN	    'r'
#define CMD_QUIT    'q'

static const char *current_label = "connbench";

static void die(const char *what)
{
	fprintf(stderr, "connbench: %s: %s: %s\n", current_label, what,
		strerror(errno));
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
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};

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

/* DNS (RFC 1035): a 12-byte header, then the question. */
#define DNS_HDR_LEN   12
#define DNS_MAX_LEN   512
#define DNS_TYPE_A    1
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN  1
#define DNS_FLAG_QR   0x8000
#define DNS_FLAG_RD   0x0100
#define DNS_FLAG_RA   0x0080
#define DNS_ANSWER_A  "\x7f\x00\x00\x01" /* 127.0.0.1 */

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static unsigned char *put16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
	return p + 2;
}

/* The end of the question that starts at q (one name, type, class), or NULL. */
static const unsigned char *dns_question_end(const unsigned char *q,
					     const unsigned char *end)
{
	while (q < end && *q) {
		if (*q > 63) /* no compression in a question we wrote */
			return NULL;
		q += *q + 1;
	}
	return q + 5 <= end ? q + 5 : NULL;
}

/*
 * Answers one query in place: the same id and question, QR and RA set, an
 * A record (127.0.0.1, TTL 60) for type A, no data for any other type.
 * Returns the reply's length, 0 for what is not a one-question query.
 */
static size_t dns_answer(unsigned char *msg, size_t len)
{
	const unsigned char *qend;
	unsigned char *p;
	uint16_t qtype;

	if (len < DNS_HDR_LEN || (get16(msg + 2) & DNS_FLAG_QR) ||
	    get16(msg + 4) != 1)
		return 0;
	qend = dns_question_end(msg + DNS_HDR_LEN, msg + len);
	if (!qend || qend + 16 > msg + DNS_MAX_LEN)
		return 0;
	qtype = get16(qend - 4);
	put16(msg + 2,
	      DNS_FLAG_QR | (get16(msg + 2) & DNS_FLAG_RD) | DNS_FLAG_RA);
	put16(msg + 6, qtype == DNS_TYPE_A);
	put16(msg + 8, 0);
	put16(msg + 10, 0);
	p = (unsigned char *)qend;
	if (qtype == DNS_TYPE_A) {
		p = put16(p, 0xc000 | DNS_HDR_LEN); /* the question's name */
		p = put16(p, DNS_TYPE_A);
		p = put16(p, DNS_CLASS_IN);
		p = put16(put16(p, 0), 60); /* TTL */
		p = put16(p, 4);
		memcpy(p, DNS_ANSWER_A, 4);
		p += 4;
	}
	return p - msg;
}

static void serve_dns(int fd)
{
	unsigned char msg[DNS_MAX_LEN];
	struct sockaddr_in from;

	for (;;) {
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, msg, sizeof(msg), 0,
				     (struct sockaddr *)&from, &flen);
		size_t len = n > 0 ? dns_answer(msg, n) : 0;

		if (len)
			sendto(fd, msg, len, 0, (struct sockaddr *)&from, flen);
	}
}

/* Binds the server socket here and serves from a child; returns its pid. */
static pid_t start_server(const struct bench_config *cfg)
{
	int type = cfg->mode == MODE_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;
	pid_t pid;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&cfg->addr, sizeof(cfg->addr)))
		die("bind");
	if (type == SOCK_STREAM && listen(fd, 128))
		die("listen");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (type == SOCK_STREAM)
			serve_tcp(fd);
		if (cfg->mode == MODE_DNS)
			serve_dns(fd);
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

	if (sendto(fd, &byte, 1, 0, (const struct sockaddr *)addr,
		   sizeof(*addr)) != 1)
		die("sendto");
	return now_ns() - t0;
}

/* A query for name (dotted) of type qtype, with id; returns its length. */
static size_t dns_query(unsigned char *msg, uint16_t id, const char *name,
			uint16_t qtype)
{
	unsigned char *p = msg;

	memset(msg, 0, DNS_HDR_LEN);
	put16(msg, id);
	put16(msg + 2, DNS_FLAG_RD);
	put16(msg + 4, 1);
	p += DNS_HDR_LEN;
	while (*name) {
		size_t label = strcspn(name, ".");

		*p++ = label;
		memcpy(p, name, label);
		p += label;
		name += label + (name[label] == '.');
	}
	*p++ = 0;
	p = put16(p, qtype);
	p = put16(p, DNS_CLASS_IN);
	return p - msg;
}

/* Index of the query (0: A, 1: AAAA) a reply answers, or -1 if it is wrong. */
static int dns_check_reply(const unsigned char *msg, ssize_t len,
			   const uint16_t ids[2])
{
	const unsigned char *qend;
	int which;

	if (len < DNS_HDR_LEN || !(get16(msg + 2) & DNS_FLAG_QR) ||
	    (get16(msg + 2) & 0xf) != 0 || get16(msg + 4) != 1)
		return -1;
	which = get16(msg) == ids[0] ? 0 : get16(msg) == ids[1] ? 1 : -1;
	qend = dns_question_end(msg + DNS_HDR_LEN, msg + len);
	if (which < 0 || !qend)
		return -1;
	if (which == 1)
		return get16(msg + 6) == 0 ? 1 : -1;
	/* A: one record whose address is the one the resolver gives. */
	if (get16(msg + 6) != 1 || qend + 16 > msg + len ||
	    memcmp(qend + 12, DNS_ANSWER_A, 4))
		return -1;
	return 0;
}

/*
 * One lookup as glibc's resolver (res_send.c, send_dg) does it for
 * getaddrinfo(AF_UNSPEC): socket, connect, both queries in one sendmmsg,
 * poll until both answers are in, close.
 */
static uint64_t one_dns_lookup(const struct sockaddr_in *resolver, long k)
{
	unsigned char q[2][DNS_MAX_LEN], r[DNS_MAX_LEN];
	struct iovec iov[2];
	struct mmsghdr mm[2] = {};
	uint16_t ids[2] = {(uint16_t)(2 * k), (uint16_t)(2 * k + 1)};
	char name[64];
	int got = 0, fd;
	uint64_t t0;

	snprintf(name, sizeof(name), "host%ld.bench.test", k % 1000);
	for (int i = 0; i < 2; i++) {
		iov[i].iov_base = q[i];
		iov[i].iov_len = dns_query(q[i], ids[i], name,
					   i ? DNS_TYPE_AAAA : DNS_TYPE_A);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = now_ns();
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (const struct sockaddr *)resolver, sizeof(*resolver)))
		die("connect to the resolver");
	if (sendmmsg(fd, mm, 2, MSG_NOSIGNAL) != 2)
		die("sendmmsg");
	while (got != 3) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int which;

		if (poll(&pfd, 1, IO_TIMEOUT_S * 1000) != 1) {
			errno = errno ? errno : ETIMEDOUT;
			die("poll for the answers");
		}
		n = recv(fd, r, sizeof(r), 0);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0)
			die("recv");
		which = dns_check_reply(r, n, ids);
		if (which < 0) {
			errno = EBADMSG;
			die("a wrong answer");
		}
		got |= 1 << which;
	}
	close(fd);
	return now_ns() - t0;
}

static uint64_t one_sample(const struct bench_config *cfg, int udp_fd, long k)
{
	uint64_t ns;
	int fd;

	switch (cfg->mode) {
	case MODE_TCP:
		return one_tcp_exchange(&cfg->addr);
	case MODE_UDP:
		return one_sendto(udp_fd, &cfg->addr);
	case MODE_UDP_NEW:
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		ns = one_sendto(fd, &cfg->addr);
		close(fd);
		return ns;
	case MODE_DNS:
		return one_dns_lookup(&cfg->addr, k);
	case MODE__COUNT:
		break;
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

static void format_result(const struct bench_config *cfg, uint64_t *samples,
			  long n, char *buf, size_t len)
{
	uint64_t sum = 0;

	qsort(samples, n, sizeof(*samples), cmp_u64);
	for (long k = 0; k < n; k++)
		sum += samples[k];
	snprintf(buf, len,
		 "mode=%s n=%ld p50_ns=%llu p99_ns=%llu mean_ns=%llu "
		 "min_ns=%llu",
		 mode_names[cfg->mode], n,
		 (unsigned long long)percentile(samples, n, 50),
		 (unsigned long long)percentile(samples, n, 99),
		 (unsigned long long)(sum / n), (unsigned long long)samples[0]);
}

static void reply(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die("write to parent");
}

/* The worker of one target: never returns. */
static void worker_main(const struct bench_config *cfg, const struct target *t,
			int cmd_fd, int res_fd)
{
	uint64_t *samples, used = 0, start;
	char cmd, result[RESULT_LEN];
	int udp_fd = -1;
	long k = 0;
	pid_t server;

	current_label = t->label;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (t->netns)
		join_netns(t->netns);
	server = start_server(cfg);
	if (t->cgroup)
		join_cgroup(t->cgroup);
	samples = calloc(cfg->n, sizeof(*samples));
	if (!samples)
		die("calloc");
	if (cfg->mode == MODE_UDP) {
		/* Created after joining: a socket belongs to its creator's cgroup. */
		udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (udp_fd < 0)
			die("socket");
		set_timeouts(udp_fd);
	}
	start = now_ns();
	for (long w = 0;
	     w < cfg->warmup && now_ns() - start < cfg->budget_ns / 10; w++)
		one_sample(cfg, udp_fd, w);
	reply(res_fd, (char[]){REPLY_READY}, 1);

	while (read(cmd_fd, &cmd, 1) == 1) {
		if (cmd == CMD_QUIT) {
			kill(server, SIGKILL);
			waitpid(server, NULL, 0);
			format_result(cfg, samples, k, result, sizeof(result));
			reply(res_fd, result, strlen(result) + 1);
			_exit(0);
		}
		start = now_ns();
		do {
			samples[k] = one_sample(cfg, udp_fd, k);
			k++;
		} while (k < cfg->n && now_ns() - start < cfg->slice_ns);
		used += now_ns() - start;
		reply(res_fd,
		      (char[]){k >= cfg->n || (k >= MIN_SAMPLES &&
					       used >= cfg->budget_ns)
				       ? REPLY_DONE
				       : REPLY_MORE},
		      1);
	}
	_exit(1); /* the parent went away */
}

static void start_worker(const struct bench_config *cfg, struct target *t)
{
	int cmd[2], res[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
		die("pipe");
	fflush(stdout);
	t->pid = fork();
	if (t->pid < 0)
		die("fork");
	if (t->pid == 0) {
		close(cmd[1]);
		close(res[0]);
		worker_main(cfg, t, cmd[0], res[1]);
	}
	close(cmd[0]);
	close(res[1]);
	t->cmd_fd = cmd[1];
	t->res_fd = res[0];
}

static void kill_workers(struct target *targets, int ntargets)
{
	for (int i = 0; i < ntargets; i++) {
		if (targets[i].pid > 0) {
			kill(targets[i].pid, SIGKILL);
			waitpid(targets[i].pid, NULL, 0);
		}
	}
}

/* Reads a worker's one-byte answer; a worker that died failed its target. */
static char expect_reply(struct target *targets, int ntargets, struct target *t)
{
	char c;

	if (read(t->res_fd, &c, 1) != 1) {
		fprintf(stderr, "connbench: target %s failed\n", t->label);
		kill_workers(targets, ntargets);
		exit(1);
	}
	return c;
}

static int parse_target(char *arg, struct target *t)
{
	char *eq = strchr(arg, '='), *colon;

	if (!eq)
		return -1;
	*eq = '\0';
	colon = strchr(eq + 1, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	t->label = arg;
	t->netns = eq[1] ? eq + 1 : NULL;
	t->cgroup = colon[1] ? colon + 1 : NULL;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: connbench [--warmup N] [--budget-ms MS] [--slice-us "
		"US] "
		"tcp|udp|udp-new|dns ADDR PORT N [LABEL=[NETNS]:[CGROUP] "
		"...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench_config cfg = {.addr = {.sin_family = AF_INET},
				   .warmup = 100};
	struct target targets[MAX_TARGETS] = {};
	long budget_ms = 0, slice_us = 2000;
	int i = 1, ntargets = 0, active;
	char result[RESULT_LEN];

	while (i + 1 < argc && !strncmp(argv[i], "--", 2)) {
		if (!strcmp(argv[i], "--warmup"))
			cfg.warmup = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--budget-ms"))
			budget_ms = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--slice-us"))
			slice_us = atol(argv[i + 1]);
		else
			usage();
		i += 2;
	}
	if (argc - i < 4 || argc - i - 4 > MAX_TARGETS)
		usage();
	for (cfg.mode = MODE_TCP; cfg.mode < MODE__COUNT; cfg.mode++)
		if (!strcmp(argv[i], mode_names[cfg.mode]))
			break;
	if (cfg.mode == MODE__COUNT)
		usage();
	if (inet_pton(AF_INET, argv[i + 1], &cfg.addr.sin_addr) != 1)
		usage();
	cfg.addr.sin_port = htons(atoi(argv[i + 2]));
	cfg.n = atol(argv[i + 3]);
	if (cfg.n <= 0 || cfg.warmup < 0 || budget_ms < 0 || slice_us <= 0)
		usage();
	cfg.budget_ns =
		budget_ms ? (uint64_t)budget_ms * 1000000ull : UINT64_MAX;
	cfg.slice_ns = (uint64_t)slice_us * 1000ull;
	for (int a = i + 4; a < argc; a++)
		if (parse_target(argv[a], &targets[ntargets++]))
			usage();
	if (ntargets == 0)
		targets[ntargets++] = (struct target){.label = "self"};

	for (int t = 0; t < ntargets; t++)
		start_worker(&cfg, &targets[t]);
	for (int t = 0; t < ntargets; t++)
		expect_reply(targets, ntargets, &targets[t]);

	/* Round robin in slices; who goes first rotates every turn. */
	active = ntargets;
	for (int turn = 0; active > 0; turn++) {
		for (int j = 0; j < ntargets; j++) {
			struct target *t = &targets[(turn + j) % ntargets];

			if (t->done)
				continue;
			if (write(t->cmd_fd, (char[]){CMD_RUN}, 1) != 1)
				die("write to worker");
			if (expect_reply(targets, ntargets, t) == REPLY_DONE) {
				t->done = 1;
				active--;
			}
		}
	}

	for (int t = 0; t < ntargets; t++) {
		ssize_t len = 0, r;

		if (write(targets[t].cmd_fd, (char[]){CMD_QUIT}, 1) != 1)
			die("write to worker");
		while (len < (ssize_t)sizeof(result) &&
		       (r = read(targets[t].res_fd, result + len,
				 sizeof(result) - len)) > 0) {
			len += r;
			if (result[len - 1] == '\0')
				break;
		}
		if (len == 0 || result[len - 1] != '\0') {
			fprintf(stderr, "connbench: target %s: no result\n",
				targets[t].label);
			kill_workers(targets, ntargets);
			return 1;
		}
		waitpid(targets[t].pid, NULL, 0);
		targets[t].pid = 0;
		printf("target=%s %s\n", targets[t].label, result);
	}
	return 0;
}
