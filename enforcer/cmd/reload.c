// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "attach.h"
#include "cgroup.h"
#include "commands.h"
#include "compile.h"
#include "container_record.h"
#include "lifecycle.h"
#include "loader.h"
#include "policy_dir.h"
#include "policy_store.h"
#include "reload.h"
#include "set_fast.h"
#include "util.h"

struct pass {
	const struct reload_request *rq;
	struct reload_result *res;
	struct cgf_state *st;
	struct policy_set set;
	/* Policy files of `cgfence apply` read in this pass, read once. */
	struct policy_set files;
};

/* The policy of an applied file, read once per pass; why on failure. */
static int applied_file(struct pass *p, const char *path,
			struct policy_selection *sel, char *why, size_t len)
{
	struct policy **bigger, *fp;
	struct diags d = {};
	int err;

	memset(sel, 0, sizeof(*sel));
	for (size_t i = 0; i < p->files.n; i++) {
		if (!strcmp(p->files.policies[i]->path, path)) {
			sel->how = POLICY_BY_FILE;
			sel->policy = policy_ref(p->files.policies[i]);
			return 0;
		}
	}
	err = policy_load_file(path, &fp, &d);
	if (err) {
		snprintf(why, len,
			 "%s does not load (%s): it keeps the "
			 "version it runs",
			 path, d.count ? d.lines[0] : strerror(-err));
		diags_free(&d);
		return err;
	}
	diags_free(&d);
	bigger = realloc(p->files.policies, (p->files.n + 1) * sizeof(*bigger));
	if (!bigger) {
		policy_free(fp);
		return -ENOMEM;
	}
	p->files.policies = bigger;
	p->files.policies[p->files.n++] = fp;
	sel->how = POLICY_BY_FILE;
	sel->policy = policy_ref(fp);
	return 0;
}

static void record(const struct pass *p, struct lifecycle_event *ev)
{
	int err;

	ev->source = p->rq->source;
	ev->policy_dir = p->rq->policy_dir;
	err = lifecycle_record(p->rq->lifecycle_log, ev);
	if (err)
		log_error(
			"warning: cannot write the lifecycle record to %s: %s",
			p->rq->lifecycle_log, strerror(-err));
}

/* Of a container's change: names its pod, if it is one's. */
static void record_for(const struct pass *p, struct lifecycle_event *ev,
		       const struct container_record *r)
{
	struct k8s_identity pod;

	if (k8s_identity_from_annotations(r->annotations, r->nannotations,
					  &pod))
		ev->kubernetes = &pod;
	record(p, ev);
}

/* "DIR/web.json:3:5: message" -> "DIR/web.json". */
static void file_of(const char *line, char *buf, size_t len)
{
	const char *colon = strstr(line, ".json:");

	if (colon)
		snprintf(buf, len, "%.*s", (int)(colon - line + 5), line);
	else
		buf[0] = '\0';
}

static void report_problems(const struct pass *p, int store_fd,
			    const struct diags *problems)
{
	struct diags fresh = {};

	if (store_fd >= 0)
		policy_store_set_errors(store_fd, problems, &fresh);
	for (size_t i = 0; i < fresh.count; i++) {
		struct lifecycle_event ev = {.kind = LIFECYCLE_POLICY_INVALID,
					     .reason = fresh.lines[i]};
		char file[4096];

		file_of(fresh.lines[i], file, sizeof(file));
		ev.file = file[0] ? file : NULL;
		record(p, &ev);
		if (!p->rq->print)
			log_error("%s (the last good version serves)",
				  fresh.lines[i]);
	}
	if (p->rq->print)
		diags_print(problems, stderr);
	diags_free(&fresh);
}

