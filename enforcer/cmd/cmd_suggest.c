// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence suggest: the policy a record suggests (lib/suggest.h), merged
 * into an existing one, or what a staged policy would deny of it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cgroup.h"
#include "commands.h"
#include "cgfence_logic.h"
#include "compile.h"
#include "loader.h"
#include "policy.h"
#include "record.h"
#include "recording.h"
#include "suggest.h"
#include "util.h"

static const char usage[] =
	"usage: cgfence suggest (--cgroup DIR | --container ID) [--name NAME]\n"
	"                       [--aggregate-v4 N] [--aggregate-v6 N] "
	"[--bpffs DIR]\n"
	"                       [--merge FILE | --against FILE]\n"
	"Prints the policy that allows what the recorded cgroup or container "
	"did\n"
	"(cgfence apply --record, the cgfence.record annotation) and denies "
	"the rest,\n"
	"with comments giving how often and when each rule was seen. A "
	"container's\n"
	"record outlives it (until cgfence gc ages it out).\n"
	"  --name NAME        the policy's name (default: from the container "
	"id)\n"
	"  --aggregate-v4 N   widen IPv4 peers to /N prefixes (1-32)\n"
	"  --aggregate-v6 N   widen IPv6 peers to /N prefixes (1-128)\n"
	"  --merge FILE       FILE with allow rules added, at the end of each "
	"section,\n"
	"                     for what its defaults would deny (what a rule "
	"of FILE\n"
	"                     denies stays denied, and is listed on stderr)\n"
	"  --against FILE     list every observed flow and device access FILE "
	"would\n"
	"                     deny, with the rule that denies it; exit status "
	"1 if any\n";

struct suggest_cli {
	const char *cgroup;
	const char *container;
	const char *name;
	const char *merge;
	const char *against;
	const char *bpffs;
	unsigned int aggregate_v4, aggregate_v6;
};

