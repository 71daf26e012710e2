// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgfence apply | detach | status | gc: fencing cgroups through pinned state. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/bpf.h>
#include <cjson/cJSON.h>

#include "addr_set.h"
#include "attach.h"
#include "compat.h"
#include "container_record.h"
#include "lsm.h"
#include "policy_store.h"
#include "cgroup.h"
#include "commands.h"
#include "compile.h"
#include "lifecycle.h"
#include "loader.h"
#include "policy.h"
#include "privs.h"
#include "record.h"
#include "recording.h"
#include "set_fast.h"
#include "util.h"

/* How long gc keeps the record of a cgroup gone (cgfence gc --keep-records). */
#define CGF_DEFAULT_KEEP_RECORDS_S (7 * 24 * 3600)

struct fence_opts {
	const char *cgroup;
	const char *policy;
	const char *bpffs;
	const char *container_id;
	const char *lifecycle_log; /* NULL: apply and detach write no record */
	unsigned int event_budget;
	unsigned int record_size;	 /* apply --record-size */
	unsigned long long keep_records; /* gc --keep-records, seconds */
	bool record;
	bool seccomp_log;
	bool json;
	bool without_bpf_lsm;
};

static int parse_fence_opts(int argc, char **argv, struct fence_opts *o,
			    const char *usage)
{
	unsigned long long n;
	static const struct option opts[] = {
		{"cgroup", required_argument, NULL, 'c'},
		{"policy", required_argument, NULL, 'p'},
		{"bpffs", required_argument, NULL, 'b'},
		{"container-id", required_argument, NULL, 'i'},
		{"json", no_argument, NULL, 'j'},
		{"event-budget", required_argument, NULL, 'e'},
		{"seccomp-log", no_argument, NULL, 'L'},
		{"lifecycle-log", required_argument, NULL, 'l'},
		{"without-bpf-lsm", no_argument, NULL, 'W'},
		{"record", no_argument, NULL, 'r'},
		{"record-size", required_argument, NULL, 'R'},
		{"keep-records", required_argument, NULL, 'K'},
		{"help", no_argument, NULL, 'h'},
		{}};
	int c;

	memset(o, 0, sizeof(*o));
	o->bpffs = CGF_DEFAULT_BPFFS_DIR;
	o->keep_records = CGF_DEFAULT_KEEP_RECORDS_S;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->cgroup = optarg;
			break;
		case 'p':
			o->policy = optarg;
			break;
		case 'b':
			o->bpffs = optarg;
			break;
		case 'i':
			o->container_id = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'L':
			o->seccomp_log = true;
			break;
		case 'W':
			o->without_bpf_lsm = true;
			break;
		case 'r':
			o->record = true;
			break;
		case 'R':
			if (parse_uint(optarg, 1, CGF_RECORD_MAX_SIZE, &n)) {
				log_error("--record-size '%s': expected a "
					  "number of entries, 1 to %u",
					  optarg, CGF_RECORD_MAX_SIZE);
				return -1;
			}
			o->record_size = n;
			break;
		case 'K':
			if (parse_uint(optarg, 0, UINT32_MAX, &n)) {
				log_error("--keep-records '%s': expected a "
					  "number of seconds",
					  optarg);
				return -1;
			}
			o->keep_records = n;
			break;
		case 'e':
			if (parse_uint(optarg, 1, UINT32_MAX, &n)) {
				log_error(
					"--event-budget '%s': expected a "
					"number of events per second, 1 to %u",
					optarg, UINT32_MAX);
				return -1;
			}
			o->event_budget = n;
			break;
		case 'l':
			if (optarg[0] != '/') {
				log_error("--lifecycle-log: expected an "
					  "absolute path");
				return -1;
			}
			o->lifecycle_log = optarg;
			break;
		case 'h':
			printf("%s", usage);
			return 1;
		default:
			fprintf(stderr, "%s", usage);
			return -1;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}

static void report_state_error(const char *dir, int err)
{
	if (err != -EEXIST) /* explained already, with the count */
		log_error("%s: %s", dir, state_error_text(err));
}

static void report_cgroup_error(const char *dir, int err)
{
	log_error("%s: %s", dir, fence_error_text(err));
}

