// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tables a policy text compiles to, byte for byte, and the position
 * of every address, against digests recorded from the parser and compiler
 * before they were made fast for big policies (the commit that added this
 * file says which). A change of the parser or the compiler that changes
 * what the kernel loads, or where explain says a rule is, fails here;
 * a deliberate change of the tables records new digests with it.
 *
 * The texts are generated: addresses sorted and shuffled, duplicates,
 * nested and overlapping CIDRs, IPv6, port ranges, allow and deny, tabs,
 * CRLF and UTF-8 before the addresses (columns count characters). Each is
 * read both ways a policy comes in: from memory and from a file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "compile.h"
#include "policy.h"
#include "unit.h"

struct text {
	char *buf;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap ? t->cap * 2 : 4096;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf)
			abort();
	}
	t->len += n;
}

static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* How the addresses of the generated policies follow each other. */
enum order {
	SHUFFLED,
	SORTED,
	RUNS, /* sorted, but each rule's last address is below all others */
};

/* One address of the generated policies: v4 or v6, host or CIDR. */
static void put_address(struct text *t, uint64_t *rng, size_t i,
			enum order order, bool last)
{
	uint64_t r = next_random(rng);
	bool sorted = order != SHUFFLED;
	uint32_t a = sorted ? 0x0a000000u + (uint32_t)i * 4 : (uint32_t)r;
	unsigned int len = 32;

	if (order == RUNS && last) {
		put(t, "\"9.0.%u.%u\"", (unsigned)(i >> 8) & 255,
		    (unsigned)i & 255);
		return;
	}
	switch (r >> 60) {
	case 0: /* an IPv6 host or /64 */
		put(t, "\"fd00:%x::%x%s\"", (unsigned)(i % 7),
		    (unsigned)(i & 0xffff), r & 1 ? "" : "/128");
		return;
	case 1:
		put(t, "\"2001:db8:%x::/48\"", (unsigned)(r >> 20) & 0xffff);
		return;
	case 2: /* a CIDR that holds others */
		len = 16 + (r >> 8) % 15;
		break;
	case 3: /* the same address again */
		a = sorted ? 0x0a000000u + (uint32_t)(i ? i - 1 : 0) * 4
			   : 0x0a000000u;
		break;
	}
	a &= len == 32 ? ~0u : ~((1u << (32 - len)) - 1);
	if (len == 32 && (r & 2))
		put(t, "\"%u.%u.%u.%u\"", a >> 24, (a >> 16) & 255,
		    (a >> 8) & 255, a & 255);
	else
		put(t, "\"%u.%u.%u.%u/%u\"", a >> 24, (a >> 16) & 255,
		    (a >> 8) & 255, a & 255, len);
}

static char *gen_policy(uint64_t seed, size_t nrules, size_t per_rule,
			enum order order, size_t *len)
{
	struct text t = {0};
	uint64_t rng = seed;
	size_t i = 0;

	put(&t, "{\"version\": 1, \"name\": \"golden-%llu\",\r\n",
	    (unsigned long long)seed);
	put(&t, "\t\"comment\": \"caf\xc3\xa9 \xe2\x86\x92 tables\",\n");
	put(&t, " \"egress\": {\"default\": \"deny\", \"rules\": [\n");
	for (size_t r = 0; r < nrules; r++) {
		put(&t, "  {\"action\": \"%s\", \"protocol\": \"%s\", ",
		    r % 3 == 1 ? "deny" : "allow", r % 2 ? "udp" : "tcp");
		put(&t, "\"ports\": [%zu, \"%zu-%zu\"], \"to\": [\n\t", r + 1,
		    1000 + r * 7, 1100 + r * 13);
		for (size_t k = 0; k < per_rule; k++, i++) {
			if (k)
				put(&t, k % 8 ? ", " : ",\r\n\t");
			put_address(&t, &rng, i, order, k + 1 == per_rule);
		}
		put(&t, "]}%s\n", r + 1 < nrules ? "," : "");
	}
	put(&t, " ]},\n \"ingress\": {\"default\": \"allow\", \"rules\": [\n");
	put(&t, "  {\"action\": \"deny\", \"from\": [\"10.1.0.0/16\", "
		"\"10.1.2.3\", \"fe80::/10\"]}]}}\n");
	*len = t.len;
	return t.buf;
}

