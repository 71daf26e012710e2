// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgfence apply | detach | status: fencing cgroups through pinned state. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <cjson/cJSON.h>

#include "attach.h"
#include "commands.h"
#include "compile.h"
#include "loader.h"
#include "policy.h"
#include "util.h"

struct fence_opts {
	const char *cgroup;
	const char *policy;
	const char *bpffs;
	const char *container_id;
	unsigned int event_budget;
	bool json;
};

static int parse_fence_opts(int argc, char **argv, struct fence_opts *o,
			    const char *usage)
{
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "policy", required_argument, NULL, 'p' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "container-id", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "event-budget", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->bpffs = CGF_DEFAULT_BPFFS_DIR;
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
		case 'e':
			o->event_budget = strtoul(optarg, NULL, 10);
			if (o->event_budget < 1) {
				log_error("--event-budget: expected a number of events per second >= 1");
				return -1;
			}
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
	if (err == -ETIMEDOUT)
		log_error("%s: timed out waiting for the lock held by another cgfence",
			  dir);
	else if (err == -EMEDIUMTYPE)
		log_error("%s: not on a bpf filesystem (mount -t bpf bpf DIR)", dir);
	else if (err == -ENOENT)
		log_error("%s: no cgfence state pinned here", dir);
	else if (err != -EEXIST) /* already explained */
		log_error("%s: cannot load or open the BPF programs: %s", dir,
			  strerror(-err));
}

static void report_cgroup_error(const char *dir, int err)
{
	if (err == -EMEDIUMTYPE)
		log_error("%s: not a cgroup v2 directory", dir);
	else if (err == -EPERM)
		log_error("%s: refusing to fence the root cgroup", dir);
	else
		log_error("%s: %s", dir, strerror(-err));
}

static int load_and_compile(const char *path, struct policy **p,
			    struct compiled_policy **cp)
{
	struct diags d = {};
	int err = policy_load_file(path, p, &d);

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
		log_error("%s: cannot compile: %s", path,
			  err == -E2BIG ? "too many rules" : strerror(-err));
		policy_free(*p);
		*p = NULL;
	}
	return err;
}

int cmd_apply(int argc, char **argv)
{
	static const char usage[] =
		"usage: cgfence apply --cgroup DIR --policy FILE [--bpffs DIR] [--container-id ID]\n"
		"                     [--event-budget N]   (denial events per second, default 200)\n"
		"Fences a cgroup v2 directory; re-applying swaps the policy atomically.\n";
	struct compiled_policy *cp = NULL;
	struct policy *p = NULL;
	struct fence_result res;
	struct fence_request req;
	struct fence_opts o;
	struct cgf_state st;
	int err;

	err = parse_fence_opts(argc, argv, &o, usage);
	if (err)
		return err > 0 ? 0 : 2;
	if (!o.cgroup || !o.policy) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (load_and_compile(o.policy, &p, &cp))
		return 1;
	err = state_open(&st, o.bpffs, STATE_LOAD, CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (err) {
		report_state_error(o.bpffs, err);
		goto out;
	}
	req = (struct fence_request){ .cgroup_dir = o.cgroup,
				      .policy = cp,
				      .policy_name = p->name,
				      .container_id = o.container_id,
				      .event_budget = o.event_budget };
	err = fence_apply(&st, &req, &res);
	state_close(&st);
	if (err) {
		report_cgroup_error(o.cgroup, err);
		goto out;
	}
	printf("%s: %s policy %s (%s, policy id %08x, generation %u)\n", o.cgroup,
	       res.replaced ? "swapped to" : "fenced with", p->name,
	       p->mode == CGF_MODE_AUDIT ? "audit" : "enforce", res.policy_id,
	       res.generation);
out:
	compiled_policy_free(cp);
	policy_free(p);
	return err ? 1 : 0;
}

int cmd_detach(int argc, char **argv)
{
	static const char usage[] =
		"usage: cgfence detach --cgroup DIR [--bpffs DIR]\n";
	struct fence_opts o;
	struct cgf_state st;
	int err;

	err = parse_fence_opts(argc, argv, &o, usage);
	if (err)
		return err > 0 ? 0 : 2;
	if (!o.cgroup) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	err = state_open(&st, o.bpffs, STATE_EXISTING, CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (err) {
		report_state_error(o.bpffs, err);
		return 1;
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
	return 0;
}

static void format_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = ns / 1000000000ull;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *mode_name(const struct cgf_state *st, uint32_t policy_id)
{
	struct cgf_policy_info pi;

	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICY_INFO], &policy_id, &pi))
		return "missing";
	return pi.mode == CGF_MODE_AUDIT ? "audit" : "enforce";
}

int cmd_status(int argc, char **argv)
{
	static const char usage[] = "usage: cgfence status [--json] [--bpffs DIR]\n";
	cJSON *list = NULL;
	struct fence_opts o;
	struct cgf_state st;
	uint64_t key, next;
	void *prev = NULL;
	int err;

	err = parse_fence_opts(argc, argv, &o, usage);
	if (err)
		return err > 0 ? 0 : 2;
	err = state_open(&st, o.bpffs, STATE_EXISTING, CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (err == -ENOENT) {
		printf(o.json ? "[]\n" : "no fenced cgroups\n");
		return 0;
	}
	if (err) {
		report_state_error(o.bpffs, err);
		return 1;
	}
	if (o.json)
		list = cJSON_CreateArray();
	else
		printf("%-20s %-16s %-8s %-20s %s\n", "CONTAINER", "POLICY", "MODE",
		       "APPLIED", "CGROUP");
	while (bpf_map_get_next_key(st.map_fds[CGF_MAP_CGROUP_INFO], prev, &next) == 0) {
		struct cgf_cgroup_info info;
		char when[32];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(st.map_fds[CGF_MAP_CGROUP_INFO], &key, &info))
			continue;
		format_time(info.applied_ns, when, sizeof(when));
		if (list) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "container_id", info.container_id);
			cJSON_AddStringToObject(o, "cgroup", info.path);
			cJSON_AddNumberToObject(o, "cgroup_id", (double)key);
			cJSON_AddStringToObject(o, "policy", info.policy_name);
			cJSON_AddStringToObject(o, "mode", mode_name(&st, info.policy_id));
			cJSON_AddNumberToObject(o, "generation", info.generation);
			cJSON_AddStringToObject(o, "applied", when);
			cJSON_AddItemToArray(list, o);
		} else {
			printf("%-20.20s %-16s %-8s %-20s %s\n",
			       info.container_id[0] ? info.container_id : "-",
			       info.policy_name, mode_name(&st, info.policy_id), when,
			       info.path);
		}
	}
	state_close(&st);
	if (list) {
		char *text = cJSON_Print(list);

		printf("%s\n", text ? text : "[]");
		free(text);
		cJSON_Delete(list);
	}
	return 0;
}
