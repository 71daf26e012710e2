// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy -> kernel tables, following the table description in
 * include/cgfence_abi.h: every CIDR and every port-range prefix becomes an
 * LPM entry whose class is the set of rules matching everything under it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <nettle/sha2.h>

#include "addr_set.h"
#include "cgfence_logic.h"
#include "compile.h"
#include "hashtab.h"
#include "socknames.h"

#define KEY_MAX_BITS   (CGF_KIND_BITS + 128)
#define PORT_KEY_BITS  (CGF_KIND_BITS + 24) /* kind, protocol, port */
#define PROTO_KEY_BITS (CGF_KIND_BITS + 8)
#define NO_RULE	       UINT32_MAX /* an entry that only guarantees a /0 exists */

/* The digest hashes entries as raw bytes: there must be no hidden padding. */
_Static_assert(sizeof(struct cgf_lpm_key) == 24, "cgf_lpm_key has padding");
_Static_assert(sizeof(struct compiled_entry) == 28,
	       "compiled_entry has padding");

/* One (prefix, rule) pair, before equal prefixes are merged. */
struct pending {
	struct cgf_lpm_key key;
	uint32_t rule;
};

struct pending_list {
	struct pending *items;
	size_t count;
	size_t cap;
};

/* Distinct masks; the index maps a mask to its class id (its place here). */
struct class_table {
	struct cgf_rule_mask *masks;
	size_t count;
	size_t cap;
	struct hashtab index;
};

/* An entry that may still contain the following ones in sorted order. */
struct open_prefix {
	const struct cgf_lpm_key *key;
	uint32_t class_id;
};

static uint8_t address_kind(uint8_t direction, uint8_t family)
{
	if (direction == CGF_DIR_INGRESS)
		return family == 4 ? CGF_T_INGRESS_V4 : CGF_T_INGRESS_V6;
	return family == 4 ? CGF_T_EGRESS_V4 : CGF_T_EGRESS_V6;
}

static uint8_t port_kind(uint8_t direction)
{
	return direction == CGF_DIR_INGRESS ? CGF_T_INGRESS_PORT
					    : CGF_T_EGRESS_PORT;
}

/* Only TCP and UDP ports reach the port tables; the hooks see 0 otherwise. */
static bool protocol_has_ports(uint8_t protocol)
{
	return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP;
}

/* Byte i of the bit string (kind, data[0..15]) that prefixlen counts. */
static uint8_t key_byte(const struct cgf_lpm_key *k, unsigned int i)
{
	return i == 0 ? k->kind : k->data[i - 1];
}

/* Clears every bit after the first len, so equal prefixes compare equal. */
static void key_truncate(struct cgf_lpm_key *k, uint32_t len)
{
	unsigned int data_bits = len - CGF_KIND_BITS;
	unsigned int i = data_bits / 8;

	k->prefixlen = len;
	if (i < sizeof(k->data)) {
		if (data_bits % 8)
			k->data[i++] &= 0xff00 >> (data_bits % 8);
		memset(k->data + i, 0, sizeof(k->data) - i);
	}
}

/* Number of leading bits a and b share, at most limit. */
static uint32_t key_common_bits(const struct cgf_lpm_key *a,
				const struct cgf_lpm_key *b, uint32_t limit)
{
	uint32_t bits = 0;

	for (unsigned int i = 0; i < 1 + sizeof(a->data) && bits < limit; i++) {
		uint8_t diff = key_byte(a, i) ^ key_byte(b, i);

		if (diff) {
			bits += __builtin_clz(diff) - 24;
			break;
		}
		bits += 8;
	}
	return bits < limit ? bits : limit;
}

/* Order of c->entries: (kind, data, prefixlen). */
static int key_cmp(const struct cgf_lpm_key *a, const struct cgf_lpm_key *b)
{
	int r;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	r = memcmp(a->data, b->data, sizeof(a->data));
	if (r)
		return r;
	if (a->prefixlen != b->prefixlen)
		return a->prefixlen < b->prefixlen ? -1 : 1;
	return 0;
}

