/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Changing a policy in place: only what changed is written, and the cgroup
 * still moves from the old policy to the new one in a single update.
 *
 * A policy's kernel tables are one LPM trie (prefix -> class id) and two
 * banks of class masks; the policy header names the active bank. A change
 * is planned so that every write before the flip keeps the old verdicts
 * under the active bank:
 *
 *   1. new class ids get their OLD effective mask in the active bank
 *      (nothing refers to them yet);
 *   2. the inactive bank gets every class's NEW effective mask;
 *   3. LPM entries are inserted (new prefixes) or repointed (a class whose
 *      prefixes now differ is split): each one keeps its old mask;
 *   4. the header is rewritten with the other bank: the flip.
 *
 * Prefixes the new policy no longer has stay in the trie, carrying the new
 * mask of their enclosing prefix, so they change nothing ("tombstones");
 * a full rebuild clears them when the capacities run out.
 *
 * struct table_state mirrors the kernel tables in user space; it is kept in
 * a file next to the pinned state. Pure: no kernel, no libbpf.
 */
#ifndef CGFENCE_DELTA_H
#define CGFENCE_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "compile.h"

struct table_state {
	uint32_t policy_id;
	uint32_t active_bank; /* 0 or 1 */
	uint32_t nclasses;    /* class ids in use: 0 .. nclasses-1 */
	uint32_t class_cap;   /* max_entries of each bank */
	uint32_t entry_cap;   /* max_entries of the LPM trie */
	uint64_t flipped_ns;  /* CLOCK_BOOTTIME of the last flip, 0: never */
	uint8_t digest[32];   /* of the compiled policy the active bank holds */
	struct compiled_entry *entries; /* the trie, sorted */
	size_t nentries;
	struct cgf_rule_mask *banks[2]; /* class_cap masks each */
	/* How many entries use each class id (a class no entry uses can be
	 * given a new pair of masks). Kept by table_state_init(), load and
	 * the mapped mirror; table_state_save() counts them again. */
	uint32_t *refs;
};

struct delta_plan {
	/* 1. active bank: masks for the new class ids */
	uint32_t *active_ids;
	struct cgf_rule_mask *active_masks;
	size_t nactive;
	/* 2. inactive bank: ids whose mask differs from what it holds */
	uint32_t *inactive_ids;
	struct cgf_rule_mask *inactive_masks;
	size_t ninactive;
	/* 3. LPM entries to insert or repoint */
	struct compiled_entry *lpm;
	size_t nlpm;
	/* the mirror once the flip is done (flipped_ns left to the caller) */
	struct table_state next;
};

/* The mirror of freshly built tables: both banks hold cp's classes, bank 0
 * is active. The kernel tables must be built the same way. */
int table_state_init(struct table_state *s, const struct compiled_policy *cp,
		     uint32_t policy_id);
void table_state_free(struct table_state *s);

/* Plans the change to `next`; -ENOSPC when a capacity would be exceeded. */
int delta_plan_build(const struct table_state *cur,
		     const struct compiled_policy *next,
		     struct delta_plan *plan);
void delta_plan_free(struct delta_plan *plan);

/*
 * The tables as the kernel presents them through one bank, with the header
 * hdr, as a compiled_policy that compiled_judge_flow() can evaluate. The
 * view borrows s's arrays: do not free it.
 */
void table_state_view(const struct table_state *s, uint32_t bank,
		      const struct cgf_policy *hdr,
		      struct compiled_policy *view);

/* The mirror file; both return 0 or a negative errno (-EBADMSG: corrupt). */
int table_state_save(const struct table_state *s, int dir_fd, const char *name);
int table_state_load(struct table_state *s, int dir_fd, const char *name);

/*
 * The mirror file mapped, to change a few entries where they lie (a set
 * change, set_delta.h) instead of reading and writing all of it. s's
 * arrays point into the mapping (never table_state_free() it). Between
 * table_map_begin() and table_map_end() the file is marked as being
 * changed: if the process dies there, no later load trusts it. sum is the
 * file's checksum, which whoever changes s keeps up to date with the
 * table_sum_*() terms (added for what is there, subtracted for what goes).
 */
#define STATE_HEADER_SIZE 128
struct table_map {
	struct table_state s;
	uint64_t sum;
	void *base;
	size_t len;
	int fd;
};

int table_map_open(struct table_map *m, int dir_fd, const char *name);
void table_map_begin(struct table_map *m);
void table_map_end(struct table_map *m);
void table_map_close(struct table_map *m);

uint64_t table_sum_entry(const struct compiled_entry *e);
uint64_t table_sum_mask(uint32_t bank, uint32_t id,
			const struct cgf_rule_mask *m);
uint64_t table_sum_ref(uint32_t id, uint32_t refs);

#endif
