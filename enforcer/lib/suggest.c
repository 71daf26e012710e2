// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "socknames.h"
#include "suggest.h"
#include "util.h"

enum suggest_section observation_section(const struct observation *o)
{
	if (o->key.kind == CGF_REC_DEVICE)
		return SUGGEST_DEVICES;
	if (o->key.kind == CGF_REC_RAW_SOCKET || o->key.kind == CGF_REC_SOCKOPT)
		return SUGGEST_SOCKETS;
	return o->key.direction == CGF_DIR_INGRESS ? SUGGEST_INGRESS
						   : SUGGEST_EGRESS;
}

void suggest_time_text(uint64_t realtime_ns, char *buf, size_t len)
{
	time_t t = realtime_ns / 1000000000ull;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *sockopt_name(uint32_t kind)
{
	switch (kind) {
	case CGF_SOCKOPT_HDRINCL:
		return "hdrincl";
	case CGF_SOCKOPT_RECVERR:
		return "recverr";
	default:
		return "transparent";
	}
}

static bool has_ports(uint8_t protocol)
{
	return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP;
}

static void access_text(uint8_t access, char buf[4])
{
	char *p = buf;

	if (access & CGF_ACC_READ)
		*p++ = 'r';
	if (access & CGF_ACC_WRITE)
		*p++ = 'w';
	if (access & CGF_ACC_MKNOD)
		*p++ = 'm';
	*p = '\0';
}

/* The address, and "/N" when it is a prefix. */
static void cidr_text(uint8_t family, const uint8_t addr[16],
		      unsigned int prefix, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
	if (prefix == (family == 4 ? 32u : 128u))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, prefix);
}

void observation_text(const struct observation *o, char *buf, size_t len)
{
	const struct cgf_record_key *k = &o->key;
	const char *proto = socknames_protocol_name(k->protocol);
	char a[INET6_ADDRSTRLEN], p[8], acc[4];

	if (k->kind == CGF_REC_SOCKOPT) {
		snprintf(buf, len, "option %s", sockopt_name(k->port));
		return;
	}
	if (k->kind == CGF_REC_RAW_SOCKET) {
		if (!proto) {
			snprintf(p, sizeof(p), "%u", k->protocol);
			proto = p;
		}
		snprintf(buf, len, "%s:raw:%s",
			 k->family == AF_INET6 ? "inet6" : "inet", proto);
		return;
	}
	if (k->kind == CGF_REC_DEVICE) {
		access_text(k->dev_access, acc);
		snprintf(buf, len, "%c:%u:%u:%s",
			 k->dev_type == CGF_DEV_BLOCK ? 'b' : 'c', k->dev_major,
			 k->dev_minor, acc);
		return;
	}
	inet_ntop(k->family == 4 ? AF_INET : AF_INET6, k->addr, a, sizeof(a));
	if (!proto) {
		snprintf(p, sizeof(p), "%u", k->protocol);
		proto = p;
	}
	if (has_ports(k->protocol))
		snprintf(buf, len, k->family == 4 ? "%s:%u/%s" : "[%s]:%u/%s",
			 a, k->port, proto);
	else
		snprintf(buf, len, "%s/%s", a, proto);
}

void suggest_policy_name(const char *from, char *buf, size_t len)
{
	size_t n = 0, max = len - 1 < 63 ? len - 1 : 63;

	for (const char *c = from; *c && n < max; c++) {
		unsigned char ch = tolower((unsigned char)*c);

		if (isalnum(ch) || ((ch == '.' || ch == '_' || ch == '-') && n))
			buf[n++] = ch;
		else if (n)
			buf[n++] = '-';
	}
	buf[n] = '\0';
	if (!n)
		snprintf(buf, len, "suggested");
}

/* What a rule's comment sums up. */
struct seen {
	uint64_t count, first_ns, last_ns;
	size_t peers;
};

static void seen_add(struct seen *s, const struct observation *o)
{
	if (!s->count || o->first_ns < s->first_ns)
		s->first_ns = o->first_ns;
	if (o->last_ns > s->last_ns)
		s->last_ns = o->last_ns;
	s->count += o->count;
}

