/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What is known of a recorded cgroup besides its record table (which is
 * pinned: kernel/record.h): RUN/recordings/CGROUP_ID.json under the run
 * directory of the pinned state. Written when recording starts, marked
 * stopped when the cgroup is detached, and kept, with the table, after the
 * container is gone, so that `cgfence suggest --container ID` still works;
 * `cgfence gc` ages both out. Pure: no kernel, no libbpf.
 */
#ifndef CGFENCE_RECORDING_H
#define CGFENCE_RECORDING_H

#include <stddef.h>
#include <stdint.h>

/*
 * What a recorded cgroup without a policy of its own runs: nothing
 * restricted, so that nothing is denied and every flow and device access
 * is judged (and so recorded); audit mode, which recording forces anyway
 * (raw sockets and socket options the defaults refuse are recorded, and
 * reported as audit events).
 */
#define RECORDING_POLICY_NAME "record"
#define RECORDING_POLICY_TEXT                                                  \
	"{\"version\": 1, \"name\": \"" RECORDING_POLICY_NAME "\", "           \
	"\"mode\": \"audit\", \"sockets\": {\"families\": [\"any\"]}}"

/* The annotation that has the OCI hook record a container ("true"). */
#define RECORDING_ANNOTATION "cgfence.record"

struct recording_info {
	uint64_t cgroup_id;
	char container_id[128]; /* empty outside the hook */
	char cgroup[512];
	char policy[64];     /* the policy evaluated in audit mode meanwhile */
	uint32_t size;	     /* the table's entries */
	uint64_t started_ns; /* CLOCK_REALTIME */
	uint64_t stopped_ns; /* 0: still recording */
};

int recording_write(int run_fd, const struct recording_info *r);
/* -ENOENT when the cgroup has none. */
int recording_read(int run_fd, uint64_t cgroup_id, struct recording_info *r);
int recording_remove(int run_fd, uint64_t cgroup_id);
/* The cgroup ids that have one, in no order; caller frees *ids. */
int recording_list(int run_fd, uint64_t **ids, size_t *n);
/*
 * The recording of a container id: the most recently started one (a
 * runtime may reuse an id). -ENOENT when none.
 */
int recording_find_container(int run_fd, const char *container_id,
			     struct recording_info *r);

/* The JSON text, for the unit test. */
char *recording_format(const struct recording_info *r);
int recording_parse(const char *text, struct recording_info *r);

#endif