static bool prefix_contains(const struct cgf_lpm_key *outer,
			    const struct cgf_lpm_key *inner)
{
	return outer->prefixlen <= inner->prefixlen &&
	       key_common_bits(outer, inner, outer->prefixlen) ==
		       outer->prefixlen;
}

static void rule_bit_set(__u64 *bits, uint32_t rule)
{
	bits[rule / 64] |= 1ULL << (rule % 64);
}

static void mask_or(struct cgf_rule_mask *dst, const struct cgf_rule_mask *src)
{
	for (int w = 0; w < CGF_MASK_WORDS; w++)
		dst->bits[w] |= src->bits[w];
}

static int pending_add(struct pending_list *l, uint8_t kind,
		       const uint8_t *data, size_t data_len, uint32_t prefixlen,
		       uint32_t rule)
{
	struct pending *p;

	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct pending *items = reallocarray(l->items, cap, sizeof(*p));

		if (!items)
			return -ENOMEM;
		l->items = items;
		l->cap = cap;
	}
	p = &l->items[l->count++];
	memset(p, 0, sizeof(*p));
	p->key.kind = kind;
	if (data_len)
		memcpy(p->key.data, data, data_len);
	key_truncate(&p->key, prefixlen);
	p->rule = rule;
	return 0;
}

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *pa = a, *pb = b;
	int r = key_cmp(&pa->key, &pb->key);

	if (r)
		return r;
	return pa->rule < pb->rule ? -1 : pa->rule > pb->rule;
}

/* Where each run of items already in order starts; their count. */
static size_t pending_runs(const struct pending *items, size_t n,
			   size_t *starts, size_t max)
{
	size_t runs = n ? 1 : 0;

	if (max)
		starts[0] = 0;
	for (size_t i = 1; i < n; i++)
		if (pending_cmp(&items[i - 1], &items[i]) > 0) {
			if (runs < max)
				starts[runs] = i;
			runs++;
		}
	return runs;
}

/* Merges the sorted a[0..na) and b[0..nb) into out. */
static void merge_pending(const struct pending *a, size_t na,
			  const struct pending *b, size_t nb,
			  struct pending *out)
{
	size_t i = 0, j = 0;

	while (i < na && j < nb)
		*out++ = pending_cmp(&b[j], &a[i]) < 0 ? b[j++] : a[i++];
	memcpy(out, a + i, (na - i) * sizeof(*a));
	memcpy(out + (na - i), b + j, (nb - j) * sizeof(*b));
}

/*
 * Sorts items[0..n) by merging its runs already in order, neighbours
 * pairwise until one is left: n log(runs) steps, and one pass for items
 * already sorted. Items with many short runs go to qsort. scratch holds
 * n items.
 */
static int sort_pending_runs(struct pending *items, size_t n,
			     struct pending *scratch)
{
	enum { MAX_RUNS = 64 };
	size_t starts[MAX_RUNS + 1], runs;
	struct pending *from = items, *to = scratch;

	runs = pending_runs(items, n, starts, MAX_RUNS);
	if (runs <= 1)
		return 0;
	if (runs > MAX_RUNS) {
		qsort(items, n, sizeof(*items), pending_cmp);
		return 0;
	}
	starts[runs] = n;
	while (runs > 1) {
		size_t merged = 0;

		for (size_t r = 0; r < runs; r += 2, merged++) {
			size_t a = starts[r], b = starts[r + 1];
			size_t e = r + 2 <= runs ? starts[r + 2] : n;

			if (r + 1 == runs) /* the odd one out, copied */
				memcpy(to + a, from + a, (n - a) * sizeof(*to));
			else
				merge_pending(from + a, b - a, from + b, e - b,
					      to + a);
			starts[merged] = a;
		}
		starts[merged] = n;
		runs = merged;
		from = to;
		to = from == items ? scratch : items;
	}
	if (from != items)
		memcpy(items, from, n * sizeof(*items));
	return 0;
}

/*
 * Sorts l by pending_cmp, kind first. Entries come rule by rule, each
 * rule's addresses then its ports, so a big list is seldom in order as a
 * whole, but each kind's entries are mostly runs in order (addresses
 * written in order, an exception at the end): a stable pass splits the
 * list by kind, and each kind's runs are merged. The order is total, so
 * the result is qsort's.
 */
