/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the hook knew of a container it fenced from a policy directory
 * (or `cgfence apply` of a cgroup: its policy file), so that a later
 * change of the directory (or of an address set) reaches it:
 * RUN/containers/CGROUP_ID.json under the run directory of the pinned
 * state (CGF_RUN_DIR/<state>). Written by the hook after the fence is in
 * place, rewritten by each pass that changes the container's policy,
 * removed with the fence. Pure: no kernel, no libbpf.
 */
#ifndef CGFENCE_CONTAINER_RECORD_H
#define CGFENCE_CONTAINER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s_identity.h"
#include "oci_state.h"

struct container_record {
	char *container_id;
	char *cgroup;
	uint64_t cgroup_id;
	char *policy_dir;
	/* Fenced by `cgfence apply`: the policy file itself (in policy_dir),
	 * read again by each pass, instead of a choice by annotations. */
	char *policy_file;
	struct oci_annotation *annotations;
	size_t nannotations;
	char *policy;	   /* the policy's name; NULL: runs unconfined */
	char *selected_by; /* policy_choice_name() */
	/* Why the container keeps a version the directory no longer has
	 * (its file was removed), or NULL. */
	char *kept;
	/* Without the BPF LSM, what lets a policy refuse socket families:
	 * the bundle's bounding set lacks CAP_NET_RAW (hook.c). */
	bool without_cap_net_raw;
};

int container_record_write(int run_fd, const struct container_record *r);
/* -ENOENT when there is none for the cgroup. */
int container_record_read(int run_fd, uint64_t cgroup_id,
			  struct container_record *r);
int container_record_remove(int run_fd, uint64_t cgroup_id);
/* The records of an unconfined container of this id (its poststop). */
void container_record_remove_unconfined(int run_fd, const char *container_id);
void container_record_free(struct container_record *r);

/*
 * The pod of the container fenced in the cgroup, from its record's
 * annotations (k8s_identity.h): 1, or 0 when it has no record or is no
 * pod's.
 */
int container_record_pod(int run_fd, uint64_t cgroup_id,
			 struct k8s_identity *out);

/* The cgroup ids that have a record, in no order; caller frees *ids. */
int container_record_list(int run_fd, uint64_t **ids, size_t *n);

/* The JSON text, for the unit test and the harness. */
char *container_record_format(const struct container_record *r);
int container_record_parse(const char *text, struct container_record *r);

#endif
