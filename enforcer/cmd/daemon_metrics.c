// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The daemon's metrics (daemon_metrics.h). Three threads touch them:
 *   the main thread (perf buffer reader)  counts denials, suppressed,
 *                                         undelivered and lost events
 *   the worker                            follows the lifecycle log and
 *                                         counts its records; writes the
 *                                         textfile
 *   libmicrohttpd's thread                renders a scrape
 * Each table has one writer; rendering reads the tables lock-free and the
 * pinned maps and hookd's file directly, so a scrape costs the reader
 * nothing but cache lines.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "daemon_metrics.h"
#include "hashtab.h"
#include "hook_stats.h"
#include "log_tail.h"
#include "metrics.h"
#include "util.h"

/* Distinct label sets kept per family (metrics.h: the rest is overflow). */
#define MAX_DENIAL_SERIES    4096
#define MAX_CGROUP_SERIES    1024
#define MAX_POLICY_SERIES    256
#define MAX_LIFECYCLE_SERIES 16
/* How often the worker reads what the lifecycle log gained. */
#define LIFECYCLE_POLL_MS 500
/* A scrape is small and local: a slow client is cut off. */
#define SCRAPE_TIMEOUT_S       10
#define SCRAPE_CONNECTIONS_MAX 16

/*
 * libmicrohttpd is opened only by a daemon asked to serve: linked, it and
 * GnuTLS (ten libraries) would load with every `cgfence` start, the
 * hook's included (2 ms of CPU each, here).
 */
#define MHD_LIBRARY "libmicrohttpd.so.12"

static struct {
	struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
					   MHD_AcceptPolicyCallback apc,
					   void *apc_cls,
					   MHD_AccessHandlerCallback dh,
					   void *dh_cls, ...);
	void (*stop_daemon)(struct MHD_Daemon *daemon);
	struct MHD_Response *(*create_response_from_buffer)(
		size_t size, void *buffer, enum MHD_ResponseMemoryMode mode);
	enum MHD_Result (*add_response_header)(struct MHD_Response *response,
					       const char *header,
					       const char *content);
	enum MHD_Result (*queue_response)(struct MHD_Connection *connection,
					  unsigned int status_code,
					  struct MHD_Response *response);
	void (*destroy_response)(struct MHD_Response *response);
} mhd;

static int mhd_open(void)
{
	void *lib = dlopen(MHD_LIBRARY, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		log_error("--metrics: cannot load %s: %s (install "
			  "libmicrohttpd12)",
			  MHD_LIBRARY, dlerror());
		return -ENOENT;
	}
	mhd.start_daemon = dlsym(lib, "MHD_start_daemon");
	mhd.stop_daemon = dlsym(lib, "MHD_stop_daemon");
	mhd.create_response_from_buffer =
		dlsym(lib, "MHD_create_response_from_buffer");
	mhd.add_response_header = dlsym(lib, "MHD_add_response_header");
	mhd.queue_response = dlsym(lib, "MHD_queue_response");
	mhd.destroy_response = dlsym(lib, "MHD_destroy_response");
	if (!mhd.start_daemon || !mhd.stop_daemon ||
	    !mhd.create_response_from_buffer || !mhd.add_response_header ||
	    !mhd.queue_response || !mhd.destroy_response) {
		log_error("--metrics: %s lacks a function cgfence needs",
			  MHD_LIBRARY);
		return -ENOENT;
	}
	return 0; /* kept open: the daemon serves until it stops */
}

enum metrics_table_id {
	TABLE_DENIALS,
	TABLE_SUPPRESSED,
	TABLE_UNDELIVERED,
	TABLE_LIFECYCLE,
	TABLE_POLICY_CHANGES,
	TABLE_POLICY_REJECTED,
	TABLE__COUNT,
};

