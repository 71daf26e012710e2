// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Compiler tests: hand-written cases, a differential test of the compiled
 * tables against a naive evaluator written straight from the rule
 * semantics (random policies, seed in CGF_TEST_SEED), and a policy with
 * 100,000 CIDRs. Policies are built in memory, not parsed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "compile.h"
#include "unit.h"
#include "policy_gen.h"

#define RANDOM_POLICIES		   3000
#define FLOWS_PER_POLICY	   250
#define DEVICE_POLICIES		   2000
#define REQUESTS_PER_DEVICE_POLICY 100
#define MAX_REPORTED_MISMATCHES	   5

static const char *action_name(uint8_t action)
{
	return action == CGF_ALLOW ? "allow" : "deny";
}

#define EXPECT_FLOW(c, dir, addr, proto, port, action, rule)                   \
	expect_flow(c, dir, addr, proto, port, action, rule, __LINE__)

static void expect_flow(const struct compiled_policy *c, uint8_t dir,
			const char *addr, uint8_t protocol, uint16_t port,
			uint8_t action, uint32_t rule, int line)
{
	struct flow f = flow_make(dir, addr, protocol, port);
	struct verdict v;

	compiled_judge_flow(c, &f, &v);
	CHECK(v.action == action && v.rule == rule,
	      "line %d: %s %s proto %u port %u: got %s rule %u, want %s rule "
	      "%u",
	      line, dir == CGF_DIR_INGRESS ? "ingress" : "egress", addr,
	      protocol, port, action_name(v.action), v.rule,
	      action_name(action), rule);
}

#define EXPECT_DEVICE(c, type, major, minor, access, action, rule)             \
	expect_device(c, type, major, minor, access, action, rule, __LINE__)

static void expect_device(const struct compiled_policy *c, uint32_t type,
			  uint32_t major, uint32_t minor, uint32_t access,
			  uint8_t action, uint32_t rule, int line)
{
	struct verdict v;

	compiled_judge_device(c, type, major, minor, access, &v);
	CHECK(v.action == action && v.rule == rule,
	      "line %d: dev type %u %u:%u access %u: got %s rule %u, want %s "
	      "rule %u",
	      line, type, major, minor, access, action_name(v.action), v.rule,
	      action_name(action), rule);
}

static size_t count_entries_of_kind(const struct compiled_policy *c,
				    uint8_t kind)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nentries; i++)
		n += c->entries[i].key.kind == kind;
	return n;
}

/* Bits 0..63 of an entry's class; the other words must be empty. */
static uint64_t entry_low_bits(const struct compiled_policy *c, size_t i)
{
	const struct cgf_rule_mask *m = &c->classes[c->entries[i].class_id];

	for (int w = 1; w < CGF_MASK_WORDS; w++)
		CHECK(m->bits[w] == 0, "entry %zu: rule bits above 63", i);
	return m->bits[0];
}

static uint32_t max_prefixlen_of_kind(uint8_t kind)
{
	switch (kind) {
	case CGF_T_EGRESS_V4:
	case CGF_T_INGRESS_V4:
		return CGF_KIND_BITS + 32;
	case CGF_T_EGRESS_PORT:
	case CGF_T_INGRESS_PORT:
		return CGF_KIND_BITS + 24;
	default:
		return CGF_KIND_BITS + 128;
	}
}

/*
 * Structural checks every compiled policy must pass: strictly sorted,
 * host bits clear, valid class ids, a /0 for each kind of a restricted
 * direction and nothing for an unrestricted one. One CHECK per policy.
 */
static void check_tables(const struct compiled_policy *c, const char *what)
{
	bool has_root[CGF_T__COUNT] = {false};
	const char *problem = NULL;
	size_t at = 0;

	for (size_t i = 0; i < c->nentries && !problem; i++) {
		const struct cgf_lpm_key *k = &c->entries[i].key;
		const struct cgf_lpm_key *prev =
			i ? &c->entries[i - 1].key : NULL;
		uint32_t data_bits = k->prefixlen - CGF_KIND_BITS;

		at = i;
		if (k->kind >= CGF_T__COUNT)
			problem = "bad kind";
		else if (k->prefixlen < CGF_KIND_BITS ||
			 k->prefixlen > max_prefixlen_of_kind(k->kind))
			problem = "bad prefixlen";
		else if (c->entries[i].class_id >= c->nclasses)
			problem = "bad class id";
		else if (prev && (prev->kind > k->kind ||
				  (prev->kind == k->kind &&
				   (memcmp(prev->data, k->data, 16) > 0 ||
				    (!memcmp(prev->data, k->data, 16) &&
				     prev->prefixlen >= k->prefixlen)))))
			problem = "not strictly sorted";
		for (uint32_t b = data_bits; b < 128 && !problem; b++) {
			if (k->data[b / 8] & (0x80 >> (b % 8)))
				problem = "host bits set";
		}
		if (k->pad[0] || k->pad[1] || k->pad[2])
			problem = "padding not zero";
		if (!problem && k->prefixlen == CGF_KIND_BITS)
			has_root[k->kind] = true;
	}
	for (uint8_t kind = 0; kind < CGF_T__COUNT && !problem; kind++) {
		bool ingress = kind == CGF_T_INGRESS_V4 ||
			       kind == CGF_T_INGRESS_V6 ||
			       kind == CGF_T_INGRESS_PORT;
		const struct cgf_direction *d =
			ingress ? &c->hdr.ingress : &c->hdr.egress;

		if (d->restricted && !has_root[kind])
			problem = "restricted kind without a /0 entry";
		if (!d->restricted && count_entries_of_kind(c, kind))
			problem = "entries for an unrestricted direction";
	}
	CHECK(!problem, "%s: %s (entry %zu)", what, problem, at);
}

/* ---- SHA-256 ---- */

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void expect_digest(const uint8_t d[32], const char *want,
			  const char *what)
{
	char got[65];

	hex(d, 32, got);
	CHECK(!strcmp(got, want), "sha256(%s) = %s, want %s", what, got, want);
}

static void sha256_of(const void *data, size_t len, uint8_t out[32])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

