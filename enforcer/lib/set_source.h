/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a policy's kernel tables were compiled from, as far as a set
 * change needs to know: kept per policy id in the run directory
 * ("setsource-ID", JSON) by every pass over a policy directory that
 * leaves tables running a policy whose rules name sets. `cgfence set
 * add|del` changes such tables without compiling the policy again
 * (set_delta.h) only while the record still describes them: the tables'
 * digest is the record's, the policy file has the text it had, and every
 * set file it names is the version it was. Otherwise the command takes
 * its full path (a pass over the directory). Pure: no kernel.
 */
#ifndef CGFENCE_SET_SOURCE_H
#define CGFENCE_SET_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr_set.h"
#include "policy.h"

/* A rule naming sets: what it lists besides them, and which. */
struct set_source_rule {
	uint8_t direction; /* CGF_DIR_* */
	uint32_t rule;	   /* index in its section */
	struct policy_cidr *addrs;
	size_t naddrs;
	char **sets;
	size_t nsets;
};

struct set_source_set {
	char *name;
	struct file_version version;
};

struct set_source {
	uint8_t digest[32]; /* of the tables (cgf_policy_info) */
	char *policy_dir, *policy, *file;
	uint8_t text_sha256[32]; /* of the policy file's text */
	struct set_source_set *sets;
	size_t nsets;
	struct set_source_rule *rules;
	size_t nrules;
};

/*
 * The record of p (parsed from its file in policy_dir, sets read from
 * their files) compiled to tables with digest. -ENODATA when p cannot
 * have one: a last good version, no sets, a set not read from a file.
 */
int set_source_of_policy(const struct policy *p, const char *policy_dir,
			 const uint8_t digest[32], struct set_source *out);
void set_source_free(struct set_source *s);

int set_source_write(int run_fd, uint32_t policy_id,
		     const struct set_source *s);
/* 0, -ENOENT, -EBADMSG, -errno. */
int set_source_read(int run_fd, uint32_t policy_id, struct set_source *s);
int set_source_remove(int run_fd, uint32_t policy_id);

/* The text's SHA-256, as text_sha256 holds it. */
void set_source_text_sha256(const char *text, size_t len, uint8_t out[32]);

/* Whether s names set (by any rule). */
bool set_source_names(const struct set_source *s, const char *set);

#endif
