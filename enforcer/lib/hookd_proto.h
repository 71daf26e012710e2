/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Between `cgfence-hook` (what the runtime starts) and `cgfence hookd`
 * (resident, does the work): one request and one reply per connection on
 * a unix stream socket that only root can open.
 *
 *   request:  struct hookd_request, then args_len bytes of arguments (each
 *             NUL-terminated, as `cgfence hook` takes them, without
 *             "cgfence hook"), then state_len bytes of OCI state.
 *             SCM_RIGHTS on the first byte: the client's stdout and stderr,
 *             where the hook's messages go.
 *   reply:    struct hookd_reply: the exit status `cgfence hook` would have,
 *             or HOOKD_RUN_IT_YOURSELF: hookd cannot serve this client (a
 *             protocol version it does not speak, another PID or mount
 *             namespace, where pids and paths mean something else), which
 *             then runs `cgfence hook` itself.
 *
 * Every version starts with magic and version.
 *
 * Only libc here: the client links nothing else.
 */
#ifndef CGFENCE_HOOKD_PROTO_H
#define CGFENCE_HOOKD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define HOOKD_DEFAULT_SOCKET	"/run/cgfence/hookd.sock"
#define HOOKD_MAGIC		0x48464743u /* "CGFH" */
#define HOOKD_VERSION		2u
#define HOOKD_MAX_ARGS_LEN	16384u
#define HOOKD_MAX_ARGS		64
#define HOOKD_MAX_STATE_LEN	(1u << 20) /* = OCI_STATE_MAX_SIZE */
#define HOOKD_DEFAULT_TIMEOUT_S 10u	   /* = the hook's --timeout default */

struct hookd_request {
	uint32_t magic;
	uint32_t version;
	uint32_t args_len;
	uint32_t state_len;
	uint32_t client_pid; /* getpid() in the client's own PID namespace */
	uint32_t reserved;
	uint64_t pid_ns; /* inodes of the client's /proc/self/ns/pid and mnt */
	uint64_t mnt_ns;
};

#define HOOKD_RUN_IT_YOURSELF (-1)

struct hookd_reply {
	uint32_t magic;
	int32_t status;
};

/*
 * hookd's reading of a request (hookd_proto.c; the client needs neither).
 * The header, of which n bytes arrived: 0, -EPROTONOSUPPORT for a client
 * of another protocol version (told to run `cgfence hook` itself), or
 * -EPROTO.
 */
int hookd_request_check(const struct hookd_request *req, size_t n);

/*
 * The arguments, len bytes of NUL-terminated strings: "a\0b\0" -> argv
 * {"hook", "a", "b", NULL} pointing into buf, at most max entries with the
 * NULL. Returns argc, -EPROTO (the last one is not terminated) or -E2BIG.
 */
int hookd_split_args(char *buf, size_t len, char **argv, int max);

#endif
