// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence log: review the audit log. Needs no BPF and no root beyond
 * reading the file. Filters, a table (default), JSON passthrough,
 * --follow, and --summary (the shape of a day at a glance).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "audit_read.h"
#include "commands.h"
#include "daemon.h"
#include "hashtab.h"
#include "policy.h"
#include "util.h"

struct log_filter {
	const char *container;
	const char *policy;
	const char *verdict;
	const char *namespace_, *pod; /* Kubernetes: exact names */
	char since[40], until[40];
	int has_dest;
	int dest_family;
	uint8_t dest_addr[16];
	int dest_prefix;
	int port; /* 0: any */
};

struct counter {
	char *key;
	unsigned long count;
};

/* A growable bag of string counters: an array, indexed by key. */
struct counter_table {
	struct counter *items;
	size_t count, cap;
	struct hashtab index; /* key -> its place in items */
};

struct log_summary {
	struct counter_table by_container, by_dest, by_rule;
	unsigned long denials, audits, suppressed, undelivered, lost;
};

static bool is_counter(const void *ctx, uint32_t id, const void *key)
{
	const struct counter_table *t = ctx;

	return !strcmp(t->items[id].key, key);
}

static int counter_add(struct counter_table *t, const char *key,
		       unsigned long n)
{
	uint64_t hash = hashtab_hash_bytes(key, strlen(key), 0);
	uint32_t id;
	int err;

	if (!t->index.slots) {
		err = hashtab_init(&t->index, 0, is_counter, t);
		if (err)
			return err;
	}
	id = hashtab_find(&t->index, hash, key);
	if (id == HASHTAB_NONE) {
		struct counter c = {.key = strdup(key)};

		if (!c.key)
			return -ENOMEM;
		if (t->count == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			struct counter *items =
				reallocarray(t->items, cap, sizeof(*items));

			if (!items) {
				free(c.key);
				return -ENOMEM;
			}
			t->items = items;
			t->cap = cap;
		}
		err = hashtab_insert(&t->index, hash, t->count);
		if (err) {
			free(c.key);
			return err;
		}
		id = t->count;
		t->items[t->count++] = c;
	}
	t->items[id].count += n;
	return 0;
}

static int by_count_desc(const void *a, const void *b)
{
	const struct counter *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* Sorts the counters by count (the index is spent); returns how many. */
static size_t counter_sorted(struct counter_table *t)
{
	if (t->count) /* qsort(NULL, 0) is undefined */
		qsort(t->items, t->count, sizeof(*t->items), by_count_desc);
	return t->count;
}

static void counter_free(struct counter_table *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->items[i].key);
	free(t->items);
	hashtab_free(&t->index);
}

/* The readers of audit_read.h, under the names this file uses. */
#define str_field	audit_record_str
#define uint_field	audit_record_uint
#define describe_target audit_record_target
#define COUNT_MAX	AUDIT_COUNT_MAX

static int is_denial(const char *type)
{
	return type && (!strcmp(type, "deny") || !strcmp(type, "audit"));
}

/*
 * "2026-11-25", "2026-11-25T13:00:00Z" or a duration ago ("90s", "30m",
 * "2h", "7d"), normalised to the log's own format so that plain string
 * comparison orders them. An --until date or second is inclusive.
 */
