/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The container state an OCI runtime writes to a hook's stdin (runtime-spec
 * "State"): JSON text -> typed struct. Pure: no kernel, no libbpf.
 *
 *   {"ociVersion": "1.0.2", "id": "web-1", "status": "creating",
 *    "pid": 4242, "bundle": "/run/containers/web-1",
 *    "annotations": {"cgfence.policy": "web"}}
 */
#ifndef CGFENCE_OCI_STATE_H
#define CGFENCE_OCI_STATE_H

#include <stddef.h>
#include <sys/types.h>

/* Hooks get at most this much state; runtimes send a few kilobytes. */
#define OCI_STATE_MAX_SIZE (1u << 20)

struct oci_annotation {
	char *key;
	char *value;
};

struct oci_state {
	char *id;
	char *status; /* "creating", "created", "running", "stopped" */
	char *bundle; /* may be NULL */
	pid_t pid;    /* 0 when absent (poststop) */
	struct oci_annotation *annotations;
	size_t nannotations;
};

/*
 * Parses and checks the state. Returns 0, -EINVAL with a one-line reason
 * in why, or -ENOMEM.
 */
int oci_state_parse(const char *text, size_t len, struct oci_state *out,
		    char *why, size_t why_len);
void oci_state_free(struct oci_state *s);

/*
 * Whether the container's processes may ever hold a capability: the
 * bundle's config.json (runtime-spec "Config"), process.capabilities.
 * bounding. Returns 1 (listed, or no bounding set given: the runtime then
 * leaves every capability), 0 (not listed), or a negative errno with a
 * reason in why. cap is its name as the spec writes it: "CAP_NET_RAW".
 */
#define OCI_CONFIG_MAX_SIZE (8u << 20)
int oci_config_may_hold_cap(const char *bundle, const char *cap, char *why,
			    size_t why_len);

/* The value of an annotation, or NULL. */
const char *oci_state_annotation(const struct oci_state *s, const char *key);

#endif
