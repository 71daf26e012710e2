// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence hook: the OCI runtime hook. OCI state on stdin -> cgroup ->
 * policy selection -> attach (createRuntime, prestart), or detach
 * (poststop).
 *
 * A runtime runs hooks as root with whatever environment and working
 * directory it has, so the hook trusts neither: the environment is
 * cleared, every path must be absolute, nothing is executed, every fd is
 * O_CLOEXEC. It fails closed: when a container cannot get its policy the
 * hook exits non-zero with one line on stderr and leaves nothing behind,
 * and the runtime does not start the container. The whole run, including
 * waiting for the state lock, is bounded by --timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/bpf.h>

#include "attach.h"
#include "cgroup.h"
#include "commands.h"
#include "compile.h"
#include "container_record.h"
#include "hook.h"
#include "lsm.h"
#include "lifecycle.h"
#include "loader.h"
#include "oci_state.h"
#include "policy_dir.h"
#include "policy_store.h"
#include "privs.h"
#include "recording.h"
#include "util.h"

#define HOOK_DEFAULT_TIMEOUT_S 10

enum hook_stage {
	STAGE_FROM_STATUS,
	STAGE_CREATE, /* createRuntime, or prestart (its legacy name) */
	STAGE_POSTSTOP,
};

struct hook_opts {
	const char *policy_dir; /* normalized: records name it (util.h) */
	char policy_dir_buf[PATH_MAX];
	const char *bpffs;
	const char *lifecycle_log;
	unsigned int timeout_s;
	enum hook_stage stage;
	bool seccomp_log;
	/* The runtime's process (the hook itself, or hookd's client). */
	pid_t runtime_pid;
	/* Run inside `cgfence hookd`: no alarm, no privilege drop. */
	struct hook_resident *resident;
	/* The whole run ends by then (CLOCK_MONOTONIC). */
	struct timespec deadline;
	/* hookd: answers the runtime now (poststop; see hook.h). */
	void (*answer_early)(void *ctx);
	void *answer_ctx;
	/* hookd: what createRuntime fenced, in case the runtime is gone. */
	struct hook_applied *applied;
};

/* Written by the alarm handler with write(2): prepared in advance. */
static char alarm_message[256] = "cgfence: hook: timed out\n";

static void on_alarm(int sig)
{
	ssize_t ignored =
		write(STDERR_FILENO, alarm_message, strlen(alarm_message));

	(void)ignored;
	_exit(1); /* the state lock dies with the process */
}

static void set_deadline(struct hook_opts *o)
{
	clock_gettime(CLOCK_MONOTONIC, &o->deadline);
	o->deadline.tv_sec += o->timeout_s;
}

static void arm_deadline(struct hook_opts *o)
{
	struct sigaction sa = {.sa_handler = on_alarm};

	set_deadline(o);
	snprintf(alarm_message, sizeof(alarm_message),
		 "cgfence: hook: timed out after %u s\n", o->timeout_s);
	sigaction(SIGALRM, &sa, NULL);
	alarm(o->timeout_s);
}

