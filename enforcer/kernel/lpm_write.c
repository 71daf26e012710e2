// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lpm_write.h"
#include "util.h"

/*
 * Entries per BPF_MAP_UPDATE_BATCH: the kernel wants the keys and the
 * values in two arrays, so each chunk is copied apart first; 4096 keep
 * both buffers in the cache and the syscalls few (a million entries
 * take 245).
 */
#define LPM_BATCH 4096

/*
 * Writers beyond the first: each takes a slice of at least LPM_BATCH
 * entries. Past two, they mostly wait for the trie's lock (a million
 * entries: 1.4 s with one writer, 1.1 s with two, here).
 */
#define LPM_MAX_WRITERS 4

/*
 * A batch the kernel cut short because the trie's lock timed out (a
 * resilient spinlock gives up rather than spin for ever) is resumed where
 * it stopped, this many times per batch.
 */
#define LPM_LOCK_RETRIES 8

/* One syscall per entry: for kernels whose LPM trie has no batch update. */
static int write_each(int fd, const struct compiled_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, &e[i].key, &e[i].class_id, BPF_ANY))
			return -errno;
	return 0;
}

/* A kernel whose trie has no batch update refuses the first batch whole
 * (ENOTSUPP, 524, is the kernel's own "not supported"). */
static bool batch_unsupported(int err)
{
	return err == -EINVAL || err == -524 || err == -EOPNOTSUPP;
}

struct lpm_slice {
	int fd;
	const struct compiled_entry *e;
	size_t n;
	atomic_int *failed; /* set by the first writer that fails */
	int err;
	bool probe;   /* the first slice: may find batches unsupported */
	bool started; /* on a thread of its own */
	pthread_t thread;
};

/*
 * One batch syscall per LPM_BATCH entries instead of one per entry halves
 * the time of a big policy: each single update also copies its
 * attributes, finds the map from its fd and allocates a buffer for the
 * key and the value.
 */
static int write_slice(struct lpm_slice *s)
{
	_cleanup_free_ struct cgf_lpm_key *keys = NULL;
	_cleanup_free_ uint32_t *values = NULL;
	size_t chunk = s->n < LPM_BATCH ? s->n : LPM_BATCH;
	int retries = 0;

	keys = malloc(chunk * sizeof(*keys));
	values = malloc(chunk * sizeof(*values));
	if (!keys || !values)
		return -ENOMEM;
	for (size_t done = 0; done < s->n;) {
		__u32 count = s->n - done < chunk ? s->n - done : chunk;
		__u32 asked = count;
		int err;

		if (atomic_load(s->failed))
			return -ECANCELED;
		for (__u32 i = 0; i < count; i++) {
			keys[i] = s->e[done + i].key;
			values[i] = s->e[done + i].class_id;
		}
		if (!bpf_map_update_batch(s->fd, keys, values, &count, NULL)) {
			if (count != asked)
				return -EIO;
			done += count;
			retries = 0;
			continue;
		}
		err = -errno;
		if (s->probe && done == 0 && count == 0 &&
		    batch_unsupported(err))
			return write_each(s->fd, s->e, s->n);
		if ((err == -ETIMEDOUT || err == -EDEADLK) &&
		    retries++ < LPM_LOCK_RETRIES) {
			done += count;
			continue;
		}
		return err;
	}
	return 0;
}

static atomic_bool threads_forbidden;

void lpm_write_without_threads(void)
{
	atomic_store(&threads_forbidden, true);
}

static void *slice_writer(void *arg)
{
	struct lpm_slice *s = arg;

	s->err = write_slice(s);
	if (s->err)
		atomic_store(s->failed, 1);
	return NULL;
}

/* The CPUs this process may run on (a cpuset or taskset may allow few). */
static long usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return sysconf(_SC_NPROCESSORS_ONLN);
}

/* How many writers n entries get here: one per LPM_BATCH, per usable CPU. */
static unsigned int lpm_writers(size_t n)
{
	long cpus = usable_cpus();
	size_t w = n / LPM_BATCH;

	if (cpus < 1 || atomic_load(&threads_forbidden))
		cpus = 1;
	if (w > (size_t)cpus)
		w = cpus;
	if (w > LPM_MAX_WRITERS)
		w = LPM_MAX_WRITERS;
	return w ? w : 1;
}

/*
 * The first slice is written first, alone, by this thread: it finds out
 * whether the kernel takes batches at all. Then the rest is split among
 * the writers, this thread one of them. A writer that cannot start leaves
 * its slice to this thread.
 */
int lpm_write_entries(int fd, const struct compiled_entry *e, size_t n)
{
	struct lpm_slice slices[LPM_MAX_WRITERS] = {};
	atomic_int failed = 0;
	unsigned int w;
	size_t first, rest;
	int err = 0;

	if (n <= 1)
		return write_each(fd, e, n);
	first = n < LPM_BATCH ? n : LPM_BATCH;
	slices[0] = (struct lpm_slice){
		.fd = fd, .e = e, .n = first, .failed = &failed, .probe = true};
	err = write_slice(&slices[0]);
	if (err || first == n)
		return err;
	rest = n - first;
	w = lpm_writers(rest);
	for (unsigned int i = 0; i < w; i++) {
		size_t lo = rest * i / w, hi = rest * (i + 1) / w;

		slices[i] = (struct lpm_slice){.fd = fd,
					       .e = e + first + lo,
					       .n = hi - lo,
					       .failed = &failed};
	}
	for (unsigned int i = 1; i < w; i++)
		slices[i].started = !pthread_create(&slices[i].thread, NULL,
						    slice_writer, &slices[i]);
	for (unsigned int i = 0; i < w; i++)
		if (!slices[i].started)
			slice_writer(&slices[i]);
	for (unsigned int i = 1; i < w; i++)
		if (slices[i].started)
			pthread_join(slices[i].thread, NULL);
	/* The first real error, not a writer's cancellation after it. */
	for (unsigned int i = 0; i < w; i++)
		if (slices[i].err && (slices[i].err != -ECANCELED || !err))
			err = slices[i].err;
	return err;
}