/* The digests come from nettle: FIPS 180-4's examples, as the library is
 * linked and called here (length before data, digest() resets). */
static void test_sha256(void)
{
	static const char million_a[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a"
					"48a497200e046d39ccc7112cd0";
	static const char two_blocks[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct sha256_ctx ctx;
	uint8_t d[32];
	char *a = malloc(1000000);
	size_t fed = 0, chunk = 1;

	if (!a)
		abort();
	sha256_of("abc", 3, d);
	expect_digest(d,
		      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
		      "f20015ad",
		      "abc");
	sha256_of("", 0, d);
	expect_digest(d,
		      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
		      "7852b855",
		      "empty");
	sha256_of(two_blocks, strlen(two_blocks), d);
	expect_digest(d,
		      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd4"
		      "19db06c1",
		      "448-bit message");
	memset(a, 'a', 1000000);
	sha256_of(a, 1000000, d);
	expect_digest(d, million_a, "one million 'a'");

	/* Uneven chunks, as the state file is summed piece by piece; the
	 * context is used again after a digest. */
	sha256_init(&ctx);
	while (fed < 1000000) {
		size_t n = chunk < 1000000 - fed ? chunk : 1000000 - fed;

		sha256_update(&ctx, n, (const uint8_t *)a + fed);
		fed += n;
		chunk = chunk % 131 + 7;
	}
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, d);
	expect_digest(d, million_a, "one million 'a' in chunks");
	sha256_update(&ctx, 3, (const uint8_t *)"abc");
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, d);
	expect_digest(d,
		      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
		      "f20015ad",
		      "abc after a digest");
	free(a);
}

/* ---- hand-written cases ---- */

/* The example in the header comment of cgfence_abi.h, tables included. */
static void test_abi_example(void)
{
	struct policy *p = policy_new("abi-example");
	struct policy_net_rule *r;
	struct compiled_policy *c;
	static const struct {
		uint8_t kind;
		uint32_t prefixlen;
		uint64_t rules;
	} want[] = {
		{CGF_T_EGRESS_V4, 8, 0},    /* 0/0 -> {} */
		{CGF_T_EGRESS_V4, 16, 1},   /* 10.0.0.0/8 -> {0} */
		{CGF_T_EGRESS_V4, 40, 3},   /* 10.0.0.13/32 -> {0,1} */
		{CGF_T_EGRESS_V6, 8, 0},    /* ::/0 -> {} */
		{CGF_T_EGRESS_PORT, 8, 2},  /* any -> {1} */
		{CGF_T_EGRESS_PORT, 32, 3}, /* tcp 443 -> {0,1} */
	};

	section_enable(&p->egress, CGF_DENY);
	r = rule_add(&p->egress, CGF_ALLOW, IPPROTO_TCP);
	rule_add_cidr(r, "10.0.0.0/8");
	rule_add_ports(r, 443, 443);
	r = rule_add(&p->egress, CGF_DENY, 0);
	rule_add_cidr(r, "10.0.0.13");
	c = compile_ok(p);
	if (!c)
		goto out;
	check_tables(c, "abi example");
	CHECK(c->nentries == 6, "nentries %zu", c->nentries);
	if (c->nentries != 6)
		goto out;
	for (size_t i = 0; i < 6; i++) {
		const struct cgf_lpm_key *k = &c->entries[i].key;

		CHECK(k->kind == want[i].kind &&
			      k->prefixlen == want[i].prefixlen &&
			      entry_low_bits(c, i) == want[i].rules,
		      "entry %zu: kind %u /%u rules %#" PRIx64, i, k->kind,
		      k->prefixlen, entry_low_bits(c, i));
	}
	CHECK(c->entries[5].key.data[0] == IPPROTO_TCP &&
		      c->entries[5].key.data[1] == 443 >> 8 &&
		      c->entries[5].key.data[2] == (443 & 0xff),
	      "tcp 443 key bytes");
	CHECK(c->hdr.abi_version == CGF_ABI_VERSION &&
		      c->hdr.egress.restricted && !c->hdr.ingress.restricted &&
		      !c->hdr.devices.restricted && c->hdr.egress.nrules == 2 &&
		      c->hdr.egress.allow[0] == 1,
	      "header");

	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.0.13", IPPROTO_TCP, 443, CGF_ALLOW,
		    0);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.0.13", IPPROTO_TCP, 80, CGF_DENY,
		    1);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.0.13", IPPROTO_UDP, 443, CGF_DENY,
		    1);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.9.8.7", IPPROTO_TCP, 443, CGF_ALLOW,
		    0);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.9.8.7", IPPROTO_TCP, 80, CGF_DENY,
		    CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "11.0.0.1", IPPROTO_TCP, 443, CGF_DENY,
		    CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "2001:db8::1", IPPROTO_TCP, 443,
		    CGF_DENY, CGF_RULE_DEFAULT);
out:
	compiled_policy_free(c);
	test_policy_free(p);
}

/* A longer prefix of a later rule must not hide an earlier shorter one. */
static void test_longest_prefix_trap(void)
{
	struct policy *p = policy_new("trap");
	struct compiled_policy *c;

	section_enable(&p->egress, CGF_ALLOW);
	rule_add_cidr(rule_add(&p->egress, CGF_DENY, 0), "10.0.0.0/8");
	rule_add_cidr(rule_add(&p->egress, CGF_ALLOW, 0), "10.1.0.0/16");
	rule_add_cidr(rule_add(&p->egress, CGF_DENY, IPPROTO_UDP),
		      "10.1.2.0/24");
	c = compile_ok(p);
	if (!c)
		goto out;
	check_tables(c, "trap");
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.1.2.3", IPPROTO_TCP, 80, CGF_DENY,
		    0);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.1.2.3", IPPROTO_UDP, 53, CGF_DENY,
		    0);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.200.0.1", IPPROTO_TCP, 80, CGF_DENY,
		    0);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "11.1.2.3", IPPROTO_TCP, 80, CGF_ALLOW,
		    CGF_RULE_DEFAULT);
out:
	compiled_policy_free(c);
	test_policy_free(p);
}

