/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lifecycle records: one JSON line per policy applied, replaced or removed,
 * per container left unconfined, and per change a policy directory brings
 * (changed, kept, policy-invalid: reload.h), appended by the hook (and by apply,
 * detach and gc when asked) to the audit log the daemon writes (default
 * /var/log/cgfence/audit.jsonl). Each is a single O_APPEND write, so it
 * never interleaves with the daemon's lines, and it lands even when the
 * daemon is not running. Pure: no kernel, no libbpf.
 *
 *   {"time": "2026-11-25T13:35:55.123456Z", "type": "lifecycle", "event": "applied",
 *    "source": "hook", "container_id": "web-1",
 *    "cgroup": "/sys/fs/cgroup/web-1", "cgroup_id": 4242,
 *    "policy": "web", "policy_id": 2864434397, "mode": "enforce",
 *    "selected_by": "annotation", "families_fenced_by": "bpf-lsm"}
 *
 * Absent values are null (unconfined containers have no policy; a removal
 * found by gc may have no container id). A Kubernetes pod's container also
 * carries "kubernetes": {"namespace": "shop", "pod": "web-0",
 * "container": "nginx"} (k8s_identity.h); other containers have none.
 */
#ifndef CGFENCE_LIFECYCLE_H
#define CGFENCE_LIFECYCLE_H

#include <stdint.h>

#include "k8s_identity.h"

#define CGF_DEFAULT_LIFECYCLE_LOG "/var/log/cgfence/audit.jsonl"

enum lifecycle_kind {
	LIFECYCLE_APPLIED,
	LIFECYCLE_REPLACED,
	LIFECYCLE_REMOVED,
	LIFECYCLE_UNCONFINED,
	LIFECYCLE_CHANGED,	  /* a policy directory changed: a new policy */
	LIFECYCLE_KEPT,		  /* ... the container keeps its version */
	LIFECYCLE_POLICY_INVALID, /* ... a file of it does not validate */
};

struct lifecycle_event {
	enum lifecycle_kind kind;
	const char *source;	  /* "hook", "apply", "detach", "gc" */
	const char *container_id; /* NULL or "" when unknown */
	const char *cgroup;	  /* NULL when unknown */
	uint64_t cgroup_id;	  /* 0 when unknown */
	const char *policy;	  /* NULL when none */
	uint32_t policy_id;	  /* 0 when none */
	const char *mode;	  /* "enforce", "audit" or NULL */
	const char
		*selected_by; /* hook only: annotation|selector|default|none */
	/* What refuses the address families the policy refuses: "bpf-lsm",
	 * "no-cap-net-raw" (the hook, without the BPF LSM), or NULL. */
	const char *families_fenced_by;
	const char *reason; /* optional free text */
	/* The compiled policy's digest, 12 hex digits: tells versions of one
	 * policy apart, which may keep their policy id (an in-place change). */
	const char *version;
	/* changed: what the container had before. */
	const char *previous_policy;
	uint32_t previous_policy_id;
	const char *previous_version;
	/* changed, kept, policy-invalid: the directory (and file) concerned. */
	const char *policy_dir;
	const char *file;
	/* The pod the container belongs to, or NULL. */
	const struct k8s_identity *kubernetes;
};

/* A compiled policy's version for the records: 12 hex digits of its digest. */
void lifecycle_version_text(const uint8_t digest[32], char out[13]);

/* The line without its newline; caller frees. NULL when out of memory. */
char *lifecycle_format(const struct lifecycle_event *ev, uint64_t realtime_ns);

/*
 * Appends one line with a single write (O_APPEND, no symlinks followed),
 * creating the file (0640) and its directory (0750) if missing.
 * Returns 0 or a negative errno; callers warn and carry on.
 */
int lifecycle_record(const char *log_path, const struct lifecycle_event *ev);

#endif
