/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Is the BPF LSM among the kernel's active security modules? A kernel
 * built with CONFIG_BPF_LSM loads and attaches LSM programs even when "bpf"
 * is not in its lsm= list, and then never runs them: so cgfence asks which
 * modules are active instead of trusting a successful attach.
 */
#ifndef CGFENCE_LSM_H
#define CGFENCE_LSM_H

#include <stddef.h>

/*
 * 1 active, 0 not active, or -errno when the kernel cannot tell (neither
 * lsm_list_modules(2) nor /sys/kernel/security/lsm). Cached after the
 * first call.
 */
int bpf_lsm_active(void);

/* "active", or why not, for messages and `cgfence status`. */
const char *bpf_lsm_describe(void);

/* The LSM program did not load although the BPF LSM is active. */
void bpf_lsm_note_load_failure(int err);

#endif
