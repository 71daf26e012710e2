/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the daemon adds to a denial: the cgroup's container id, path and
 * policy name (cgf_cgroup_info, cgf_policy_info) and its Kubernetes pod
 * (the hook's container record). Kept per cgroup, so that a burst of
 * denials costs two map lookups and a file read once, not per event.
 */
#ifndef CGFENCE_DAEMON_ENRICH_H
#define CGFENCE_DAEMON_ENRICH_H

#include <stdint.h>

#include "audit.h"
#include "loader.h"

struct daemon_enrich;

/* NULL on ENOMEM. */
struct daemon_enrich *daemon_enrich_new(const struct cgf_state *st);
void daemon_enrich_free(struct daemon_enrich *c);

/*
 * For an event of this cgroup, policy and apply (generation); now_ns is
 * CLOCK_MONOTONIC. The strings in *en stay valid until the next call.
 */
void daemon_enrich_event(struct daemon_enrich *c, uint64_t cgroup_id,
			 uint32_t policy_id, uint32_t generation,
			 uint64_t now_ns, struct audit_enrichment *en);
/* For a stats record: the cgroup as it is now. */
void daemon_enrich_cgroup(struct daemon_enrich *c, uint64_t cgroup_id,
			  uint64_t now_ns, struct audit_enrichment *en);

#endif
