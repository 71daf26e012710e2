// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence daemon: perf buffer -> audit log (JSON lines).
 *
 * Enforcement never depends on it. What it cannot see it accounts for:
 * the BPF side counts per cgroup what it emitted, suppressed over budget
 * and could not deliver; the daemon logs those counters (as deltas since
 * the last report, remembered in a pinned map so a restart reports the
 * gap) at start, every --stats-interval seconds and when it stops.
 *
 * A Kubernetes pod's container gets its pod named in each record: the
 * daemon reads it once per cgroup from the container record the hook
 * wrote (container_record.h) and keeps it (daemon_enrich.h).
 *
 * At full speed (two CPUs denying as fast as they can) the events wait in
 * a perf buffer sized for a burst (--buffer-events) that wakes the daemon
 * per 64 KiB, and each round formats them straight into one buffer
 * written with one write(2) (log_batch.h).
 *
 * With --metrics or --metrics-textfile it also counts what it sees for
 * Prometheus (daemon_metrics.h), in threads of their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/perf_event.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "audit.h"
#include "commands.h"
#include "daemon.h"
#include "daemon_enrich.h"
#include "daemon_metrics.h"
#include "loader.h"
#include "log_batch.h"
#include "metrics.h"
#include "privs.h"
#include "util.h"

/* Each CPU's perf buffer holds this many events by default (8 MiB). */
/*
 * The default buffers share this many events among the CPUs, at least
 * BUFFER_EVENTS_MIN each: 65,536 a CPU (8 MiB) on two, 16 MiB in all up to
 * 32 CPUs, never hundreds of MiB of locked memory on a large node.
 */
#define DEFAULT_BUFFER_EVENTS_TOTAL 131072u
#define BUFFER_EVENTS_MIN	    4096u
#define BUFFER_EVENTS_MAX	    (1u << 20) /* 128 MiB a CPU */
/* The size of one event in the perf buffer: header, size, data, padding. */
#define PERF_RECORD_BYTES                                                      \
	(sizeof(struct perf_event_header) +                                    \
	 ((sizeof(__u32) + sizeof(struct cgf_event) + 7) / 8 * 8))
/*
 * Two perf buffers per CPU in cgf_events (bpf/cgf_maps.h). The bulk one
 * wakes the daemon when BULK_WAKEUP_BYTES wait (or half the buffer), not
 * per event: a wakeup costs the denying CPU an interrupt (irq_work), 10-25
 * µs a denial in a VM. The first one, which takes the first event after a
 * quiet spell on the CPU, wakes it per event, so a lone denial is written
 * at once (while its container, whose names the record carries, still
 * exists: a container can be removed 5 ms after its last denial). The
 * rest of a burst, below the watermark, waits at most POLL_MS.
 */
#define BULK_WAKEUP_BYTES (64 * 1024)
#define FIRST_PAGES	  8
#define POLL_MS		  50
/* One write(2) per poll round, or per this much. */
#define LOG_BATCH_BYTES (256 * 1024)

struct daemon {
	struct cgf_state st;
	struct daemon_enrich *enrich;
	struct daemon_metrics *metrics; /* NULL: no --metrics* */
	const char *log_path;
	struct log_batch log; /* its fd is the log's */
	/* Read once per poll round, not per event. */
	uint64_t now_ns;	  /* CLOCK_MONOTONIC */
	uint64_t boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	unsigned int buffer_events;
	unsigned int stats_interval_s;
	bool seccomp_log;
	bool test_forbidden_syscall;
};

static volatile sig_atomic_t want_reopen, want_stop, want_forbidden;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		want_reopen = 1;
	else if (sig == SIGUSR1)
		want_forbidden = 1;
	else
		want_stop = 1;
}

/*
 * --test-forbidden-syscall: on SIGUSR1, try to load a BPF program, which
 * the seccomp filter must refuse by killing the daemon. For tests only.
 */