static long remaining_ms(const struct hook_opts *o)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (o->deadline.tv_sec - now.tv_sec) * 1000 +
	     (o->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

static int parse_hook_opts(int argc, char **argv, struct hook_opts *o)
{
	static const struct option opts[] = {
		{"policy-dir", required_argument, NULL, 'p'},
		{"bpffs", required_argument, NULL, 'b'},
		{"lifecycle-log", required_argument, NULL, 'l'},
		{"timeout", required_argument, NULL, 't'},
		{"seccomp-log", no_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{}};
	static const char usage[] =
		"usage: cgfence hook [--policy-dir DIR] [--bpffs DIR] "
		"[--lifecycle-log FILE]\n"
		"                    [--timeout SECONDS] [--seccomp-log] "
		"[createRuntime|prestart|poststop]\n"
		"OCI runtime hook: reads the container state on stdin. The "
		"stage comes from\n"
		"the argument, or else from the state's status (creating, "
		"stopped).\n"
		"Once its BPF work is done it drops all capabilities and "
		"confines its\n"
		"syscalls; --seccomp-log logs instead of killing on a syscall "
		"outside the list.\n";
	unsigned long long n;
	int c;

	optind = 0; /* hookd parses one request after another */
	*o = (struct hook_opts){.policy_dir = CGF_DEFAULT_POLICY_DIR,
				.bpffs = CGF_DEFAULT_BPFFS_DIR,
				.lifecycle_log = CGF_DEFAULT_LIFECYCLE_LOG,
				.timeout_s = HOOK_DEFAULT_TIMEOUT_S};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->policy_dir = optarg;
			break;
		case 'b':
			o->bpffs = optarg;
			break;
		case 'l':
			o->lifecycle_log = optarg;
			break;
		case 't':
			if (parse_uint(optarg, 1, 3600, &n)) {
				log_error("hook: --timeout '%s': expected 1 to "
					  "3600 seconds",
					  optarg);
				return -1;
			}
			o->timeout_s = n;
			break;
		case 'L':
			o->seccomp_log = true;
			break;
		case 'h':
			printf("%s", usage);
			return 1;
		default:
			fprintf(stderr, "%s", usage);
			return -1;
		}
	}
	if (optind < argc) {
		const char *s = argv[optind++];

		if (!strcmp(s, "createRuntime") || !strcmp(s, "prestart")) {
			o->stage = STAGE_CREATE;
		} else if (!strcmp(s, "poststop")) {
			o->stage = STAGE_POSTSTOP;
		} else {
			log_error("hook: unsupported stage '%s' "
				  "(createRuntime, prestart or poststop)",
				  s);
			return -1;
		}
	}
	if (optind < argc) {
		log_error("hook: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (policy_paths_prepare("hook", &o->policy_dir, o->bpffs,
				 o->lifecycle_log, o->policy_dir_buf,
				 sizeof(o->policy_dir_buf)))
		return -1;
	return 0;
}

/*
 * Reads the state from stdin: at most OCI_STATE_MAX_SIZE, and finished
 * a little before the deadline so that the error is the precise one.
 */
/* Before each read of the state: at most 90 % of the time left. */
static int wait_for_state(int fd, const void *opts)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, (int)(remaining_ms(opts) * 9 / 10));
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r == 0 ? -ETIMEDOUT : 0;
}

static int read_state_input(const struct hook_opts *o, char **out,
			    size_t *out_len)
{
	struct bounded_read how = {.max = OCI_STATE_MAX_SIZE,
				   .wait = wait_for_state,
				   .wait_ctx = o};

	return read_fd_bounded(STDIN_FILENO, &how, out, out_len);
}

static const char *mode_text(uint32_t mode)
{
	return mode == CGF_MODE_AUDIT ? "audit" : "enforce";
}

static void record(const struct hook_opts *o, const struct lifecycle_event *ev)
{
	int err = lifecycle_record(o->lifecycle_log, ev);

	if (err)
		log_error("warning: container %s: cannot write the lifecycle "
			  "record to %s: %s",
			  ev->container_id, o->lifecycle_log, strerror(-err));
}

/*
 * The container's own cgroup: not the root, not the runtime's cgroup. Only
 * paths here: fence_apply() opens the directory (and refuses the root too).
 */
/*
 * Without the BPF LSM nothing refuses packet sockets (AF_PACKET, AF_XDP)
 * to a fenced process but the kernel's own check for CAP_NET_RAW: the
 * fence holds only for a container that can never hold it. (Families that
 * need no capability, AF_VSOCK among them, stay open: README, "What the
 * fence covers".) 0 when the container may start.
 */
static int families_fenced_without_lsm(const struct oci_state *s,
				       const char *policy_name)
{
	char why[512];
	int held = oci_config_may_hold_cap(s->bundle, "CAP_NET_RAW", why,
					   sizeof(why));

	if (held == 0)
		return 0;
	if (held < 0) {
		log_error("container %s: policy \"%s\" refuses packet sockets, "
			  "which only the BPF LSM (%s) or a container without "
			  "CAP_NET_RAW can enforce, and the container's "
			  "capabilities cannot be read: %s",
			  s->id, policy_name, bpf_lsm_describe(), why);
		return held;
	}
	log_error("container %s: policy \"%s\" refuses packet sockets "
		  "(sockets.families), which only the BPF LSM can enforce for "
		  "a container holding CAP_NET_RAW, and the BPF LSM is %s: not "
		  "starting it (drop the capability, e.g. --cap-drop NET_RAW, "
		  "or allow the families in the policy)",
		  s->id, policy_name, bpf_lsm_describe());
	return -ENOPKG;
}

