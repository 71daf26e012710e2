/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef CGFENCE_DAEMON_H
#define CGFENCE_DAEMON_H

#define CGF_DEFAULT_AUDIT_LOG "/var/log/cgfence/audit.jsonl"

/* Opens (creating) an append-only log, refusing a symlink at the path. */
int daemon_open_log(const char *path);

#endif
