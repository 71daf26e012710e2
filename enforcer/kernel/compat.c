// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "util.h"

bool compat_syscalls_enabled(void)
{
	_cleanup_free_ char *cmdline = NULL;

	/* Only kernels built with IA32 emulation have this knob. */
	if (access("/proc/sys/abi/vsyscall32", F_OK))
		return false;
	/* Built in, but turned off at boot (Linux 6.7 and later). */
	if (read_small_file("/proc/cmdline", &cmdline, 65536) == 0 &&
	    strstr(cmdline, "ia32_emulation=0"))
		return false;
	return true;
}