static int container_cgroup(const struct hook_opts *o,
			    const struct oci_state *s, char *dir, size_t len)
{
	char mine[4096], root[4096];
	int err;

	if (s->pid <= 0) {
		log_error("container %s: the state has no pid", s->id);
		return -EINVAL;
	}
	err = cgroup_resolve_from_pid(s->pid, dir, len);
	if (err) {
		log_error("container %s: cannot find the cgroup v2 directory "
			  "of pid %d: %s",
			  s->id, (int)s->pid, strerror(-err));
		return err;
	}
	/* The resolved path is the cgroup2 mount itself for the root cgroup. */
	if (cgroup2_mount_find(root, sizeof(root)) == 0 && !strcmp(dir, root)) {
		log_error("container %s: pid %d is in the root cgroup; "
			  "refusing to fence it (the runtime created no cgroup "
			  "for the container)",
			  s->id, (int)s->pid);
		return -EPERM;
	}
	if (cgroup_resolve_from_pid(o->runtime_pid, mine, sizeof(mine)) == 0 &&
	    !strcmp(mine, dir)) {
		log_error("container %s: pid %d shares the runtime's cgroup "
			  "%s; refusing to fence it",
			  s->id, (int)s->pid, dir);
		return -EPERM;
	}
	return 0;
}

/* hookd keeps the pinned state open from one container to the next. */
static int hook_state_open(const struct hook_opts *o, struct cgf_state **st,
			   enum state_open_mode mode, long lock_ms)
{
	static struct cgf_state own;
	int err;

	if (o->resident)
		return state_open_kept(&o->resident->state, st, o->bpffs, mode,
				       lock_ms);
	err = state_open(&own, o->bpffs, mode, lock_ms);
	if (!err)
		*st = &own;
	return err;
}

static void hook_state_close(const struct hook_opts *o, struct cgf_state *st)
{
	if (o->resident)
		state_put_kept(st);
	else
		state_close(st);
}

/*
 * The BPF work is done: what is left (records, messages, exit) needs no
 * privilege. A failure here is reported; the fence itself is in place.
 */
static void lock_down(const struct hook_opts *o, const char *container_id)
{
	int err;

	/* hookd keeps the capabilities it needs for the next container. */
	if (o->resident)
		return;
	err = privs_lock_down(PRIVS_WRITER, o->seccomp_log);
	if (err)
		log_error("warning: container %s: cannot drop privileges: %s",
			  container_id, strerror(-err));
}

/*
 * What a later change of the policy directory needs to choose again for
 * the container (container_record.h). Without it the container keeps its
 * policy until it restarts.
 */
static void remember_container(const struct hook_opts *o,
			       const struct cgf_state *st,
			       const struct oci_state *s, const char *cgdir,
			       uint64_t cgroup_id,
			       const struct policy_selection *sel,
			       bool without_cap_net_raw)
{
	struct container_record r = {
		.container_id = s->id,
		.cgroup = (char *)cgdir,
		.cgroup_id = cgroup_id,
		.policy_dir = (char *)o->policy_dir,
		.annotations = s->annotations,
		.nannotations = s->nannotations,
		.policy = sel->policy->name,
		.selected_by = (char *)policy_choice_name(sel->how),
		.without_cap_net_raw = without_cap_net_raw,
	};
	int err = st->run_fd >= 0 ? container_record_write(st->run_fd, &r)
				  : -ENOENT;

	if (err)
		log_error("warning: container %s: cannot record it for policy "
			  "changes (%s/containers): %s; it keeps this policy "
			  "until it restarts",
			  s->id, CGF_RUN_DIR, strerror(-err));
}

/* The directory, with the last good versions kept for it, if any. */
static void close_policy_dir(struct policy_dir *dir);

