/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test support shared by the compiler and delta tests: building policies in
 * memory, a seeded generator of random policies and flows, and a naive
 * first-match evaluator written straight from the rule semantics.
 * Include after unit.h.
 */
#ifndef CGFENCE_POLICY_GEN_H
#define CGFENCE_POLICY_GEN_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addr_set.h"
#include "compile.h"
#include "unit.h"

/* ---- building policies in memory ---- */

static inline void *grow(void *ptr, size_t n, size_t size)
{
	void *p = reallocarray(ptr, n, size);

	/* A test that ran out of memory can report nothing useful. */
	if (!p)
		abort();
	return p;
}

static inline struct policy *policy_new(const char *name)
{
	struct policy *p = grow(NULL, 1, sizeof(*p));

	memset(p, 0, sizeof(*p));
	p->name = strdup(name);
	if (!p->name)
		abort();
	return p;
}

static inline void net_section_free(struct policy_net_section *s)
{
	for (size_t i = 0; i < s->nrules; i++) {
		free(s->rules[i].addrs);
		for (size_t k = 0; k < s->rules[i].nsets; k++)
			free(s->rules[i].sets[k].name);
		free(s->rules[i].sets);
		free(s->rules[i].ports);
	}
	free(s->rules);
}

static inline void test_policy_free(struct policy *p)
{
	net_section_free(&p->egress);
	net_section_free(&p->ingress);
	for (size_t i = 0; i < p->nsets; i++)
		addr_set_free(p->sets[i]);
	free(p->sets);
	free(p->devices.rules);
	free(p->name);
	free(p);
}

static inline void section_enable(struct policy_net_section *s, uint8_t def)
{
	s->present = true;
	s->default_action = def;
}

/* The pointer is valid until the next rule_add() on the same section. */
static inline struct policy_net_rule *rule_add(struct policy_net_section *s,
					       uint8_t action, uint8_t protocol)
{
	struct policy_net_rule *r;

	s->rules = grow(s->rules, s->nrules + 1, sizeof(*s->rules));
	r = &s->rules[s->nrules++];
	memset(r, 0, sizeof(*r));
	r->action = action;
	r->protocol = protocol;
	return r;
}

static inline void rule_add_cidr_raw(struct policy_net_rule *r, uint8_t family,
				     const uint8_t *addr, uint8_t prefixlen)
{
	struct policy_cidr *cidr;

	r->addrs = grow(r->addrs, r->naddrs + 1, sizeof(*r->addrs));
	cidr = &r->addrs[r->naddrs++];
	memset(cidr, 0, sizeof(*cidr));
	cidr->family = family;
	cidr->prefixlen = prefixlen;
	memcpy(cidr->addr, addr, family == 4 ? 4 : 16);
}

/* An address set built in memory, one reference, no entries yet. */
static inline struct addr_set *set_new(const char *name)
{
	struct addr_set *set = grow(NULL, 1, sizeof(*set));

	memset(set, 0, sizeof(*set));
	set->refs = 1;
	set->name = strdup(name);
	set->path = strdup(name);
	if (!set->name || !set->path)
		abort();
	return set;
}

static inline void set_add_cidr_raw(struct addr_set *set, uint8_t family,
				    const uint8_t *addr, uint8_t prefixlen)
{
	struct policy_cidr *cidr;

	set->entries =
		grow(set->entries, set->nentries + 1, sizeof(*set->entries));
	cidr = &set->entries[set->nentries++];
	memset(cidr, 0, sizeof(*cidr));
	cidr->family = family;
	cidr->prefixlen = prefixlen;
	cidr->pos.line = set->nentries;
	memcpy(cidr->addr, addr, family == 4 ? 4 : 16);
}

/* "@NAME" in the rule; policy_collect_sets() makes the policy hold it. */
static inline void rule_add_set(struct policy_net_rule *r,
				const struct addr_set *set)
{
	struct policy_set_ref *ref;

	r->sets = grow(r->sets, r->nsets + 1, sizeof(*r->sets));
	ref = &r->sets[r->nsets++];
	memset(ref, 0, sizeof(*ref));
	ref->name = strdup(set->name);
	ref->set = set;
}