static void seen_merge(struct seen *s, const struct seen *t)
{
	if (!s->count || t->first_ns < s->first_ns)
		s->first_ns = t->first_ns;
	if (t->last_ns > s->last_ns)
		s->last_ns = t->last_ns;
	s->count += t->count;
}

/* "seen 3 times, first ..., last ..." */
void suggest_seen_text(uint64_t count, uint64_t first_ns, uint64_t last_ns,
		       char *buf, size_t len)
{
	char first[32], last[32], times[32];

	suggest_time_text(first_ns, first, sizeof(first));
	suggest_time_text(last_ns, last, sizeof(last));
	if (count == 1)
		snprintf(times, sizeof(times), "once");
	else
		snprintf(times, sizeof(times), "%" PRIu64 " times", count);
	snprintf(buf, len, "seen %s, first %s, last %s", times, first, last);
}

static cJSON *seen_comment(const struct seen *s, const char *what)
{
	char seen[128], text[256];

	suggest_seen_text(s->count, s->first_ns, s->last_ns, seen,
			  sizeof(seen));
	if (what)
		snprintf(text, sizeof(text), "%s; %s", what, seen);
	else
		snprintf(text, sizeof(text), "%s", seen);
	return cJSON_CreateString(text);
}

/* ---- network sections ---- */

/* A peer of one protocol and port, its address widened to prefix. */
struct peer_item {
	uint8_t protocol;
	uint16_t port;
	uint8_t family;
	uint8_t prefix;
	uint8_t addr[16];
	struct seen seen;
};

static void mask_address(uint8_t addr[16], unsigned int prefix,
			 unsigned int bits)
{
	for (unsigned int i = 0; i < bits / 8; i++) {
		unsigned int from = i * 8;

		if (from >= prefix)
			addr[i] = 0;
		else if (prefix - from < 8)
			addr[i] &= 0xff00 >> (prefix - from);
	}
}

static int peer_item_cmp(const void *pa, const void *pb)
{
	const struct peer_item *a = pa, *b = pb;

	if (a->protocol != b->protocol)
		return a->protocol < b->protocol ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, 16);
}

/* The peers of one protocol and port (a run of sorted items). */
struct port_group {
	size_t first, n; /* items[first .. first + n) */
	bool merged;	 /* its ports went into an earlier group's rule */
};

static bool same_peers(const struct peer_item *items,
		       const struct port_group *a, const struct port_group *b)
{
	if (a->n != b->n ||
	    items[a->first].protocol != items[b->first].protocol)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct peer_item *x = &items[a->first + i],
				       *y = &items[b->first + i];

		if (x->family != y->family || x->prefix != y->prefix ||
		    memcmp(x->addr, y->addr, 16))
			return false;
	}
	return true;
}

/* Adds port to a "ports" array, joining it to a range ending just below. */
static int ports_add(cJSON *ports, uint16_t port, uint16_t *run_start,
		     uint16_t *run_end)
{
	cJSON *last = cJSON_GetArrayItem(ports, cJSON_GetArraySize(ports) - 1);
	char range[16];

	if (last && port == *run_end + 1) {
		*run_end = port;
		snprintf(range, sizeof(range), "%u-%u", *run_start, *run_end);
		return cJSON_ReplaceItemInArray(ports,
						cJSON_GetArraySize(ports) - 1,
						cJSON_CreateString(range))
			       ? 0
			       : -ENOMEM;
	}
	*run_start = *run_end = port;
	return cJSON_AddItemToArray(ports, cJSON_CreateNumber(port)) ? 0
								     : -ENOMEM;
}

static cJSON *peer_rule(const struct peer_item *items,
			struct port_group *groups, size_t ngroups, size_t g,
			enum suggest_section section)
{
	const struct port_group *grp = &groups[g];
	const struct peer_item *head = &items[grp->first];
	const char *proto = socknames_protocol_name(head->protocol);
	cJSON *rule = cJSON_CreateObject(), *addrs, *ports = NULL;
	uint16_t run_start = 0, run_end = 0;
	struct seen seen = {};
	char cidr[64], what[96];