static int open_policy_dir(const struct hook_opts *o, struct policy_dir *dir,
			   int *store_fd)
{
	_cleanup_close_ int run_fd = -1;

	*dir = (struct policy_dir){.path = o->policy_dir,
				   .last_good_fd = -1,
				   .cache = o->resident ? o->resident->policies
							: NULL};
	*store_fd = -1;
	dir->fd = open(o->policy_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir->fd < 0)
		return -errno;
	run_fd = state_run_dir_find(o->bpffs);
	if (run_fd >= 0 &&
	    policy_store_open(run_fd, o->policy_dir, true, store_fd) == 0)
		dir->last_good_fd = policy_store_good_fd(*store_fd);
	return 0;
}

/*
 * The first container of a directory keeps its versions as the last good
 * ones (a pass does it afterwards): without them a file that breaks
 * later would have nothing to fall back to.
 */
static void keep_first_versions(const struct policy_dir *dir, int store_fd)
{
	struct policy_set set;
	struct diags ignored = {};
	bool adopted = false;

	if (store_fd < 0 || dir->last_good_fd >= 0)
		return;
	if (policy_set_resolve(dir, &set, &ignored, &adopted) == 0 && adopted &&
	    !ignored.count)
		policy_store_save(store_fd, &set);
	policy_set_free(&set);
	diags_free(&ignored);
}

/*
 * What the directory chooses for the container, compiled; *generation:
 * the passes over the directory so far (policy_store.h). Logs why not.
 */
static int choose_policy(const struct hook_opts *o, const struct oci_state *s,
			 struct policy_selection *sel,
			 const struct compiled_policy **cp,
			 uint64_t *generation)
{
	struct policy_dir dir;
	char why[2048];
	int store_fd, err;

	*cp = NULL;
	memset(sel, 0, sizeof(*sel));
	err = open_policy_dir(o, &dir, &store_fd);
	if (err) {
		log_error(
			"container %s: cannot open the policy directory %s: %s",
			s->id, o->policy_dir, strerror(-err));
		return err;
	}
	*generation = policy_store_generation(store_fd);
	err = policy_select(&dir, s->annotations, s->nannotations, sel, why,
			    sizeof(why));
	if (err) {
		log_error("container %s: %s", s->id, why);
		goto out;
	}
	keep_first_versions(&dir, store_fd);
	if (sel->last_good)
		log_error("warning: container %s: %s/%s.json does not "
			  "validate; its last good version applies",
			  s->id, o->policy_dir, sel->policy->name);
	if (sel->how != POLICY_NONE && (err = policy_compiled(sel->policy, cp)))
		log_error("container %s: policy \"%s\" cannot be compiled: %s",
			  s->id, sel->policy->name, compile_error_text(err));
out:
	close_policy_dir(&dir);
	if (store_fd >= 0)
		close(store_fd);
	return err;
}

/*
 * The annotation cgfence.record: "true" records the container (and runs
 * the policy chosen for it, if any, in audit mode). Any other value but
 * "false" is refused: the container starts with what was meant or not at
 * all. 1: record, 0: not, -EINVAL.
 */
static int record_requested(const struct oci_state *s)
{
	const char *v = oci_state_annotation(s, RECORDING_ANNOTATION);

	if (!v || !strcmp(v, "false"))
		return 0;
	if (!strcmp(v, "true"))
		return 1;
	log_error("container %s: annotation %s: \"%.64s\": expected \"true\" "
		  "or \"false\"",
		  s->id, RECORDING_ANNOTATION, v);
	return -EINVAL;
}

/*
 * A recorded container no policy selects runs the recording policy
 * (recording.h); its choice stays POLICY_NONE, so that a policy added
 * later reaches it as it reaches every unconfined container.
 */
static int choose_recording_policy(const struct oci_state *s,
				   struct policy_selection *sel,
				   const struct compiled_policy **cp)
{
	static const char text[] = RECORDING_POLICY_TEXT;
	struct diags d = {};
	int err;

	err = policy_parse("(recording)", text, sizeof(text) - 1, &sel->policy,
			   &d);
	diags_free(&d);
	if (!err)
		err = policy_compiled(sel->policy, cp);
	if (err)
		log_error("container %s: the recording policy: %s", s->id,
			  strerror(-err));
	return err;
}