static int parse_time_arg(const char *arg, int is_until, char *out, size_t len)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, used = 0, n;
	size_t alen = strlen(arg);
	char unit = alen ? arg[alen - 1] : 0, digits[24];
	unsigned long long amount;
	int mult = unit == 's'	 ? 1
		   : unit == 'm' ? 60
		   : unit == 'h' ? 3600
		   : unit == 'd' ? 86400
				 : 0;

	/* A duration ago: whole units, at most about 100 years. */
	if (mult && alen > 1 && alen < sizeof(digits)) {
		struct timespec now;

		memcpy(digits, arg, alen - 1);
		digits[alen - 1] = '\0';
		if (parse_uint(digits, 0, 3200000000ull / mult, &amount))
			return -EINVAL;
		clock_gettime(CLOCK_REALTIME, &now);
		if (amount * mult > (unsigned long long)now.tv_sec)
			return -EINVAL;
		audit_format_time(((uint64_t)now.tv_sec - amount * mult) *
					  1000000000ull,
				  out, len);
		return 0;
	}
	if (sscanf(arg, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3)
		return -EINVAL;
	if (arg[used] == 'T') {
		n = 0;
		if (sscanf(arg + used, "T%2d:%2d:%2d%n", &h, &mi, &sec, &n) !=
		    3)
			return -EINVAL;
		used += n;
		if (arg[used] == 'Z')
			used++;
		if (arg[used])
			return -EINVAL;
		snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%sZ", y, mo,
			 d, h, mi, sec, is_until ? "999999" : "000000");
		return 0;
	}
	if (arg[used])
		return -EINVAL;
	snprintf(out, len, "%04d-%02d-%02dT%s", y, mo, d,
		 is_until ? "23:59:59.999999Z" : "00:00:00.000000Z");
	return 0;
}

/* The policy language's own parser: the same strict rules as a rule's "to". */
static int parse_cidr_arg(const char *arg, struct log_filter *f, char *why,
			  size_t why_len)
{
	struct policy_cidr c;

	if (policy_parse_cidr(arg, &c, why, why_len))
		return -EINVAL;
	f->dest_family = c.family;
	f->dest_prefix = c.prefixlen;
	memcpy(f->dest_addr, c.addr, sizeof(c.addr));
	f->has_dest = 1;
	return 0;
}

static int addr_in_filter(const char *text, const struct log_filter *f)
{
	uint8_t addr[16];
	int bits = f->dest_prefix;

	if (inet_pton(f->dest_family == 4 ? AF_INET : AF_INET6, text, addr) !=
	    1)
		return 0;
	for (int i = 0; bits > 0; i++, bits -= 8) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((addr[i] & mask) != (f->dest_addr[i] & mask))
			return 0;
	}
	return 1;
}

static int record_matches(const cJSON *rec, const struct log_filter *f)
{
	const char *type = str_field(rec, "type"),
		   *time = str_field(rec, "time");
	const char *s;

	if (f->since[0] && (!time || strcmp(time, f->since) < 0))
		return 0;
	if (f->until[0] && (!time || strcmp(time, f->until) > 0))
		return 0;
	if (f->container) {
		s = str_field(rec, "container_id");
		if (!s || strncmp(s, f->container, strlen(f->container)))
			return 0;
	}
	if (f->policy &&
	    (!(s = str_field(rec, "policy")) || strcmp(s, f->policy)))
		return 0;
	if (f->verdict && (!type || strcmp(type, f->verdict)))
		return 0;
	if (f->namespace_ && ((!(s = audit_record_k8s(rec, "namespace")) ||
			       strcmp(s, f->namespace_))))
		return 0;
	if (f->pod &&
	    (!(s = audit_record_k8s(rec, "pod")) || strcmp(s, f->pod)))
		return 0;
	if (f->has_dest &&
	    (!(s = str_field(rec, "dst")) || !addr_in_filter(s, f)))
		return 0;
	if (f->port && uint_field(rec, "dport", 65535) != (unsigned)f->port)
		return 0;
	return 1;
}

static void print_table_header(void)
{
	printf("%-27s %-7s %-14s %-24s %-14s %-9s %-34s %-18s %s\n", "TIME",
	       "VERDICT", "CONTAINER", "POD", "POLICY", "HOOK", "TARGET",
	       "RULE", "PROCESS");
}