	if (!rule)
		return NULL;
	cJSON_AddStringToObject(rule, "action", "allow");
	addrs = cJSON_AddArrayToObject(
		rule, section == SUGGEST_EGRESS ? "to" : "from");
	for (size_t i = 0; addrs && i < grp->n; i++) {
		const struct peer_item *it = &items[grp->first + i];

		cidr_text(it->family, it->addr, it->prefix, cidr, sizeof(cidr));
		if (!cJSON_AddItemToArray(addrs, cJSON_CreateString(cidr)))
			goto fail;
		seen_merge(&seen, &it->seen);
	}
	cJSON_AddStringToObject(rule, "protocol", proto ? proto : "any");
	if (has_ports(head->protocol)) {
		ports = cJSON_AddArrayToObject(rule, "ports");
		if (!ports ||
		    ports_add(ports, head->port, &run_start, &run_end))
			goto fail;
		/* Later ports with exactly these peers share the rule. */
		for (size_t h = g + 1; h < ngroups; h++) {
			if (groups[h].merged ||
			    !same_peers(items, grp, &groups[h]))
				continue;
			groups[h].merged = true;
			if (ports_add(ports, items[groups[h].first].port,
				      &run_start, &run_end))
				goto fail;
			for (size_t i = 0; i < groups[h].n; i++)
				seen_merge(&seen,
					   &items[groups[h].first + i].seen);
		}
	}
	if (proto)
		snprintf(what, sizeof(what), "%zu %s", grp->n,
			 grp->n == 1 ? "peer" : "peers");
	else
		snprintf(what, sizeof(what),
			 "%zu %s of IP protocol %u (a raw socket)", grp->n,
			 grp->n == 1 ? "peer" : "peers", head->protocol);
	if (!cJSON_AddItemToObject(rule, "comment", seen_comment(&seen, what)))
		goto fail;
	return rule;
fail:
	cJSON_Delete(rule);
	return NULL;
}