/*
 * Whoever writes a container's annotations (a pod's author) must not be
 * able to turn off the fence an admin chose: the annotation records a
 * container no policy selects, or one whose policy is in audit mode. An
 * enforcing policy stays enforcing, and the container is not recorded
 * (root can still record it: apply --record).
 */
static void record_under_enforcing_refused(const struct oci_state *s,
					   const struct policy_selection *sel,
					   int *record)
{
	if (!*record || sel->how == POLICY_NONE ||
	    sel->policy->mode == CGF_MODE_AUDIT)
		return;
	log_error("container %s: warning: annotation %s ignored: policy "
		  "\"%s\" enforces, and an annotation never turns it into "
		  "audit mode; record under a policy with \"mode\": "
		  "\"audit\", or with cgfence apply --record",
		  s->id, RECORDING_ANNOTATION, sel->policy->name);
	*record = 0;
}

/* The choice, and the recording policy where recording and none applies. */
static int choose_for_container(const struct hook_opts *o,
				const struct oci_state *s, int *record,
				struct policy_selection *sel,
				const struct compiled_policy **cp,
				uint64_t *generation)
{
	int err = choose_policy(o, s, sel, cp, generation);

	if (!err)
		record_under_enforcing_refused(s, sel, record);
	if (!err && *record && sel->how == POLICY_NONE)
		err = choose_recording_policy(s, sel, cp);
	return err;
}

/* A pass ran since the choice was made: the directory may say otherwise. */
static bool passes_since(const struct hook_opts *o, const struct cgf_state *st,
			 uint64_t generation)
{
	_cleanup_close_ int store_fd = -1;

	if (st->run_fd < 0 ||
	    policy_store_open(st->run_fd, o->policy_dir, false, &store_fd))
		return false;
	return policy_store_generation(store_fd) != generation;
}

static void close_policy_dir(struct policy_dir *dir)
{
	if (dir->fd >= 0)
		close(dir->fd);
	if (dir->last_good_fd >= 0)
		close(dir->last_good_fd);
	dir->fd = dir->last_good_fd = -1;
}

/*
 * A container no policy applies to is recorded too: a policy added later
 * (default.json, a selector) reaches it like an edit reaches the others.
 */
static void remember_unconfined(const struct hook_opts *o,
				const struct oci_state *s, const char *cgdir)
{
	_cleanup_close_ int run_fd = state_run_dir_open(o->bpffs), fd = -1;
	char why[512];
	struct container_record r = {
		.container_id = s->id,
		.cgroup = (char *)cgdir,
		.policy_dir = (char *)o->policy_dir,
		.annotations = s->annotations,
		.nannotations = s->nannotations,
		.selected_by = (char *)policy_choice_name(POLICY_NONE),
		.without_cap_net_raw =
			oci_config_may_hold_cap(s->bundle, "CAP_NET_RAW", why,
						sizeof(why)) == 0,
	};

	if (run_fd < 0 || cgroup_open(cgdir, &fd, &r.cgroup_id) ||
	    container_record_write(run_fd, &r))
		log_debug("container %s: unconfined, and not recorded for "
			  "policies added later",
			  s->id);
}

static int run_unconfined(const struct hook_opts *o, const struct oci_state *s,
			  struct lifecycle_event *ev)
{
	remember_unconfined(o, s, ev->cgroup);
	ev->selected_by = policy_choice_name(POLICY_NONE);
	ev->kind = LIFECYCLE_UNCONFINED;
	ev->reason = "no policy selected and no policy named default";
	lock_down(o, s->id);
	record(o, ev);
	log_debug("container %s: no policy applies; running unconfined", s->id);
	return 0;
}

