/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The OCI hook's work, for `cgfence hook` and for requests to hookd. */
#ifndef CGFENCE_HOOK_H
#define CGFENCE_HOOK_H

#include <stddef.h>
#include <sys/types.h>

/*
 * One hook run inside a resident process: argv as `cgfence hook` takes it
 * (argv[0] is "hook"), the container state text, and the pid of the
 * runtime's process (whose cgroup a container must not share). Messages go
 * to stderr. Returns the exit status `cgfence hook` would have.
 */
int hook_serve(int argc, char **argv, const char *text, size_t len,
	       pid_t runtime_pid);

#endif