int cmd_policy_load_compiled(const char *path, struct policy **p,
			     struct compiled_policy **cp)
{
	static const char record_text[] = RECORDING_POLICY_TEXT;
	struct diags d = {};
	int err = path ? policy_load_file(path, p, &d)
		       : policy_parse("(recording)", record_text,
				      sizeof(record_text) - 1, p, &d);

	if (err) {
		if (d.count)
			diags_print(&d, stderr);
		else
			log_error("%s: %s", path, strerror(-err));
		diags_free(&d);
		return err;
	}
	err = policy_compile(*p, cp);
	if (err) {
		log_error("%s: cannot compile: %s", path ? path : "(recording)",
			  compile_error_text(err));
		policy_free(*p);
		*p = NULL;
	}
	return err;
}

static void record_lifecycle(const char *log_path,
			     const struct lifecycle_event *ev)
{
	int err;

	if (!log_path)
		return;
	err = lifecycle_record(log_path, ev);
	if (err)
		log_error(
			"warning: cannot write the lifecycle record to %s: %s",
			log_path, strerror(-err));
}

/*
 * A record of the cgroup and its policy file, so that an edit of the file
 * or of an address set it names reaches the cgroup (cgfence reload or
 * set, hookd when it watches the directory). Without it, it keeps this
 * version until applied again.
 */
static void
remember_applied(const struct cgf_state *st, const struct fence_opts *o,
		 const struct fence_result *res, const struct policy *p,
		 const struct compiled_policy *cp, bool without_bpf_lsm)
{
	char file[PATH_MAX], dir[PATH_MAX], *slash;
	struct container_record before = {};
	struct container_record r = {
		.container_id =
			(char *)(o->container_id ? o->container_id : ""),
		.cgroup = (char *)o->cgroup,
		.cgroup_id = res->cgroup_id,
		.policy_dir = dir,
		.policy_file = file,
		.policy = p->name,
		.selected_by = "file",
		.without_cap_net_raw = without_bpf_lsm,
	};
	int err;

	/* The path as named, not resolved: its sets are the ones next to it
	 * (policy_load_file()), which a reload must read again. */
	if (st->run_fd < 0 || !o->policy ||
	    path_absolute(o->policy, file, sizeof(file)))
		return;
	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	path_normalize(dir);
	/* A container the hook fenced keeps its annotations: its pod. */
	if (container_record_read(st->run_fd, res->cgroup_id, &before) == 0) {
		r.annotations = before.annotations;
		r.nannotations = before.nannotations;
	}
	err = container_record_write(st->run_fd, &r);
	container_record_free(&before);
	if (err)
		log_debug("%s: no record for policy changes: %s", o->cgroup,
			  strerror(-err));
	else
		set_fast_note(st, res->policy_id, p, dir, file, cp->digest);
}

/* A set p names is not the version p was compiled from any more. */
static bool sets_moved(const struct policy *p)
{
	for (size_t i = 0; i < p->nsets; i++) {
		struct stat st;

		if (stat(p->sets[i]->path, &st) ||
		    !file_version_same(&p->sets[i]->version, &st))
			return true;
	}
	return false;
}

