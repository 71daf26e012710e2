/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Least privilege: once the BPF work is done, a cgfence process drops every
 * capability (bounding, effective, permitted, inheritable, ambient), sets
 * no-new-privileges and installs a seccomp allow-list for what it still
 * has to do. A syscall outside the list kills the process (SIGSYS), or is
 * only logged by the kernel with --seccomp-log, for diagnosing a kernel or
 * libc that needs one more.
 */
#ifndef CGFENCE_PRIVS_H
#define CGFENCE_PRIVS_H

#include <stdbool.h>

enum privs_profile {
	/* cgfence daemon: perf buffer, map reads/writes, log writes, reopen */
	PRIVS_DAEMON,
	/* ... and its metrics: a scrape server, the textfile, the lifecycle log */
	PRIVS_DAEMON_METRICS,
	/* hook and apply after attaching: write records, print, exit */
	PRIVS_WRITER,
};

/* Drops all capabilities in every set and sets no-new-privileges. */
int privs_drop_capabilities(void);

/*
 * hookd, which attaches for every new container: keeps only the
 * capabilities that work needs (see privs.c) and sets no-new-privileges.
 */
int privs_keep_only_bpf_capabilities(void);

/*
 * hookd's seccomp filter: every syscall but those a resident BPF attacher
 * never needs (exec, fork, ptrace, mount, namespaces, modules, ...: see
 * privs.c); log_only: log them, do not kill.
 */
int privs_forbid_for_resident(bool log_only);

/*
 * Installs the profile's seccomp filter on every thread of the process;
 * log_only: log, do not kill.
 */
int privs_confine(enum privs_profile profile, bool log_only);

/* Both, in that order; returns 0 or a negative errno. */
int privs_lock_down(enum privs_profile profile, bool log_only);

#endif