static int parse_suggest_opts(int argc, char **argv, struct suggest_cli *o)
{
	static const struct option opts[] = {
		{"cgroup", required_argument, NULL, 'c'},
		{"container", required_argument, NULL, 'i'},
		{"name", required_argument, NULL, 'n'},
		{"aggregate-v4", required_argument, NULL, '4'},
		{"aggregate-v6", required_argument, NULL, '6'},
		{"merge", required_argument, NULL, 'm'},
		{"against", required_argument, NULL, 'a'},
		{"bpffs", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{}};
	unsigned long long n;
	int c;

	memset(o, 0, sizeof(*o));
	o->bpffs = CGF_DEFAULT_BPFFS_DIR;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->cgroup = optarg;
			break;
		case 'i':
			o->container = optarg;
			break;
		case 'n':
			if (!policy_name_valid(optarg)) {
				log_error("--name '%s': expected a policy "
					  "name, [a-z0-9][a-z0-9._-]*, at "
					  "most %d bytes",
					  optarg, CGF_NAME_LEN - 1);
				return -1;
			}
			o->name = optarg;
			break;
		case '4':
		case '6':
			if (parse_uint(optarg, 1, c == '4' ? 32 : 128, &n)) {
				log_error("--aggregate-v%c '%s': expected a "
					  "prefix length, 1 to %d",
					  c, optarg, c == '4' ? 32 : 128);
				return -1;
			}
			if (c == '4')
				o->aggregate_v4 = n;
			else
				o->aggregate_v6 = n;
			break;
		case 'm':
			o->merge = optarg;
			break;
		case 'a':
			o->against = optarg;
			break;
		case 'b':
			o->bpffs = optarg;
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
	if (!o->cgroup == !o->container) {
		log_error(
			"suggest needs one of --cgroup DIR and --container ID");
		fprintf(stderr, "%s", usage);
		return -1;
	}
	if (o->merge && o->against) {
		log_error("--merge and --against go one at a time");
		return -1;
	}
	return 0;
}

/* A recorded cgroup's table, read; *info describes it where known. */
static int read_record(const struct suggest_cli *o, struct recording_info *info,
		       struct record_contents *rc)
{
	struct cgf_state st;
	int err, fd;

	err = state_open(&st, o->bpffs, STATE_EXISTING,
			 CGF_DEFAULT_LOCK_TIMEOUT_MS);
	if (err) {
		log_error("%s: %s", o->bpffs, state_error_text(err));
		return err;
	}
	memset(info, 0, sizeof(*info));
	if (o->container) {
		err = recording_find_container(st.run_fd, o->container, info);
		if (err) {
			log_error("container %s: no record (was it started "
				  "with the annotation cgfence.record: "
				  "\"true\"? cgfence gc may have aged it out)",
				  o->container);
			goto out;
		}
	} else {
		_cleanup_close_ int cg = -1;

		err = cgroup_open(o->cgroup, &cg, &info->cgroup_id);
		if (err) {
			log_error("%s: %s (a container's record outlives its "
				  "cgroup: use --container ID)",
				  o->cgroup, strerror(-err));
			goto out;
		}
		if (recording_read(st.run_fd, info->cgroup_id, info))
			snprintf(info->cgroup, sizeof(info->cgroup), "%s",
				 o->cgroup);
	}
	fd = record_open(&st, info->cgroup_id);
	if (fd < 0) {
		err = fd;
		log_error("%s: %s", o->container ? o->container : o->cgroup,
			  err == -ENOENT ? "not recorded (cgfence apply "
					   "--record)"
					 : strerror(-err));
		goto out;
	}
	err = record_read(fd, rc);
	close(fd);
	if (err)
		log_error("%s: cannot read the record: %s",
			  o->container ? o->container : o->cgroup,
			  strerror(-err));
out:
	state_close(&st);
	return err;
}

static void observation_flow(const struct observation *ob, struct flow *f)
{
	memset(f, 0, sizeof(*f));
	f->direction = ob->key.direction;
	f->family = ob->key.family;
	memcpy(f->addr, ob->key.addr, 16);
	f->protocol = ob->key.protocol;
	f->port = ob->key.port;
}

/* What a policy says of an observation: its verdict and deciding rule. */
static void judge_observation(const struct compiled_policy *cp,
			      const struct observation *ob, struct verdict *v)
{
	struct flow f;

	if (ob->key.kind == CGF_REC_DEVICE) {
		compiled_judge_device(cp, ob->key.dev_type, ob->key.dev_major,
				      ob->key.dev_minor, ob->key.dev_access, v);
		return;
	}
	if (ob->key.kind == CGF_REC_RAW_SOCKET) {
		compiled_judge_socket(cp, ob->key.family, CGF_SOCK_RAW,
				      ob->key.protocol, v);
		return;
	}
	if (ob->key.kind == CGF_REC_SOCKOPT) {
		v->action = cgf_judge_sockopt(&cp->hdr, ob->key.port);
		v->rule = CGF_RULE_SOCKETS_OPTION;
		v->restricted = 1;
		return;
	}
	observation_flow(ob, &f);
	compiled_judge_flow(cp, &f, v);
}

static const char *const section_names[] = {"egress", "ingress", "devices",
					    "sockets"};

/* "deny by egress.rules[2] (FILE:LINE): COMMENT" or "deny by egress.default" */
static void deciding_rule_text(const struct policy *p,
			       const struct observation *ob,
			       const struct verdict *v, char *buf, size_t len)
{
	enum suggest_section s = observation_section(ob);
	const struct policy_net_section *net =
		s == SUGGEST_EGRESS ? &p->egress : &p->ingress;
	unsigned int line = 0;
	const char *comment = NULL;

	if (s == SUGGEST_SOCKETS) {
		snprintf(buf, len, "deny by sockets.%s",
			 v->rule == CGF_RULE_SOCKETS_OPTION   ? "options"
			 : v->rule == CGF_RULE_SOCKETS_FAMILY ? "families"
							      : "raw");
		return;
	}
	if (v->rule == CGF_RULE_DEFAULT) {
		snprintf(buf, len, "deny by %s.default", section_names[s]);
		return;
	}
	if (s == SUGGEST_DEVICES && v->rule < p->devices.nrules) {
		line = p->devices.rules[v->rule].pos.line;
	} else if (s != SUGGEST_DEVICES && v->rule < net->nrules) {
		line = net->rules[v->rule].pos.line;
		comment = net->rules[v->rule].comment;
	}
	snprintf(buf, len, "deny by %s.rules[%u] (%s:%u)%s%s", section_names[s],
		 v->rule, p->path, line, comment ? ": " : "",
		 comment ? comment : "");
}

static int observation_cmp(const void *pa, const void *pb)
{
	const struct observation *a = pa, *b = pb;
	enum suggest_section sa = observation_section(a),
			     sb = observation_section(b);

	if (sa != sb)
		return sa < sb ? -1 : 1;
	return memcmp(&a->key, &b->key, sizeof(a->key));
}

/* --against: what FILE would deny. 0: nothing, 1: something, 2: error. */
static int print_against(const char *file, const struct record_contents *rc)
{
	struct compiled_policy *cp = NULL;
	struct policy *p = NULL;
	size_t denied = 0;

	if (cmd_policy_load_compiled(file, &p, &cp))
		return 2;
	for (size_t i = 0; i < rc->n; i++) {
		const struct observation *ob = &rc->obs[i];
		char what[96], rule[1024], seen[128];
		struct verdict v;

		judge_observation(cp, ob, &v);
		if (v.action != CGF_DENY)
			continue;
		denied++;
		observation_text(ob, what, sizeof(what));
		deciding_rule_text(p, ob, &v, rule, sizeof(rule));
		suggest_seen_text(ob->count, ob->first_ns, ob->last_ns, seen,
				  sizeof(seen));
		printf("%s %s: %s (%s)\n",
		       section_names[observation_section(ob)], what, rule,
		       seen);
	}
	printf("%s would deny %zu of %zu observed flows and device accesses\n",
	       file, denied, rc->n);
	compiled_policy_free(cp);
	policy_free(p);
	return denied ? 1 : 0;
}

/* The rules array of a section of the policy's JSON, or NULL (absent). */
static cJSON *section_rules(cJSON *policy, enum suggest_section s)
{
	cJSON *sec = cJSON_GetObjectItemCaseSensitive(policy, section_names[s]);
	cJSON *rules;

	if (!cJSON_IsObject(sec))
		return NULL;
	rules = cJSON_GetObjectItemCaseSensitive(sec, "rules");
	if (!rules)
		rules = cJSON_AddArrayToObject(sec, "rules");
	return cJSON_IsArray(rules) ? rules : NULL;
}

/*
 * --merge: FILE's JSON, with allow rules at the end of each section for
 * what its default would deny. What one of its rules denies stays denied:
 * the rule was written on purpose.
 */
static cJSON *merge_into(const char *file, const struct record_contents *rc,
			 const struct suggest_opts *so)
{
	_cleanup_free_ struct observation *add = NULL;
	_cleanup_free_ char *text = NULL;
	struct compiled_policy *cp = NULL;
	struct policy *p = NULL;
	cJSON *json = NULL;
	size_t nadd = 0;

	if (cmd_policy_load_compiled(file, &p, &cp))
		return NULL;
	/* The text cmd_policy_load_compiled validated, as it was: every key kept. */
	if (read_small_file(file, &text, POLICY_MAX_FILE_SIZE)) {
		log_error("%s: %s", file, strerror(errno));
		compiled_policy_free(cp);
		policy_free(p);
		return NULL;
	}
	json = cJSON_Parse(text);
	add = calloc(rc->n ? rc->n : 1, sizeof(*add));
	if (!json || !add)
		goto fail;
	for (size_t i = 0; i < rc->n; i++) {
		const struct observation *ob = &rc->obs[i];
		char what[96], rule[1024];
		struct verdict v;

		judge_observation(cp, ob, &v);
		if (v.action != CGF_DENY)
			continue;
		/* The sockets section has no rules: what it refuses is added. */
		if (v.rule == CGF_RULE_DEFAULT ||
		    observation_section(ob) == SUGGEST_SOCKETS) {
			add[nadd++] = *ob;
			continue;
		}
		observation_text(ob, what, sizeof(what));
		deciding_rule_text(p, ob, &v, rule, sizeof(rule));
		log_error("merge: %s %s stays denied: %s",
			  section_names[observation_section(ob)], what, rule);
	}
	for (int s = SUGGEST_EGRESS; s <= SUGGEST_DEVICES; s++) {
		cJSON *rules = section_rules(json, s);

		/* No section: nothing in that direction is denied. */
		if (rules && suggest_section_rules(add, nadd, s, so, rules))
			goto fail;
	}
	if (suggest_sockets(add, nadd, json))
		goto fail;
	compiled_policy_free(cp);
	policy_free(p);
	return json;
fail:
	log_error("merge: out of memory");
	cJSON_Delete(json);
	compiled_policy_free(cp);
	policy_free(p);
	return NULL;
}

/* The suggestion must be a policy cgfence check accepts: fail closed. */
static int print_checked(cJSON *policy, const char *label)
{
	_cleanup_free_ char *text = cJSON_Print(policy);
	struct policy *p = NULL;
	struct diags d = {};
	int err;

	if (!text) {
		log_error("out of memory");
		return -ENOMEM;
	}
	err = policy_parse(label, text, strlen(text), &p, &d);
	if (err == -EINVAL && strstr(text, "\"@")) {
		/* Sets are kept by name: check resolves them next to FILE. */
		diags_free(&d);
		err = 0;
	}
	if (err) {
		log_error("the suggested policy does not validate (a bug):");
		diags_print(&d, stderr);
		diags_free(&d);
		return err;
	}
	policy_free(p);
	printf("%s\n", text);
	return 0;
}

int cmd_suggest(int argc, char **argv)
{
	struct record_contents rc = {};
	struct recording_info info;
	struct suggest_cli o;
	struct suggest_opts so;
	char name[CGF_NAME_LEN], source[800];
	cJSON *policy;
	int err, rc_exit = 0;

	err = parse_suggest_opts(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : 2;
	if (read_record(&o, &info, &rc))
		return 1;
	qsort(rc.obs, rc.n, sizeof(*rc.obs), observation_cmp);
	if (info.container_id[0])
		snprintf(source, sizeof(source), "container %s (cgroup %s)",
			 info.container_id, info.cgroup);
	else
		snprintf(source, sizeof(source), "cgroup %s", info.cgroup);
	if (o.name) {
		snprintf(name, sizeof(name), "%s", o.name);
	} else {
		const char *base = strrchr(info.cgroup, '/');

		suggest_policy_name(info.container_id[0] ? info.container_id
				    : base		 ? base + 1
							 : info.cgroup,
				    name, sizeof(name));
	}
	so = (struct suggest_opts){.name = name,
				   .source = source,
				   .aggregate_v4 = o.aggregate_v4,
				   .aggregate_v6 = o.aggregate_v6,
				   .not_recorded = rc.not_recorded,
				   .table_size = rc.size};
	log_info("record of %s: %zu of %u entries, %" PRIu64 " KiB in the "
		 "kernel",
		 source, rc.n, rc.size, rc.memory_bytes / 1024);
	if (rc.not_recorded)
		log_error("warning: %s: the record table (%u entries) was "
			  "full: %" PRIu64 " observations were not recorded "
			  "(record again with apply --record-size)",
			  source, rc.size, rc.not_recorded);
	if (o.against) {
		rc_exit = print_against(o.against, &rc);
		record_contents_free(&rc);
		return rc_exit;
	}
	policy = o.merge ? merge_into(o.merge, &rc, &so)
			 : suggest_policy(rc.obs, rc.n, &so);
	record_contents_free(&rc);
	if (!policy) {
		if (!o.merge)
			log_error("out of memory");
		return 1;
	}
	err = print_checked(policy, o.merge ? o.merge : "(suggested)");
	cJSON_Delete(policy);
	return err ? 1 : 0;
}
