/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policy a record suggests: every observed flow and device access
 * allowed, the rest denied, in rules a person can review.
 *
 *   egress    one rule per protocol and remote port, listing the peers
 *             seen there; ports with the same peers share a rule
 *   ingress   the same per local (listening) port and the clients seen
 *   devices   one rule per type, major and minor, with the accesses seen
 *   sockets   the raw socket protocols and socket options seen
 *
 * Each rule's comment gives how often it was seen and when first and
 * last; --aggregate-v4/-v6 widen peers to prefixes. Pure: no kernel.
 */
#ifndef CGFENCE_SUGGEST_H
#define CGFENCE_SUGGEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cgfence_abi.h"

/* One entry of a record table, its times on CLOCK_REALTIME. */
struct observation {
	struct cgf_record_key key;
	uint64_t count;
	uint64_t first_ns;
	uint64_t last_ns;
};

enum suggest_section {
	SUGGEST_EGRESS = CGF_DIR_EGRESS,
	SUGGEST_INGRESS = CGF_DIR_INGRESS,
	SUGGEST_DEVICES,
	SUGGEST_SOCKETS, /* raw sockets and socket options */
};

struct suggest_opts {
	const char *name;   /* the policy's name */
	const char *source; /* "container ID (cgroup DIR)", for comments */
	unsigned int aggregate_v4; /* prefix length peers widen to; 0: 32 */
	unsigned int aggregate_v6; /* 0: 128 */
	uint64_t not_recorded;	   /* the record table's overflow count */
	uint32_t table_size;
};

/* The observation's section: egress, ingress or devices. */
enum suggest_section observation_section(const struct observation *o);

/*
 * Appends to rules (a JSON array) the allow rules of a section for the
 * observations of that section among obs[0..n). 0 or -ENOMEM.
 */
int suggest_section_rules(const struct observation *obs, size_t n,
			  enum suggest_section section,
			  const struct suggest_opts *o, cJSON *rules);

/*
 * Adds to a policy's "sockets" object (made when missing) what the raw
 * socket and socket option observations among obs[0..n) need, each once.
 * 0 or -ENOMEM.
 */
int suggest_sockets(const struct observation *obs, size_t n, cJSON *policy);

/* The whole suggested policy, a JSON object; NULL when out of memory. */
cJSON *suggest_policy(const struct observation *obs, size_t n,
		      const struct suggest_opts *o);

/* "2026-12-01T14:50:03Z" */
void suggest_time_text(uint64_t realtime_ns, char *buf, size_t len);

/* "seen 3 times, first 2026-...Z, last 2026-...Z" ("seen once, ...") */
void suggest_seen_text(uint64_t count, uint64_t first_ns, uint64_t last_ns,
		       char *buf, size_t len);

/*
 * "10.0.0.1:443/tcp", "[fd00::1]:53/udp", "10.0.0.1/icmp", "c:1:3:rw",
 * "inet:raw:icmp" (a raw socket, as explain --socket writes it), "option
 * recverr"
 */
void observation_text(const struct observation *o, char *buf, size_t len);

/*
 * A policy name made of a container id or any text: lower case, other
 * characters turned into '-', at most 63 bytes; "suggested" when nothing
 * is left.
 */
void suggest_policy_name(const char *from, char *buf, size_t len);

#endif