int cmd_apply(int argc, char **argv)
{
	static const char usage[] =
		"usage: cgfence apply --cgroup DIR --policy FILE [--bpffs DIR] "
		"[--container-id ID]\n"
		"                     [--event-budget N]   (denial events per "
		"second, default 200)\n"
		"                     [--lifecycle-log FILE]  (append an "
		"applied/replaced record)\n"
		"                     [--without-bpf-lsm]  (fence even where "
		"no BPF LSM can refuse\n"
		"                                           the address "
		"families the policy refuses)\n"
		"       cgfence apply --cgroup DIR --record [--policy FILE] "
		"[--record-size N] ...\n"
		"                     (record: deny nothing, evaluate FILE in "
		"audit mode, and\n"
		"                     remember every distinct flow and device "
		"access, at most N,\n"
		"                     default %u, for cgfence suggest)\n"
		"Fences a cgroup v2 directory; re-applying swaps the policy "
		"atomically.\n";
	struct compiled_policy *cp = NULL;
	struct policy *p = NULL;
	struct k8s_identity pod = {};
	struct fence_result res;
	struct fence_request req;
	struct fence_opts o;
	struct cgf_state st;
	int err;

	char usage_text[sizeof(usage) + 16];

	snprintf(usage_text, sizeof(usage_text), usage,
		 CGF_RECORD_DEFAULT_SIZE);
	err = parse_fence_opts(argc, argv, &o, usage_text);
	if (err)
		return err > 0 ? 0 : 2;
	if (!o.cgroup || (!o.policy && !o.record)) {
		fprintf(stderr, "%s", usage_text);
		return 2;
	}
	if (o.record_size && !o.record) {
		log_error("--record-size needs --record");
		return 2;
	}
	if (cmd_policy_load_compiled(o.policy, &p, &cp))
		return 1;
	err = state_open(&st, o.bpffs, STATE_LOAD, CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (err) {
		report_state_error(o.bpffs, err);
		goto out;
	}
	/*
	 * A set add that ran between the read and the lock changed every
	 * running policy naming the set, but not this one: read again, under
	 * the lock (as a pass reads), or the cgroup would run the old set.
	 */
	if (sets_moved(p)) {
		compiled_policy_free(cp);
		policy_free(p);
		cp = NULL;
		p = NULL;
		err = cmd_policy_load_compiled(o.policy, &p, &cp);
		if (err) {
			state_close(&st);
			goto out;
		}
	}
	req = (struct fence_request){.cgroup_dir = o.cgroup,
				     .policy = cp,
				     .policy_name = p->name,
				     .container_id = o.container_id,
				     .event_budget = o.event_budget,
				     .without_bpf_lsm = o.without_bpf_lsm,
				     .record = o.record ? FENCE_RECORD_START
							: FENCE_RECORD_STOP,
				     .record_size = o.record_size};
	if (o.without_bpf_lsm && !o.record && fence_needs_bpf_lsm(&st, cp))
		log_error("warning: %s: policy %s refuses packet sockets and "
			  "other address families, but nothing refuses them "
			  "here: the BPF LSM is %s",
			  o.cgroup, p->name, bpf_lsm_describe());
	err = fence_apply(&st, &req, &res);
	if (!err) {
		remember_applied(&st, &o, &res, p, cp, o.without_bpf_lsm);
		container_record_pod(st.run_fd, res.cgroup_id, &pod);
	}
	state_close(&st);
	if (err) {
		report_cgroup_error(o.cgroup, err);
		if (err == -ENOPKG)
			log_error("%s: or fence it anyway, without that part: "
				  "cgfence apply --without-bpf-lsm",
				  o.cgroup);
		goto out;
	}
	/* The BPF work is done: the rest (record, message) needs no privilege. */
	if (privs_lock_down(PRIVS_WRITER, o.seccomp_log))
		log_error("warning: cannot drop privileges after attaching");
	if (res.in_place) {
		char waited[96] = "";

		if (res.change.wait_ns)
			snprintf(waited, sizeof(waited),
				 ", after waiting %.1f ms for readers of the "
				 "previous change",
				 res.change.wait_ns / 1e6);
		printf("%s: changed policy %s in place (%s, policy id %08x, "
		       "generation %u; %zu trie entries and %zu masks written, "
		       "%.1f us in the kernel%s)\n",
		       o.cgroup, p->name,
		       p->mode == CGF_MODE_AUDIT ? "audit" : "enforce",
		       res.policy_id, res.generation, res.change.lpm_writes,
		       res.change.mask_writes, res.change.kernel_ns / 1000.0,
		       waited);
	} else {
		printf("%s: %s policy %s (%s, policy id %08x, generation %u)\n",
		       o.cgroup, res.replaced ? "swapped to" : "fenced with",
		       p->name,
		       res.recording		   ? "recording, audit mode"
		       : p->mode == CGF_MODE_AUDIT ? "audit"
						   : "enforce",
		       res.policy_id, res.generation);
	}
	record_lifecycle(
		o.lifecycle_log,
		&(struct lifecycle_event){
			.kind = res.replaced ? LIFECYCLE_REPLACED
					     : LIFECYCLE_APPLIED,
			.source = "apply",
			.container_id = o.container_id,
			.cgroup = o.cgroup,
			.cgroup_id = res.cgroup_id,
			.policy = p->name,
			.policy_id = res.policy_id,
			.mode = res.recording || p->mode == CGF_MODE_AUDIT
					? "audit"
					: "enforce",
			.kubernetes = pod.pod[0] ? &pod : NULL});
out:
	compiled_policy_free(cp);
	policy_free(p);
	return err ? 1 : 0;
}

int cmd_detach(int argc, char **argv)
{
	static const char usage[] = "usage: cgfence detach --cgroup DIR "
				    "[--bpffs DIR] [--lifecycle-log FILE]\n";
	struct lifecycle_event ev = {.kind = LIFECYCLE_REMOVED,
				     .source = "detach"};
	struct cgf_cgroup_info info;
	struct k8s_identity pod;
	struct fence_opts o;
	struct cgf_state st;
	int err, fd;

	err = parse_fence_opts(argc, argv, &o, usage);
	if (err)
		return err > 0 ? 0 : 2;
	if (!o.cgroup) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	err = state_open(&st, o.bpffs, STATE_EXISTING,
			 CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (err) {
		report_state_error(o.bpffs, err);
		return 1;
	}
	ev.cgroup = o.cgroup;
	if (cgroup_open(o.cgroup, &fd, &ev.cgroup_id) == 0) {
		close(fd);
		if (!bpf_map_lookup_elem(st.map_fds[CGF_MAP_CGROUP_INFO],
					 &ev.cgroup_id, &info)) {
			ev.container_id = info.container_id;
			ev.policy = info.policy_name;
			ev.policy_id = info.policy_id;
		}
		/* Before the detach removes the record. */
		if (container_record_pod(st.run_fd, ev.cgroup_id, &pod))
			ev.kubernetes = &pod;
	}
	err = fence_detach_dir(&st, o.cgroup);
	state_close(&st);
	if (err == -ENOENT) {
		log_error("%s: not fenced by cgfence", o.cgroup);
		return 1;
	}
	if (err) {
		report_cgroup_error(o.cgroup, err);
		return 1;
	}
	printf("%s: detached\n", o.cgroup);
	record_lifecycle(o.lifecycle_log, &ev);
	return 0;
}

static void format_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = ns / 1000000000ull;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "record" for a recorded cgroup (its policy runs in audit mode). */
static const char *mode_name(const struct cgf_state *st, uint64_t cgroup_id,
			     uint32_t policy_id)
{
	struct cgf_cgroup_config cfg;
	struct cgf_policy_info pi;

	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_CGROUP_CFG], &cgroup_id,
				&cfg) == 0 &&
	    cfg.record)
		return "record";

	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICY_INFO], &policy_id,
				&pi))
		return "missing";
	return pi.mode == CGF_MODE_AUDIT ? "audit" : "enforce";
}