static int pending_sort(struct pending_list *l)
{
	size_t at[UINT8_MAX + 2] = {0};
	struct pending *by_kind;

	if (pending_runs(l->items, l->count, NULL, 0) <= 1)
		return 0;
	by_kind = malloc(l->count * sizeof(*by_kind));
	if (!by_kind)
		return -ENOMEM;
	for (size_t i = 0; i < l->count; i++)
		at[l->items[i].key.kind + 1]++;
	for (unsigned int k = 1; k <= UINT8_MAX + 1; k++)
		at[k] += at[k - 1];
	for (size_t i = 0; i < l->count; i++)
		by_kind[at[l->items[i].key.kind]++] = l->items[i];
	/* at[k] is now where kind k ends (and k + 1 starts). */
	for (unsigned int k = 0; k <= UINT8_MAX; k++) {
		size_t start = k ? at[k - 1] : 0;

		/* The old list is free now: it is the merges' scratch. */
		sort_pending_runs(by_kind + start, at[k] - start,
				  l->items + start);
	}
	free(l->items);
	l->items = by_kind;
	l->cap = l->count;
	return 0;
}

static int add_cidr(struct pending_list *l, uint8_t direction,
		    const struct policy_cidr *cidr, uint32_t r)
{
	unsigned int bytes = cidr->family == 4 ? 4 : 16;

	if ((cidr->family != 4 && cidr->family != 6) ||
	    cidr->prefixlen > bytes * 8)
		return -EINVAL;
	return pending_add(l, address_kind(direction, cidr->family), cidr->addr,
			   bytes, CGF_KIND_BITS + cidr->prefixlen, r);
}

/*
 * A set's entries go into the same tables as the rule's own addresses: a
 * set costs a packet nothing more, and a set's change is an ordinary
 * table change (delta.c).
 */
static int add_rule_addresses(struct pending_list *l, uint8_t direction,
			      const struct policy_net_rule *rule, uint32_t r)
{
	int err = 0;

	/* No address list: the rule matches every address of both families. */
	if (rule->naddrs == 0 && rule->nsets == 0) {
		err = pending_add(l, address_kind(direction, 4), NULL, 0,
				  CGF_KIND_BITS, r);
		if (err)
			return err;
		return pending_add(l, address_kind(direction, 6), NULL, 0,
				   CGF_KIND_BITS, r);
	}
	for (size_t i = 0; !err && i < rule->naddrs; i++)
		err = add_cidr(l, direction, &rule->addrs[i], r);
	/* Sets that are all empty add nothing: the rule matches no address. */
	for (size_t k = 0; !err && k < rule->nsets; k++) {
		const struct addr_set *set = rule->sets[k].set;

		if (!set)
			return -EINVAL;
		for (size_t i = 0; !err && i < set->nentries; i++)
			err = add_cidr(l, direction, &set->entries[i], r);
	}
	return err;
}

/* Splits [first, last] into the fewest aligned power-of-two port blocks. */
static int add_port_range(struct pending_list *l, uint8_t kind,
			  uint8_t protocol, uint32_t first, uint32_t last,
			  uint32_t r)
{
	while (first <= last) {
		unsigned int bits = 0;
		uint8_t data[3] = {protocol, first >> 8, first & 0xff};
		int err;

		while (bits < 16 && !(first & (1u << bits)) &&
		       first + (2u << bits) - 1 <= last)
			bits++;
		err = pending_add(l, kind, data, sizeof(data),
				  PORT_KEY_BITS - bits, r);
		if (err)
			return err;
		first += 1u << bits;
	}
	return 0;
}

