/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A directory of policies, and which one a container gets. Pure: no
 * kernel, no libbpf; files are opened relative to a directory fd.
 *
 * The policy named NAME lives in DIR/NAME.json. For a container:
 *
 *   1. annotation "cgfence.policy": NAME   that policy; refused when NAME is
 *      not a policy name, the file is missing or invalid, or the policy
 *      has a selector this container does not match;
 *   2. else the one policy whose selector matches the container's
 *      annotations (a selector is a set of annotations that must all be
 *      present with these values); two matching is an error;
 *   3. else the policy named "default", if its selector (if any) matches;
 *   4. else none: the container runs unconfined, which the caller records.
 *
 * A policy without a selector is thus used only when an annotation names
 * it, or as the fallback when it is named "default". A directory where
 * two selectors can match one container is a configuration error that
 * policy_set_check() reports.
 */
#ifndef CGFENCE_POLICY_DIR_H
#define CGFENCE_POLICY_DIR_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "oci_state.h"
#include "policy.h"

#define POLICY_ANNOTATION      "cgfence.policy"
#define POLICY_DEFAULT_NAME    "default"
#define CGF_DEFAULT_POLICY_DIR "/etc/cgfence/policies"

/* Parsed policies a resident process (hookd) keeps between containers. */
struct policy_cache;
struct policy_cache *policy_cache_new(void);
void policy_cache_free(struct policy_cache *c);

/*
 * A policy directory as it is read. Files are opened below fd with
 * openat2(RESOLVE_BENEATH): a symbolic link is followed only as long as
 * it stays within the directory (the kubelet's ConfigMap layout,
 * NAME.json -> ..data/NAME.json), never out of it; names starting with a
 * dot (..data, ..2026_12_01_...) are never policies, nor are files named
 * *.schema.json (a JSON Schema beside the policies, for editors; no policy
 * name ends in ".schema", so none is hidden this way). Address sets are
 * DIR/sets/NAME.txt, opened below DIR/sets the same way (addr_set.h).
 */
struct policy_dir {
	int fd;
	const char *path; /* for messages */
	/* The last good versions (policy_store.h), or -1: none kept. */
	int last_good_fd;
	/*
	 * hookd: the same policy while its file and its set files are
	 * unchanged; or NULL.
	 */
	struct policy_cache *cache;
	/* Sets read in this load pass (addr_set.h), or NULL: none kept
	 * (policy_set_load() keeps its own). */
	struct addr_set_cache *sets_cache;
};

/* Loads DIR/NAME.json; the policy inside must be named NAME. */
int policy_load_at(const struct policy_dir *dir, const char *name,
		   struct policy **out, struct diags *d);

struct policy_set {
	struct policy **policies; /* those that validated, sorted by name */
	size_t n;
	size_t nfiles;	/* *.json files seen */
	char **invalid; /* names of the files that did not validate */
	size_t ninvalid;
	/* Of those, the ones with no last good version (policy_set_resolve):
	 * they take no part, but may be meant for a container. */
	struct policy_unknown *unknown;
	size_t nunknown;
};

/*
 * A file that never validated: what can still be read of its selector
 * (its JSON parses and "selector" is an object of strings), so that only
 * the containers it may be meant for are refused.
 */
struct policy_unknown {
	char *name;
	char *path;
	bool selector_known;
	struct policy_selector_entry *selector;
	size_t nselector;
};

/*
 * Loads every *.json file of the directory. Problems of single files go
 * to d; returns -EINVAL when a file did not load, 0 otherwise.
 */
int policy_set_load(const struct policy_dir *dir, struct policy_set *set,
		    struct diags *d);
void policy_set_free(struct policy_set *set);

/*
 * Reports selectors that can match one container, once per selector (the
 * first overlapping policy and how many more); returns how many selectors.
 */
size_t policy_set_check(const struct policy_set *set, struct diags *d);

/*
 * What the directory chooses from now: each valid file; for a file that
 * does not validate, its last good version (p->last_good set), or nothing
 * when it never was valid; and when the result has overlapping selectors,
 * the last good directory as a whole. Every problem goes to d (0 problems:
 * the directory is valid). *adopted tells whether the result may become
 * the last good directory (it has no overlapping selectors).
 */
int policy_set_resolve(const struct policy_dir *dir, struct policy_set *set,
		       struct diags *d, bool *adopted);

bool policy_selector_matches(const struct policy *p,
			     const struct oci_annotation *ann, size_t nann);

enum policy_choice {
	POLICY_BY_ANNOTATION,
	POLICY_BY_SELECTOR,
	POLICY_BY_DEFAULT,
	POLICY_NONE,	/* unconfined */
	POLICY_BY_FILE, /* not chosen: `cgfence apply` of a file */
};

struct policy_selection {
	enum policy_choice how;
	struct policy *policy; /* owned by the caller; NULL for POLICY_NONE */
	/* The file did not validate: its last good version was chosen. */
	bool last_good;
};

/*
 * Chooses the policy for a container with these annotations (rules in the
 * comment above). Returns 0, or a negative errno with one line in why.
 */
int policy_select(const struct policy_dir *dir,
		  const struct oci_annotation *ann, size_t nann,
		  struct policy_selection *sel, char *why, size_t why_len);

/* The same among the policies of a set (policy_set_resolve()). */
int policy_select_in_set(const struct policy_set *set,
			 const struct oci_annotation *ann, size_t nann,
			 struct policy_selection *sel, char *why,
			 size_t why_len);

const char *policy_choice_name(enum policy_choice how);

#endif