static inline void section_collect_sets(struct policy *p,
					const struct policy_net_section *s)
{
	for (size_t i = 0; i < s->nrules; i++) {
		for (size_t k = 0; k < s->rules[i].nsets; k++) {
			struct addr_set *set =
				(struct addr_set *)s->rules[i].sets[k].set;
			bool held = false;

			for (size_t j = 0; j < p->nsets && !held; j++)
				held = p->sets[j] == set;
			if (held)
				continue;
			p->sets = grow(p->sets, p->nsets + 1, sizeof(*p->sets));
			p->sets[p->nsets++] = addr_set_ref(set);
		}
	}
}

/* p->sets: one reference to each set its rules name, as the parser does. */
static inline void policy_collect_sets(struct policy *p)
{
	section_collect_sets(p, &p->egress);
	section_collect_sets(p, &p->ingress);
}

/* Text to bytes; returns the family, 0 on a typo in the test itself. */
static inline uint8_t parse_addr(const char *text, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1)
		return 4;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return 6;
	return 0;
}

/* "10.0.0.0/8", "2001:db8::/32", or a bare address for a host prefix. */
static inline void rule_add_cidr(struct policy_net_rule *r, const char *text)
{
	char buf[64];
	char *slash;
	uint8_t addr[16], family;
	int prefixlen = -1;

	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		prefixlen = atoi(slash + 1);
	}
	family = parse_addr(buf, addr);
	CHECK(family != 0, "bad address in test: %s", text);
	if (prefixlen < 0)
		prefixlen = family == 4 ? 32 : 128;
	rule_add_cidr_raw(r, family, addr, prefixlen);
}

static inline void rule_add_ports(struct policy_net_rule *r, uint16_t first,
				  uint16_t last)
{
	r->ports = grow(r->ports, r->nports + 1, sizeof(*r->ports));
	memset(&r->ports[r->nports], 0, sizeof(*r->ports));
	r->ports[r->nports].first = first;
	r->ports[r->nports].last = last;
	r->nports++;
}

static inline void device_rule_add(struct policy *p, uint8_t action,
				   uint8_t type, int64_t major, int64_t minor,
				   uint8_t access)
{
	struct policy_dev_section *s = &p->devices;
	struct policy_dev_rule *r;

	s->rules = grow(s->rules, s->nrules + 1, sizeof(*s->rules));
	r = &s->rules[s->nrules++];
	memset(r, 0, sizeof(*r));
	r->action = action;
	r->type = type;
	r->major = major;
	r->minor = minor;
	r->access = access;
}

static inline struct flow flow_make(uint8_t dir, const char *addr,
				    uint8_t protocol, uint16_t port)
{
	struct flow f = {.direction = dir, .protocol = protocol, .port = port};

	f.family = parse_addr(addr, f.addr);
	CHECK(f.family != 0, "bad address in test: %s", addr);
	return f;
}

static inline struct compiled_policy *compile_ok(const struct policy *p)
{
	struct compiled_policy *c = NULL;
	int err = policy_compile(p, &c);

	CHECK(err == 0 && c, "policy_compile(%s) = %d", p->name, err);
	return c;
}

/* ---- random policies and flows, and the reference evaluator ---- */

struct rng {
	uint64_t state;
};