static const struct {
	const char *name;
	size_t max_series;
	const char *help;
} table_defs[TABLE__COUNT] = {
	[TABLE_DENIALS] = {"cgfence_denials_total", MAX_DENIAL_SERIES,
			   "Denials (mode=\"enforce\") and audit-mode would-be "
			   "denials (mode=\"audit\") the daemon received, by "
			   "policy, rule, hook, direction and pod. Those not "
			   "received are in cgfence_events_suppressed_total "
			   "and cgfence_events_undelivered_total."},
	[TABLE_SUPPRESSED] =
		{"cgfence_events_suppressed_total", MAX_CGROUP_SERIES,
		 "Denials not reported one by one: over their "
		 "cgroup's per-second event budget (counted by "
		 "the BPF programs, read every --stats-interval)."},
	[TABLE_UNDELIVERED] = {"cgfence_events_undelivered_total",
			       MAX_CGROUP_SERIES,
			       "Denials whose event could not be delivered: no "
			       "reader, or the perf buffer was full (counted "
			       "by the BPF programs, read every "
			       "--stats-interval)."},
	[TABLE_LIFECYCLE] = {"cgfence_lifecycle_records_total",
			     MAX_LIFECYCLE_SERIES,
			     "Lifecycle records appended to the lifecycle log "
			     "since the daemon started, by event (applied, "
			     "replaced, removed, unconfined, changed, kept, "
			     "policy-invalid)."},
	[TABLE_POLICY_CHANGES] = {"cgfence_policy_changes_total",
				  MAX_POLICY_SERIES,
				  "Running containers moved to a new version "
				  "of a policy by hookd or cgfence reload "
				  "(\"changed\" records), by the new policy."},
	[TABLE_POLICY_REJECTED] = {"cgfence_policy_files_rejected_total",
				   MAX_POLICY_SERIES,
				   "Problems found in policy files that do not "
				   "validate (\"policy-invalid\" records, one "
				   "per problem), by file."},
};

/*
 * The denial series of recent events, by what in the event decides its
 * labels: most events then cost one lookup here instead of building and
 * hashing their label text. A cgroup's pod and a policy id's name do not
 * change (a pod found later for a cgroup is a different key: has_pod).
 */
#define DENIAL_CACHE_SLOTS 256

struct denial_key {
	uint64_t cgroup_id;
	uint32_t policy_id;
	uint32_t rule;
	uint8_t hook, direction, action, has_pod;
	uint32_t pad;
};

_Static_assert(sizeof(struct denial_key) == 24, "no padding: hashed whole");

struct denial_cache_slot {
	struct denial_key key;
	struct metrics_series *series; /* NULL: empty */
};

struct daemon_metrics {
	struct daemon_metrics_opts o;
	int listen_fd;
	int textfile_dir_fd;
	char *textfile_name;
	struct MHD_Daemon *http;
	struct metrics_table tables[TABLE__COUNT];
	_Atomic uint64_t lost;
	struct denial_cache_slot denial_cache[DENIAL_CACHE_SLOTS];
	struct log_tail lifecycle;
	pthread_t worker;
	bool worker_running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping; /* under lock */
};

/* Labels of a denial's or a cgroup's pod: absent for no pod's. */
static void pod_labels(struct metrics_labels *l,
		       const struct audit_enrichment *en)
{
	if (!en || !en->kubernetes)
		return;
	metrics_label(l, "namespace", en->kubernetes->namespace_);
	metrics_label(l, "pod", en->kubernetes->pod);
	metrics_label(l, "container", en->kubernetes->container);
}

void daemon_metrics_event(struct daemon_metrics *m, const struct cgf_event *ev,
			  const struct audit_enrichment *en)
{
	struct denial_key key = {.cgroup_id = ev->cgroup_id,
				 .policy_id = ev->policy_id,
				 .rule = ev->rule,
				 .hook = ev->hook,
				 .direction = ev->direction,
				 .action = ev->action,
				 .has_pod = en->kubernetes != NULL};
	struct denial_cache_slot *slot;
	struct metrics_labels l;
	char rule[64];
	const char *direction = NULL;

	if (!m)
		return;
	slot = &m->denial_cache[hashtab_hash_bytes(&key, sizeof(key), 0) %
				DENIAL_CACHE_SLOTS];
	if (slot->series && !memcmp(&slot->key, &key, sizeof(key))) {
		metrics_series_add(slot->series, 1);
		return;
	}
	audit_rule_text(ev, rule, sizeof(rule));
	if (ev->hook != CGF_HOOK_DEVICE && ev->hook != CGF_HOOK_SOCKET &&
	    ev->hook != CGF_HOOK_SOCKOPT)
		direction =
			ev->direction == CGF_DIR_EGRESS ? "egress" : "ingress";
	metrics_labels_init(&l);
	metrics_label(&l, "policy", en->policy_name);
	metrics_label(&l, "rule", rule);
	metrics_label(&l, "hook", audit_hook_name(ev->hook));
	metrics_label(&l, "direction", direction);
	metrics_label(&l, "mode",
		      ev->action == CGF_ALLOW ? "audit" : "enforce");
	pod_labels(&l, en);
	slot->series = metrics_table_series(&m->tables[TABLE_DENIALS], &l);
	slot->key = key;
	if (slot->series)
		metrics_series_add(slot->series, 1);
	else
		metrics_table_overflow(&m->tables[TABLE_DENIALS], 1);
}

