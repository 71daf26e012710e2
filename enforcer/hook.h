/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The OCI hook's work, for `cgfence hook` and for requests to hookd. */
#ifndef CGFENCE_HOOK_H
#define CGFENCE_HOOK_H

#include <stddef.h>
#include <sys/types.h>

struct hook_serve_opts {
	/* The runtime's process: a container must not share its cgroup. */
	pid_t runtime_pid;
	/*
	 * Called at poststop once the state lock is held, before the work:
	 * the runtime may go on (poststop always exits 0). Messages after it
	 * go to whatever stderr is then. NULL: answer at the end.
	 */
	void (*answer_early)(void *ctx);
	void *ctx;
};

/*
 * One hook run inside a resident process: argv as `cgfence hook` takes it
 * (argv[0] is "hook") and the container state text. Messages go to
 * stderr. Returns the exit status `cgfence hook` would have.
 */
int hook_serve(int argc, char **argv, const char *text, size_t len,
	       const struct hook_serve_opts *serve);

#endif