static int network_rules(const struct observation *obs, size_t n,
			 enum suggest_section section,
			 const struct suggest_opts *o, cJSON *rules)
{
	unsigned int v4 = o->aggregate_v4 ? o->aggregate_v4 : 32;
	unsigned int v6 = o->aggregate_v6 ? o->aggregate_v6 : 128;
	_cleanup_free_ struct peer_item *items = NULL;
	_cleanup_free_ struct port_group *groups = NULL;
	size_t nitems = 0, ngroups = 0, kept = 0;

	items = calloc(n ? n : 1, sizeof(*items));
	groups = calloc(n ? n : 1, sizeof(*groups));
	if (!items || !groups)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct cgf_record_key *k = &obs[i].key;
		struct peer_item *it;

		if (k->kind != CGF_REC_FLOW ||
		    observation_section(&obs[i]) != section)
			continue;
		it = &items[nitems++];
		it->protocol = k->protocol;
		it->port = has_ports(k->protocol) ? k->port : 0;
		it->family = k->family;
		it->prefix = k->family == 4 ? v4 : v6;
		memcpy(it->addr, k->addr, 16);
		mask_address(it->addr, it->prefix, k->family == 4 ? 32 : 128);
		seen_add(&it->seen, &obs[i]);
	}
	qsort(items, nitems, sizeof(*items), peer_item_cmp);
	/* Peers that widened to the same prefix are one. */
	for (size_t i = 0; i < nitems; i++) {
		if (kept && !peer_item_cmp(&items[kept - 1], &items[i]))
			seen_merge(&items[kept - 1].seen, &items[i].seen);
		else
			items[kept++] = items[i];
	}
	nitems = kept;
	for (size_t i = 0; i < nitems; i++) {
		if (!ngroups || items[i].protocol != items[i - 1].protocol ||
		    items[i].port != items[i - 1].port)
			groups[ngroups++] = (struct port_group){.first = i};
		groups[ngroups - 1].n++;
	}
	for (size_t g = 0; g < ngroups; g++) {
		cJSON *rule;

		if (groups[g].merged)
			continue;
		rule = peer_rule(items, groups, ngroups, g, section);
		if (!rule || !cJSON_AddItemToArray(rules, rule)) {
			cJSON_Delete(rule);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- devices ---- */

struct device_item {
	uint8_t type, access;
	uint32_t major, minor;
	struct seen seen;
};

static int device_item_cmp(const void *pa, const void *pb)
{
	const struct device_item *a = pa, *b = pb;

	if (a->type != b->type)
		return a->type < b->type ? 1 : -1; /* char devices first */
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	return 0;
}

/*
 * Terminals: devpts numbers each one anew (c 136:N), so the number one
 * recording saw means nothing for the next run: any terminal is allowed.
 * And a container that opens /dev/ptmx (c 5:2) can open its terminal
 * read and write with TIOCGPTPEER, which no device check sees: a policy
 * (`cgfence check`) must then allow every terminal "rw".
 */
#define DEV_ANY_MINOR UINT32_MAX /* written "*" */

static bool device_is(const struct device_item *d, uint32_t major)
{
	return d->type == CGF_DEV_CHAR && d->major == major;
}

/* The terminal rule a recorded /dev/ptmx needs; items has room for one. */
static void device_terminals(struct device_item *items, size_t *nitems)
{
	const struct device_item *ptmx = NULL;
	struct device_item *pts = NULL;

	for (size_t i = 0; i < *nitems; i++) {
		if (device_is(&items[i], POLICY_DEV_PTMX_MAJOR) &&
		    items[i].minor == POLICY_DEV_PTMX_MINOR)
			ptmx = &items[i];
		if (device_is(&items[i], POLICY_DEV_PTS_MAJOR) && !pts)
			pts = &items[i];
	}
	if (!ptmx)
		return;
	if (!pts) {
		pts = &items[(*nitems)++];
		*pts = (struct device_item){.type = CGF_DEV_CHAR,
					    .major = POLICY_DEV_PTS_MAJOR,
					    .minor = DEV_ANY_MINOR,
					    .seen = ptmx->seen};
	}
	pts->access |= CGF_ACC_READ | CGF_ACC_WRITE;
}

static int device_rules(const struct observation *obs, size_t n, cJSON *rules)
{
	/* One more: the terminal rule /dev/ptmx may need. */
	_cleanup_free_ struct device_item *items =
		calloc(n + 1, sizeof(*items));
	size_t nitems = 0;

	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct cgf_record_key *k = &obs[i].key;

		if (k->kind != CGF_REC_DEVICE)
			continue;
		items[nitems] = (struct device_item){.type = k->dev_type,
						     .access = k->dev_access,
						     .major = k->dev_major,
						     .minor = k->dev_minor};
		if (device_is(&items[nitems], POLICY_DEV_PTS_MAJOR))
			items[nitems].minor = DEV_ANY_MINOR;
		seen_add(&items[nitems++].seen, &obs[i]);
	}
	/* Before the sort: the rules below merge equal items, so widening
	 * one terminal item widens the terminals' rule. */
	device_terminals(items, &nitems);
	qsort(items, nitems, sizeof(*items), device_item_cmp);
	for (size_t i = 0; i < nitems;) {
		struct device_item d = items[i];
		cJSON *rule;
		char acc[4], type[2] = {d.type == CGF_DEV_BLOCK ? 'b' : 'c'};

		/* One rule per device: the union of the accesses seen. */
		for (i++; i < nitems && !device_item_cmp(&d, &items[i]); i++) {
			d.access |= items[i].access;
			seen_merge(&d.seen, &items[i].seen);
		}
		access_text(d.access, acc);
		rule = cJSON_CreateObject();
		if (!rule || !cJSON_AddItemToArray(rules, rule)) {
			cJSON_Delete(rule);
			return -ENOMEM;
		}
		cJSON_AddStringToObject(rule, "action", "allow");
		cJSON_AddStringToObject(rule, "type", type);
		cJSON_AddNumberToObject(rule, "major", d.major);
		if (d.minor == DEV_ANY_MINOR)
			cJSON_AddStringToObject(rule, "minor", "*");
		else
			cJSON_AddNumberToObject(rule, "minor", d.minor);
		cJSON_AddStringToObject(rule, "access", acc);
		if (!cJSON_AddItemToObject(rule, "comment",
					   seen_comment(&d.seen, NULL)))
			return -ENOMEM;
	}
	return 0;
}

int suggest_section_rules(const struct observation *obs, size_t n,
			  enum suggest_section section,
			  const struct suggest_opts *o, cJSON *rules)
{
	if (section == SUGGEST_DEVICES)
		return device_rules(obs, n, rules);
	return network_rules(obs, n, section, o, rules);
}

/* Appends word to the array at obj[key] (made when missing) unless there. */
static int add_word(cJSON *obj, const char *key, const char *word)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, key), *w;

	if (!list)
		list = cJSON_AddArrayToObject(obj, key);
	if (!cJSON_IsArray(list))
		return -ENOMEM;
	cJSON_ArrayForEach(w,
			   list) if (cJSON_IsString(w) &&
				     (!strcmp(w->valuestring, word) ||
				      !strcmp(w->valuestring, "any"))) return 0;
	return cJSON_AddItemToArray(list, cJSON_CreateString(word)) ? 0
								    : -ENOMEM;
}