/* The directory's policies now, with the last good versions kept. */
static int resolve(struct pass *p, struct diags *problems)
{
	struct policy_dir dir = {
		.path = p->rq->policy_dir,
		.last_good_fd = -1,
		.cache = p->rq->resident ? p->rq->resident->policies : NULL};
	_cleanup_close_ int store_fd = -1;
	bool adopted = false;
	int err;

	dir.fd = open(p->rq->policy_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir.fd < 0) {
		err = -errno;
		diags_add(problems, p->rq->policy_dir, (struct src_pos){0},
			  "%s", strerror(-err));
		return err;
	}
	if (p->st->run_fd >= 0 &&
	    policy_store_open(p->st->run_fd, p->rq->policy_dir, true,
			      &store_fd) == 0) {
		dir.last_good_fd = policy_store_good_fd(store_fd);
		/* A hook that chose before this pass chooses again. */
		policy_store_bump_generation(store_fd);
	}
	err = policy_set_resolve(&dir, &p->set, problems, &adopted);
	/* A full /run costs the last good versions, not the live change. */
	if (!err && adopted && store_fd >= 0 &&
	    policy_store_save(store_fd, &p->set) < 0)
		log_error("warning: %s: cannot keep its last good versions in "
			  "%s: %s",
			  p->rq->policy_dir, CGF_RUN_DIR, strerror(errno));
	p->res->problems = problems->count;
	report_problems(p, store_fd, problems);
	close(dir.fd);
	if (dir.last_good_fd >= 0)
		close(dir.last_good_fd);
	return err;
}

/* The policy of the tables a cgroup runs has this compiled digest. */
static bool runs_digest(struct cgf_state *st, uint32_t policy_id,
			const uint8_t digest[32])
{
	struct cgf_policy_info info;

	return bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICY_INFO], &policy_id,
				   &info) == 0 &&
	       !memcmp(info.digest, digest, 32);
}

static void keep_version(struct pass *p, struct container_record *r,
			 const struct cgf_cgroup_info *info, const char *why)
{
	struct lifecycle_event ev = {.kind = LIFECYCLE_KEPT,
				     .container_id = r->container_id,
				     .cgroup = r->cgroup,
				     .cgroup_id = r->cgroup_id,
				     .policy = info->policy_name,
				     .policy_id = info->policy_id,
				     .reason = why};
	struct cgf_policy_info pinfo;

	if (bpf_map_lookup_elem(p->st->map_fds[CGF_MAP_POLICY_INFO],
				&info->policy_id, &pinfo) == 0)
		ev.mode = pinfo.mode == CGF_MODE_AUDIT ? "audit" : "enforce";

	p->res->kept++;
	if (r->kept && !strcmp(r->kept, why))
		return; /* said already */
	free(r->kept);
	r->kept = strdup(why);
	container_record_write(p->st->run_fd, r);
	record_for(p, &ev, r);
	if (p->rq->print)
		fprintf(stderr, "%s: keeps policy %s (id %08x): %s\n",
			r->container_id[0] ? r->container_id : r->cgroup,
			info->policy_name, info->policy_id, why);
}

/* A container the pass moves to another policy or version. */
struct pending_swap {
	struct container_record r;
	struct cgf_cgroup_info info;
	struct policy_selection sel;
	const struct compiled_policy *cp;
	char previous_version[13];
};

/* The swap is done (policy_id now runs): records, the record file, stdout. */
static void swapped(struct pass *p, struct pending_swap *w, uint32_t policy_id)
{
	struct container_record *r = &w->r;
	char version[13];
	struct lifecycle_event ev = {
		.kind = LIFECYCLE_CHANGED,
		.container_id = r->container_id,
		.cgroup = r->cgroup,
		.cgroup_id = r->cgroup_id,
		.policy = w->sel.policy->name,
		.policy_id = policy_id,
		.version = version,
		.previous_policy =
			w->info.policy_id ? w->info.policy_name : NULL,
		.previous_policy_id = w->info.policy_id,
		.previous_version = w->previous_version,
		.mode = w->sel.policy->mode == CGF_MODE_AUDIT ? "audit"
							      : "enforce",
		.selected_by = policy_choice_name(w->sel.how)};

	lifecycle_version_text(w->cp->digest, version);
	free(r->policy);
	free(r->selected_by);
	free(r->kept);
	r->kept = NULL;
	r->policy = strdup(w->sel.policy->name);
	r->selected_by = strdup(policy_choice_name(w->sel.how));
	if (r->policy && r->selected_by)
		container_record_write(p->st->run_fd, r);
	set_fast_note(p->st, policy_id, w->sel.policy, p->rq->policy_dir, NULL,
		      w->cp->digest);
	p->res->changed++;
	record_for(p, &ev, r);
	if (p->rq->print)
		printf("%s: %s (id %08x, version %s) -> %s (id %08x, version "
		       "%s)\n",
		       r->container_id[0] ? r->container_id : r->cgroup,
		       w->info.policy_name, w->info.policy_id,
		       w->previous_version, w->sel.policy->name, policy_id,
		       version);
}