static int hook_create(const struct hook_opts *o, const struct oci_state *s)
{
	struct lifecycle_event ev = {.source = "hook", .container_id = s->id};
	struct k8s_identity pod;
	struct policy_selection sel = {};
	const struct compiled_policy *cp = NULL;
	struct fence_request req;
	struct fence_result res;
	struct cgf_state *st;
	char cgdir[4096], why[2048], version[13];
	uint64_t generation = 0;
	long lock_ms;
	int err, recorded;

	err = container_cgroup(o, s, cgdir, sizeof(cgdir));
	if (err)
		return err;
	ev.cgroup = cgdir;
	if (k8s_identity_from_annotations(s->annotations, s->nannotations,
					  &pod))
		ev.kubernetes = &pod;

	if (o->resident && o->resident->used_dir)
		o->resident->used_dir(o->policy_dir, o->bpffs, o->lifecycle_log,
				      o->resident->ctx);
	recorded = record_requested(s);
	if (recorded < 0)
		return recorded;
	err = choose_for_container(o, s, &recorded, &sel, &cp, &generation);
	if (err)
		goto out;
	if (sel.how == POLICY_NONE && !recorded)
		return run_unconfined(o, s, &ev);
	/* Leave time to undo a failed apply before the alarm. */
	lock_ms = remaining_ms(o) - 1000;
	err = hook_state_open(o, &st, STATE_LOAD, lock_ms > 0 ? lock_ms : 0);
	if (err) {
		log_error("container %s: %s: %s", s->id, o->bpffs,
			  state_error_text(err));
		goto out;
	}
	/*
	 * A pass (reload, set, hookd) that ran between the choice and the lock
	 * did not see this container, which has no record yet: choose again,
	 * now that no pass can run until it has one.
	 */
	if (passes_since(o, st, generation)) {
		policy_free(sel.policy);
		recorded = record_requested(s);
		err = choose_for_container(o, s, &recorded, &sel, &cp,
					   &generation);
		if (err || (sel.how == POLICY_NONE && !recorded)) {
			hook_state_close(o, st);
			if (err)
				goto out;
			return run_unconfined(o, s, &ev);
		}
	}
	ev.selected_by = policy_choice_name(sel.how);
	req = (struct fence_request){.cgroup_dir = cgdir,
				     .policy = cp,
				     .policy_name = sel.policy->name,
				     .container_id = s->id,
				     .record = recorded ? FENCE_RECORD_START
							: FENCE_RECORD_STOP};
	/* Recording refuses nothing: no families to fence. */
	if (!recorded && fence_needs_bpf_lsm(st, cp)) {
		err = families_fenced_without_lsm(s, sel.policy->name);
		if (err) {
			hook_state_close(o, st);
			goto out;
		}
		req.without_bpf_lsm = true;
		ev.families_fenced_by = "no-cap-net-raw";
	} else if (!recorded && cp->hdr.sockets.families != CGF_ALL_FAMILIES) {
		ev.families_fenced_by = "bpf-lsm";
	}
	err = fence_apply(st, &req, &res);
	if (!err && sel.how == POLICY_NONE)
		remember_unconfined(o, s, cgdir); /* recorded, none chosen */
	else if (!err)
		remember_container(o, st, s, cgdir, res.cgroup_id, &sel,
				   req.without_bpf_lsm ||
					   (!state_has_bpf_lsm(st) &&
					    oci_config_may_hold_cap(
						    s->bundle, "CAP_NET_RAW",
						    why, sizeof(why)) == 0));
	hook_state_close(o, st);
	if (err) {
		log_error("container %s: cannot attach policy \"%s\" to %s: %s",
			  s->id, sel.policy->name, cgdir,
			  fence_error_text(err));
		goto out;
	}
	if (o->applied && !res.replaced) {
		struct hook_applied *a = o->applied;

		a->fenced = true;
		a->cgroup_id = res.cgroup_id;
		a->policy_id = res.policy_id;
		snprintf(a->cgroup, sizeof(a->cgroup), "%s", cgdir);
		snprintf(a->container_id, sizeof(a->container_id), "%s", s->id);
		snprintf(a->policy, sizeof(a->policy), "%s", sel.policy->name);
		a->pod = pod;
		a->bpffs = o->bpffs;
		a->lifecycle_log = o->lifecycle_log;
	}
	lifecycle_version_text(cp->digest, version);
	ev.version = version;
	ev.kind = res.replaced ? LIFECYCLE_REPLACED : LIFECYCLE_APPLIED;
	ev.cgroup_id = res.cgroup_id;
	ev.policy = sel.policy->name;
	ev.policy_id = res.policy_id;
	ev.mode = mode_text(res.recording ? CGF_MODE_AUDIT : sel.policy->mode);
	lock_down(o, s->id);
	record(o, &ev);
	log_debug("container %s: %s policy %s (selected by %s), cgroup %s",
		  s->id, res.replaced ? "replaced with" : "fenced with",
		  sel.policy->name, ev.selected_by, cgdir);
out:
	policy_free(
		sel.policy); /* and its compiled form, unless hookd keeps it */
	return err;
}