static int add_rule_ports(struct pending_list *l, uint8_t direction,
			  const struct policy_net_rule *rule, uint32_t r)
{
	/* "Any protocol" with ports can only match the protocols with ports. */
	static const uint8_t with_ports[] = {IPPROTO_TCP, IPPROTO_UDP};
	const uint8_t *protocols = &rule->protocol;
	size_t nprotocols = 1;
	uint8_t kind = port_kind(direction);
	int err;

	if (rule->protocol == 0 && rule->nports == 0)
		return pending_add(l, kind, NULL, 0, CGF_KIND_BITS, r);
	if (rule->protocol == 0) {
		protocols = with_ports;
		nprotocols = sizeof(with_ports);
	}
	for (size_t p = 0; p < nprotocols; p++) {
		if (rule->nports == 0) {
			err = pending_add(l, kind, &protocols[p], 1,
					  PROTO_KEY_BITS, r);
			if (err)
				return err;
		}
		for (size_t i = 0; i < rule->nports; i++) {
			const struct policy_port_range *pr = &rule->ports[i];

			if (pr->first > pr->last)
				return -EINVAL;
			err = add_port_range(l, kind, protocols[p], pr->first,
					     pr->last, r);
			if (err)
				return err;
		}
	}
	return 0;
}

static int add_direction(struct pending_list *l, struct cgf_direction *hdr,
			 uint8_t direction, const struct policy_net_section *s)
{
	int err;

	if (!s->present)
		return 0;
	if (s->nrules > CGF_MAX_RULES)
		return -E2BIG;
	hdr->restricted = 1;
	hdr->default_action = s->default_action;
	hdr->nrules = s->nrules;

	/* A /0 per kind, even without rules, so that lookups never miss. */
	err = pending_add(l, address_kind(direction, 4), NULL, 0, CGF_KIND_BITS,
			  NO_RULE);
	if (!err)
		err = pending_add(l, address_kind(direction, 6), NULL, 0,
				  CGF_KIND_BITS, NO_RULE);
	if (!err)
		err = pending_add(l, port_kind(direction), NULL, 0,
				  CGF_KIND_BITS, NO_RULE);
	for (uint32_t r = 0; !err && r < s->nrules; r++) {
		if (s->rules[r].action == CGF_ALLOW)
			rule_bit_set(hdr->allow, r);
		err = add_rule_addresses(l, direction, &s->rules[r], r);
		if (!err)
			err = add_rule_ports(l, direction, &s->rules[r], r);
	}
	return err;
}

static int convert_device_rule(const struct policy_dev_rule *in,
			       struct cgf_device_rule *out)
{
	memset(out, 0, sizeof(*out));
	out->type = in->type;
	out->access = in->access;
	out->action = in->action;
	if (in->major == -1)
		out->flags |= CGF_DEV_ANY_MAJOR;
	else if (in->major < 0 || in->major > UINT32_MAX)
		return -EINVAL;
	else
		out->major = in->major;
	if (in->minor == -1)
		out->flags |= CGF_DEV_ANY_MINOR;
	else if (in->minor < 0 || in->minor > UINT32_MAX)
		return -EINVAL;
	else
		out->minor = in->minor;
	return 0;
}

static int convert_devices(struct cgf_devices *hdr,
			   const struct policy_dev_section *s)
{
	int err;

	if (!s->present)
		return 0;
	if (s->nrules > CGF_MAX_DEVICE_RULES)
		return -E2BIG;
	hdr->restricted = 1;
	hdr->default_action = s->default_action;
	hdr->nrules = s->nrules;
	for (size_t i = 0; i < s->nrules; i++) {
		err = convert_device_rule(&s->rules[i], &hdr->rules[i]);
		if (err)
			return err;
	}
	return 0;
}

static bool mask_is_class(const void *ctx, uint32_t id, const void *key)
{
	const struct class_table *t = ctx;

	return !memcmp(&t->masks[id], key, sizeof(t->masks[id]));
}

static int class_intern(struct class_table *t, const struct cgf_rule_mask *m,
			uint32_t *id)
{
	uint64_t hash = hashtab_hash_bytes(m, sizeof(*m), 0);
	int err;

	*id = hashtab_find(&t->index, hash, m);
	if (*id != HASHTAB_NONE)
		return 0;
	if (t->count == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct cgf_rule_mask *masks =
			reallocarray(t->masks, cap, sizeof(*masks));

		if (!masks)
			return -ENOMEM;
		t->masks = masks;
		t->cap = cap;
	}
	err = hashtab_insert(&t->index, hash, t->count);
	if (err)
		return err;
	t->masks[t->count] = *m;
	*id = t->count++;
	return 0;
}