static void swap_failed(struct pass *p, struct pending_swap *w, int err)
{
	char why[1024];

	snprintf(why, sizeof(why), "cannot attach policy \"%s\": %s",
		 w->sel.policy->name,
		 err == -ENOPKG ? "it refuses socket families, which only the "
				  "BPF LSM can enforce for this container"
				: fence_error_text(err));
	keep_version(p, &w->r, &w->info, why);
}

static void swap_one(struct pass *p, struct pending_swap *w)
{
	struct fence_request req = {.cgroup_dir = w->r.cgroup,
				    .policy = w->cp,
				    .policy_name = w->sel.policy->name,
				    .container_id = w->r.container_id,
				    .expect_cgroup_id = w->r.cgroup_id};
	struct fence_result res;
	uint64_t start;
	int err = 0;

	if (fence_needs_bpf_lsm(p->st, w->cp)) {
		if (!w->r.without_cap_net_raw)
			err = -ENOPKG;
		req.without_bpf_lsm = true;
	}
	if (!err) {
		start = clock_ns(CLOCK_MONOTONIC);
		err = fence_apply(p->st, &req, &res);
		p->res->kernel_ns += clock_ns(CLOCK_MONOTONIC) - start;
	}
	if (err)
		swap_failed(p, w, err);
	else
		swapped(p, w, res.policy_id);
}

/*
 * The containers that run one policy's tables (ws[0..n), all with the same
 * old policy id) and all move to one new version change those tables in
 * place, once: only what differs is written, however many share them.
 * Otherwise each swaps on its own.
 */
static void swap_group(struct pass *p, struct pending_swap *ws, size_t n)
{
	uint64_t *ids = calloc(n, sizeof(*ids));
	struct tables_change change;
	bool together = ids != NULL, without_cap_net_raw = true;
	uint64_t start;
	int err = -1;

	for (size_t i = 0; together && i < n; i++) {
		together = ws[i].sel.policy == ws[0].sel.policy;
		ids[i] = ws[i].r.cgroup_id;
		without_cap_net_raw &= ws[i].r.without_cap_net_raw;
	}
	if (together && !tables_have_digest(p->st, ws[0].cp->digest)) {
		start = clock_ns(CLOCK_MONOTONIC);
		err = fence_change_shared(p->st, ws[0].info.policy_id, ws[0].cp,
					  ws[0].sel.policy->name, ids, n,
					  without_cap_net_raw, &change);
		/* In place: the kernel's part is from the first write to the
		 * flip; planning and the mirror are user space. */
		p->res->kernel_ns += err ? clock_ns(CLOCK_MONOTONIC) - start
					 : change.kernel_ns;
		p->res->wait_ns += err ? 0 : change.wait_ns;
		if (err)
			log_debug("policy %08x: no change in place for its %zu "
				  "containers (%s); each swaps",
				  ws[0].info.policy_id, n, strerror(-err));
		if (!err) {
			p->res->shared_changes++;
			p->res->lpm_writes += change.lpm_writes;
			p->res->mask_writes += change.mask_writes;
		}
	}
	free(ids);
	for (size_t i = 0; i < n; i++) {
		if (!err)
			swapped(p, &ws[i], ws[i].info.policy_id);
		else
			swap_one(p, &ws[i]);
	}
}

