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
 * wrote (container_record.h) and keeps it (pod_cache below).
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "audit.h"
#include "commands.h"
#include "container_record.h"
#include "daemon.h"
#include "daemon_metrics.h"
#include "hashtab.h"
#include "loader.h"
#include "metrics.h"
#include "privs.h"
#include "util.h"

/*
 * Pods by cgroup id, direct-mapped: a collision only costs a file read.
 * A cgroup id is never reused while the system runs, and a container's
 * annotations never change, so a pod found stays right; "no pod" is
 * asked again after POD_RECHECK_NS (a record written after a denial
 * raced it, or one written by a later apply).
 */
#define POD_CACHE_SLOTS 1024
#define POD_RECHECK_NS	(10 * 1000000000ull)

struct pod_cache_slot {
	uint64_t cgroup_id; /* 0: empty */
	uint64_t checked_ns;
	bool is_pod;
	struct k8s_identity pod;
};

struct daemon {
	struct cgf_state st;
	struct pod_cache_slot *pods;	/* POD_CACHE_SLOTS, or NULL */
	struct daemon_metrics *metrics; /* NULL: no --metrics* */
	const char *log_path;
	int log_fd;
	uint64_t
		unwritten; /* lines lost to write errors since the last report */
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
static uint64_t boot_to_realtime(uint64_t boot_ns)
{
	return clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME) + boot_ns;
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

/* Writes one line; lines that fail are counted and reported later. */
static void daemon_write(struct daemon *d, char *line)
{
	if (!line) {
		d->unwritten++;
		return;
	}
	if (d->unwritten && d->log_fd >= 0) {
		char *note = audit_format_counter(
			clock_ns(CLOCK_REALTIME), "write_errors", "count",
			d->unwritten, "lines the daemon could not write");

		if (note && write_all(d->log_fd, note, strlen(note)) == 0)
			d->unwritten = 0;
		free(note);
	}
	if (d->log_fd < 0 || write_all(d->log_fd, line, strlen(line)))
		d->unwritten++;
	free(line);
}

static const struct k8s_identity *pod_of(struct daemon *d, uint64_t cgroup_id)
{
	struct pod_cache_slot *s;
	uint64_t now;

	if (!d->pods || d->st.run_fd < 0 || !cgroup_id)
		return NULL;
	s = &d->pods[hashtab_hash_u64(cgroup_id) & (POD_CACHE_SLOTS - 1)];
	now = clock_ns(CLOCK_MONOTONIC);
	if (s->cgroup_id != cgroup_id ||
	    (!s->is_pod && now - s->checked_ns >= POD_RECHECK_NS)) {
		s->cgroup_id = cgroup_id;
		s->checked_ns = now;
		s->is_pod = container_record_pod(d->st.run_fd, cgroup_id,
						 &s->pod) == 1;
	}
	return s->is_pod ? &s->pod : NULL;
}

static void enrichment_for(struct daemon *d, uint64_t cgroup_id,
			   uint32_t policy_id, struct cgf_cgroup_info *info,
			   struct cgf_policy_info *pinfo,
			   struct audit_enrichment *en)
{
	memset(en, 0, sizeof(*en));
	if (bpf_map_lookup_elem(d->st.map_fds[CGF_MAP_CGROUP_INFO], &cgroup_id,
				info) == 0) {
		en->container_id = info->container_id;
		en->cgroup_path = info->path;
		en->policy_name = info->policy_name;
	}
	en->kubernetes = pod_of(d, cgroup_id);
	/* The policy that judged, even if the cgroup has moved on since. */
	if (policy_id && bpf_map_lookup_elem(d->st.map_fds[CGF_MAP_POLICY_INFO],
					     &policy_id, pinfo) == 0)
		en->policy_name = pinfo->name;
}

static void on_event(void *ctx, int cpu, void *data, __u32 size)
{
	struct daemon *d = ctx;
	struct cgf_event ev = {};
	struct cgf_cgroup_info info;
	struct cgf_policy_info pinfo;
	struct audit_enrichment en;

	memcpy(&ev, data, size < sizeof(ev) ? size : sizeof(ev));
	if (ev.version != CGF_EVENT_VERSION)
		return;
	enrichment_for(d, ev.cgroup_id, ev.policy_id, &info, &pinfo, &en);
	daemon_metrics_event(d->metrics, &ev, &en);
	daemon_write(
		d, audit_format_event(&ev, boot_to_realtime(ev.time_ns), &en));
}

static void on_lost(void *ctx, int cpu, __u64 count)
{
	struct daemon *d = ctx;

	daemon_metrics_lost(d->metrics, count);
	daemon_write(d,
		     audit_format_counter(clock_ns(CLOCK_REALTIME), "lost",
					  "count", count,
					  "perf buffer overflow; included in "
					  "the cgroups' undelivered counts"));
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
		struct cgf_cgroup_info info;
		struct cgf_policy_info pinfo;
		struct audit_enrichment en;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(stats_fd, &key, &now))
			continue;
		bpf_map_lookup_elem(reported_fd, &key, &before);
		stats_delta(&now, &before, &delta);
		if (!delta.emitted && !delta.suppressed && !delta.undelivered)
			continue;
		enrichment_for(d, key, 0, &info, &pinfo, &en);
		daemon_metrics_stats(d->metrics, &en, &delta);
		daemon_write(d, audit_format_stats(clock_ns(CLOCK_REALTIME),
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
	if (d->log_fd >= 0)
		close(d->log_fd);
	d->log_fd = fd;
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

static int daemon_loop(struct daemon *d, struct perf_buffer *pb)
{
	uint64_t next_stats = clock_ns(CLOCK_MONOTONIC);

	while (!want_stop) {
		int err = perf_buffer__poll(pb, 200);

		if (err < 0 && err != -EINTR) {
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
			next_stats = clock_ns(CLOCK_MONOTONIC) +
				     d->stats_interval_s * 1000000000ull;
		}
	}
	/* Drain what is already in the buffers before the final report. */
	perf_buffer__consume(pb);
	report_stats(d);
	return 0;
}

static const char daemon_usage[] =
	"usage: cgfence daemon [--bpffs DIR] [--log FILE] [--stats-interval "
	"SECONDS]\n"
	"                      [--metrics ADDR:PORT] [--metrics-textfile "
	"FILE]\n"
	"                      [--lifecycle-log FILE] [--hookd-stats FILE] "
	"[--seccomp-log]\n"
	"Writes denials to the audit log (default " CGF_DEFAULT_AUDIT_LOG ").\n"
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
		{"metrics", required_argument, NULL, 'm'},
		{"metrics-textfile", required_argument, NULL, 't'},
		{"lifecycle-log", required_argument, NULL, 'c'},
		{"hookd-stats", required_argument, NULL, 'k'},
		{"seccomp-log", no_argument, NULL, 'L'},
		{"test-forbidden-syscall", no_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{}};
	struct daemon d = {.log_path = CGF_DEFAULT_AUDIT_LOG,
			   .log_fd = -1,
			   .stats_interval_s = 10};
	const char *bpffs = CGF_DEFAULT_BPFFS_DIR;
	const char *metrics_listen = NULL, *textfile = NULL;
	const char *lifecycle_log = NULL;
	const char *hookd_stats = CGF_DEFAULT_HOOKD_STATS;
	struct perf_buffer *pb = NULL;
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
	/* Without it records name no pods: nothing else changes. */
	d.pods = calloc(POD_CACHE_SLOTS, sizeof(*d.pods));
	d.log_fd = daemon_open_log(d.log_path);
	if (d.log_fd < 0) {
		log_error("%s: %s%s", d.log_path, strerror(-d.log_fd),
			  d.log_fd == -ELOOP ? " (refusing to follow a symlink)"
					     : "");
		err = d.log_fd;
		goto out;
	}
	err = metrics_prepare(&d, metrics_listen, textfile, lifecycle_log,
			      hookd_stats);
	if (err)
		goto out;
	pb = perf_buffer__new(d.st.map_fds[CGF_MAP_EVENTS], 64, on_event,
			      on_lost, &d, NULL);
	if (!pb) {
		err = -errno;
		log_error("cannot open the perf buffer: %s", strerror(errno));
		goto out;
	}
	err = install_signals();
	if (!err)
		err = lock_down(&d);
	if (!err) {
		daemon_write(&d, audit_format_daemon(clock_ns(CLOCK_REALTIME),
						     "started", d.log_path));
		err = daemon_loop(&d, pb);
		daemon_write(&d, audit_format_daemon(clock_ns(CLOCK_REALTIME),
						     "stopped", d.log_path));
	}
out:
	/* After the last stats report: the textfile's last word has it. */
	daemon_metrics_free(d.metrics);
	perf_buffer__free(pb);
	if (d.log_fd >= 0)
		close(d.log_fd);
	free(d.pods);
	state_close(&d.st);
	return err ? 1 : 0;
}
