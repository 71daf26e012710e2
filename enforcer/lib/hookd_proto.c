// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What hookd reads from a client; see hookd_proto.h for the protocol. */
#include <errno.h>
#include <string.h>

#include "hookd_proto.h"

int hookd_request_check(const struct hookd_request *req, size_t n)
{
	if (n >= 8 && req->magic == HOOKD_MAGIC &&
	    req->version != HOOKD_VERSION)
		return -EPROTONOSUPPORT;
	if (n != sizeof(*req) || req->magic != HOOKD_MAGIC ||
	    req->args_len > HOOKD_MAX_ARGS_LEN ||
	    req->state_len > HOOKD_MAX_STATE_LEN)
		return -EPROTO;
	return 0;
}

int hookd_split_args(char *buf, size_t len, char **argv, int max)
{
	int argc = 0;

	argv[argc++] = "hook";
	if (len && buf[len - 1] != '\0')
		return -EPROTO;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
		if (argc == max - 1)
			return -E2BIG;
		argv[argc++] = buf + i;
	}
	argv[argc] = NULL;
	return argc;
}