void daemon_metrics_stats(struct daemon_metrics *m,
			  const struct audit_enrichment *en,
			  const struct cgf_cgroup_stats *delta)
{
	struct metrics_labels l;

	if (!m || (!delta->suppressed && !delta->undelivered))
		return;
	metrics_labels_init(&l);
	metrics_label(&l, "policy", en->policy_name);
	pod_labels(&l, en);
	if (delta->suppressed)
		metrics_table_add(&m->tables[TABLE_SUPPRESSED], &l,
				  delta->suppressed);
	if (delta->undelivered)
		metrics_table_add(&m->tables[TABLE_UNDELIVERED], &l,
				  delta->undelivered);
}

void daemon_metrics_lost(struct daemon_metrics *m, uint64_t count)
{
	if (m)
		atomic_fetch_add_explicit(&m->lost, count,
					  memory_order_relaxed);
}

/* One lifecycle record of the log (worker thread). */
static void on_lifecycle_line(char *line, size_t len, void *ctx)
{
	struct daemon_metrics *m = ctx;
	cJSON *rec = cJSON_ParseWithLength(line, len);
	const char *type, *event, *policy, *file;
	struct metrics_labels l;

	if (!rec)
		return;
	type = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(rec, "type"));
	event = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(rec, "event"));
	if (!type || strcmp(type, "lifecycle") || !event)
		goto out;
	metrics_labels_init(&l);
	metrics_label(&l, "event", event);
	metrics_table_add(&m->tables[TABLE_LIFECYCLE], &l, 1);
	if (!strcmp(event, "changed")) {
		policy = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(rec, "policy"));
		metrics_labels_init(&l);
		metrics_label(&l, "policy", policy);
		metrics_table_add(&m->tables[TABLE_POLICY_CHANGES], &l, 1);
	} else if (!strcmp(event, "policy-invalid")) {
		file = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(rec, "file"));
		metrics_labels_init(&l);
		metrics_label(&l, "file", file);
		metrics_table_add(&m->tables[TABLE_POLICY_REJECTED], &l, 1);
	}
out:
	cJSON_Delete(rec);
}

static void follow_lifecycle(struct daemon_metrics *m)
{
	/* cJSON writes the log without spaces: a cheap filter first. */
	log_tail_poll(&m->lifecycle, "\"type\":\"lifecycle\"",
		      on_lifecycle_line, m);
}

/* Fenced cgroups by policy and compiled policies by mode, from the maps. */
static void render_pinned(struct daemon_metrics *m, FILE *out,
			  struct metrics_table *fenced)
{
	uint64_t mode_count[2] = {}, key, *prev = NULL;
	uint32_t pkey, *pprev = NULL;

	while (bpf_map_get_next_key(m->o.cgroup_info_fd, prev, &key) == 0) {
		struct cgf_cgroup_info info;
		struct metrics_labels l;

		prev = &key;
		if (bpf_map_lookup_elem(m->o.cgroup_info_fd, &key, &info))
			continue;
		info.policy_name[sizeof(info.policy_name) - 1] = '\0';
		metrics_labels_init(&l);
		metrics_label(&l, "policy", info.policy_name);
		metrics_table_add(fenced, &l, 1);
	}
	metrics_family(out, fenced->name, "gauge",
		       "Cgroups fenced now, by the policy they run (the pinned "
		       "cgf_cgroup_info map).");
	metrics_table_render(fenced, out);
	while (bpf_map_get_next_key(m->o.policy_info_fd, pprev, &pkey) == 0) {
		struct cgf_policy_info info;

		pprev = &pkey;
		if (bpf_map_lookup_elem(m->o.policy_info_fd, &pkey, &info) == 0)
			mode_count[info.mode == CGF_MODE_AUDIT]++;
	}
	metrics_family(out, "cgfence_policies_loaded", "gauge",
		       "Compiled policies in the kernel now, by mode (policies "
		       "with the same tables share one; the pinned "
		       "cgf_policy_info map).");
	metrics_sample(out, "cgfence_policies_loaded", "mode=\"enforce\"",
		       mode_count[0]);
	metrics_sample(out, "cgfence_policies_loaded", "mode=\"audit\"",
		       mode_count[1]);
}

static void render_hookd(struct daemon_metrics *m, FILE *out)
{
	_cleanup_free_ char *text = NULL;
	struct hook_stats s;
	bool readable = false;
	int line;

	if (read_small_file(m->o.hookd_stats, &text, 1 << 16) == 0 &&
	    hook_stats_parse(text, &s, &line) == 0)
		readable = true;
	hook_stats_render(readable ? &s : NULL, out);
	metrics_family(out, "cgfence_hookd_stats_readable", "gauge",
		       "1 when hookd's counters file (--hookd-stats) was read "
		       "for this scrape; 0: no hookd runs, or it is another "
		       "version.");
	metrics_sample(out, "cgfence_hookd_stats_readable", NULL, readable);
}