static size_t count_port_entries(const struct compiled_policy *c, uint8_t kind,
				 uint8_t protocol)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nentries; i++) {
		const struct cgf_lpm_key *k = &c->entries[i].key;

		n += k->kind == kind && k->prefixlen > CGF_KIND_BITS + 8 &&
		     k->data[0] == protocol;
	}
	return n;
}

static void test_port_ranges(void)
{
	struct policy *p = policy_new("ports");
	struct policy_net_rule *r;
	struct compiled_policy *c;

	section_enable(&p->ingress, CGF_DENY);
	rule_add_ports(rule_add(&p->ingress, CGF_ALLOW, IPPROTO_TCP), 8000,
		       8100);
	r = rule_add(&p->ingress, CGF_ALLOW, IPPROTO_UDP);
	rule_add_ports(r, 1, 1);
	rule_add_ports(r, 65535, 65535);
	rule_add_ports(rule_add(&p->ingress, CGF_DENY, IPPROTO_ICMP), 1, 65535);
	r = rule_add(&p->ingress, CGF_ALLOW, IPPROTO_ICMP);
	rule_add_cidr(r, "192.0.2.0/24");
	c = compile_ok(p);
	if (!c)
		goto out;
	check_tables(c, "ports");
	/* 8000-8063, 8064-8095, 8096-8099, 8100. */
	CHECK(count_port_entries(c, CGF_T_INGRESS_PORT, IPPROTO_TCP) == 4,
	      "8000-8100 -> %zu prefixes",
	      count_port_entries(c, CGF_T_INGRESS_PORT, IPPROTO_TCP));
	/* 1-65535: 1, 2-3, 4-7, ..., 32768-65535. */
	CHECK(count_port_entries(c, CGF_T_INGRESS_PORT, IPPROTO_ICMP) == 16,
	      "1-65535 -> %zu prefixes",
	      count_port_entries(c, CGF_T_INGRESS_PORT, IPPROTO_ICMP));

	EXPECT_FLOW(c, CGF_DIR_INGRESS, "192.0.2.1", IPPROTO_TCP, 7999,
		    CGF_DENY, CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "192.0.2.1", IPPROTO_TCP, 8000,
		    CGF_ALLOW, 0);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "192.0.2.1", IPPROTO_TCP, 8063,
		    CGF_ALLOW, 0);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "192.0.2.1", IPPROTO_TCP, 8064,
		    CGF_ALLOW, 0);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "192.0.2.1", IPPROTO_TCP, 8100,
		    CGF_ALLOW, 0);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "192.0.2.1", IPPROTO_TCP, 8101,
		    CGF_DENY, CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "::1", IPPROTO_UDP, 8050, CGF_DENY,
		    CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "::1", IPPROTO_UDP, 1, CGF_ALLOW, 1);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "::1", IPPROTO_UDP, 2, CGF_DENY,
		    CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "::1", IPPROTO_UDP, 65534, CGF_DENY,
		    CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "::1", IPPROTO_UDP, 65535, CGF_ALLOW,
		    1);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "::1", IPPROTO_TCP, 1, CGF_DENY,
		    CGF_RULE_DEFAULT);
	/* ICMP is looked up with port 0: a rule with ports never matches it. */
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "192.0.2.1", IPPROTO_ICMP, 8, CGF_ALLOW,
		    3);
	EXPECT_FLOW(c, CGF_DIR_INGRESS, "198.51.100.1", IPPROTO_ICMP, 8,
		    CGF_DENY, CGF_RULE_DEFAULT);
out:
	compiled_policy_free(c);
	test_policy_free(p);
}

static void test_protocols(void)
{
	struct policy *p = policy_new("protocols");
	struct policy_net_rule *r;
	struct compiled_policy *c;

	section_enable(&p->egress, CGF_ALLOW);
	rule_add(&p->egress, CGF_ALLOW, IPPROTO_ICMP);
	rule_add_cidr(rule_add(&p->egress, CGF_DENY, 0), "192.168.0.0/16");
	rule_add(&p->egress, CGF_ALLOW, IPPROTO_ICMPV6);
	/* Any protocol with ports: only TCP and UDP carry ports. */
	r = rule_add(&p->egress, CGF_DENY, 0);
	rule_add_ports(r, 53, 53);
	rule_add(&p->egress, CGF_DENY, IPPROTO_ICMPV6);
	c = compile_ok(p);
	if (!c)
		goto out;
	check_tables(c, "protocols");
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "192.168.1.1", IPPROTO_ICMP, 0,
		    CGF_ALLOW, 0);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "192.168.1.1", IPPROTO_TCP, 80, CGF_DENY,
		    1);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "192.168.1.1", IPPROTO_SCTP, 80,
		    CGF_DENY, 1);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "192.168.1.1", IPPROTO_ICMPV6, 0,
		    CGF_DENY, 1);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "2001:db8::1", IPPROTO_ICMPV6, 0,
		    CGF_ALLOW, 2);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "8.8.8.8", IPPROTO_UDP, 53, CGF_DENY, 3);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "8.8.8.8", IPPROTO_TCP, 53, CGF_DENY, 3);
	/* SCTP and UDP-lite ports are not visible to the hooks: port 0. */
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "8.8.8.8", IPPROTO_SCTP, 53, CGF_ALLOW,
		    CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "8.8.8.8", IPPROTO_UDPLITE, 53,
		    CGF_ALLOW, CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "8.8.8.8", IPPROTO_UDP, 54, CGF_ALLOW,
		    CGF_RULE_DEFAULT);
	/* ICMP flows with any port value are looked up with port 0. */
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "8.8.8.8", IPPROTO_ICMP, 53, CGF_ALLOW,
		    0);
out:
	compiled_policy_free(c);
	test_policy_free(p);
}

