/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A new LPM trie's entries, written in batches and split across CPUs: the
 * kernel's insert walks the trie under one lock, but copying, checking and
 * allocating each entry run beside another writer's walk.
 */
#ifndef CGFENCE_LPM_WRITE_H
#define CGFENCE_LPM_WRITE_H

#include <stddef.h>

#include "compile.h"

/* Writes e[0..n) into the trie fd (distinct keys); 0 or a negative errno. */
int lpm_write_entries(int fd, const struct compiled_entry *e, size_t n);

/*
 * From now on this process writes with one thread: for a process whose
 * seccomp filter refuses clone (hookd's kills it).
 */
void lpm_write_without_threads(void);

#endif
