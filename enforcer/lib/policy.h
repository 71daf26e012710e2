/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policy language version 1: JSON text -> typed policy. Pure: no kernel, no
 * libbpf. See README.md ("Policy language") for the user-facing contract.
 */
#ifndef CGFENCE_POLICY_H
#define CGFENCE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgfence_abi.h"
#include "diag.h"

#define POLICY_MAX_FILE_SIZE (64u << 20)
/*
 * No policy name ends in this: a policy directory skips NAME.schema.json,
 * the JSON Schema editors read (policies/cgfence-policy.schema.json).
 */
#define POLICY_SCHEMA_NAME_SUFFIX ".schema"

struct policy_cidr {
	uint8_t family; /* 4 or 6; IPv4-mapped IPv6 is rejected in policies */
	uint8_t prefixlen;
	uint8_t addr[16]; /* network order, IPv4 in the first 4 bytes */
	struct src_pos pos;
};

struct policy_port_range {
	uint16_t first, last; /* inclusive, 1..65535 */
	struct src_pos pos;
};

struct addr_set;
struct addr_set_source;

/* "@NAME" in a rule's "to" or "from": the address set NAME (addr_set.h). */
struct policy_set_ref {
	char *name;
	struct src_pos pos;
	const struct addr_set *set; /* one of policy.sets */
};

/*
 * protocol: 0 (any), IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6.
 * The rule's addresses are addrs and the entries of every set in sets;
 * without either (naddrs == 0 && nsets == 0) it matches any address, but a
 * rule that names only sets that are empty matches no address.
 */
struct policy_net_rule {
	uint8_t action; /* CGF_ALLOW / CGF_DENY */
	uint8_t protocol;
	struct policy_cidr *addrs;
	size_t naddrs;
	struct policy_set_ref *sets;
	size_t nsets;
	struct policy_port_range *ports; /* nports == 0: any port */
	size_t nports;
	char *comment; /* may be NULL */
	struct src_pos pos;
};

struct policy_net_section {
	bool present;
	uint8_t default_action;
	struct policy_net_rule *rules;
	size_t nrules;
};

struct policy_dev_rule {
	uint8_t action;
	uint8_t type;	      /* CGF_DEV_ALL / CGF_DEV_BLOCK / CGF_DEV_CHAR */
	int64_t major, minor; /* -1: any ("*" or omitted) */
	uint8_t access;	      /* CGF_ACC_* bits, never 0 */
	struct src_pos pos;
};

/*
 * Terminals, which the device rules cannot fully see: the TIOCGPTPEER
 * ioctl on an open /dev/ptmx opens its terminal with no device check
 * (the policy check refuses what that gets around; suggest allows it).
 */
#define POLICY_DEV_PTMX_MAJOR 5 /* /dev/ptmx, /dev/pts/ptmx */
#define POLICY_DEV_PTMX_MINOR 2
#define POLICY_DEV_PTS_MAJOR  136 /* every UNIX98 terminal, c 136:N */

struct policy_dev_section {
	bool present;
	uint8_t default_action;
	struct policy_dev_rule *rules;
	size_t nrules;
};

/* One entry of sockets.raw (an IP protocol) or sockets.families (AF_*). */
#define POLICY_SOCKETS_ANY 0xffff /* "any" */
struct policy_socket_entry {
	uint16_t value;
	struct src_pos pos;
};

/*
 * What sockets a fenced process may create. Absent entries mean none:
 * no raw sockets, no address family beyond unix, inet, inet6, netlink.
 */
struct policy_sockets {
	bool present;
	struct policy_socket_entry *raw; /* IP protocols of raw sockets */
	size_t nraw;
	struct policy_socket_entry *families; /* further address families */
	size_t nfamilies;
	struct policy_socket_entry *options; /* CGF_SOCKOPT_* allowed */
	size_t noptions;
};

struct policy_selector_entry {
	char *key;
	char *value;
};

struct policy {
	char *path;    /* file it came from, for messages */
	char *name;    /* [a-z0-9][a-z0-9._-]*, at most CGF_NAME_LEN-1 bytes */
	uint32_t mode; /* CGF_MODE_ENFORCE / CGF_MODE_AUDIT */
	struct policy_selector_entry
		*selector; /* annotations that must match */
	size_t nselector;
	struct policy_net_section egress;
	struct policy_net_section ingress;
	struct policy_dev_section devices;
	struct policy_sockets sockets;
	/*
	 * The address sets its rules name, each once, sorted by name; one
	 * reference each. A policy depends on the files these came from.
	 */
	struct addr_set **sets;
	size_t nsets;
	/* The file's text, as parsed (policy_store.h keeps it). */
	char *source;
	size_t source_len;
	/* Read from the last good versions: the file itself did not validate. */
	bool last_good;
	/* Shared by a resident process's cache: policy_free() drops one. */
	unsigned int refs;
	/* What a user derived from it (hook.c: the compiled tables), freed
	 * with the policy. */
	void *derived;
	void (*derived_free)(void *derived);
};

/*
 * Parse and validate. On success returns 0 and *out. On invalid input
 * returns -EINVAL with every problem found appended to *d as
 * "PATH:LINE:COL: message"; other negative errnos for I/O and memory.
 *
 * A "@NAME" in an address list is resolved through sets (addr_set.h):
 * a set that does not exist, or does not validate, is an error at the
 * reference (the set file's own problems are listed too, once per load
 * pass when sets has a cache). policy_parse() has no sets: text that does
 * not come from a file has no directory, and "@NAME" is an error there.
 */
int policy_parse_at(const char *path, const char *text, size_t len,
		    const struct addr_set_source *sets, struct policy **out,
		    struct diags *d);
int policy_parse(const char *path, const char *text, size_t len,
		 struct policy **out, struct diags *d);
/* The file at path; its sets are in the directory's sets/, next to it. */
int policy_load_file(const char *path, struct policy **out, struct diags *d);
/* The addresses of a rule's list and of its sets, together. */
size_t policy_rule_address_count(const struct policy_net_rule *r);
/* One more holder; policy_free() frees the policy when the last one calls it. */
struct policy *policy_ref(struct policy *p);
void policy_free(struct policy *p);

/*
 * One CIDR or bare address as policies write it ("10.0.0.0/8", "fd00::1"),
 * with the same strict checks (host bits, prefix length, IPv4-mapped);
 * -EINVAL with the reason in why. For options that take addresses.
 */
int policy_parse_cidr(const char *s, struct policy_cidr *c, char *why,
		      size_t why_len);

/*
 * [a-z0-9][a-z0-9._-]*, shorter than CGF_NAME_LEN: never a path. The names
 * of policies and of address sets.
 */
bool policy_name_valid(const char *name);

/* A path ending in POLICY_SCHEMA_NAME_SUFFIX ".json": a schema, no policy. */
bool policy_path_is_schema(const char *path);

/* "web: enforce, egress 3 rules (default deny), ingress ..., devices ..." */
void policy_summary(const struct policy *p, char *buf, size_t len);

#endif