static void print_table_row(const cJSON *rec)
{
	const char *type = str_field(rec, "type") ?: "?";
	const char *container = str_field(rec, "container_id");
	char target[160], process[64] = "", pod[400];

	/* namespace/pod/container: the container column holds its id. */
	audit_record_pod_text(rec, pod, sizeof(pod), true);
	if (!pod[0])
		strcpy(pod, "-");
	if (!strcmp(type, "lifecycle")) {
		printf("%-27s %-7s %-14.12s %-24s %-14s %-9s %s\n",
		       str_field(rec, "time") ?: "",
		       str_field(rec, "event") ?: "?",
		       container ? container : "-", pod,
		       str_field(rec, "policy") ?: "-",
		       str_field(rec, "source") ?: "-",
		       str_field(rec, "cgroup") ?: "");
		return;
	}
	if (!strcmp(type, "stats")) {
		printf("%-27s %-7s %-14.12s %-24s %-14s %-9s emitted %llu, "
		       "suppressed %llu, undelivered %llu\n",
		       str_field(rec, "time") ?: "", type,
		       container ? container : "-", pod,
		       str_field(rec, "policy") ?: "-", "-",
		       uint_field(rec, "emitted", COUNT_MAX),
		       uint_field(rec, "suppressed", COUNT_MAX),
		       uint_field(rec, "undelivered", COUNT_MAX));
		return;
	}
	if (!is_denial(type)) {
		char *text = cJSON_PrintUnformatted(rec);

		printf("%-27s %-7s %s\n", str_field(rec, "time") ?: "", type,
		       text ? text : "");
		free(text);
		return;
	}
	describe_target(rec, target, sizeof(target));
	if (str_field(rec, "comm"))
		snprintf(process, sizeof(process), "%s[%d]",
			 str_field(rec, "comm"),
			 (int)uint_field(rec, "pid", INT32_MAX));
	printf("%-27s %-7s %-14.12s %-24s %-14s %-9s %-34s %-18s %s\n",
	       str_field(rec, "time") ?: "", type, container ? container : "-",
	       pod, str_field(rec, "policy") ?: "-",
	       str_field(rec, "hook") ?: "-", target,
	       str_field(rec, "rule") ?: "-", process);
}

static void summary_add(struct log_summary *s, const cJSON *rec)
{
	const char *type = str_field(rec, "type");
	const char *container = str_field(rec, "container_id");
	const char *cgroup = str_field(rec, "cgroup");
	char who[400], key[600], target[160];

	if (!type)
		return;
	if (!strcmp(type, "stats")) {
		s->suppressed += uint_field(rec, "suppressed", COUNT_MAX);
		s->undelivered += uint_field(rec, "undelivered", COUNT_MAX);
		return;
	}
	if (!strcmp(type, "lost")) {
		s->lost += uint_field(rec, "count", COUNT_MAX);
		return;
	}
	if (!is_denial(type))
		return;
	if (!strcmp(type, "deny"))
		s->denials++;
	else
		s->audits++;
	/* A pod's container by its names, which outlive its id. */
	audit_record_pod_text(rec, who, sizeof(who), true);
	if (!who[0])
		snprintf(who, sizeof(who), "%s",
			 container && container[0] ? container
			 : cgroup		   ? cgroup
						   : "-");
	describe_target(rec, target, sizeof(target));
	counter_add(&s->by_container, who, 1);
	snprintf(key, sizeof(key), "%s\t%s", who, target);
	counter_add(&s->by_dest, key, 1);
	snprintf(key, sizeof(key), "%s %s", str_field(rec, "policy") ?: "-",
		 str_field(rec, "rule") ?: "-");
	counter_add(&s->by_rule, key, 1);
}

static void summary_print(struct log_summary *s)
{
	size_t ncont = counter_sorted(&s->by_container);
	size_t ndest = counter_sorted(&s->by_dest);
	size_t nrule = counter_sorted(&s->by_rule);

	printf("denials: %lu denied, %lu audit-only; %lu suppressed over "
	       "budget, %lu undelivered, %lu lost in buffers\n",
	       s->denials, s->audits, s->suppressed, s->undelivered, s->lost);
	printf("\ntop denied targets per container:\n");
	for (size_t c = 0; c < ncont; c++) {
		const char *who = s->by_container.items[c].key;
		size_t wlen = strlen(who);
		int shown = 0;

		printf("  %s (%lu)\n", who, s->by_container.items[c].count);
		for (size_t d = 0; d < ndest && shown < 5; d++) {
			const char *k = s->by_dest.items[d].key;

			if (strncmp(k, who, wlen) || k[wlen] != '\t')
				continue;
			printf("    %8lu  %s\n", s->by_dest.items[d].count,
			       k + wlen + 1);
			shown++;
		}
	}
	printf("\ndenials per rule:\n");
	for (size_t r = 0; r < nrule; r++)
		printf("  %8lu  %s\n", s->by_rule.items[r].count,
		       s->by_rule.items[r].key);
}

