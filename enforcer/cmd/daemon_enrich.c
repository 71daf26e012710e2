// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "container_record.h"
#include "daemon_enrich.h"
#include "hashtab.h"

/*
 * Direct-mapped by cgroup id: a collision only costs a re-read. A slot
 * answers for events of the (cgroup, policy, generation) it was read
 * for, and at most INFO_RECHECK_NS after: an apply bumps the generation,
 * so a changed policy or container is seen at once, and a detach and a
 * new apply (which restart the generation) within the second after. A
 * cgroup detached meanwhile keeps its names for its apply's events.
 *
 * A cgroup id is never reused while the system runs, and a container's
 * annotations never change, so a pod found stays right; "no pod" is
 * asked again after POD_RECHECK_NS (a record written after a denial
 * raced it, or one written by a later apply).
 */
#define SLOTS		1024
#define INFO_RECHECK_NS 1000000000ull
#define POD_RECHECK_NS	(10 * 1000000000ull)

struct slot {
	uint64_t cgroup_id; /* 0: empty */
	/* The cgroup's info, read for events of this policy and apply. */
	uint32_t policy_id, generation;
	uint64_t info_checked_ns;
	bool have_info, have_policy_name;
	struct cgf_cgroup_info info;
	char policy_name[CGF_NAME_LEN];
	/* The pod, read once per cgroup. */
	uint64_t pod_checked_ns;
	bool is_pod;
	struct k8s_identity pod;
};

struct daemon_enrich {
	const struct cgf_state *st;
	struct slot slots[SLOTS];
	struct slot now; /* a stats record's cgroup as it is now */
};

struct daemon_enrich *daemon_enrich_new(const struct cgf_state *st)
{
	struct daemon_enrich *c = calloc(1, sizeof(*c));

	if (c)
		c->st = st;
	return c;
}

void daemon_enrich_free(struct daemon_enrich *c)
{
	free(c);
}

/*
 * A re-read for the same apply that finds the cgroup gone (detached since)
 * keeps what was read: the events are still that apply's.
 */
static void read_info(const struct cgf_state *st, struct slot *s,
		      uint32_t policy_id, bool same_apply)
{
	struct cgf_cgroup_info info;
	struct cgf_policy_info pinfo;

	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_CGROUP_INFO], &s->cgroup_id,
				&info) == 0) {
		s->info = info;
		s->have_info = true;
	} else if (!same_apply) {
		s->have_info = false;
	}
	/* The policy that judged, even if the cgroup has moved on since. */
	if (policy_id && bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICY_INFO],
					     &policy_id, &pinfo) == 0) {
		memcpy(s->policy_name, pinfo.name, sizeof(s->policy_name));
		s->have_policy_name = true;
	} else if (!same_apply) {
		s->have_policy_name = false;
	}
}

static void read_pod(const struct cgf_state *st, struct slot *s,
		     uint64_t now_ns)
{
	s->pod_checked_ns = now_ns;
	s->is_pod =
		st->run_fd >= 0 &&
		container_record_pod(st->run_fd, s->cgroup_id, &s->pod) == 1;
}

/* The slot for cgroup_id, emptied (its pod to be read) if it held another. */
static struct slot *slot_of(struct daemon_enrich *c, uint64_t cgroup_id,
			    uint64_t now_ns)
{
	struct slot *s = &c->slots[hashtab_hash_u64(cgroup_id) & (SLOTS - 1)];

	if (s->cgroup_id != cgroup_id) {
		memset(s, 0, sizeof(*s));
		s->cgroup_id = cgroup_id;
		read_pod(c->st, s, now_ns);
		s->info_checked_ns = now_ns - INFO_RECHECK_NS; /* stale */
	} else if (!s->is_pod && now_ns - s->pod_checked_ns >= POD_RECHECK_NS) {
		read_pod(c->st, s, now_ns);
	}
	return s;
}

static void fill(const struct slot *s, struct audit_enrichment *en)
{
	memset(en, 0, sizeof(*en));
	if (s->have_info) {
		en->container_id = s->info.container_id;
		en->cgroup_path = s->info.path;
		en->policy_name = s->info.policy_name;
	}
	if (s->have_policy_name)
		en->policy_name = s->policy_name;
	en->kubernetes = s->is_pod ? &s->pod : NULL;
}

void daemon_enrich_event(struct daemon_enrich *c, uint64_t cgroup_id,
			 uint32_t policy_id, uint32_t generation,
			 uint64_t now_ns, struct audit_enrichment *en)
{
	struct slot *s;
	bool same_apply;

	memset(en, 0, sizeof(*en));
	if (!c || !cgroup_id)
		return;
	s = slot_of(c, cgroup_id, now_ns);
	same_apply = s->policy_id == policy_id && s->generation == generation;
	if (!same_apply || now_ns - s->info_checked_ns >= INFO_RECHECK_NS) {
		s->policy_id = policy_id;
		s->generation = generation;
		s->info_checked_ns = now_ns;
		read_info(c->st, s, policy_id, same_apply);
	}
	fill(s, en);
}

void daemon_enrich_cgroup(struct daemon_enrich *c, uint64_t cgroup_id,
			  uint64_t now_ns, struct audit_enrichment *en)
{
	struct slot *s;

	memset(en, 0, sizeof(*en));
	if (!c || !cgroup_id)
		return;
	/* Read apart from the events' slot, which keeps its apply's names. */
	s = slot_of(c, cgroup_id, now_ns);
	c->now = *s;
	read_info(c->st, &c->now, 0, false);
	fill(&c->now, en);
}