static bool in_set(const struct policy_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->policies[i]->name, name))
			return true;
	return false;
}

/*
 * A container that may still run, and that the pass could not look at:
 * it keeps what it runs, which may no longer be what the directory says,
 * so the pass says so and fails (the next one tries again).
 */
static void cannot_look(struct pass *p, const struct container_record *r,
			const char *what, int err)
{
	p->res->problems++;
	log_error("%s (cgroup id %" PRIu64 "): cannot look at %s: %s: it "
		  "keeps what it runs until a pass reaches it",
		  r->container_id[0] ? r->container_id : r->cgroup,
		  r->cgroup_id, what, strerror(-err));
}

/*
 * One container: what the directory chooses for it now. 1 when it is to
 * move (w filled, the record moved into it), 0 when it stays as it is.
 */
static int choose_again(struct pass *p, struct container_record *r,
			struct pending_swap *w)
{
	struct policy_selection sel;
	struct cgf_cgroup_info info;
	struct cgf_policy_info pinfo;
	const struct compiled_policy *cp;
	char why[2048];
	int err, cgroup_fd;

	bool unconfined = !r->policy;

	memset(&sel, 0, sizeof(sel));
	memset(&info, 0, sizeof(info));
	if (!unconfined &&
	    bpf_map_lookup_elem(p->st->map_fds[CGF_MAP_CGROUP_INFO],
				&r->cgroup_id, &info)) {
		if (errno != ENOENT) {
			cannot_look(p, r, "its fence", -errno);
			return 0;
		}
		/* Not fenced any more: a record left by a crash. */
		container_record_remove(p->st->run_fd, r->cgroup_id);
		return 0;
	}
	err = cgroup_open_by_id(r->cgroup_id, &cgroup_fd);
	/* The cgroup is gone (no poststop ran): gc's business, not ours. */
	if (err == -ENOENT || err == -ESTALE) {
		if (unconfined) /* nothing for gc to find */
			container_record_remove(p->st->run_fd, r->cgroup_id);
		return 0;
	}
	if (err) {
		cannot_look(p, r, "its cgroup", err);
		return 0;
	}
	close(cgroup_fd);
	p->res->containers++;
	/* A container no policy applied to: one may apply now. */
	if (unconfined) {
		err = policy_select_in_set(&p->set, r->annotations,
					   r->nannotations, &sel, why,
					   sizeof(why));
		if (err || sel.how == POLICY_NONE)
			goto stay; /* err: the hook would refuse; it runs */
		if (policy_compiled(sel.policy, &cp))
			goto stay;
		*w = (struct pending_swap){.r = *r, .sel = sel, .cp = cp};
		memset(r, 0, sizeof(*r));
		return 1;
	}
	if (r->policy_file) {
		err = applied_file(p, r->policy_file, &sel, why, sizeof(why));
		if (err) {
			keep_version(p, r, &info, why);
			goto stay;
		}
	} else {
		err = policy_select_in_set(&p->set, r->annotations,
					   r->nannotations, &sel, why,
					   sizeof(why));
	}
	/*
	 * Its policy left the directory (removed, or broken with no last
	 * good version): it keeps what it runs, whatever else the directory
	 * would now choose (default.json, say): an edit that removes a file
	 * for a moment must not weaken a running container.
	 */
	if (!r->policy_file && !in_set(&p->set, info.policy_name)) {
		snprintf(why, sizeof(why),
			 "%s/%s.json was removed or does not validate: the "
			 "container keeps the version it runs",
			 p->rq->policy_dir, info.policy_name);
		keep_version(p, r, &info, why);
		goto stay;
	}
	if (!err && sel.how == POLICY_NONE)
		snprintf(why, sizeof(why),
			 "no policy of %s applies to it any more: it keeps "
			 "the version it runs",
			 p->rq->policy_dir);
	if (err || sel.how == POLICY_NONE) {
		keep_version(p, r, &info, why);
		goto stay;
	}
	err = policy_compiled(sel.policy, &cp);
	if (err) {
		snprintf(why, sizeof(why),
			 "policy \"%s\" cannot be compiled: %s",
			 sel.policy->name, compile_error_text(err));
		keep_version(p, r, &info, why);
		goto stay;
	}
	if (!strcmp(info.policy_name, sel.policy->name) &&
	    (runs_digest(p->st, info.policy_id, cp->digest) ||
	     set_fast_adopt(p->st, info.policy_id, sel.policy,
			    p->rq->policy_dir, r->policy_file, cp->digest))) {
		set_fast_note(p->st, info.policy_id, sel.policy,
			      p->rq->policy_dir, NULL, cp->digest);
		if (r->kept) { /* back in the directory */
			free(r->kept);
			r->kept = NULL;
			container_record_write(p->st->run_fd, r);
		}
		goto stay;
	}
	*w = (struct pending_swap){.r = *r, .info = info, .sel = sel, .cp = cp};
	memset(r, 0, sizeof(*r)); /* w owns it now */
	if (bpf_map_lookup_elem(p->st->map_fds[CGF_MAP_POLICY_INFO],
				&info.policy_id, &pinfo) == 0)
		lifecycle_version_text(pinfo.digest, w->previous_version);
	return 1;
stay:
	policy_free(sel.policy);
	return 0;
}