/*
 * A line longer than this is no record (the daemon writes a few hundred
 * bytes): it is skipped and counted, so that memory stays bounded whatever
 * the file holds.
 */
#define LOG_MAX_LINE (64u << 10)

struct log_view {
	struct log_filter filter;
	int json, follow, summary;
	unsigned long bad_lines, long_lines;
	struct log_summary sum;
	char line[LOG_MAX_LINE + 2]; /* a line, its newline and the NUL */
};

static void handle_line(struct log_view *v, char *line, size_t len)
{
	cJSON *rec;

	if (audit_record_read(line, len, &rec)) {
		v->bad_lines++;
		return;
	}
	if (!rec)
		return;
	if (record_matches(rec, &v->filter)) {
		if (v->summary)
			summary_add(&v->sum, rec);
		else if (v->json)
			puts(line);
		else
			print_table_row(rec);
	}
	cJSON_Delete(rec);
}

/*
 * Handles the lines of f up to its end; one longer than LOG_MAX_LINE is
 * read to its newline in pieces of the buffer's size and dropped. As with
 * getline, a last line without its newline yet is handled as it stands.
 */
/*
 * The length of the line fgets just read, up to its newline: a NUL inside
 * it must not hide the rest (audit_record_read refuses such a line). The
 * bytes of the line are cleared afterwards, so that no newline of an
 * earlier line is found past the end of a last line that has none.
 */
static size_t line_length(char *line, size_t size)
{
	char *nl = memchr(line, '\n', size);
	return nl ? (size_t)(nl - line) + 1 : strlen(line);
}

static void forget_line(char *line, size_t len)
{
	memset(line, 0, len);
}

static void read_lines(struct log_view *v, FILE *f)
{
	const size_t size = sizeof(v->line);
	bool too_long = false;
	size_t len;

	for (;;) {
		/* fgets wrote the whole buffer when it put its NUL last. */
		v->line[size - 1] = 1;
		if (!fgets(v->line, size, f))
			break;
		if (!v->line[size - 1] && v->line[size - 2] != '\n') {
			too_long = true;
			forget_line(v->line, size);
			continue;
		}
		len = line_length(v->line, size);
		if (too_long)
			v->long_lines++;
		else
			handle_line(v, v->line, len);
		forget_line(v->line, len);
		too_long = false;
		if (v->follow)
			fflush(stdout);
	}
	if (too_long)
		v->long_lines++;
}

static FILE *open_log(const char *path, int *err)
{
	struct stat st;
	int fd = open_regular_file(path, &st);
	FILE *f;

	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	f = fdopen(fd, "re");
	if (!f) {
		*err = -errno;
		close(fd);
	}
	return f;
}

/* Reads f (path) to the end; with --follow keeps reading across rotations. */
static void view_file(struct log_view *v, const char *path, FILE *f)
{
	struct stat st;
	int err;

	for (;;) {
		read_lines(v, f);
		if (!v->follow)
			break;
		clearerr(f);
		usleep(200 * 1000);
		/* Rotated (new inode) or truncated: start on the new file. */
		if (stat(path, &st) == 0) {
			struct stat cur;

			if (fstat(fileno(f), &cur) == 0 &&
			    (cur.st_ino != st.st_ino ||
			     st.st_size < ftell(f))) {
				FILE *nf = open_log(path, &err);

				if (nf) {
					read_lines(v, f);
					fclose(f);
					f = nf;
				}
			}
		}
	}
	fclose(f);
}

int cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{"container", required_argument, NULL, 'c'},
		{"policy", required_argument, NULL, 'p'},
		{"verdict", required_argument, NULL, 'v'},
		{"namespace", required_argument, NULL, 'n'},
		{"pod", required_argument, NULL, 'o'},
		{"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},
		{"dest", required_argument, NULL, 'd'},
		{"port", required_argument, NULL, 'P'},
		{"json", no_argument, NULL, 'j'},
		{"follow", no_argument, NULL, 'f'},
		{"summary", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{}};
	struct log_view v = {};
	FILE *f;
	const char *path = CGF_DEFAULT_AUDIT_LOG;
	unsigned long long n;
	char why[160];
	int c, err;

	while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			v.filter.container = optarg;
			break;
		case 'p':
			v.filter.policy = optarg;
			break;
		case 'n':
			v.filter.namespace_ = optarg;
			break;
		case 'o':
			v.filter.pod = optarg;
			break;
		case 'v':
			if (strcmp(optarg, "deny") && strcmp(optarg, "audit")) {
				log_error("--verdict: expected deny or audit");
				return 2;
			}
			v.filter.verdict = optarg;
			break;
		case 's':
		case 'u':
			if (parse_time_arg(optarg, c == 'u',
					   c == 's' ? v.filter.since
						    : v.filter.until,
					   sizeof(v.filter.since))) {
				log_error("--%s %s: expected a date "
					  "(2026-11-25), a time "
					  "(2026-11-25T13:00:00Z) or a "
					  "duration ago (30m, 2h, 7d)",
					  c == 's' ? "since" : "until", optarg);
				return 2;
			}
			break;
		case 'd':
			if (parse_cidr_arg(optarg, &v.filter, why,
					   sizeof(why))) {
				log_error("--dest '%s': %s", optarg, why);
				return 2;
			}
			break;
		case 'P':
			if (parse_uint(optarg, 1, 65535, &n)) {
				log_error("--port '%s': expected a port, 1 to "
					  "65535",
					  optarg);
				return 2;
			}
			v.filter.port = n;
			break;
		case 'j':
			v.json = 1;
			break;
		case 'f':
			v.follow = 1;
			break;
		case 'S':
			v.summary = 1;
			break;
		case 'h':
			printf("usage: cgfence log [FILE] [--container ID] "
			       "[--policy NAME] [--verdict deny|audit]\n"
			       "                   [--namespace NS] [--pod "
			       "POD] "
			       "(a Kubernetes pod's records)\n"
			       "                   [--since T] [--until T] "
			       "[--dest CIDR] [--port N]\n"
			       "                   [--json | --summary] "
			       "[--follow]\n"
			       "FILE defaults to %s. T: 2026-11-25, "
			       "2026-11-25T13:00:00Z, or 30m / 2h / 7d ago.\n"
			       "FILE must be a regular file; a line longer "
			       "than %u KiB is skipped.\n",
			       CGF_DEFAULT_AUDIT_LOG, LOG_MAX_LINE >> 10);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc)
		path = argv[optind++];
	if (optind != argc || (v.summary && (v.json || v.follow))) {
		log_error("usage: cgfence log [FILE] [filters] [--json | "
			  "--summary] [--follow]");
		return 2;
	}
	f = open_log(path, &err);
	if (!f) {
		log_error("%s: %s", path, file_error_text(err));
		return 1;
	}
	if (!v.json && !v.summary)
		print_table_header();
	view_file(&v, path, f);
	if (v.summary)
		summary_print(&v.sum);
	if (v.bad_lines)
		log_error("%s: %lu line(s) were not valid JSON records", path,
			  v.bad_lines);
	if (v.long_lines)
		log_error("%s: %lu line(s) longer than %u KiB were skipped",
			  path, v.long_lines, LOG_MAX_LINE >> 10);
	counter_free(&v.sum.by_container);
	counter_free(&v.sum.by_dest);
	counter_free(&v.sum.by_rule);
	return 0;
}