static void test_ipv6_and_mapped(void)
{
	struct policy *p = policy_new("v6");
	struct policy_net_rule *r;
	struct compiled_policy *c;
	struct cgf_lpm_key key;
	struct flow f;

	section_enable(&p->egress, CGF_DENY);
	r = rule_add(&p->egress, CGF_ALLOW, IPPROTO_TCP);
	rule_add_cidr(r, "2001:db8::/32");
	rule_add_ports(r, 443, 443);
	rule_add_cidr(rule_add(&p->egress, CGF_DENY, 0), "2001:db8:1::/48");
	rule_add_cidr(rule_add(&p->egress, CGF_ALLOW, 0), "2001:db8::/32");
	rule_add_cidr(rule_add(&p->egress, CGF_ALLOW, 0), "10.0.0.0/8");
	/* ::/0 is an IPv6 rule: mapped IPv4 flows are IPv4 flows. */
	rule_add_cidr(rule_add(&p->egress, CGF_ALLOW, 0), "::/0");
	/* No addresses: both families. */
	rule_add(&p->egress, CGF_ALLOW, IPPROTO_UDP);
	c = compile_ok(p);
	if (!c)
		goto out;
	check_tables(c, "v6");
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "2001:db8:1::5", IPPROTO_TCP, 443,
		    CGF_ALLOW, 0);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "2001:db8:1::5", IPPROTO_TCP, 80,
		    CGF_DENY, 1);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "2001:db8:2::5", IPPROTO_TCP, 80,
		    CGF_ALLOW, 2);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "2001:db9::", IPPROTO_TCP, 80, CGF_ALLOW,
		    4);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "::ffff:10.1.2.3", IPPROTO_TCP, 80,
		    CGF_ALLOW, 3);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "::ffff:11.1.2.3", IPPROTO_TCP, 80,
		    CGF_DENY, CGF_RULE_DEFAULT);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "::ffff:11.1.2.3", IPPROTO_UDP, 80,
		    CGF_ALLOW, 5);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "11.1.2.3", IPPROTO_UDP, 80, CGF_ALLOW,
		    5);
	/* IPv4-compatible (::a.b.c.d) is not mapped: stays IPv6. */
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "::10.1.2.3", IPPROTO_TCP, 80, CGF_ALLOW,
		    4);

	f = flow_make(CGF_DIR_EGRESS, "::ffff:10.1.2.3", IPPROTO_TCP, 80);
	flow_address_key(&f, &key);
	CHECK(key.kind == CGF_T_EGRESS_V4 &&
		      key.prefixlen == CGF_KIND_BITS + 32 &&
		      key.data[0] == 10 && key.data[3] == 3 && key.data[4] == 0,
	      "mapped key: kind %u /%u", key.kind, key.prefixlen);
	flow_normalize(&f);
	CHECK(f.family == 4 && f.addr[0] == 10 && f.addr[3] == 3 &&
		      f.addr[10] == 0,
	      "flow_normalize: family %u", f.family);
	f = flow_make(CGF_DIR_INGRESS, "2001:db8::1", IPPROTO_ICMPV6, 7);
	flow_port_key(&f, &key);
	CHECK(key.kind == CGF_T_INGRESS_PORT &&
		      key.prefixlen == CGF_KIND_BITS + 24 &&
		      key.data[0] == IPPROTO_ICMPV6 && !key.data[1] &&
		      !key.data[2],
	      "icmpv6 port key");
out:
	compiled_policy_free(c);
	test_policy_free(p);
}

static void test_absent_sections(void)
{
	struct policy *p = policy_new("absent");
	struct compiled_policy *c;
	struct verdict v;
	struct flow f;

	section_enable(&p->ingress, CGF_DENY);
	c = compile_ok(p);
	if (!c)
		goto out;
	check_tables(c, "absent");
	/* Ingress present without rules: three /0 entries, all empty. */
	CHECK(c->nentries == 3, "nentries %zu", c->nentries);
	f = flow_make(CGF_DIR_EGRESS, "10.0.0.1", IPPROTO_TCP, 80);
	compiled_judge_flow(c, &f, &v);
	CHECK(v.action == CGF_ALLOW && v.rule == CGF_RULE_DEFAULT &&
		      !v.restricted,
	      "absent egress: %s rule %u restricted %u", action_name(v.action),
	      v.rule, v.restricted);
	f.direction = CGF_DIR_INGRESS;
	compiled_judge_flow(c, &f, &v);
	CHECK(v.action == CGF_DENY && v.rule == CGF_RULE_DEFAULT &&
		      v.restricted,
	      "empty ingress: %s rule %u restricted %u", action_name(v.action),
	      v.rule, v.restricted);
	compiled_judge_device(c, CGF_DEV_CHAR, 1, 3, CGF_ACC_READ, &v);
	CHECK(v.action == CGF_ALLOW && !v.restricted, "absent devices");
	compiled_policy_free(c);

	/* No section at all: no entries, no classes. */
	p->ingress.present = false;
	c = compile_ok(p);
	if (c)
		CHECK(c->nentries == 0 && c->nclasses == 0,
		      "empty policy: %zu entries %zu classes", c->nentries,
		      c->nclasses);
out:
	compiled_policy_free(c);
	test_policy_free(p);
}

