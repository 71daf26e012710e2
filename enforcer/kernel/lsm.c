// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lsm.h"
#include "util.h"

#ifndef __NR_lsm_list_modules
#define __NR_lsm_list_modules 461 /* the same number on every architecture */
#endif
#define LSM_ID_BPF	110 /* include/uapi/linux/lsm.h */
#define LSM_MAX_MODULES 64

static int cached_state = 2; /* not asked yet */
static char description[256];

/* The kernel's own list of active modules (Linux 6.8 and later). */
static int ask_lsm_list_modules(void)
{
	uint64_t ids[LSM_MAX_MODULES];
	uint32_t size = sizeof(ids);
	long n = syscall(__NR_lsm_list_modules, ids, &size, 0);

	if (n < 0)
		return -errno;
	for (long i = 0; i < n; i++)
		if (ids[i] == LSM_ID_BPF)
			return 1;
	snprintf(description, sizeof(description),
		 "not active: \"bpf\" is not among the kernel's security "
		 "modules (boot with lsm=...,bpf)");
	return 0;
}

/* securityfs, where it is mounted: "lockdown,capability,landlock,bpf". */
static int read_securityfs_list(void)
{
	char list[512];
	_cleanup_close_ int fd =
		open("/sys/kernel/security/lsm", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	char *save = NULL;

	if (fd < 0)
		return -errno;
	n = read(fd, list, sizeof(list) - 1);
	if (n < 0)
		return -errno;
	list[n] = '\0';
	for (char *m = strtok_r(list, ",\n", &save); m;
	     m = strtok_r(NULL, ",\n", &save))
		if (!strcmp(m, "bpf"))
			return 1;
	snprintf(description, sizeof(description),
		 "not active: /sys/kernel/security/lsm does not list \"bpf\" "
		 "(boot with lsm=...,bpf)");
	return 0;
}

int bpf_lsm_active(void)
{
	if (cached_state != 2)
		return cached_state;
	cached_state = ask_lsm_list_modules();
	if (cached_state == -ENOSYS)
		cached_state = read_securityfs_list();
	if (cached_state < 0)
		snprintf(description, sizeof(description),
			 "unknown: no lsm_list_modules(2) and no "
			 "/sys/kernel/security/lsm (%s); treated as not active",
			 strerror(-cached_state));
	else if (cached_state == 1)
		snprintf(description, sizeof(description), "active");
	return cached_state;
}

const char *bpf_lsm_describe(void)
{
	bpf_lsm_active();
	return description;
}

void bpf_lsm_note_load_failure(int err)
{
	if (bpf_lsm_active() != 1)
		return; /* the reason it was not even tried says more */
	snprintf(
		description, sizeof(description),
		"active, but this kernel refuses to load BPF LSM programs (%s)",
		strerror(-err));
}