/*
 * Merges equal prefixes and gives each entry the rules of every prefix
 * containing it. Sorted by (kind, data, prefixlen) with host bits cleared,
 * a prefix comes right before everything it contains, so a stack of the
 * prefixes still open holds exactly the chain enclosing the current entry.
 */
static int emit_entries(struct pending_list *l, struct compiled_policy *c,
			struct class_table *classes)
{
	/* Each open prefix is longer than the one below: at most 129 deep. */
	struct open_prefix stack[KEY_MAX_BITS - CGF_KIND_BITS + 1];
	size_t depth = 0, n = 0, i = 0;
	int err;

	if (!l->count)
		return 0;
	err = pending_sort(l);
	if (err)
		return err;
	c->entries = calloc(l->count, sizeof(*c->entries));
	if (!c->entries)
		return -ENOMEM;
	err = hashtab_init(&classes->index, 0, mask_is_class, classes);
	if (err)
		return err;

	while (i < l->count) {
		const struct cgf_lpm_key *key = &l->items[i].key;
		struct compiled_entry *e = &c->entries[n];
		struct cgf_rule_mask mask = {0};

		for (; i < l->count && !key_cmp(&l->items[i].key, key); i++) {
			if (l->items[i].rule != NO_RULE)
				rule_bit_set(mask.bits, l->items[i].rule);
		}
		while (depth && !prefix_contains(stack[depth - 1].key, key))
			depth--;
		if (depth)
			mask_or(&mask,
				&classes->masks[stack[depth - 1].class_id]);
		/* Neighbours mostly share a class: skip hashing its mask. */
		if (n && !memcmp(&mask, &classes->masks[e[-1].class_id],
				 sizeof(mask))) {
			e->class_id = e[-1].class_id;
		} else {
			err = class_intern(classes, &mask, &e->class_id);
			if (err)
				return err;
		}
		e->key = *key;
		stack[depth].key = &e->key;
		stack[depth].class_id = e->class_id;
		depth++;
		n++;
	}
	c->nentries = n;
	return 0;
}

static void digest_u64(struct sha256_ctx *ctx, uint64_t v)
{
	uint8_t le[8];

	for (int i = 0; i < 8; i++)
		le[i] = v >> (8 * i);
	sha256_update(ctx, sizeof(le), le);
}

/* Lengths go in before each variable part so no two inputs collide. */
static void compute_digest(struct compiled_policy *c, const char *name)
{
	struct sha256_ctx ctx;
	size_t name_len = name ? strlen(name) : 0;

	sha256_init(&ctx);
	digest_u64(&ctx, name_len);
	sha256_update(&ctx, name_len, (const uint8_t *)name);
	sha256_update(&ctx, sizeof(c->hdr), (const uint8_t *)&c->hdr);
	digest_u64(&ctx, c->nentries);
	sha256_update(&ctx, c->nentries * sizeof(*c->entries),
		      (const uint8_t *)c->entries);
	digest_u64(&ctx, c->nclasses);
	sha256_update(&ctx, c->nclasses * sizeof(*c->classes),
		      (const uint8_t *)c->classes);
	sha256_digest(&ctx, sizeof(c->digest), c->digest);
}

/* The sockets section as the sock_create and LSM programs read it. */
static void convert_sockets(struct cgf_sockets *out,
			    const struct policy_sockets *s)
{
	out->families = 0;
	for (int f = 0; f < CGF_FAMILY_BITS; f++)
		if (socknames_family_always_allowed(f))
			out->families |= 1ull << f;
	for (size_t i = 0; i < s->nfamilies; i++) {
		uint16_t f = s->families[i].value;

		if (f == POLICY_SOCKETS_ANY)
			out->families = CGF_ALL_FAMILIES;
		else if (f < CGF_FAMILY_BITS)
			out->families |= 1ull << f;
	}
	memset(out->raw_protocols, 0, sizeof(out->raw_protocols));
	for (size_t i = 0; i < s->nraw; i++) {
		uint16_t proto = s->raw[i].value;

		if (proto == POLICY_SOCKETS_ANY)
			memset(out->raw_protocols, 0xff,
			       sizeof(out->raw_protocols));
		else
			out->raw_protocols[proto / 64] |= 1ull << (proto % 64);
	}
	/* IPPROTO_RAW sockets write whole headers: that is "hdrincl". */
	out->raw_protocols[IPPROTO_RAW / 64] &= ~(1ull << (IPPROTO_RAW % 64));
	out->options = 0;
	for (size_t i = 0; i < s->noptions; i++)
		out->options |= s->options[i].value;
	if (out->options & CGF_SOCKOPT_HDRINCL)
		out->raw_protocols[IPPROTO_RAW / 64] |= 1ull
							<< (IPPROTO_RAW % 64);
}