static int compare_old_policy(const void *a, const void *b)
{
	const struct pending_swap *x = a, *y = b;

	return x->info.policy_id < y->info.policy_id   ? -1
	       : x->info.policy_id > y->info.policy_id ? 1
						       : 0;
}

static void choose_for_containers(struct pass *p)
{
	struct pending_swap *ws = NULL;
	uint64_t *ids = NULL;
	size_t n = 0, nw = 0;
	int err;

	if (p->st->run_fd < 0 || container_record_list(p->st->run_fd, &ids, &n))
		return;
	ws = calloc(n ? n : 1, sizeof(*ws));
	for (size_t i = 0; ws && i < n; i++) {
		struct container_record r;

		err = container_record_read(p->st->run_fd, ids[i], &r);
		if (err) {
			if (err != -ENOENT) /* else removed meanwhile */
				log_error("warning: %s/containers/%" PRIu64
					  ".json: %s: that container no longer "
					  "follows its policy directory",
					  CGF_RUN_DIR, ids[i], strerror(-err));
			continue;
		}
		/* The directory, by whichever path it was fenced from. */
		if (policy_dir_same(r.policy_dir, p->rq->policy_dir))
			nw += choose_again(p, &r, &ws[nw]);
		container_record_free(&r);
	}
	free(ids);
	if (nw)
		qsort(ws, nw, sizeof(*ws), compare_old_policy);
	for (size_t i = 0, j; i < nw; i = j) {
		for (j = i + 1; j < nw; j++)
			if (ws[j].info.policy_id != ws[i].info.policy_id)
				break;
		swap_group(p, &ws[i], j - i);
	}
	for (size_t i = 0; i < nw; i++) {
		policy_free(ws[i].sel.policy);
		container_record_free(&ws[i].r);
	}
	free(ws);
}

/*
 * Containers are recorded: the state may have to be loaded for them (the
 * only ones so far ran unconfined, and a policy now applies).
 */
static bool has_records(const char *bpffs)
{
	_cleanup_close_ int run_fd = -1;
	uint64_t *ids = NULL;
	size_t n = 0;

	/* Without a run directory nothing was recorded: do not make one. */
	run_fd = state_run_dir_find(bpffs);
	if (run_fd < 0 || container_record_list(run_fd, &ids, &n))
		return false;
	free(ids);
	return n > 0;
}

int reload_policy_dir(const struct reload_request *rq,
		      struct reload_result *res)
{
	struct cgf_state own, *st;
	struct pass p = {.rq = rq, .res = res};
	struct diags problems = {};
	uint64_t start = clock_ns(CLOCK_MONOTONIC);
	int err;

	unsigned int lock_ms = rq->lock_timeout_ms
				       ? rq->lock_timeout_ms
				       : CGF_DEFAULT_LOCK_TIMEOUT_MS;