enum cgroup_liveness { CGROUP_REMOVED, CGROUP_EMPTY, CGROUP_POPULATED };

/* A cgroup that still runs processes is not the stopped container's. */
static enum cgroup_liveness cgroup_liveness(uint64_t cgroup_id)
{
	_cleanup_close_ int fd = -1, events_fd = -1;
	char buf[256];
	ssize_t n;

	if (cgroup_open_by_id(cgroup_id, &fd))
		return CGROUP_REMOVED;
	events_fd = openat(fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (events_fd < 0)
		return CGROUP_EMPTY;
	n = read(events_fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return CGROUP_EMPTY;
	buf[n] = '\0';
	return strstr(buf, "populated 1") ? CGROUP_POPULATED : CGROUP_EMPTY;
}

static int hook_poststop(const struct hook_opts *o, const struct oci_state *s)
{
	struct lifecycle_event ev = {.kind = LIFECYCLE_REMOVED,
				     .source = "hook",
				     .container_id = s->id,
				     .reason = "poststop"};
	struct k8s_identity pod;
	struct cgf_cgroup_info info;
	struct cgf_policy_info pinfo;
	enum cgroup_liveness liveness;
	struct cgf_state *st;
	uint64_t id;
	int err;

	err = hook_state_open(o, &st, STATE_EXISTING, remaining_ms(o));
	/*
	 * Poststop's outcome changes nothing for the runtime, which only
	 * waits for it: hookd answers now and works on with the state lock
	 * held, so that whoever reads the state next sees it done.
	 */
	if (o->answer_early)
		o->answer_early(o->answer_ctx);
	if (err == -ENOENT) { /* nothing was ever fenced here */
		_cleanup_close_ int run_fd = state_run_dir_find(o->bpffs);

		if (run_fd >= 0)
			container_record_remove_unconfined(run_fd, s->id);
		return 0;
	}
	if (err) {
		log_error("container %s: poststop: %s: %s", s->id, o->bpffs,
			  state_error_text(err));
		return err;
	}
	if (fence_find_container(st, s->id, &id) ||
	    bpf_map_lookup_elem(st->map_fds[CGF_MAP_CGROUP_INFO], &id, &info)) {
		/* Not fenced: unconfined (its record goes), or failed. */
		if (st->run_fd >= 0)
			container_record_remove_unconfined(st->run_fd, s->id);
		goto out;
	}
	liveness = cgroup_liveness(id);
	if (liveness == CGROUP_POPULATED) {
		log_error("warning: container %s: poststop: cgroup %s still "
			  "runs processes; leaving it fenced",
			  s->id, info.path);
		goto out;
	}
	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICY_INFO],
				&info.policy_id, &pinfo) == 0)
		ev.mode = mode_text(pinfo.mode);
	/* Runtimes need not repeat the annotations at poststop: the record
	 * the hook wrote has them, until the detach removes it. */
	if (k8s_identity_from_annotations(s->annotations, s->nannotations,
					  &pod) ||
	    container_record_pod(st->run_fd, id, &pod))
		ev.kubernetes = &pod;
	err = liveness == CGROUP_REMOVED ? fence_release_removed(st, id)
					 : fence_detach_id(st, id);
	if (err && err != -ENOENT) {
		log_error("container %s: poststop: cannot detach from %s: %s",
			  s->id, info.path, strerror(-err));
		goto out;
	}
	/*
	 * Recorded before the lock goes: whoever sees the state done (hookd
	 * has answered the runtime already) finds the record written too.
	 */
	ev.cgroup = info.path;
	ev.cgroup_id = id;
	ev.policy = info.policy_name;
	ev.policy_id = info.policy_id;