static void test_devices(void)
{
	struct policy *p = policy_new("devices");
	struct compiled_policy *c;

	p->devices.present = true;
	p->devices.default_action = CGF_DENY;
	device_rule_add(p, CGF_ALLOW, CGF_DEV_CHAR, 1, 3, CGF_ACC_READ);
	device_rule_add(p, CGF_DENY, CGF_DEV_CHAR, -1, -1, CGF_ACC_WRITE);
	device_rule_add(p, CGF_ALLOW, CGF_DEV_BLOCK, 8, -1,
			CGF_ACC_READ | CGF_ACC_WRITE);
	device_rule_add(p, CGF_ALLOW, CGF_DEV_ALL, -1, -1, CGF_ACC_MKNOD);
	device_rule_add(p, CGF_ALLOW, CGF_DEV_CHAR, -1, 7, CGF_ACC_READ);
	c = compile_ok(p);
	if (!c)
		goto out;
	check_tables(c, "devices");
	CHECK(c->nentries == 0, "device-only policy has %zu entries",
	      c->nentries);
	CHECK(c->hdr.devices.restricted && c->hdr.devices.nrules == 5 &&
		      c->hdr.devices.rules[1].flags ==
			      (CGF_DEV_ANY_MAJOR | CGF_DEV_ANY_MINOR) &&
		      c->hdr.devices.rules[2].flags == CGF_DEV_ANY_MINOR &&
		      c->hdr.devices.rules[2].major == 8 &&
		      c->hdr.devices.rules[4].flags == CGF_DEV_ANY_MAJOR &&
		      c->hdr.devices.rules[4].minor == 7,
	      "device header");

	EXPECT_DEVICE(c, CGF_DEV_CHAR, 1, 3, CGF_ACC_READ, CGF_ALLOW, 0);
	/* "allow r" does not allow read+write; "deny w" denies it. */
	EXPECT_DEVICE(c, CGF_DEV_CHAR, 1, 3, CGF_ACC_READ | CGF_ACC_WRITE,
		      CGF_DENY, 1);
	EXPECT_DEVICE(c, CGF_DEV_CHAR, 1, 3, CGF_ACC_WRITE, CGF_DENY, 1);
	EXPECT_DEVICE(c, CGF_DEV_CHAR, 1, 3, CGF_ACC_MKNOD, CGF_ALLOW, 3);
	EXPECT_DEVICE(c, CGF_DEV_BLOCK, 8, 5, CGF_ACC_READ | CGF_ACC_WRITE,
		      CGF_ALLOW, 2);
	EXPECT_DEVICE(c, CGF_DEV_BLOCK, 8, 5, CGF_ACC_MKNOD | CGF_ACC_READ,
		      CGF_DENY, CGF_RULE_DEFAULT);
	EXPECT_DEVICE(c, CGF_DEV_BLOCK, 9, 0, CGF_ACC_MKNOD, CGF_ALLOW, 3);
	EXPECT_DEVICE(c, CGF_DEV_CHAR, 5, 1, CGF_ACC_READ, CGF_DENY,
		      CGF_RULE_DEFAULT);
	EXPECT_DEVICE(c, CGF_DEV_CHAR, 42, 7, CGF_ACC_READ, CGF_ALLOW, 4);
	EXPECT_DEVICE(c, CGF_DEV_BLOCK, 42, 7, CGF_ACC_READ, CGF_DENY,
		      CGF_RULE_DEFAULT);
out:
	compiled_policy_free(c);
	test_policy_free(p);
}

static void expect_compile_error(const struct policy *p, int want,
				 const char *what)
{
	struct compiled_policy *c = (void *)1;
	int err = policy_compile(p, &c);

	CHECK(err == want && c == NULL, "%s: policy_compile = %d, want %d",
	      what, err, want);
	if (err == 0)
		compiled_policy_free(c);
}

static void test_limits(void)
{
	struct policy *p = policy_new("limits");
	struct compiled_policy *c;

	section_enable(&p->egress, CGF_DENY);
	for (int r = 0; r < CGF_MAX_RULES; r++)
		rule_add_ports(rule_add(&p->egress, CGF_DENY, IPPROTO_TCP),
			       r + 1, r + 1);
	p->egress.rules[CGF_MAX_RULES - 1].action = CGF_ALLOW;
	c = compile_ok(p);
	if (c) {
		check_tables(c, "1024 rules");
		EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.0.1", IPPROTO_TCP,
			    CGF_MAX_RULES, CGF_ALLOW, CGF_MAX_RULES - 1);
		EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.0.1", IPPROTO_TCP, 7,
			    CGF_DENY, 6);
		compiled_policy_free(c);
	}
	rule_add(&p->egress, CGF_DENY, 0);
	expect_compile_error(p, -E2BIG, "1025 egress rules");
	net_section_free(&p->egress);
	memset(&p->egress, 0, sizeof(p->egress));

	p->devices.present = true;
	for (int i = 0; i <= CGF_MAX_DEVICE_RULES; i++)
		device_rule_add(p, CGF_ALLOW, CGF_DEV_CHAR, 1, i, CGF_ACC_READ);
	expect_compile_error(p, -E2BIG, "129 device rules");
	p->devices.nrules = CGF_MAX_DEVICE_RULES;
	c = compile_ok(p);
	compiled_policy_free(c);

	/* Input a parser would have rejected is refused, not misread. */
	p->devices.rules[0].major = -2;
	expect_compile_error(p, -EINVAL, "negative major");
	p->devices.rules[0].major = 1;
	section_enable(&p->ingress, CGF_DENY);
	rule_add_cidr_raw(rule_add(&p->ingress, CGF_DENY, 0), 4,
			  (const uint8_t[4]){10}, 33);
	expect_compile_error(p, -EINVAL, "IPv4 /33");
	p->ingress.rules[0].addrs[0].prefixlen = 32;
	rule_add_ports(rule_add(&p->ingress, CGF_DENY, IPPROTO_TCP), 9, 8);
	expect_compile_error(p, -EINVAL, "reversed port range");
	test_policy_free(p);
}

static void test_digest(void)
{
	struct policy *p = policy_new("digest");
	struct compiled_policy *a, *b;
	struct policy_net_rule *r;
	uint8_t first[32];

	section_enable(&p->egress, CGF_DENY);
	r = rule_add(&p->egress, CGF_ALLOW, IPPROTO_TCP);
	rule_add_cidr(r, "10.0.0.0/8");
	rule_add_cidr(r, "10.0.0.0/8"); /* duplicates merge */
	rule_add_ports(r, 443, 443);
	a = compile_ok(p);
	b = compile_ok(p);
	if (!a || !b)
		goto out;
	CHECK(!memcmp(a->digest, b->digest, 32), "same input, other digest");
	CHECK(a->nentries == 5, "duplicate CIDR not merged: %zu entries",
	      a->nentries);
	memcpy(first, a->digest, 32);
	compiled_policy_free(b);

	p->egress.rules[0].action = CGF_DENY;
	b = compile_ok(p);
	CHECK(b && memcmp(first, b->digest, 32), "action change kept digest");
	compiled_policy_free(b);
	p->egress.rules[0].action = CGF_ALLOW;

	p->name[0] = 'D';
	b = compile_ok(p);
	CHECK(b && memcmp(first, b->digest, 32), "name change kept digest");
	compiled_policy_free(b);
	p->name[0] = 'd';

	p->mode = CGF_MODE_AUDIT;
	b = compile_ok(p);
	CHECK(b && memcmp(first, b->digest, 32), "mode change kept digest");
	compiled_policy_free(b);
	b = NULL;
out:
	compiled_policy_free(a);
	compiled_policy_free(b);
	test_policy_free(p);
}