int policy_compile(const struct policy *p, struct compiled_policy **out)
{
	struct pending_list pending = {0};
	struct class_table classes = {0};
	struct compiled_policy *c;
	int err;

	*out = NULL;
	/* calloc: the digest covers the header's padding, which must be 0. */
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->hdr.abi_version = CGF_ABI_VERSION;
	c->hdr.mode = p->mode;

	err = add_direction(&pending, &c->hdr.egress, CGF_DIR_EGRESS,
			    &p->egress);
	if (!err)
		err = add_direction(&pending, &c->hdr.ingress, CGF_DIR_INGRESS,
				    &p->ingress);
	if (!err)
		err = convert_devices(&c->hdr.devices, &p->devices);
	if (!err)
		convert_sockets(&c->hdr.sockets, &p->sockets);
	if (!err)
		err = emit_entries(&pending, c, &classes);
	free(pending.items);
	hashtab_free(&classes.index);
	c->classes = classes.masks;
	c->nclasses = classes.count;
	if (err) {
		compiled_policy_free(c);
		return err;
	}
	compute_digest(c, p->name);
	*out = c;
	return 0;
}

int compiled_policy_audit_copy(const struct compiled_policy *c,
			       const char *name, struct compiled_policy **out)
{
	struct compiled_policy *copy = calloc(1, sizeof(*copy));

	*out = NULL;
	if (!copy)
		return -ENOMEM;
	*copy = *c;
	copy->entries =
		malloc((c->nentries ? c->nentries : 1) * sizeof(*c->entries));
	copy->classes =
		malloc((c->nclasses ? c->nclasses : 1) * sizeof(*c->classes));
	if (!copy->entries || !copy->classes) {
		compiled_policy_free(copy);
		return -ENOMEM;
	}
	memcpy(copy->entries, c->entries, c->nentries * sizeof(*c->entries));
	memcpy(copy->classes, c->classes, c->nclasses * sizeof(*c->classes));
	copy->hdr.mode = CGF_MODE_AUDIT;
	/* Another header, another digest: never the enforcing tables. */
	compute_digest(copy, name);
	*out = copy;
	return 0;
}

const char *compile_error_text(int err)
{
	return err == -E2BIG ? "too many rules" : strerror(-err);
}

void compiled_policy_free(struct compiled_policy *c)
{
	if (!c)
		return;
	free(c->entries);
	free(c->classes);
	free(c);
}

int compiled_key_cmp(const struct cgf_lpm_key *a, const struct cgf_lpm_key *b)
{
	return key_cmp(a, b);
}

/* Index of the last entry <= key in sort order, or -1. */
static ssize_t entry_at_or_before(const struct compiled_policy *c,
				  const struct cgf_lpm_key *key)
{
	size_t lo = 0, hi = c->nentries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(&c->entries[mid].key, key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ssize_t)lo - 1;
}

/*
 * The entry just before the key (cut to len bits) in sort order is either
 * the longest match or lies inside it; if it does not match, the longest
 * match is shorter than the bits it shares with the key, so cut there and
 * search again. len shrinks every round; usually one round suffices.
 */
uint32_t compiled_lookup_class(const struct compiled_policy *c,
			       const struct cgf_lpm_key *key)
{
	struct cgf_lpm_key probe = *key;
	uint32_t len =
		key->prefixlen < KEY_MAX_BITS ? key->prefixlen : KEY_MAX_BITS;

	while (len >= CGF_KIND_BITS) {
		const struct compiled_entry *e;
		uint32_t common;
		ssize_t i;

		key_truncate(&probe, len);
		i = entry_at_or_before(c, &probe);
		if (i < 0)
			break;
		e = &c->entries[i];
		common = key_common_bits(&e->key, &probe, len);
		if (e->key.prefixlen <= common)
			return e->class_id;
		/* common < len for entries compiled here; never loop anyway. */
		len = common < len ? common : len - 1;
	}
	return COMPILED_NO_CLASS;
}

