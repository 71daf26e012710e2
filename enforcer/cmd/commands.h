/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Subcommands: each returns the process exit status. */
#ifndef CGFENCE_COMMANDS_H
#define CGFENCE_COMMANDS_H

int cmd_check(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_hook(int argc, char **argv);
int cmd_hookd(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_suggest(int argc, char **argv);

struct policy;
struct compiled_policy;
/*
 * A policy file read, checked and compiled, its errors printed (path NULL:
 * the policy of a recording without one, recording.h). 0 or -errno.
 */
int cmd_policy_load_compiled(const char *path, struct policy **p,
			     struct compiled_policy **cp);

#endif