	enum state_open_mode mode =
		has_records(rq->bpffs) ? STATE_LOAD : STATE_EXISTING;

	memset(res, 0, sizeof(*res));
	if (rq->resident)
		err = state_open_kept(&rq->resident->state, &st, rq->bpffs,
				      mode, lock_ms);
	else if (!(err = state_open(&own, rq->bpffs, mode, lock_ms)))
		st = &own;
	if (err)
		return err;
	p.st = st;
	err = resolve(&p, &problems);
	if (!err)
		choose_for_containers(&p);
	policy_set_free(&p.set);
	policy_set_free(&p.files);
	diags_free(&problems);
	if (rq->resident)
		state_put_kept(st);
	else
		state_close(st);
	res->elapsed_ns = clock_ns(CLOCK_MONOTONIC) - start;
	return err;
}

/* No pinned state: no container to change; the directory is still checked. */
static int check_only(const char *policy_dir)
{
	struct policy_dir dir = {.path = policy_dir, .last_good_fd = -1};
	struct policy_set set;
	struct diags problems = {};
	bool adopted;
	int err;

	dir.fd = open(policy_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir.fd < 0) {
		log_error("reload: %s: %s", policy_dir, strerror(errno));
		return 1;
	}
	err = policy_set_resolve(&dir, &set, &problems, &adopted);
	close(dir.fd);
	diags_print(&problems, stderr);
	policy_set_free(&set);
	err = err || problems.count;
	diags_free(&problems);
	return err ? 1 : 0;
}

int cmd_reload(int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy-dir", required_argument, NULL, 'p'},
		{"bpffs", required_argument, NULL, 'b'},
		{"lifecycle-log", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{}};
	static const char usage[] =
		"usage: cgfence reload [--policy-dir DIR] [--bpffs DIR] "
		"[--lifecycle-log FILE]\n"
		"Gives every running container the hook fenced from DIR "
		"(default\n" CGF_DEFAULT_POLICY_DIR
		") what the directory chooses for it now, as hookd does\n"
		"when the directory changes: for hosts without hookd (a "
		"systemd path unit,\n"
		"cron). Prints a line per container whose policy changed. A "
		"file that does\n"
		"not validate changes nothing (its last good version "
		"serves): exit status 1,\n"
		"the problems on stderr.\n";
	struct reload_request rq = {.policy_dir = CGF_DEFAULT_POLICY_DIR,
				    .bpffs = CGF_DEFAULT_BPFFS_DIR,
				    .lifecycle_log = CGF_DEFAULT_LIFECYCLE_LOG,
				    .source = "reload",
				    .print = true};
	struct reload_result res;
	char dir[PATH_MAX];
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			rq.policy_dir = optarg;
			break;
		case 'b':
			rq.bpffs = optarg;
			break;
		case 'l':
			rq.lifecycle_log = optarg;
			break;
		case 'h':
			printf("%s", usage);
			return 0;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (optind < argc) {
		log_error("reload: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (policy_paths_prepare("reload", &rq.policy_dir, rq.bpffs,
				 rq.lifecycle_log, dir, sizeof(dir)))
		return 2;
	err = reload_policy_dir(&rq, &res);
	if (err == -ENOENT && access(rq.policy_dir, F_OK) == 0)
		return check_only(rq.policy_dir);
	if (err) {
		log_error("reload: %s: %s", rq.policy_dir,
			  err == -ENOENT || err == -ENOTDIR
				  ? strerror(-err)
				  : state_error_text(err));
		return 1;
	}
	log_debug("reload: %s: %u containers, %u changed, %u keep their "
		  "version, in %.1f ms (%zu tables in place: %zu trie entries, "
		  "%zu masks written, %.1f us in the kernel)",
		  rq.policy_dir, res.containers, res.changed, res.kept,
		  res.elapsed_ns / 1e6, res.shared_changes, res.lpm_writes,
		  res.mask_writes, res.kernel_ns / 1e3);
	return res.problems ? 1 : 0;
}