static void try_forbidden_syscall(void)
{
	union bpf_attr attr = {.prog_type = BPF_PROG_TYPE_SOCKET_FILTER};

	log_info("test: attempting bpf(BPF_PROG_LOAD), which must be refused");
	syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	log_error("test: bpf(BPF_PROG_LOAD) was not refused by seccomp");
}

/* Events carry CLOCK_BOOTTIME; the log wants wall-clock time. */
static void read_clocks(struct daemon *d)
{
	d->now_ns = clock_ns(CLOCK_MONOTONIC);
	d->boot_to_real_ns =
		clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
}

int daemon_open_log(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;
	int fd;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) && errno != EEXIST)
			return -errno;
	}
	/* O_NOFOLLOW: a symlink planted at the log path is refused (ELOOP). */
	fd = open(path,
		  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
			  O_NOCTTY,
		  0640);
	return fd < 0 ? -errno : fd;
}

static void write_event(struct daemon *d, const void *data, size_t size)
{
	struct cgf_event ev = {};
	struct audit_enrichment en;

	memcpy(&ev, data, size < sizeof(ev) ? size : sizeof(ev));
	if (ev.version != CGF_EVENT_VERSION)
		return;
	daemon_enrich_event(d->enrich, ev.cgroup_id, ev.policy_id,
			    ev.generation, d->now_ns, &en);
	daemon_metrics_event(d->metrics, &ev, &en);
	log_batch_commit(
		&d->log,
		audit_write_event(log_batch_room(&d->log), LOG_BATCH_LINE_MAX,
				  &ev, d->boot_to_real_ns + ev.time_ns, &en));
}

static void write_lost(struct daemon *d, uint64_t count)
{
	daemon_metrics_lost(d->metrics, count);
	log_batch_commit(
		&d->log,
		audit_write_counter(log_batch_room(&d->log), LOG_BATCH_LINE_MAX,
				    clock_ns(CLOCK_REALTIME), "lost", "count",
				    count,
				    "perf buffer overflow; included in "
				    "the cgroups' undelivered counts"));
}

/* The perf records as the kernel writes them (perf_event_open(2)). */
struct sample_record {
	struct perf_event_header header;
	__u32 size;
	char data[];
};

struct lost_record {
	struct perf_event_header header;
	__u64 id;
	__u64 lost;
};

static enum bpf_perf_event_ret on_record(void *ctx, int cpu,
					 struct perf_event_header *h)
{
	struct daemon *d = ctx;

	if (h->type == PERF_RECORD_SAMPLE) {
		const struct sample_record *r = (const void *)h;

		write_event(d, r->data, r->size);
	} else if (h->type == PERF_RECORD_LOST) {
		write_lost(d, ((const struct lost_record *)h)->lost);
	}
	return LIBBPF_PERF_EVENT_CONT;
}

struct event_buffers {
	struct perf_buffer *bulk, *first;
	int epoll_fd; /* both buffers' epoll fds */
};

/* The online CPUs, and the key of each one's first-event buffer. */
struct online_cpus {
	int n;
	int cpu[CGF_EVENTS_FIRST_KEY], key[CGF_EVENTS_FIRST_KEY];
};

/* Parses /sys/devices/system/cpu/online ("0-3,8,10-11"). */
static int read_online_cpus(struct online_cpus *c)
{
	char text[4096], *p = text, *end;
	int fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
	ssize_t len = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);

	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return -errno ? -errno : -EIO;
	text[len] = '\0';
	c->n = 0;
	while (*p && *p != '\n') {
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p || lo < 0)
			return -EINVAL;
		if (*end == '-') {
			p = end + 1;
			hi = strtol(p, &end, 10);
			if (end == p || hi < lo)
				return -EINVAL;
		}
		for (long cpu = lo; cpu <= hi; cpu++) {
			if (cpu >= CGF_EVENTS_FIRST_KEY)
				return -E2BIG;
			c->cpu[c->n] = cpu;
			c->key[c->n++] = CGF_EVENTS_FIRST_KEY + cpu;
		}
		p = *end == ',' ? end + 1 : end;
	}
	return c->n ? 0 : -EINVAL;
}