/* ---- differential test against a naive evaluator ---- */

static void print_addr(FILE *out, uint8_t family, const uint8_t *addr)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, sizeof(buf));
	fputs(buf, out);
}

static void print_net_section(FILE *out, const char *name,
			      const struct policy_net_section *s)
{
	if (!s->present) {
		fprintf(out, "  %s: absent\n", name);
		return;
	}
	fprintf(out, "  %s: default %s\n", name,
		action_name(s->default_action));
	for (size_t r = 0; r < s->nrules; r++) {
		const struct policy_net_rule *rule = &s->rules[r];

		fprintf(out, "    %zu: %s proto %u addrs", r,
			action_name(rule->action), rule->protocol);
		for (size_t i = 0; i < rule->naddrs; i++) {
			fputc(' ', out);
			print_addr(out, rule->addrs[i].family,
				   rule->addrs[i].addr);
			fprintf(out, "/%u", rule->addrs[i].prefixlen);
		}
		for (size_t k = 0; k < rule->nsets; k++) {
			const struct addr_set *set = rule->sets[k].set;

			fprintf(out, " @%s{", set->name);
			for (size_t i = 0; i < set->nentries; i++) {
				fputc(' ', out);
				print_addr(out, set->entries[i].family,
					   set->entries[i].addr);
				fprintf(out, "/%u", set->entries[i].prefixlen);
			}
			fputs(" }", out);
		}
		if (!rule->naddrs && !rule->nsets)
			fputs(" any", out);
		fputs(" ports", out);
		for (size_t i = 0; i < rule->nports; i++)
			fprintf(out, " %u-%u", rule->ports[i].first,
				rule->ports[i].last);
		if (!rule->nports)
			fputs(" any", out);
		fputc('\n', out);
	}
}

static bool verdicts_equal(const struct verdict *a, const struct verdict *b)
{
	return a->action == b->action && a->rule == b->rule &&
	       a->restricted == b->restricted;
}

static void report_flow_mismatch(const struct policy *p, const struct flow *f,
				 const struct verdict *want,
				 const struct verdict *got)
{
	fprintf(stderr, "flow mismatch: %s ",
		f->direction == CGF_DIR_INGRESS ? "ingress" : "egress");
	print_addr(stderr, f->family, f->addr);
	fprintf(stderr, " proto %u port %u: ", f->protocol, f->port);
	fprintf(stderr, "reference %s rule %u, compiled %s rule %u\n",
		action_name(want->action), want->rule, action_name(got->action),
		got->rule);
	fprintf(stderr, "policy:\n");
	print_net_section(stderr, "egress", &p->egress);
	print_net_section(stderr, "ingress", &p->ingress);
}

/* The kernel's LPM semantics, one entry at a time: longest prefix wins. */
static uint32_t linear_lookup_class(const struct compiled_policy *c,
				    const struct cgf_lpm_key *key)
{
	uint32_t best = COMPILED_NO_CLASS, best_len = 0;

	for (size_t i = 0; i < c->nentries; i++) {
		const struct cgf_lpm_key *e = &c->entries[i].key;
		uint32_t data_bits = e->prefixlen - CGF_KIND_BITS;
		bool match =
			e->kind == key->kind && e->prefixlen <= key->prefixlen;

		for (uint32_t b = 0; b < data_bits && match; b++) {
			uint8_t bit = 0x80 >> (b % 8);

			match = (e->data[b / 8] & bit) ==
				(key->data[b / 8] & bit);
		}
		if (match &&
		    (best == COMPILED_NO_CLASS || e->prefixlen > best_len)) {
			best = c->entries[i].class_id;
			best_len = e->prefixlen;
		}
	}
	return best;
}

static bool lookups_agree(const struct compiled_policy *c, const struct flow *f)
{
	struct cgf_lpm_key key;
	bool same;

	flow_address_key(f, &key);
	same = compiled_lookup_class(c, &key) == linear_lookup_class(c, &key);
	flow_port_key(f, &key);
	return same &&
	       compiled_lookup_class(c, &key) == linear_lookup_class(c, &key);
}

static void test_differential_flows(uint64_t seed)
{
	struct rng g = {seed};
	size_t judged = 0, mismatches = 0, failed_compiles = 0;
	size_t lookups = 0, lookup_mismatches = 0;

	for (int i = 0; i < RANDOM_POLICIES; i++) {
		struct policy *p = policy_new("random");
		struct compiled_policy *c = NULL;

		random_net_section(&g, &p->egress);
		random_net_section(&g, &p->ingress);
		if (policy_compile(p, &c)) {
			failed_compiles++;
			test_policy_free(p);
			continue;
		}
		if (i % 50 == 0)
			check_tables(c, "random policy");
		for (int j = 0; j < FLOWS_PER_POLICY; j++) {
			struct verdict want, got;
			struct flow f;

			random_flow(&g, p, &f);
			ref_judge_flow(p, &f, &want);
			compiled_judge_flow(c, &f, &got);
			judged++;
			/* A slow check, so on a sample only. */
			if (j % 8 == 0) {
				lookups++;
				lookup_mismatches += !lookups_agree(c, &f);
			}
			if (verdicts_equal(&want, &got))
				continue;
			if (mismatches++ < MAX_REPORTED_MISMATCHES)
				report_flow_mismatch(p, &f, &want, &got);
		}
		compiled_policy_free(c);
		test_policy_free(p);
	}
	CHECK(failed_compiles == 0, "%zu random policies failed to compile",
	      failed_compiles);
	CHECK(mismatches == 0, "%zu of %zu random flows judged differently",
	      mismatches, judged);
	CHECK(lookup_mismatches == 0,
	      "%zu of %zu lookups differ from a linear longest-prefix match",
	      lookup_mismatches, lookups);
}

