// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: a request to hookd as its socket delivers it (hookd_proto.h):
 * the header (the input's first bytes; fewer when the input is shorter, as
 * a short read), then args_len bytes of arguments and state_len bytes of
 * OCI state, as hookd reads them. Then what hookd does with it: the
 * arguments split into the hook's argv (checked against the NULs of the
 * buffer) and the state parsed as the hook parses it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd_proto.h"
#include "oci_state.h"

/* hookd's own argv array: the options and the stage, "hook" and NULL. */
#define ARGV_SIZE (HOOKD_MAX_ARGS + 2)

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_hookd_request: %s\n", what);
	abort();
}

/* argv must be the buffer's strings, in order, or the refusal it earned. */
static void check_split(const char *buf, size_t len, char **argv, int argc)
{
	size_t nstrings = 0, at = 0;

	for (size_t i = 0; i < len; i++)
		nstrings += buf[i] == '\0';
	if (len && buf[len - 1] != '\0') {
		if (argc != -EPROTO)
			fail("an unterminated argument was taken");
		return;
	}
	if (nstrings > HOOKD_MAX_ARGS) {
		if (argc != -E2BIG)
			fail("more arguments than HOOKD_MAX_ARGS were taken");
		return;
	}
	if (argc != (int)nstrings + 1 || strcmp(argv[0], "hook") ||
	    argv[argc] != NULL)
		fail("argv does not hold the arguments");
	for (int i = 1; i < argc; i++) {
		if (argv[i] != buf + at)
			fail("an argument is not where the buffer has it");
		at += strlen(argv[i]) + 1;
	}
	if (at != len)
		fail("the arguments do not cover the buffer");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hookd_request req;
	size_t n = size < sizeof(req) ? size : sizeof(req);
	char *argv[ARGV_SIZE], *args, *state, why[512];
	struct oci_state s;
	int argc;

	/* A short header leaves the rest of the struct as it was. */
	memset(&req, 0xa5, sizeof(req));
	memcpy(&req, data, n);
	switch (hookd_request_check(&req, n)) {
	case 0:
		break;
	case -EPROTONOSUPPORT:
		if (req.magic != HOOKD_MAGIC || req.version == HOOKD_VERSION)
			fail("a client of this version was sent away");
		return 0;
	case -EPROTO:
		return 0;
	default:
		fail("hookd_request_check: not 0, -EPROTO or -EPROTONOSUPPORT");
	}
	if (n != sizeof(req) || req.magic != HOOKD_MAGIC ||
	    req.version != HOOKD_VERSION || req.args_len > HOOKD_MAX_ARGS_LEN ||
	    req.state_len > HOOKD_MAX_STATE_LEN)
		fail("a header hookd must refuse was accepted");
	data += n;
	size -= n;
	/* hookd reads exactly these lengths; a shorter stream is dropped. */
	if (size < (size_t)req.args_len + req.state_len)
		return 0;
	/* Exactly sized copies, so that reading past them is caught. */
	args = malloc(req.args_len ? req.args_len : 1);
	state = malloc(req.state_len ? req.state_len : 1);
	if (!args || !state)
		fail("out of memory");
	memcpy(args, data, req.args_len);
	memcpy(state, data + req.args_len, req.state_len);

	argc = hookd_split_args(args, req.args_len, argv, ARGV_SIZE);
	check_split(args, req.args_len, argv, argc);
	if (argc > 0 &&
	    oci_state_parse(state, req.state_len, &s, why, sizeof(why)) == 0) {
		oci_state_annotation(&s, "cgfence.policy");
		oci_state_free(&s);
	}
	free(args);
	free(state);
	return 0;
}
