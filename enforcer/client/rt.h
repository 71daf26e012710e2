/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The little runtime cgfence-hook needs: raw system calls and a few string
 * helpers. Runtimes start the hook twice per container, and on a virtual
 * machine glibc's start-up alone (CPU feature detection: every CPUID
 * instruction exits to the hypervisor) costs 0.2 ms, more than the rest of
 * the client; so on x86_64 it is built freestanding (-nostdlib, our own
 * _start) and these call the kernel directly. Elsewhere, and with
 * CGF_WITH_LIBC, they are libc's.
 *
 * Every call returns the result or -errno, the kernel's convention.
 * Headers are used for types and constants only.
 */
#ifndef CGFENCE_CLIENT_RT_H
#define CGFENCE_CLIENT_RT_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>

#if defined(__x86_64__) && !defined(CGF_WITH_LIBC)
#define CGF_FREESTANDING 1

static inline long rt_syscall(long n, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

#define RT_SYS(n, a, b, c, d, e)                                               \
	rt_syscall(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))
#else
#include <unistd.h>

/* libc's syscall(2): -1 and errno become -errno. */
static inline long rt_syscall_libc(long ret)
{
	return ret == -1 ? -errno : ret;
}

#define RT_SYS(n, a, b, c, d, e) rt_syscall_libc(syscall(n, a, b, c, d, e))
#endif

static inline long rt_read(int fd, void *buf, size_t len)
{
	return RT_SYS(SYS_read, fd, buf, len, 0, 0);
}

static inline long rt_write(int fd, const void *buf, size_t len)
{
	return RT_SYS(SYS_write, fd, buf, len, 0, 0);
}

static inline long rt_close(int fd)
{
	return RT_SYS(SYS_close, fd, 0, 0, 0, 0);
}

static inline long rt_ppoll(struct pollfd *fds, unsigned int n, long timeout_ms)
{
	struct timespec t = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000};

	return RT_SYS(SYS_ppoll, fds, n, &t, 0, 0);
}

static inline long rt_clock_ms(void)
{
	struct timespec t = {0, 0};

	RT_SYS(SYS_clock_gettime, CLOCK_MONOTONIC, &t, 0, 0, 0);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

static inline long rt_socket(int domain, int type, int protocol)
{
	return RT_SYS(SYS_socket, domain, type, protocol, 0, 0);
}

static inline long rt_connect(int fd, const void *addr, socklen_t len)
{
	return RT_SYS(SYS_connect, fd, addr, len, 0, 0);
}

static inline long rt_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return RT_SYS(SYS_sendmsg, fd, msg, flags, 0, 0);
}

static inline long rt_send(int fd, const void *buf, size_t len, int flags)
{
	return RT_SYS(SYS_sendto, fd, buf, len, flags, 0);
}

static inline long rt_getpid(void)
{
	return RT_SYS(SYS_getpid, 0, 0, 0, 0, 0);
}

static inline long rt_fcntl(int fd, int cmd, long arg)
{
	return RT_SYS(SYS_fcntl, fd, cmd, arg, 0, 0);
}

static inline long rt_stat(const char *path, struct stat *sb)
{
	return RT_SYS(SYS_newfstatat, AT_FDCWD, path, sb, 0, 0);
}

static inline long rt_open(const char *path, int flags)
{
	return RT_SYS(SYS_openat, AT_FDCWD, path, flags, 0, 0);
}

static inline long rt_readlink(const char *path, char *buf, size_t len)
{
	return RT_SYS(SYS_readlinkat, AT_FDCWD, path, buf, len, 0);
}

static inline long rt_memfd_create(const char *name, unsigned int flags)
{
	return RT_SYS(SYS_memfd_create, name, flags, 0, 0, 0);
}

static inline long rt_lseek(int fd, off_t off, int whence)
{
	return RT_SYS(SYS_lseek, fd, off, whence, 0, 0);
}

static inline long rt_dup3(int from, int to, int flags)
{
	return RT_SYS(SYS_dup3, from, to, flags, 0, 0);
}

static inline long rt_execve(const char *path, char *const argv[],
			     char *const envp[])
{
	return RT_SYS(SYS_execve, path, argv, envp, 0, 0);
}

__attribute__((noreturn)) static inline void rt_exit(int status)
{
	for (;;)
		RT_SYS(SYS_exit_group, status, 0, 0, 0, 0);
}

static inline size_t rt_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static inline int rt_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static inline const char *rt_after_prefix(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return NULL;
	return s;
}

/* Decimal digits only; 0 for anything else or on overflow. */
static inline unsigned long rt_parse_ulong(const char *s)
{
	unsigned long v = 0;

	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000UL)
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v;
}

/* The messages of the errors this client can meet, as strerror(3) words them. */
static inline const char *rt_strerror(long err)
{
	switch (err) {
	case -EACCES:
		return "Permission denied";
	case -ENOENT:
		return "No such file or directory";
	case -ECONNREFUSED:
		return "Connection refused";
	case -ECONNRESET:
		return "Connection reset by peer";
	case -EPIPE:
		return "Broken pipe";
	case -ENOMEM:
		return "Cannot allocate memory";
	case -EMFILE:
		return "Too many open files";
	case -EINTR:
		return "Interrupted system call";
	case -ENOTSOCK:
		return "Socket operation on non-socket";
	case -EPROTO:
		return "Protocol error";
	case -E2BIG:
		return "Argument list too long";
	case -ENAMETOOLONG:
		return "File name too long";
	default:
		return "system error";
	}
}

#endif
