/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Record tables (include/cgfence_abi.h, "Recording"): one hash map per
 * recorded cgroup, pinned at records/<cgroup id> under the state
 * directory, so that it outlives the container and every cgfence process;
 * cgf_records points the programs at it while the cgroup records.
 */
#ifndef CGFENCE_RECORD_H
#define CGFENCE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"
#include "suggest.h"

/*
 * The cgroup's table (made with room for size entries unless pinned
 * already: a record goes on where it was), in cgf_records.
 */
int record_start(struct cgf_state *st, uint64_t cgroup_id, uint32_t size);
/* The programs stop recording into it; the pinned table stays. */
void record_stop(struct cgf_state *st, uint64_t cgroup_id);
/* The pinned table and its description (recording.h): gone. */
void record_remove(struct cgf_state *st, uint64_t cgroup_id);

/* The pinned table of a cgroup: an fd, or -ENOENT when it has none. */
int record_open(const struct cgf_state *st, uint64_t cgroup_id);

struct record_contents {
	struct observation *obs; /* times on CLOCK_REALTIME */
	size_t n;
	uint64_t not_recorded; /* the overflow entry's count */
	uint32_t size;	       /* entries the table holds, overflow aside */
	uint64_t memory_bytes; /* the kernel's account of the table */
};

/* Every entry of the table. 0 or -errno; free with record_contents_free. */
int record_read(int table_fd, struct record_contents *out);
void record_contents_free(struct record_contents *c);

/*
 * Removes the records of cgroups that no longer exist and stopped
 * recording max_age_s seconds ago or more. Returns how many, or -errno.
 */
int record_gc(struct cgf_state *st, uint64_t max_age_s);

#endif