/*
 * "ok"; "stale" when the cgroup is gone (gc removes it); "DETACHED" when
 * someone detached cgfence's programs from a live cgroup: the policy is
 * no longer enforced and that must not go unnoticed.
 */
static const char *fence_state(struct cgf_state *st, uint64_t cgroup_id,
			       int *missing)
{
	int fd, err;

	*missing = 0;
	err = cgroup_open_by_id(cgroup_id, &fd);
	if (err == -ESTALE || err == -ENOENT)
		return "stale";
	if (err)
		return "unknown";
	*missing = fence_missing_programs(st, fd);
	close(fd);
	if (*missing < 0)
		return "unknown";
	return *missing ? "DETACHED" : "ok";
}

/* The container keeps a version its policy directory dropped (reload.h). */
static bool keeps_dropped_version(const struct cgf_state *st,
				  uint64_t cgroup_id)
{
	struct container_record r;
	bool kept;

	if (st->run_fd < 0 || container_record_read(st->run_fd, cgroup_id, &r))
		return false;
	kept = r.kept != NULL;
	container_record_free(&r);
	return kept;
}

static void print_dir_problems(const char *policy_dir, const char *errors,
			       void *ctx)
{
	for (const char *line = errors; *line;) {
		const char *end = strchrnul(line, '\n');

		printf("policy directory %s: %.*s (the last good version "
		       "serves)\n",
		       policy_dir, (int)(end - line), line);
		line = *end ? end + 1 : end;
	}
}