/*
 * libbpf's perf buffer, its lost records read with the samples: the bulk
 * ones at keys cpu (libbpf's default), or, with first_keys, the per-event
 * ones at CGF_EVENTS_FIRST_KEY + cpu of the online CPUs.
 */
static struct perf_buffer *open_perf_buffer(struct daemon *d, size_t pages,
					    const struct online_cpus *first)
{
	size_t bytes = pages * sysconf(_SC_PAGESIZE);
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW,
		.sample_period = 1,
	};
	struct perf_buffer_raw_opts opts = {.sz = sizeof(opts)};

	if (first) {
		attr.wakeup_events = 1;
		opts.cpu_cnt = first->n;
		opts.cpus = (int *)first->cpu;
		opts.map_keys = (int *)first->key;
	} else {
		attr.watermark = 1;
		attr.wakeup_watermark = bytes / 2 < BULK_WAKEUP_BYTES
						? bytes / 2
						: BULK_WAKEUP_BYTES;
	}
	return perf_buffer__new_raw(d->st.map_fds[CGF_MAP_EVENTS], pages, &attr,
				    on_record, d, &opts);
}

static void close_event_buffers(struct event_buffers *b)
{
	if (b->epoll_fd >= 0)
		close(b->epoll_fd);
	perf_buffer__free(b->first);
	perf_buffer__free(b->bulk);
}

static int watch(int epoll_fd, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN};

	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int open_event_buffers(struct daemon *d, size_t bulk_pages,
			      struct event_buffers *b)
{
	static struct online_cpus cpus; /* 32 KiB: not on the stack */
	int err;

	*b = (struct event_buffers){.epoll_fd = -1};
	err = read_online_cpus(&cpus);
	if (err)
		return err;
	b->bulk = open_perf_buffer(d, bulk_pages, NULL);
	if (!b->bulk)
		return -errno;
	b->first = open_perf_buffer(d, FIRST_PAGES, &cpus);
	if (!b->first)
		return -errno;
	b->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epoll_fd < 0)
		return -errno;
	err = watch(b->epoll_fd, perf_buffer__epoll_fd(b->bulk));
	return err ? err : watch(b->epoll_fd, perf_buffer__epoll_fd(b->first));
}

/*
 * Waits for either buffer, then takes what both hold: the bulk first, so
 * that the rest of an earlier burst comes before the denial that woke us.
 */
static int read_event_buffers(struct event_buffers *b, int timeout_ms)
{
	struct epoll_event ready[2];
	int err;

	if (epoll_wait(b->epoll_fd, ready, 2, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	err = perf_buffer__consume(b->bulk);
	return err ? err : perf_buffer__consume(b->first);
}

static void stats_delta(const struct cgf_cgroup_stats *now,
			const struct cgf_cgroup_stats *before,
			struct cgf_cgroup_stats *delta)
{
	memset(delta, 0, sizeof(*delta));
	delta->emitted = now->emitted - before->emitted;
	delta->suppressed = now->suppressed - before->suppressed;
	delta->undelivered = now->undelivered - before->undelivered;
}

/* Logs every cgroup's counters that moved since they were last reported. */
static void report_stats(struct daemon *d)
{
	int stats_fd = d->st.map_fds[CGF_MAP_STATS];
	int reported_fd = d->st.map_fds[CGF_MAP_STATS_REPORTED];
	uint64_t key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(stats_fd, prev, &next) == 0) {
		struct cgf_cgroup_stats now, before = {}, delta;
		struct audit_enrichment en;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(stats_fd, &key, &now))
			continue;
		bpf_map_lookup_elem(reported_fd, &key, &before);
		stats_delta(&now, &before, &delta);
		if (!delta.emitted && !delta.suppressed && !delta.undelivered)
			continue;
		daemon_enrich_cgroup(d->enrich, key, clock_ns(CLOCK_MONOTONIC),
				     &en);
		daemon_metrics_stats(d->metrics, &en, &delta);
		log_batch_commit(&d->log,
				 audit_write_stats(log_batch_room(&d->log),
						   LOG_BATCH_LINE_MAX,
						   clock_ns(CLOCK_REALTIME),
						   key, &en, &now, &delta));
		bpf_map_update_elem(reported_fd, &key, &now, BPF_ANY);
	}
}

