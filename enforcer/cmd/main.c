// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgfence: argv and dispatch only. */
#include <stdio.h>
#include <string.h>

#include "cgfence_abi.h"
#include "cgfence.digest.h"
#include "commands.h"
#include "util.h"
#include "version.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"check", cmd_check, "validate policy files"},
	{"apply", cmd_apply,
	 "fence a cgroup with a policy (or swap its policy)"},
	{"detach", cmd_detach, "remove cgfence from a cgroup"},
	{"explain", cmd_explain,
	 "show the verdict and deciding rule for a flow or device"},
	{"status", cmd_status, "list fenced cgroups"},
	{"suggest", cmd_suggest,
	 "the policy a recorded cgroup's traffic suggests; what a policy "
	 "would deny of it"},
	{"gc", cmd_gc, "remove the state of cgroups that no longer exist"},
	{"set", cmd_set,
	 "change an address set; running containers get it in place"},
	{"reload", cmd_reload,
	 "give running containers what their policy directory chooses now"},
	{"hook", cmd_hook,
	 "OCI runtime hook (createRuntime, poststop): fence a container"},
	{"hookd", cmd_hookd,
	 "serve cgfence-hook: the hook's work without starting cgfence"},
	{"daemon", cmd_daemon, "write denials to the audit log"},
	{"log", cmd_log, "review the audit log"},
};

/* The version, and which BPF object this binary loads (and pins). */
static void print_version(void)
{
	static const unsigned char digest[] = CGF_ELF_SHA256;

	printf("cgfence %s\nBPF object sha256 ", CGF_VERSION);
	for (size_t i = 0; i < sizeof(digest); i++)
		printf("%02x", digest[i]);
	printf(", ABI %d\n", CGF_ABI_VERSION);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: cgfence [-v] COMMAND [ARGS]   cgfence "
		     "--version\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "\n'cgfence COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			log_verbose = true;
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			print_version();
			return 0;
		} else {
			log_error("unknown option '%s'", argv[i]);
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < ARRAY_SIZE(commands); c++)
		if (!strcmp(argv[i], commands[c].name))
			return commands[c].run(argc - i, argv + i);
	log_error("unknown command '%s'", argv[i]);
	usage(stderr);
	return 2;
}