out:
	lock_down(o, s->id);
	if (ev.cgroup)
		record(o, &ev);
	hook_state_close(o, st);
	return 0;
}

/* The state text -> the stage's work. Returns the exit status. */
static int hook_run(struct hook_opts *o, const char *text, size_t len)
{
	struct oci_state s;
	char why[512];
	int err;

	err = oci_state_parse(text, len, &s, why, sizeof(why));
	if (err) {
		log_error("hook: invalid container state on stdin: %s", why);
		return 1;
	}
	snprintf(alarm_message, sizeof(alarm_message),
		 "cgfence: container %s: hook timed out after %u s\n", s.id,
		 o->timeout_s);

	if (o->stage == STAGE_FROM_STATUS) {
		if (!strcmp(s.status, "creating"))
			o->stage = STAGE_CREATE;
		else if (!strcmp(s.status, "stopped"))
			o->stage = STAGE_POSTSTOP;
	}
	switch (o->stage) {
	case STAGE_CREATE:
		err = hook_create(o, &s);
		break;
	case STAGE_POSTSTOP:
		/* The runtime spec: poststop failures are logged, not fatal. */
		hook_poststop(o, &s);
		err = 0;
		break;
	default:
		log_error("container %s: cannot tell the hook stage from "
			  "status \"%.32s\"; pass createRuntime or poststop as "
			  "an argument",
			  s.id, s.status);
		err = -EINVAL;
	}
	oci_state_free(&s);
	return err ? 1 : 0;
}

int cmd_hook(int argc, char **argv)
{
	struct hook_opts o;
	char *text = NULL;
	size_t len = 0;
	int err, status;

	/* Nothing from the runtime's environment steers the hook. */
	clearenv();
	umask(027);
	err = parse_hook_opts(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : 2;
	o.runtime_pid = getpid();
	arm_deadline(&o);

	err = read_state_input(&o, &text, &len);
	if (err) {
		log_error("hook: cannot read the container state on stdin: %s",
			  err == -EFBIG	      ? "larger than 1 MiB"
			  : err == -ETIMEDOUT ? "timed out"
					      : strerror(-err));
		return 1;
	}
	status = hook_run(&o, text, len);
	free(text);
	return status;
}

int hook_serve(int argc, char **argv, const char *text, size_t len,
	       struct hook_serve_opts *serve)
{
	struct hook_opts o;
	int err;

	err = parse_hook_opts(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : 2;
	o.runtime_pid = serve->runtime_pid;
	o.resident = serve->resident;
	o.answer_early = serve->answer_early;
	o.answer_ctx = serve->ctx;
	o.applied = &serve->applied;
	/* No alarm: it would end hookd. The deadline bounds the lock wait. */
	set_deadline(&o);
	return hook_run(&o, text, len);
}

void hook_serve_undo(struct hook_resident *resident,
		     const struct hook_applied *a)
{
	struct lifecycle_event ev = {
		.kind = LIFECYCLE_REMOVED,
		.source = "hook",
		.container_id = a->container_id,
		.reason = "the runtime left before the hook answered",
		.cgroup = a->cgroup,
		.cgroup_id = a->cgroup_id,
		.policy = a->policy,
		.policy_id = a->policy_id,
		.kubernetes = a->pod.pod[0] ? &a->pod : NULL,
	};
	struct cgf_state *st;
	int err;

	err = state_open_kept(&resident->state, &st, a->bpffs, STATE_EXISTING,
			      CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (!err) {
		err = fence_detach_id(st, a->cgroup_id);
		if (!err)
			err = lifecycle_record(a->lifecycle_log, &ev);
		state_put_kept(st);
	}
	if (err)
		log_error("container %s: the runtime left before the hook "
			  "answered; cannot undo the fence of %s: %s (cgfence "
			  "gc removes it once the cgroup is gone)",
			  a->container_id, a->cgroup, strerror(-err));
	else
		log_info("container %s: the runtime left before the hook "
			 "answered; fence of %s removed",
			 a->container_id, a->cgroup);
}