int cmd_status(int argc, char **argv)
{
	static const char usage[] =
		"usage: cgfence status [--json] [--bpffs DIR]\n"
		"MODE: enforce, audit, or record (a recorded cgroup, whose "
		"policy runs in audit\n"
		"mode: see cgfence suggest).\n"
		"STATE: ok; kept (its policy file was removed from the policy "
		"directory: it\n"
		"keeps its last version); stale (the cgroup is gone: run "
		"cgfence gc); DETACHED (someone\n"
		"removed cgfence's programs: the policy is NOT enforced; exit "
		"status 1).\n";
	cJSON *list = NULL;
	struct fence_opts o;
	struct cgf_state st;
	uint64_t key, next;
	void *prev = NULL;
	int err, detached = 0;

	err = parse_fence_opts(argc, argv, &o, usage);
	if (err)
		return err > 0 ? 0 : 2;
	err = state_open(&st, o.bpffs, STATE_EXISTING,
			 CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (err == -ENOENT) {
		printf(o.json ? "[]\n" : "no fenced cgroups\n");
		if (!o.json)
			printf("socket families: the BPF LSM is %s (no "
			       "programs loaded yet)\n",
			       bpf_lsm_describe());
		return 0;
	}
	if (err) {
		report_state_error(o.bpffs, err);
		return 1;
	}
	if (o.json)
		list = cJSON_CreateArray();
	else
		printf("%-20s %-24s %-16s %-8s %-8s %-20s %s\n", "CONTAINER",
		       "POD", "POLICY", "MODE", "STATE", "APPLIED", "CGROUP");
	while (bpf_map_get_next_key(st.map_fds[CGF_MAP_CGROUP_INFO], prev,
				    &next) == 0) {
		struct cgf_cgroup_info info;
		struct k8s_identity pod;
		const char *state;
		char when[32],
			pod_text[sizeof(pod.namespace_) + sizeof(pod.pod)];
		int missing;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(st.map_fds[CGF_MAP_CGROUP_INFO], &key,
					&info))
			continue;
		format_time(info.applied_ns, when, sizeof(when));
		state = fence_state(&st, key, &missing);
		if (container_record_pod(st.run_fd, key, &pod))
			snprintf(pod_text, sizeof(pod_text), "%s/%s",
				 pod.namespace_, pod.pod);
		else
			strcpy(pod_text, "-");
		if (!strcmp(state, "ok") && keeps_dropped_version(&st, key))
			state = "kept";
		if (missing > 0) {
			detached++;
			log_error("WARNING: %s (container %s): %d of %d "
				  "cgfence programs were detached by someone "
				  "else; policy %s is NOT enforced",
				  info.path,
				  info.container_id[0] ? info.container_id
						       : "-",
				  missing, state_program_count(&st),
				  info.policy_name);
		}
		if (list) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "container_id",
						info.container_id);
			cJSON_AddStringToObject(o, "cgroup", info.path);
			cJSON_AddNumberToObject(o, "cgroup_id", (double)key);
			k8s_identity_add_json(o, pod.pod[0] ? &pod : NULL);
			cJSON_AddStringToObject(o, "policy", info.policy_name);
			cJSON_AddStringToObject(
				o, "mode", mode_name(&st, key, info.policy_id));
			cJSON_AddStringToObject(o, "state", state);
			cJSON_AddNumberToObject(o, "generation",
						info.generation);
			cJSON_AddStringToObject(o, "applied", when);
			cJSON_AddItemToArray(list, o);
		} else {
			printf("%-20s %-24s %-16s %-8s %-8s %-20s %s\n",
			       info.container_id[0] ? info.container_id : "-",
			       pod_text, info.policy_name,
			       mode_name(&st, key, info.policy_id), state, when,
			       info.path);
		}
	}
	if (!list && st.run_fd >= 0)
		policy_store_visit(st.run_fd, print_dir_problems, NULL);
	if (!list && compat_syscalls_enabled())
		printf("32-bit system calls: on; cgfence's setsockopt program "
		       "does not see them (boot with ia32_emulation=0 to turn "
		       "them off)\n");
	if (!list && state_has_bpf_lsm(&st))
		printf("socket families: fenced by the BPF LSM\n");
	else if (!list)
		printf("socket families: NOT fenced by the BPF LSM, which is "
		       "%s: the hook starts only containers without "
		       "CAP_NET_RAW (no packet sockets); AF_VSOCK and other "
		       "families stay open\n",
		       bpf_lsm_describe());
	state_close(&st);
	if (list) {
		char *text = cJSON_Print(list);

		printf("%s\n", text ? text : "[]");
		free(text);
		cJSON_Delete(list);
	}
	return detached ? 1 : 0;
}

