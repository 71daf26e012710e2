/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * 32-bit system calls on a 64-bit kernel (x86_64's IA32 emulation): the
 * kernel runs no cgroup setsockopt program for them, so sockets.options
 * rests on the packet checks there (README, "Not covered").
 */
#ifndef CGFENCE_COMPAT_H
#define CGFENCE_COMPAT_H

#include <stdbool.h>

/* The running kernel takes 32-bit system calls. */
bool compat_syscalls_enabled(void);

#endif