static bool addr_is_v4_mapped(const uint8_t addr[16])
{
	static const uint8_t prefix[12] = {[10] = 0xff, [11] = 0xff};

	return !memcmp(addr, prefix, sizeof(prefix));
}

void flow_normalize(struct flow *f)
{
	if (f->family != 6 || !addr_is_v4_mapped(f->addr))
		return;
	f->family = 4;
	memmove(f->addr, f->addr + 12, 4);
	memset(f->addr + 4, 0, 12);
}

void flow_address_key(const struct flow *f, struct cgf_lpm_key *key)
{
	struct flow n = *f;

	flow_normalize(&n);
	memset(key, 0, sizeof(*key));
	key->kind = address_kind(n.direction, n.family);
	if (n.family == 4) {
		memcpy(key->data, n.addr, 4);
		key->prefixlen = CGF_KIND_BITS + 32;
	} else {
		memcpy(key->data, n.addr, 16);
		key->prefixlen = CGF_KIND_BITS + 128;
	}
}

void flow_port_key(const struct flow *f, struct cgf_lpm_key *key)
{
	uint16_t port = protocol_has_ports(f->protocol) ? f->port : 0;

	memset(key, 0, sizeof(*key));
	key->kind = port_kind(f->direction);
	key->prefixlen = PORT_KEY_BITS;
	key->data[0] = f->protocol;
	key->data[1] = port >> 8;
	key->data[2] = port & 0xff;
}

static const struct cgf_rule_mask *class_mask(const struct compiled_policy *c,
					      uint32_t id)
{
	static const struct cgf_rule_mask none;

	return id < c->nclasses ? &c->classes[id] : &none;
}

void compiled_judge_flow(const struct compiled_policy *c, const struct flow *f,
			 struct verdict *v)
{
	const struct cgf_direction *dir = f->direction == CGF_DIR_INGRESS
						  ? &c->hdr.ingress
						  : &c->hdr.egress;
	struct cgf_lpm_key key;
	uint32_t class_a, class_p;

	if (!dir->restricted) {
		v->action = CGF_ALLOW;
		v->rule = CGF_RULE_DEFAULT;
		v->restricted = 0;
		return;
	}
	flow_address_key(f, &key);
	class_a = compiled_lookup_class(c, &key);
	flow_port_key(f, &key);
	class_p = compiled_lookup_class(c, &key);
	v->rule =
		cgf_first_rule(class_mask(c, class_a), class_mask(c, class_p));
	v->action = cgf_rule_action(dir, v->rule);
	v->restricted = 1;
}

void compiled_judge_device(const struct compiled_policy *c, uint32_t type,
			   uint32_t major, uint32_t minor, uint32_t access,
			   struct verdict *v)
{
	if (!c->hdr.devices.restricted) {
		v->action = CGF_ALLOW;
		v->rule = CGF_RULE_DEFAULT;
		v->restricted = 0;
		return;
	}
	v->action = cgf_judge_device(&c->hdr.devices, type, major, minor,
				     access, &v->rule);
	v->restricted = 1;
}

void compiled_judge_socket(const struct compiled_policy *c, uint32_t family,
			   uint32_t type, uint32_t protocol, struct verdict *v)
{
	v->action = cgf_judge_socket(&c->hdr.sockets, family, type, protocol,
				     &v->rule);
	v->restricted = 1;
}

static void free_derived(void *cp)
{
	compiled_policy_free(cp);
}

int policy_compiled(struct policy *p, const struct compiled_policy **out)
{
	struct compiled_policy *cp;
	int err;

	if (!p->derived) {
		err = policy_compile(p, &cp);
		if (err)
			return err;
		p->derived = cp;
		p->derived_free = free_derived;
	}
	*out = p->derived;
	return 0;
}