struct gc_context {
	const char *lifecycle_log;
	struct cgf_state *st;
};

static void gc_removed(uint64_t cgroup_id, const struct cgf_cgroup_info *info,
		       const struct k8s_identity *pod, void *opaque)
{
	struct gc_context *ctx = opaque;

	printf("removed %s (cgroup %s, policy %s): the cgroup no longer "
	       "exists\n",
	       info->container_id[0] ? info->container_id : "-", info->path,
	       info->policy_name);
	record_lifecycle(ctx->lifecycle_log,
			 &(struct lifecycle_event){
				 .kind = LIFECYCLE_REMOVED,
				 .source = "gc",
				 .container_id = info->container_id,
				 .cgroup = info->path,
				 .cgroup_id = cgroup_id,
				 .policy = info->policy_name,
				 .policy_id = info->policy_id,
				 .reason = "the cgroup no longer exists",
				 .kubernetes = pod});
}

int cmd_gc(int argc, char **argv)
{
	static const char usage[] =
		"usage: cgfence gc [--bpffs DIR] [--lifecycle-log FILE] "
		"[--keep-records SECONDS]\n"
		"Removes the state of cgroups that no longer exist (a "
		"container whose\n"
		"poststop hook never ran), links without a record, and policy "
		"tables\n"
		"nobody uses. Each removal is appended to the lifecycle log "
		"(default\n" CGF_DEFAULT_LIFECYCLE_LOG ").\n"
		"The records of cgroups gone (apply --record, the "
		"cgfence.record annotation)\n"
		"are kept for cgfence suggest until they stopped recording "
		"SECONDS ago\n"
		"(default 604800, a week).\n";
	struct fence_gc_stats stats;
	struct gc_context ctx;
	int aged;
	struct fence_opts o;
	struct cgf_state st;
	int err;

	err = parse_fence_opts(argc, argv, &o, usage);
	if (err)
		return err > 0 ? 0 : 2;
	err = state_open(&st, o.bpffs, STATE_EXISTING,
			 CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (err == -ENOENT) {
		printf("gc: nothing pinned in %s\n", o.bpffs);
		return 0;
	}
	if (err) {
		report_state_error(o.bpffs, err);
		return 1;
	}
	ctx = (struct gc_context){
		.lifecycle_log = o.lifecycle_log ? o.lifecycle_log
						 : CGF_DEFAULT_LIFECYCLE_LOG,
		.st = &st,
	};
	err = fence_gc(&st, gc_removed, &ctx, &stats);
	/* After the records of gone cgroups: their recordings stop there. */
	aged = err ? 0 : record_gc(&st, o.keep_records);
	state_close(&st);
	if (!err && aged < 0)
		err = aged;
	if (err) {
		log_error("gc: %s: %s", o.bpffs, strerror(-err));
		return 1;
	}
	printf("gc: %u stale cgroup record(s), %u orphan link dir(s), %u "
	       "unused compiled policies, %u reported denial counter(s) "
	       "removed; %u policy reference count(s) corrected\n",
	       stats.records, stats.link_dirs, stats.idle_tables,
	       stats.counters, stats.refcounts);
	if (aged)
		printf("gc: %d record(s) of cgroups gone removed (stopped "
		       "recording %llu s ago or more)\n",
		       aged, o.keep_records);
	return 0;
}