/* The whole exposition; caller frees. NULL when out of memory. */
static char *render(struct daemon_metrics *m, size_t *len)
{
	const struct metrics_table *all[TABLE__COUNT + 1];
	struct metrics_table fenced;
	char *text = NULL;
	FILE *out;

	if (metrics_table_init(&fenced, "cgfence_fenced_cgroups",
			       MAX_POLICY_SERIES))
		return NULL;
	out = open_memstream(&text, len);
	if (!out) {
		metrics_table_free(&fenced);
		return NULL;
	}
	for (int i = TABLE_DENIALS; i <= TABLE_UNDELIVERED; i++) {
		metrics_family(out, table_defs[i].name, "counter",
			       table_defs[i].help);
		metrics_table_render(&m->tables[i], out);
	}
	metrics_family(out, "cgfence_events_lost_total", "counter",
		       "Events the perf buffer had no room for, as the daemon "
		       "was told (they are in "
		       "cgfence_events_undelivered_total too).");
	metrics_sample(out, "cgfence_events_lost_total", NULL,
		       atomic_load_explicit(&m->lost, memory_order_relaxed));
	render_pinned(m, out, &fenced);
	for (int i = TABLE_LIFECYCLE; i < TABLE__COUNT; i++) {
		metrics_family(out, table_defs[i].name, "counter",
			       table_defs[i].help);
		metrics_table_render(&m->tables[i], out);
	}
	render_hookd(m, out);
	for (int i = 0; i < TABLE__COUNT; i++)
		all[i] = &m->tables[i];
	all[TABLE__COUNT] = &fenced;
	metrics_render_overflow(out, all, TABLE__COUNT + 1);
	metrics_table_free(&fenced);
	if (fclose(out)) {
		free(text);
		return NULL;
	}
	return text;
}

static enum MHD_Result answer_scrape(void *cls, struct MHD_Connection *conn,
				     const char *url, const char *method,
				     const char *version,
				     const char *upload_data,
				     size_t *upload_data_size, void **req_cls)
{
	static int first_call;
	struct daemon_metrics *m = cls;
	struct MHD_Response *resp;
	unsigned int code = MHD_HTTP_OK;
	enum MHD_Result ret;
	char *body = NULL;
	size_t len = 0;

	/* The first call only announces the request (headers read). */
	if (!*req_cls) {
		*req_cls = &first_call;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics")) {
		code = MHD_HTTP_NOT_FOUND;
	} else {
		body = render(m, &len);
		if (!body)
			code = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	if (code != MHD_HTTP_OK) {
		const char *why = code == MHD_HTTP_NOT_FOUND
					  ? "only /metrics here\n"
				  : code == MHD_HTTP_METHOD_NOT_ALLOWED
					  ? "GET or HEAD\n"
					  : "out of memory\n";

		resp = mhd.create_response_from_buffer(strlen(why), (void *)why,
						       MHD_RESPMEM_PERSISTENT);
	} else {
		resp = mhd.create_response_from_buffer(len, body,
						       MHD_RESPMEM_MUST_FREE);
	}
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				code == MHD_HTTP_OK
					? "text/plain; version=0.0.4; "
					  "charset=utf-8"
					: "text/plain; charset=utf-8");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					"GET, HEAD");
	ret = mhd.queue_response(conn, code, resp);
	mhd.destroy_response(resp);
	return ret;
}

/* The textfile in one rename: node-exporter never reads half of it. */
static void write_textfile(struct daemon_metrics *m)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int err;

	text = render(m, &len);
	err = text ? write_file_at(m->textfile_dir_fd, m->textfile_name, text,
				   len, 0644)
		   : -ENOMEM;
	if (err)
		log_error("--metrics-textfile %s: %s", m->o.textfile,
			  strerror(-err));
}