/*
 * The same with rules that name random sets (some empty, some shared by
 * several rules, mixed with literal addresses): a set's entries are the
 * rule's addresses, and a rule naming only empty sets matches nothing.
 */
static void test_differential_sets(uint64_t seed)
{
	struct rng g = {seed ^ 0x5e75};
	size_t judged = 0, mismatches = 0, failed_compiles = 0, with_sets = 0;

	for (int i = 0; i < RANDOM_POLICIES / 2; i++) {
		struct addr_set *sets[4];
		struct set_pool pool = {sets, 1 + rng_below(&g, 4)};
		struct policy *p = policy_new("random-sets");
		struct compiled_policy *c = NULL;

		for (size_t k = 0; k < pool.n; k++) {
			char name[16];

			snprintf(name, sizeof(name), "set%zu", k);
			sets[k] = random_set(&g, name);
		}
		random_net_section_with(&g, &p->egress, &pool);
		random_net_section_with(&g, &p->ingress, &pool);
		policy_collect_sets(p);
		for (size_t k = 0; k < pool.n; k++)
			addr_set_free(sets[k]);
		with_sets += p->nsets > 0;
		if (policy_compile(p, &c)) {
			failed_compiles++;
			test_policy_free(p);
			continue;
		}
		for (int j = 0; j < FLOWS_PER_POLICY; j++) {
			struct verdict want, got;
			struct flow f;

			random_flow(&g, p, &f);
			ref_judge_flow(p, &f, &want);
			compiled_judge_flow(c, &f, &got);
			judged++;
			if (verdicts_equal(&want, &got))
				continue;
			if (mismatches++ < MAX_REPORTED_MISMATCHES)
				report_flow_mismatch(p, &f, &want, &got);
		}
		compiled_policy_free(c);
		test_policy_free(p);
	}
	CHECK(failed_compiles == 0, "%zu policies with sets failed to compile",
	      failed_compiles);
	CHECK(with_sets > RANDOM_POLICIES / 4, "only %zu policies named sets",
	      with_sets);
	CHECK(mismatches == 0,
	      "%zu of %zu random flows judged differently (with sets)",
	      mismatches, judged);
}

/* Only empty sets: no address; a set's change changes the digest. */
static void test_sets(void)
{
	struct policy *p = policy_new("sets");
	struct addr_set *empty = set_new("empty"), *block = set_new("block");
	struct compiled_policy *a, *b;
	struct policy_net_rule *r;
	struct verdict v;
	struct flow f;
	uint8_t addr[16];

	section_enable(&p->egress, CGF_ALLOW);
	r = rule_add(&p->egress, CGF_DENY, 0);
	rule_add_set(r, empty);
	r = rule_add(&p->egress, CGF_DENY, IPPROTO_TCP);
	rule_add_set(r, block);
	rule_add_cidr(r, "192.0.2.1");
	policy_collect_sets(p);
	a = compile_ok(p);
	f = flow_make(CGF_DIR_EGRESS, "8.8.8.8", IPPROTO_TCP, 443);
	compiled_judge_flow(a, &f, &v);
	CHECK(v.action == CGF_ALLOW && v.rule == CGF_RULE_DEFAULT,
	      "a rule naming only an empty set matched (rule %u)", v.rule);
	parse_addr("203.0.113.0", addr);
	set_add_cidr_raw(block, 4, addr, 24);
	b = compile_ok(p);
	CHECK(a && b && memcmp(a->digest, b->digest, 32),
	      "a set's change kept the digest");
	f = flow_make(CGF_DIR_EGRESS, "203.0.113.9", IPPROTO_TCP, 443);
	compiled_judge_flow(b, &f, &v);
	CHECK(v.action == CGF_DENY && v.rule == 1, "set entry: rule %u",
	      v.rule);
	compiled_policy_free(a);
	compiled_policy_free(b);
	addr_set_free(empty);
	addr_set_free(block);
	test_policy_free(p);
}

static void ref_judge_device(const struct policy *p, uint32_t type,
			     uint32_t major, uint32_t minor, uint32_t access,
			     struct verdict *v)
{
	const struct policy_dev_section *s = &p->devices;

	v->restricted = s->present;
	v->action = s->present ? s->default_action : CGF_ALLOW;
	v->rule = CGF_RULE_DEFAULT;
	for (size_t i = 0; s->present && i < s->nrules; i++) {
		const struct policy_dev_rule *r = &s->rules[i];
		bool hit;

		if ((r->type != CGF_DEV_ALL && r->type != type) ||
		    (r->major != -1 && r->major != major) ||
		    (r->minor != -1 && r->minor != minor))
			continue;
		/* Allow: every requested bit granted. Deny: any bit denied. */
		if (r->action == CGF_ALLOW)
			hit = (access & r->access) == access;
		else
			hit = (access & r->access) != 0;
		if (hit) {
			v->action = r->action;
			v->rule = i;
			return;
		}
	}
}

/* A major or minor number from a small set, or -1 for "any". */
static int64_t random_dev_number(struct rng *g)
{
	return rng_below(g, 3) ? (int64_t)rng_below(g, 4) : -1;
}

static void report_device_mismatch(const struct policy *p, uint32_t type,
				   uint32_t major, uint32_t minor,
				   uint32_t access, const struct verdict *want,
				   const struct verdict *got)
{
	const struct policy_dev_section *s = &p->devices;

	fprintf(stderr, "device mismatch: type %u %u:%u access %u: ", type,
		major, minor, access);
	fprintf(stderr, "reference %s rule %u, compiled %s rule %u\n",
		action_name(want->action), want->rule, action_name(got->action),
		got->rule);
	fprintf(stderr, "devices: %s, default %s\n",
		s->present ? "present" : "absent",
		action_name(s->default_action));
	for (size_t i = 0; i < s->nrules; i++)
		fprintf(stderr,
			"  %zu: %s type %u %" PRId64 ":%" PRId64 " access %u\n",
			i, action_name(s->rules[i].action), s->rules[i].type,
			s->rules[i].major, s->rules[i].minor,
			s->rules[i].access);
}