static void hash_section_positions(struct sha256_ctx *ctx,
				   const struct policy_net_section *s)
{
	for (size_t r = 0; r < s->nrules; r++)
		for (size_t i = 0; i < s->rules[r].naddrs; i++) {
			const struct policy_cidr *c = &s->rules[r].addrs[i];
			uint32_t v[2] = {c->pos.line, c->pos.col};

			sha256_update(ctx, sizeof(v), (const uint8_t *)v);
		}
}

/* SHA-256 of the header, entries, classes and every address's position. */
static void tables_digest(const struct policy *p,
			  const struct compiled_policy *c, char out[65])
{
	struct sha256_ctx ctx;
	uint8_t d[32];

	sha256_init(&ctx);
	sha256_update(&ctx, sizeof(c->hdr), (const uint8_t *)&c->hdr);
	sha256_update(&ctx, c->nentries * sizeof(*c->entries),
		      (const uint8_t *)c->entries);
	sha256_update(&ctx, c->nclasses * sizeof(*c->classes),
		      (const uint8_t *)c->classes);
	sha256_update(&ctx, sizeof(c->digest), c->digest);
	hash_section_positions(&ctx, &p->egress);
	hash_section_positions(&ctx, &p->ingress);
	sha256_digest(&ctx, sizeof(d), d);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_policy(struct policy *p, struct diags *d, int err,
			 const char *how, const char *what, const char *want)
{
	struct compiled_policy *c = NULL;
	char got[65];

	CHECK(err == 0, "%s %s: parse error %d", how, what, err);
	if (err) {
		diags_print(d, stderr);
		return;
	}
	err = policy_compile(p, &c);
	CHECK(err == 0, "%s %s: compile error %d", how, what, err);
	if (!err) {
		tables_digest(p, c, got);
		CHECK(!strcmp(got, want), "%s %s: tables %s, want %s", how,
		      what, got, want);
	}
	compiled_policy_free(c);
	policy_free(p);
}

static void check_golden(uint64_t seed, size_t nrules, size_t per_rule,
			 enum order order, const char *want)
{
	char what[96], file[] = "/tmp/cgf_golden_XXXXXX";
	struct policy *p = NULL;
	struct diags d = {0};
	size_t len;
	char *text = gen_policy(seed, nrules, per_rule, order, &len);
	int fd, err;

	snprintf(what, sizeof(what), "seed %llu, %zu x %zu, order %d",
		 (unsigned long long)seed, nrules, per_rule, order);
	err = policy_parse("golden.json", text, len, &p, &d);
	check_policy(p, &d, err, "from memory", what, want);
	diags_free(&d);

	fd = mkstemp(file);
	CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
	if (fd >= 0) {
		CHECK(write(fd, text, len) == (ssize_t)len, "write: %s",
		      strerror(errno));
		close(fd);
		err = policy_load_file(file, &p, &d);
		check_policy(p, &d, err, "from a file", what, want);
		diags_free(&d);
		unlink(file);
	}
	free(text);
}

int main(void)
{
	check_golden(1, 3, 10, SORTED,
		     "fc52b5c8852df68167f2f23037cfa73b5e588b82cfb5ec7937523abee"
		     "bac28c5");
	check_golden(2, 40, 250, SORTED,
		     "8aef5a8a04cbb2bcf3accf3d777407da390458001284f4f1a483ef7e4"
		     "0af57d0");
	check_golden(3, 40, 250, SHUFFLED,
		     "272268e35fb84f20bfda1da22893a8187fb1fe3ef04ed430536c970d6"
		     "e40ae18");
	check_golden(4, 256, 400, SORTED,
		     "a9ed86b7a7aa680a7d45f0e41c11210ae302c29101999cb209d7be33b"
		     "081aa1d");
	check_golden(5, 7, 30000, SHUFFLED,
		     "ef3bce275f762647755788101b59f592dbf88a6fa7aba1ef147f24011"
		     "d74ba1c");
	/* a few runs in order (merged), and too many (qsort) */
	check_golden(6, 40, 2000, RUNS,
		     "11e8b9d59a6e9d32be273cfa0f16e3175aee4acf31ce21a4a4112c335"
		     "030a47a");
	check_golden(7, 200, 300, RUNS,
		     "2a59cc66077e5d96748fda3ab2fe8b27ccdfab946591af204d3789a27"
		     "e215bdb");
	return unit_done("compile_golden");
}