static int reopen_log(struct daemon *d)
{
	int fd = daemon_open_log(d->log_path);

	if (fd < 0) {
		log_error("%s: cannot reopen the log: %s", d->log_path,
			  strerror(-fd));
		return fd; /* keep writing to the old file */
	}
	log_batch_flush(&d->log); /* what was gathered goes to the old file */
	if (d->log.fd >= 0)
		close(d->log.fd);
	d->log.fd = fd;
	return 0;
}

static int install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGHUP, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGINT, &sa, NULL) || sigaction(SIGUSR1, &sa, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int daemon_loop(struct daemon *d, struct event_buffers *b)
{
	uint64_t next_stats = clock_ns(CLOCK_MONOTONIC);

	while (!want_stop) {
		int err;

		read_clocks(d);
		err = read_event_buffers(b, POLL_MS);
		log_batch_flush(&d->log);
		if (err < 0) {
			log_error("perf buffer: %s", strerror(-err));
			return err;
		}
		if (want_reopen) {
			want_reopen = 0;
			reopen_log(d);
		}
		if (want_forbidden) {
			want_forbidden = 0;
			if (d->test_forbidden_syscall)
				try_forbidden_syscall();
		}
		if (clock_ns(CLOCK_MONOTONIC) >= next_stats) {
			report_stats(d);
			log_batch_flush(&d->log);
			next_stats = clock_ns(CLOCK_MONOTONIC) +
				     d->stats_interval_s * 1000000000ull;
		}
	}
	/* Drain what is already in the buffers before the final report. */
	read_clocks(d);
	read_event_buffers(b, 0);
	report_stats(d);
	log_batch_flush(&d->log);
	return 0;
}

/* The smallest power-of-two page count that holds `events` events. */
static unsigned int default_buffer_events(void)
{
	int cpus = libbpf_num_possible_cpus();
	unsigned int each;

	if (cpus <= 0)
		return BUFFER_EVENTS_MIN;
	each = DEFAULT_BUFFER_EVENTS_TOTAL / (unsigned int)cpus;
	return each > BUFFER_EVENTS_MIN ? each : BUFFER_EVENTS_MIN;
}

static size_t buffer_pages_for(unsigned int events)
{
	size_t page = sysconf(_SC_PAGESIZE);
	size_t need = ((size_t)events * PERF_RECORD_BYTES + page - 1) / page;
	size_t pages = 1;

	while (pages < need)
		pages *= 2;
	return pages;
}

static void write_daemon_record(struct daemon *d, const char *what)
{
	log_batch_commit(&d->log, audit_write_daemon(log_batch_room(&d->log),
						     LOG_BATCH_LINE_MAX,
						     clock_ns(CLOCK_REALTIME),
						     what, d->log_path));
	log_batch_flush(&d->log);
}

/* Everything the loop needs that may fail; messages written here. */
static int daemon_open_output(struct daemon *d)
{
	int fd, err;

	d->enrich = daemon_enrich_new(&d->st);
	if (!d->enrich) {
		log_error("cannot start: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	fd = daemon_open_log(d->log_path);
	if (fd < 0) {
		log_error("%s: %s%s", d->log_path, strerror(-fd),
			  fd == -ELOOP ? " (refusing to follow a symlink)"
				       : "");
		return fd;
	}
	err = log_batch_init(&d->log, fd, LOG_BATCH_BYTES);
	if (err) {
		close(fd);
		log_error("cannot start: %s", strerror(-err));
	}
	return err;
}

static void daemon_close_output(struct daemon *d)
{
	if (d->log.fd >= 0)
		close(d->log.fd);
	log_batch_free(&d->log);
	daemon_enrich_free(d->enrich);
}

static const char daemon_usage[] =
	"usage: cgfence daemon [--bpffs DIR] [--log FILE] [--stats-interval "
	"SECONDS]\n"
	"                      [--metrics ADDR:PORT] [--metrics-textfile "
	"FILE]\n"
	"                      [--lifecycle-log FILE] [--hookd-stats FILE] "
	"[--seccomp-log]\n"
	"                      [--buffer-events N]\n"
	"Writes denials to the audit log (default " CGF_DEFAULT_AUDIT_LOG ").\n"
	"--buffer-events: how many denials each CPU's perf buffer holds while "
	"the\n"
	"daemon catches up (default: 131072 shared among the CPUs, at least "
	"4096 each;\n"
	"128 bytes an event); beyond, they are counted as undelivered.\n"
	"SIGHUP reopens the log, SIGTERM stops. After setup the daemon holds "
	"no\n"
	"capabilities and runs under a seccomp allow-list; --seccomp-log only "
	"logs\n"
	"syscalls outside it (to diagnose a kernel or libc that needs one "
	"more).\n"
	"Prometheus metrics (off by default):\n"
	"  --metrics ADDR:PORT       serve them at http://ADDR:PORT/metrics "
	"(127.0.0.1:9464,\n"
	"                            [::1]:9464; 0.0.0.0:PORT for every "
	"interface)\n"
	"  --metrics-textfile FILE   write them to FILE for node-exporter's "
	"textfile\n"
	"                            collector (name it *.prom), in one "
	"rename, every\n"
	"                            --stats-interval seconds and when the "
	"daemon stops\n"
	"  --lifecycle-log FILE      where the hook, hookd and reload append "
	"lifecycle\n"
	"                            records, counted as policy changes "
	"(default: --log)\n"
	"  --hookd-stats FILE        hookd's counters file "
	"(default " CGF_DEFAULT_HOOKD_STATS ")\n";

/* The metrics' part of the setup that may need privileges. */
static int metrics_prepare(struct daemon *d, const char *listen,
			   const char *textfile, const char *lifecycle_log,
			   const char *hookd_stats)
{
	struct daemon_metrics_opts o = {
		.listen = listen,
		.textfile = textfile,
		.lifecycle_log = lifecycle_log ? lifecycle_log : d->log_path,
		.hookd_stats = hookd_stats,
		.textfile_interval_s = d->stats_interval_s,
		.cgroup_info_fd = d->st.map_fds[CGF_MAP_CGROUP_INFO],
		.policy_info_fd = d->st.map_fds[CGF_MAP_POLICY_INFO],
	};

	if (!listen && !textfile)
		return 0;
	return daemon_metrics_new(&o, &d->metrics);
}

/*
 * Capabilities first (the metrics' threads start without any), then the
 * threads, then the seccomp filter, which covers every thread.
 */
static int lock_down(struct daemon *d)
{
	int err = privs_drop_capabilities();

	if (err) {
		log_error("cannot drop privileges: %s", strerror(-err));
		return err;
	}
	if (d->metrics) {
		err = daemon_metrics_start(d->metrics);
		if (err)
			return err;
	}
	err = privs_confine(d->metrics ? PRIVS_DAEMON_METRICS : PRIVS_DAEMON,
			    d->seccomp_log);
	if (err)
		log_error("cannot confine the daemon: %s", strerror(-err));
	return err;
}

int cmd_daemon(int argc, char **argv)
{
	unsigned long long n;
	static const struct option opts[] = {
		{"bpffs", required_argument, NULL, 'b'},
		{"log", required_argument, NULL, 'l'},
		{"stats-interval", required_argument, NULL, 's'},
		{"buffer-events", required_argument, NULL, 'B'},
		{"metrics", required_argument, NULL, 'm'},
		{"metrics-textfile", required_argument, NULL, 't'},
		{"lifecycle-log", required_argument, NULL, 'c'},
		{"hookd-stats", required_argument, NULL, 'k'},
		{"seccomp-log", no_argument, NULL, 'L'},
		{"test-forbidden-syscall", no_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{}};
	struct daemon d = {.log_path = CGF_DEFAULT_AUDIT_LOG,
			   .log = {.fd = -1},
			   .buffer_events = 0, /* default_buffer_events() */
			   .stats_interval_s = 10};
	const char *bpffs = CGF_DEFAULT_BPFFS_DIR;
	const char *metrics_listen = NULL, *textfile = NULL;
	const char *lifecycle_log = NULL;
	const char *hookd_stats = CGF_DEFAULT_HOOKD_STATS;
	struct event_buffers eb = {.epoll_fd = -1};
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			bpffs = optarg;
			break;
		case 'l':
			d.log_path = optarg;
			break;
		case 's':
			if (parse_uint(optarg, 1, 86400, &n)) {
				log_error("--stats-interval '%s': expected a "
					  "number of seconds, 1 to 86400",
					  optarg);
				return 2;
			}
			d.stats_interval_s = n;
			break;
		case 'B':
			if (parse_uint(optarg, 1, BUFFER_EVENTS_MAX, &n)) {
				log_error("--buffer-events '%s': expected a "
					  "number of events, 1 to %u",
					  optarg, BUFFER_EVENTS_MAX);
				return 2;
			}
			d.buffer_events = n;
			break;
		case 'm':
			metrics_listen = optarg;
			break;
		case 't':
			textfile = optarg;
			break;
		case 'c':
			lifecycle_log = optarg;
			break;
		case 'k':
			hookd_stats = optarg;
			break;
		case 'L':
			d.seccomp_log = true;
			break;
		case 'T':
			d.test_forbidden_syscall = true;
			break;
		case 'h':
			printf("%s", daemon_usage);
			return 0;
		default:
			fprintf(stderr, "%s", daemon_usage);
			return 2;
		}
	}
	if (optind < argc) {
		log_error("daemon: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (d.log_path[0] != '/') {
		log_error("--log %s: an absolute path is required", d.log_path);
		return 2;
	}
	if (metrics_listen) {
		struct sockaddr_storage addr;
		socklen_t len;
		const char *why;

		/* Before anything is loaded: a typo is told at once. */
		if (metrics_parse_listen(metrics_listen, &addr, &len, &why)) {
			log_error("--metrics '%s': %s", metrics_listen, why);
			return 2;
		}
	}
	if (textfile && textfile[0] != '/') {
		log_error("--metrics-textfile %s: an absolute path is required",
			  textfile);
		return 2;
	}

	/* Privileged setup first: programs, maps, perf buffer, log. */
	err = state_open(&d.st, bpffs, STATE_LOAD, CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (err) {
		log_error("%s: cannot load or open the BPF programs: %s", bpffs,
			  state_error_text(err));
		return 1;
	}
	state_unlock(&d.st);
	err = daemon_open_output(&d);
	if (err)
		goto out;
	err = metrics_prepare(&d, metrics_listen, textfile, lifecycle_log,
			      hookd_stats);
	if (err)
		goto out;
	if (!d.buffer_events)
		d.buffer_events = default_buffer_events();
	err = open_event_buffers(&d, buffer_pages_for(d.buffer_events), &eb);
	if (err) {
		log_error("cannot open the perf buffers (%zu pages a CPU): %s",
			  buffer_pages_for(d.buffer_events), strerror(-err));
		goto out;
	}
	err = install_signals();
	if (!err)
		err = lock_down(&d);
	if (!err) {
		write_daemon_record(&d, "started");
		err = daemon_loop(&d, &eb);
		write_daemon_record(&d, "stopped");
	}
out:
	/* After the last stats report: the textfile's last word has it. */
	daemon_metrics_free(d.metrics);
	close_event_buffers(&eb);
	daemon_close_output(&d);
	state_close(&d.st);
	return err ? 1 : 0;
}