static void test_differential_devices(uint64_t seed)
{
	static const uint8_t types[] = {CGF_DEV_ALL, CGF_DEV_BLOCK,
					CGF_DEV_CHAR};
	struct rng g = {seed ^ 0xdeadbeefULL};
	size_t judged = 0, mismatches = 0;

	for (int i = 0; i < DEVICE_POLICIES; i++) {
		struct policy *p = policy_new("random-devices");
		struct compiled_policy *c;
		uint32_t nrules = rng_below(&g, 20);

		p->devices.present = rng_below(&g, 8) != 0;
		p->devices.default_action = rng_below(&g, 2);
		for (uint32_t r = 0; r < nrules; r++)
			device_rule_add(p, rng_below(&g, 2), PICK(&g, types),
					random_dev_number(&g),
					random_dev_number(&g),
					1 + rng_below(&g, 7));
		c = compile_ok(p);
		for (int j = 0; c && j < REQUESTS_PER_DEVICE_POLICY; j++) {
			uint32_t type = 1 + rng_below(&g, 2);
			uint32_t major = rng_below(&g, 5);
			uint32_t minor = rng_below(&g, 5);
			uint32_t access = 1 + rng_below(&g, 7);
			struct verdict want, got;

			ref_judge_device(p, type, major, minor, access, &want);
			compiled_judge_device(c, type, major, minor, access,
					      &got);
			judged++;
			if (verdicts_equal(&want, &got))
				continue;
			if (mismatches++ < MAX_REPORTED_MISMATCHES)
				report_device_mismatch(p, type, major, minor,
						       access, &want, &got);
		}
		compiled_policy_free(c);
		test_policy_free(p);
	}
	CHECK(mismatches == 0, "%zu of %zu device requests judged differently",
	      mismatches, judged);
}

/* ---- a large policy ---- */

#define BIG_RULES	   400
#define BIG_CIDRS_PER_RULE 250

/* 10.x.y.z for rule r, host i: distinct for every (r, i). */
static void big_host(uint32_t r, uint32_t i, uint8_t addr[16])
{
	uint32_t host = 10u << 24 | r << 8 | i;

	memset(addr, 0, 16);
	addr[0] = host >> 24;
	addr[1] = host >> 16;
	addr[2] = host >> 8;
	addr[3] = host;
}

static void test_big_policy(void)
{
	struct policy *p = policy_new("big");
	struct policy_net_rule *r;
	struct compiled_policy *c;
	const struct cgf_rule_mask *m;
	struct cgf_lpm_key key;
	uint8_t addr[16];
	struct flow f;

	section_enable(&p->egress, CGF_ALLOW);
	for (uint32_t i = 0; i < BIG_RULES; i++) {
		r = rule_add(&p->egress, i % 2 ? CGF_DENY : CGF_ALLOW,
			     IPPROTO_TCP);
		for (uint32_t h = 0; h < BIG_CIDRS_PER_RULE; h++) {
			big_host(i, h, addr);
			rule_add_cidr_raw(r, 4, addr, 32);
		}
		rule_add_ports(r, 443, 443);
	}
	rule_add_cidr(rule_add(&p->egress, CGF_DENY, 0), "10.0.0.0/8");
	c = compile_ok(p);
	if (!c)
		goto out;
	check_tables(c, "big policy");
	/* 100,000 hosts + 10/8 + v4 /0 + v6 /0 + port /0 + tcp 443. */
	CHECK(c->nentries == BIG_RULES * BIG_CIDRS_PER_RULE + 5,
	      "big policy: %zu entries", c->nentries);
	/* {}, {400} (10/8, any port), {r, 400} per host rule, tcp 443: all. */
	CHECK(c->nclasses == BIG_RULES + 3, "big policy: %zu classes",
	      c->nclasses);

	big_host(123, 7, addr);
	memset(&f, 0, sizeof(f));
	f.direction = CGF_DIR_EGRESS;
	f.family = 4;
	memcpy(f.addr, addr, 4);
	f.protocol = IPPROTO_TCP;
	f.port = 443;
	flow_address_key(&f, &key);
	m = &c->classes[compiled_lookup_class(c, &key)];
	CHECK(m->bits[123 / 64] & 1ULL << (123 % 64) &&
		      m->bits[BIG_RULES / 64] & 1ULL << (BIG_RULES % 64),
	      "class of rule 123's host");
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.123.7", IPPROTO_TCP, 443, CGF_DENY,
		    123);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.1.143.249", IPPROTO_TCP, 443,
		    CGF_DENY, 399);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.0.0", IPPROTO_TCP, 443, CGF_ALLOW,
		    0);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.200.249", IPPROTO_TCP, 443,
		    CGF_ALLOW, 200);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.200.250", IPPROTO_TCP, 443,
		    CGF_DENY, BIG_RULES);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "10.0.123.7", IPPROTO_TCP, 80, CGF_DENY,
		    BIG_RULES);
	EXPECT_FLOW(c, CGF_DIR_EGRESS, "11.0.123.7", IPPROTO_TCP, 443,
		    CGF_ALLOW, CGF_RULE_DEFAULT);
out:
	compiled_policy_free(c);
	test_policy_free(p);
}

static uint64_t test_seed(void)
{
	const char *env = getenv("CGF_TEST_SEED");

	return env && *env ? strtoull(env, NULL, 0) : 20240601;
}

int main(void)
{
	uint64_t seed = test_seed();

	printf("test_compile: seed %" PRIu64 " (set CGF_TEST_SEED to change)\n",
	       seed);
	test_sha256();
	test_abi_example();
	test_longest_prefix_trap();
	test_port_ranges();
	test_protocols();
	test_ipv6_and_mapped();
	test_absent_sections();
	test_devices();
	test_limits();
	test_digest();
	test_differential_flows(seed);
	test_differential_sets(seed);
	test_sets();
	test_differential_devices(seed);
	test_big_policy();
	return unit_done("test_compile");
}