int suggest_sockets(const struct observation *obs, size_t n, cJSON *policy)
{
	cJSON *sockets = NULL;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const struct cgf_record_key *k = &obs[i].key;
		const char *proto = socknames_protocol_name(k->protocol);

		if (observation_section(&obs[i]) != SUGGEST_SOCKETS)
			continue;
		if (!sockets)
			sockets = cJSON_GetObjectItemCaseSensitive(policy,
								   "sockets");
		if (!sockets)
			sockets = cJSON_AddObjectToObject(policy, "sockets");
		if (!cJSON_IsObject(sockets))
			return -ENOMEM;
		if (k->kind == CGF_REC_SOCKOPT)
			err = add_word(sockets, "options",
				       sockopt_name(k->port));
		else if (k->protocol == IPPROTO_RAW) /* writes whole headers */
			err = add_word(sockets, "options", "hdrincl");
		else
			/* The policy language names four protocols; "any" for
			 * the others. */
			err = add_word(sockets, "raw", proto ? proto : "any");
	}
	return err;
}

static const char *const section_names[] = {
	[SUGGEST_EGRESS] = "egress",
	[SUGGEST_INGRESS] = "ingress",
	[SUGGEST_DEVICES] = "devices",
};

cJSON *suggest_policy(const struct observation *obs, size_t n,
		      const struct suggest_opts *o)
{
	cJSON *p = cJSON_CreateObject();
	struct seen all = {};
	char text[1024], first[32], last[32];
	size_t used = 0;

	if (!p)
		return NULL;
	for (size_t i = 0; i < n; i++)
		seen_add(&all, &obs[i]);
	suggest_time_text(all.first_ns, first, sizeof(first));
	suggest_time_text(all.last_ns, last, sizeof(last));
	used = snprintf(text, sizeof(text),
			"Suggested by cgfence suggest from the record of %s: "
			"%zu distinct flows and device accesses",
			o->source ? o->source : "a cgroup", n);
	if (n)
		used += snprintf(text + used, sizeof(text) - used,
				 ", seen from %s to %s", first, last);
	if (o->not_recorded && used < sizeof(text))
		snprintf(text + used, sizeof(text) - used,
			 ". WARNING: the record table (%u entries) was full: "
			 "%" PRIu64 " observations were not recorded, and "
			 "this policy denies what they were",
			 o->table_size, o->not_recorded);
	cJSON_AddNumberToObject(p, "version", 1);
	cJSON_AddStringToObject(p, "name", o->name ? o->name : "suggested");
	cJSON_AddStringToObject(p, "comment", text);
	cJSON_AddStringToObject(p, "mode", "enforce");
	for (int s = SUGGEST_EGRESS; s <= SUGGEST_DEVICES; s++) {
		cJSON *sec = cJSON_AddObjectToObject(p, section_names[s]);
		cJSON *rules;

		if (!sec || !cJSON_AddStringToObject(sec, "default", "deny"))
			goto fail;
		rules = cJSON_AddArrayToObject(sec, "rules");
		if (!rules || suggest_section_rules(obs, n, s, o, rules))
			goto fail;
	}
	if (suggest_sockets(obs, n, p))
		goto fail;
	return p;
fail:
	cJSON_Delete(p);
	return NULL;
}