static void *worker_main(void *arg)
{
	struct daemon_metrics *m = arg;
	uint64_t next_textfile = 0;

	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		struct timespec until;
		uint64_t now;

		pthread_mutex_unlock(&m->lock);
		follow_lifecycle(m);
		now = clock_ns(CLOCK_MONOTONIC);
		if (m->textfile_name && now >= next_textfile) {
			write_textfile(m);
			next_textfile =
				now + m->o.textfile_interval_s * 1000000000ull;
		}
		pthread_mutex_lock(&m->lock);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += LIFECYCLE_POLL_MS * 1000000l;
		until.tv_sec += until.tv_nsec / 1000000000l;
		until.tv_nsec %= 1000000000l;
		if (!m->stopping)
			pthread_cond_timedwait(&m->wake, &m->lock, &until);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static int listen_socket(const char *text)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	const char *why;
	int fd, one = 1, err;

	if (metrics_parse_listen(text, &addr, &addr_len, &why)) {
		log_error("--metrics '%s': %s", text, why);
		return -EINVAL;
	}
	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		err = -errno;
		log_error("--metrics %s: %s", text, strerror(errno));
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr.ss_family == AF_INET6) /* [::] means IPv6 only */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, addr_len) ||
	    listen(fd, SCRAPE_CONNECTIONS_MAX)) {
		err = -errno;
		log_error("--metrics %s: cannot listen: %s", text,
			  strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

/* The directory of the textfile, held open: renames happen in it. */
static int textfile_dir(struct daemon_metrics *m)
{
	const char *path = m->o.textfile, *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = NULL;

	if (path[0] != '/' || !slash[1]) {
		log_error("--metrics-textfile %s: an absolute path to a file "
			  "is required",
			  path);
		return -EINVAL;
	}
	dir = slash == path ? strdup("/") : strndup(path, slash - path);
	m->textfile_name = strdup(slash + 1);
	if (!dir || !m->textfile_name)
		return -ENOMEM;
	m->textfile_dir_fd =
		open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (m->textfile_dir_fd < 0) {
		log_error("--metrics-textfile %s: %s: %s", path, dir,
			  strerror(errno));
		return -errno;
	}
	return 0;
}

int daemon_metrics_new(const struct daemon_metrics_opts *o,
		       struct daemon_metrics **out)
{
	struct daemon_metrics *m = calloc(1, sizeof(*m));
	int err = 0;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->o = *o;
	m->listen_fd = m->textfile_dir_fd = -1;
	m->lifecycle.fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&m->wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	for (int i = 0; i < TABLE__COUNT && !err; i++)
		err = metrics_table_init(&m->tables[i], table_defs[i].name,
					 table_defs[i].max_series);
	if (!err)
		err = log_tail_open(&m->lifecycle, o->lifecycle_log);
	if (err)
		log_error("metrics: %s", strerror(-err));
	if (!err && o->listen)
		err = mhd_open();
	if (!err && o->listen) {
		m->listen_fd = listen_socket(o->listen);
		if (m->listen_fd < 0)
			err = m->listen_fd;
	}
	if (!err && o->textfile)
		err = textfile_dir(m);
	if (err) {
		daemon_metrics_free(m);
		return err;
	}
	*out = m;
	return 0;
}

int daemon_metrics_start(struct daemon_metrics *m)
{
	sigset_t all, old;
	int err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (m->listen_fd >= 0) {
		/*
		 * One internal thread (epoll) serves every scrape: no thread
		 * is started after this, which the seccomp filter forbids.
		 */
		m->http = mhd.start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				MHD_USE_ERROR_LOG,
			0, NULL, NULL, answer_scrape, m,
			MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
			MHD_OPTION_CONNECTION_LIMIT,
			(unsigned int)SCRAPE_CONNECTIONS_MAX,
			MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned int)SCRAPE_TIMEOUT_S, MHD_OPTION_END);
		if (!m->http) {
			log_error("--metrics %s: cannot start the HTTP server",
				  m->o.listen);
			err = -EIO;
		} else {
			m->listen_fd = -1; /* the server's now */
		}
	}
	if (!err) {
		err = -pthread_create(&m->worker, NULL, worker_main, m);
		if (err)
			log_error("metrics: cannot start a thread: %s",
				  strerror(-err));
		m->worker_running = !err;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

void daemon_metrics_free(struct daemon_metrics *m)
{
	if (!m)
		return;
	if (m->worker_running) {
		pthread_mutex_lock(&m->lock);
		m->stopping = true;
		pthread_cond_signal(&m->wake);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->worker, NULL);
		/* What came last, then the file as the daemon leaves it. */
		follow_lifecycle(m);
		if (m->textfile_name)
			write_textfile(m);
	}
	if (m->http)
		mhd.stop_daemon(m->http);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->textfile_dir_fd >= 0)
		close(m->textfile_dir_fd);
	free(m->textfile_name);
	log_tail_close(&m->lifecycle);
	for (int i = 0; i < TABLE__COUNT; i++)
		metrics_table_free(&m->tables[i]);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