/* splitmix64: tiny, and the same sequence on every platform. */
static inline uint64_t rng_next(struct rng *g)
{
	uint64_t z = (g->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint32_t rng_below(struct rng *g, uint32_t n)
{
	return rng_next(g) % n;
}

#define PICK(g, array)                                                         \
	((array)[rng_below(g, sizeof(array) / sizeof((array)[0]))])

static inline bool ref_cidr_contains(const struct policy_cidr *cidr,
				     uint8_t family, const uint8_t *addr)
{
	unsigned int full = cidr->prefixlen / 8, rest = cidr->prefixlen % 8;
	uint8_t mask = 0xff00 >> rest;

	if (cidr->family != family)
		return false;
	if (memcmp(cidr->addr, addr, full))
		return false;
	return !rest || ((cidr->addr[full] ^ addr[full]) & mask) == 0;
}

static inline bool ref_rule_matches(const struct policy_net_rule *r,
				    uint8_t family, const uint8_t *addr,
				    uint8_t protocol, uint16_t port)
{
	/* Sets count as addresses: only sets, all empty, match nothing. */
	bool addr_ok = r->naddrs == 0 && r->nsets == 0;
	bool port_ok = r->nports == 0;

	for (size_t i = 0; i < r->naddrs && !addr_ok; i++)
		addr_ok = ref_cidr_contains(&r->addrs[i], family, addr);
	for (size_t k = 0; k < r->nsets && !addr_ok; k++)
		for (size_t i = 0; i < r->sets[k].set->nentries && !addr_ok;
		     i++)
			addr_ok = ref_cidr_contains(&r->sets[k].set->entries[i],
						    family, addr);
	for (size_t i = 0; i < r->nports && !port_ok; i++)
		port_ok = r->ports[i].first <= port && port <= r->ports[i].last;
	return addr_ok && port_ok &&
	       (r->protocol == 0 || r->protocol == protocol);
}

/* First matching rule decides, else the default; ::ffff:a.b.c.d is IPv4. */
static inline void ref_judge_flow(const struct policy *p, const struct flow *f,
				  struct verdict *v)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	const struct policy_net_section *s =
		f->direction == CGF_DIR_INGRESS ? &p->ingress : &p->egress;
	uint8_t family = f->family, addr[16];
	uint16_t port = 0;

	memcpy(addr, f->addr, 16);
	if (family == 6 && !memcmp(addr, mapped, 12)) {
		family = 4;
		memset(addr, 0, 16);
		memcpy(addr, f->addr + 12, 4);
	}
	if (f->protocol == IPPROTO_TCP || f->protocol == IPPROTO_UDP)
		port = f->port;
	v->restricted = s->present;
	if (!s->present) {
		v->action = CGF_ALLOW;
		v->rule = CGF_RULE_DEFAULT;
		return;
	}
	for (size_t r = 0; r < s->nrules; r++) {
		if (ref_rule_matches(&s->rules[r], family, addr, f->protocol,
				     port)) {
			v->action = s->rules[r].action;
			v->rule = r;
			return;
		}
	}
	v->action = s->default_action;
	v->rule = CGF_RULE_DEFAULT;
}

static inline void random_v4(struct rng *g, uint8_t addr[16])
{
	memset(addr, 0, 16);
	addr[0] = rng_below(g, 8) ? 10 : 192;
	addr[1] = rng_below(g, 4) ? 0 : rng_below(g, 256);
	addr[2] = rng_below(g, 4);
	addr[3] = rng_below(g, 256);
}

static inline void random_v6(struct rng *g, uint8_t addr[16])
{
	memset(addr, 0, 16);
	addr[0] = 0x20;
	addr[1] = 0x01;
	addr[2] = 0x0d;
	addr[3] = rng_below(g, 8) ? 0xb8 : 0xb9;
	addr[4] = rng_below(g, 4) ? 0 : 1;
	addr[13] = rng_below(g, 2);
	addr[14] = rng_below(g, 4);
	addr[15] = rng_below(g, 256);
}

static inline void random_cidr_value(struct rng *g, uint8_t *family,
				     uint8_t addr[16], uint8_t *len)
{
	static const uint8_t v4_lens[] = {0,  1,  8,  16, 22, 23, 24, 25, 26,
					  27, 28, 29, 30, 31, 32, 32, 32};
	static const uint8_t v6_lens[] = {0,   16,  32,	 33,  48,  64,
					  96,  112, 118, 120, 121, 124,
					  126, 127, 128, 128};

	*family = rng_below(g, 10) < 6 ? 4 : 6;
	if (*family == 4) {
		random_v4(g, addr);
		*len = PICK(g, v4_lens);
	} else {
		random_v6(g, addr);
		*len = PICK(g, v6_lens);
	}
	/* Half keep host bits: the compiler must ignore them. */
	if (rng_below(g, 2)) {
		for (unsigned int b = *len; b < 128; b++)
			addr[b / 8] &= ~(0x80 >> (b % 8));
	}
}

static inline void random_cidr(struct rng *g, struct policy_net_rule *r)
{
	uint8_t addr[16], family, len;

	random_cidr_value(g, &family, addr, &len);
	rule_add_cidr_raw(r, family, addr, len);
}

static inline void random_set_entry(struct rng *g, struct addr_set *set)
{
	uint8_t addr[16], family, len;

	random_cidr_value(g, &family, addr, &len);
	set_add_cidr_raw(set, family, addr, len);
}

/* A set of 0 to 40 random entries; one in six is empty. */
static inline struct addr_set *random_set(struct rng *g, const char *name)
{
	struct addr_set *set = set_new(name);
	uint32_t n = rng_below(g, 6) ? 1 + rng_below(g, 40) : 0;

	for (uint32_t i = 0; i < n; i++)
		random_set_entry(g, set);
	return set;
}

/* Random sets that random rules may name. */
struct set_pool {
	struct addr_set **sets;
	size_t n;
};

static inline uint16_t random_port(struct rng *g)
{
	static const uint16_t edges[] = {1,	2,     79,   80,   443,
					 1023,	1024,  8000, 8100, 32767,
					 32768, 65534, 65535};

	switch (rng_below(g, 5)) {
	case 0:
	case 1:
		return PICK(g, edges);
	case 2:
	case 3:
		return 1 + rng_below(g, 2048);
	default:
		return 1 + rng_below(g, 65535);
	}
}

static inline void random_port_range(struct rng *g, struct policy_net_rule *r)
{
	static const uint32_t spans[] = {1, 1, 16, 300, 65535};
	uint32_t first = random_port(g);
	uint32_t last = first + rng_below(g, PICK(g, spans));

	rule_add_ports(r, first, last > 65535 ? 65535 : last);
}

static inline void random_net_section_with(struct rng *g,
					   struct policy_net_section *s,
					   const struct set_pool *pool)
{
	static const uint8_t protocols[] = {0,
					    0,
					    IPPROTO_TCP,
					    IPPROTO_TCP,
					    IPPROTO_TCP,
					    IPPROTO_UDP,
					    IPPROTO_UDP,
					    IPPROTO_ICMP,
					    IPPROTO_ICMPV6};
	uint32_t nrules = rng_below(g, 61);

	if (rng_below(g, 8) == 0)
		return;
	section_enable(s, rng_below(g, 2));
	for (uint32_t i = 0; i < nrules; i++) {
		struct policy_net_rule *r =
			rule_add(s, rng_below(g, 2), PICK(g, protocols));
		uint32_t naddrs = rng_below(g, 4) ? 1 + rng_below(g, 4) : 0;
		uint32_t nports = 0;

		for (uint32_t a = 0; a < naddrs; a++)
			random_cidr(g, r);
		/* Sets mix with literal addresses, or stand alone. */
		if (pool && pool->n && rng_below(g, 3) == 0) {
			uint32_t nsets = 1 + rng_below(g, 2);

			for (uint32_t k = 0; k < nsets; k++)
				rule_add_set(r,
					     pool->sets[rng_below(g, pool->n)]);
		}
		if (r->protocol == IPPROTO_TCP || r->protocol == IPPROTO_UDP)
			nports = rng_below(g, 3) ? 1 + rng_below(g, 3) : 0;
		else if (r->protocol == 0 && rng_below(g, 8) == 0)
			nports = 1 + rng_below(g, 2);
		for (uint32_t k = 0; k < nports; k++)
			random_port_range(g, r);
	}
}

static inline void random_net_section(struct rng *g,
				      struct policy_net_section *s)
{
	random_net_section_with(g, s, NULL);
}

/* One of the rule's CIDRs, its own or of its sets; NULL if none. */
static inline const struct policy_cidr *
random_rule_cidr(struct rng *g, const struct policy_net_rule *r)
{
	const struct addr_set *set;

	if (r->nsets && (!r->naddrs || rng_below(g, 2))) {
		set = r->sets[rng_below(g, r->nsets)].set;
		if (set->nentries)
			return &set->entries[rng_below(g, set->nentries)];
	}
	return r->naddrs ? &r->addrs[rng_below(g, r->naddrs)] : NULL;
}

/* An address inside, at the edge of, or just outside one of the CIDRs. */
static inline void random_flow_addr(struct rng *g,
				    const struct policy_net_section *s,
				    struct flow *f)
{
	const struct policy_net_rule *r =
		s->nrules ? &s->rules[rng_below(g, s->nrules)] : NULL;
	uint32_t how = rng_below(g, 10);
	const struct policy_cidr *cidr =
		how < 5 && r ? random_rule_cidr(g, r) : NULL;

	if (cidr) {
		unsigned int bits = cidr->family == 4 ? 32 : 128;

		f->family = cidr->family;
		memcpy(f->addr, cidr->addr, 16);
		for (unsigned int b = cidr->prefixlen; b < bits; b++) {
			if (rng_below(g, 4) == 0)
				f->addr[b / 8] ^= 0x80 >> (b % 8);
		}
		/* Flip the last prefix bit: just outside the CIDR. */
		if (cidr->prefixlen && rng_below(g, 3) == 0) {
			unsigned int b = cidr->prefixlen - 1;

			f->addr[b / 8] ^= 0x80 >> (b % 8);
		}
	} else if (how < 8) {
		f->family = 4;
		random_v4(g, f->addr);
	} else {
		f->family = 6;
		random_v6(g, f->addr);
	}
	if (f->family == 4 && rng_below(g, 4) == 0) {
		/* The same address, seen by a dual-stack socket. */
		f->family = 6;
		memmove(f->addr + 12, f->addr, 4);
		memset(f->addr, 0, 10);
		f->addr[10] = f->addr[11] = 0xff;
	}
}

/* A port at or next to an edge of one of the ranges, or anywhere. */
static inline uint16_t random_flow_port(struct rng *g,
					const struct policy_net_section *s)
{
	const struct policy_net_rule *r =
		s->nrules ? &s->rules[rng_below(g, s->nrules)] : NULL;

	if (r && r->nports && rng_below(g, 3)) {
		const struct policy_port_range *pr =
			&r->ports[rng_below(g, r->nports)];

		switch (rng_below(g, 5)) {
		case 0:
			return pr->first - 1;
		case 1:
			return pr->first;
		case 2:
			return pr->last;
		case 3:
			return pr->last + 1;
		default:
			return pr->first +
			       rng_below(g, pr->last - pr->first + 1);
		}
	}
	return rng_below(g, 20) ? random_port(g) : 0;
}

static inline void random_flow(struct rng *g, const struct policy *p,
			       struct flow *f)
{
	static const uint8_t protocols[] = {IPPROTO_TCP,     IPPROTO_TCP,
					    IPPROTO_TCP,     IPPROTO_UDP,
					    IPPROTO_UDP,     IPPROTO_ICMP,
					    IPPROTO_ICMPV6,  IPPROTO_SCTP,
					    IPPROTO_UDPLITE, 0};
	const struct policy_net_section *s;

	memset(f, 0, sizeof(*f));
	f->direction = rng_below(g, 2);
	s = f->direction == CGF_DIR_INGRESS ? &p->ingress : &p->egress;
	f->protocol = PICK(g, protocols);
	f->port = random_flow_port(g, s);
	random_flow_addr(g, s, f);
}

#endif
