// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#include <seccomp.h>
#include <sys/capability.h>

#include "lpm_write.h"
#include "privs.h"
#include "util.h"

/*
 * Syscalls every confined cgfence process needs: memory (malloc), signals,
 * time, writing and closing what it has open, exiting. Found by running the
 * daemon and the hook under strace through their whole life, including log
 * rotation (SIGHUP) and shutdown (SIGTERM); see tests/kernel/privs.bats.
 */
static const int common_syscalls[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(close),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(lseek),
	SCMP_SYS(brk),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	SCMP_SYS(futex),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

/* The daemon also waits on the perf buffer and reopens its log. */
static const int daemon_syscalls[] = {
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(openat),     SCMP_SYS(open),	     SCMP_SYS(mkdir),
	SCMP_SYS(mkdirat),    SCMP_SYS(fcntl),
};

/*
 * The daemon's metrics: libmicrohttpd's thread accepts and answers scrapes
 * on its epoll set; the worker reads the lifecycle log and hookd's
 * counters, and replaces the textfile (a temporary file, renamed).
 */
static const int metrics_syscalls[] = {
	SCMP_SYS(accept4),
	SCMP_SYS(accept),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(shutdown),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(pread64),
	SCMP_SYS(fchmod),
	SCMP_SYS(rename),
	SCMP_SYS(renameat),
	SCMP_SYS(renameat2),
	SCMP_SYS(unlinkat),
	SCMP_SYS(sched_yield),
	/* glibc's malloc gives each thread an arena of its own */
	SCMP_SYS(mprotect),
	/* a thread's first steps, which may come after the filter */
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
};

/* libmicrohttpd names its thread (which may run after the filter). */
static const unsigned long metrics_prctls[] = {PR_SET_NAME};

/* Writers append lifecycle records to a log they open after attaching. */
static const int writer_syscalls[] = {
	SCMP_SYS(openat),  SCMP_SYS(open),  SCMP_SYS(mkdir),
	SCMP_SYS(mkdirat), SCMP_SYS(fcntl),
};

/*
 * ioctl(2): TCGETS is glibc's stdio asking whether stdout is a terminal
 * (it does when stdout is a character device such as /dev/null); the
 * daemon's libbpf also enables and disables its perf events.
 */
static const unsigned long writer_ioctls[] = {TCGETS};
static const unsigned long daemon_ioctls[] = {TCGETS, PERF_EVENT_IOC_ENABLE,
					      PERF_EVENT_IOC_DISABLE};

/*
 * bpf(2) only on maps already open: no loading, no attaching, no pinning.
 * DELETE: libbpf's perf_buffer__free() clears the per-CPU perf map slots.
 */
static const unsigned long daemon_bpf_cmds[] = {
	BPF_MAP_LOOKUP_ELEM,
	BPF_MAP_UPDATE_ELEM,
	BPF_MAP_DELETE_ELEM,
	BPF_MAP_GET_NEXT_KEY,
};

int privs_drop_capabilities(void)
{
	cap_t empty;
	int err = 0;

	/* Bounding set first: dropping it needs CAP_SETPCAP, dropped below. */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		if (cap_drop_bound(c) && errno != EINVAL)
			return -errno;
	}
	if (cap_reset_ambient() && errno != EINVAL)
		return -errno;
	empty = cap_init();
	if (!empty)
		return -errno;
	if (cap_set_proc(empty))
		err = -errno;
	cap_free(empty);
	if (err)
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}

/*
 * What hookd needs for the hook's work, and nothing else: load programs
 * and create maps (BPF, PERFMON, NET_ADMIN for cgroup_skb and sockaddr
 * programs), attach to cgroups (SYS_ADMIN), open cgroups by id
 * (DAC_READ_SEARCH for open_by_handle_at), and read policies and write
 * pins and records wherever an admin put them (DAC_OVERRIDE).
 */
static const cap_value_t hookd_caps[] = {
	CAP_SYS_ADMIN,	     CAP_BPF,	       CAP_PERFMON, CAP_NET_ADMIN,
	CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE,
};

/*
 * hookd's work needs most of what a process can do with files and bpf(2),
 * so its filter lists what it must never do instead: start a program or a
 * process, trace or read another, change namespaces, load modules, reboot,
 * touch keys or the clock, use io_uring (which would bypass the filter).
 * Defence in depth, not confinement: with its capabilities, code running in
 * hookd could still write where root can.
 */
static const int resident_forbidden[] = {
	SCMP_SYS(execve),
	SCMP_SYS(execveat),
	SCMP_SYS(fork),
	SCMP_SYS(vfork),
	SCMP_SYS(clone),
	SCMP_SYS(clone3),
	SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv),
	SCMP_SYS(process_vm_writev),
	SCMP_SYS(setns),
	SCMP_SYS(unshare),
	SCMP_SYS(init_module),
	SCMP_SYS(finit_module),
	SCMP_SYS(delete_module),
	SCMP_SYS(kexec_load),
	SCMP_SYS(kexec_file_load),
	SCMP_SYS(reboot),
	SCMP_SYS(swapon),
	SCMP_SYS(swapoff),
	SCMP_SYS(keyctl),
	SCMP_SYS(add_key),
	SCMP_SYS(request_key),
	SCMP_SYS(userfaultfd),
	SCMP_SYS(perf_event_open),
	SCMP_SYS(iopl),
	SCMP_SYS(ioperm),
	SCMP_SYS(acct),
	SCMP_SYS(settimeofday),
	SCMP_SYS(clock_settime),
	SCMP_SYS(adjtimex),
	SCMP_SYS(clock_adjtime),
	SCMP_SYS(personality),
	SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
};

/*
 * Mounting fails instead of killing: a request whose --bpffs lies below an
 * unmounted /sys/fs/bpf (hookd mounts it when it starts) gets a clear error.
 */
static const int resident_refused[] = {
	SCMP_SYS(mount),      SCMP_SYS(umount2),   SCMP_SYS(pivot_root),
	SCMP_SYS(chroot),     SCMP_SYS(fsopen),	   SCMP_SYS(fsmount),
	SCMP_SYS(move_mount), SCMP_SYS(open_tree),
};

int privs_forbid_for_resident(bool log_only)
{
	uint32_t kill = log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int err = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(resident_forbidden) && !err; i++)
		if (resident_forbidden[i] >= 0) /* this architecture has it */
			err = seccomp_rule_add(ctx, kill, resident_forbidden[i],
					       0);
	for (size_t i = 0; i < ARRAY_SIZE(resident_refused) && !err; i++)
		if (resident_refused[i] >= 0)
			err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
					       resident_refused[i], 0);
	/* Programs that attach to the kernel's tracepoints are not cgfence's. */
	if (!err)
		err = seccomp_rule_add(
			ctx, kill, SCMP_SYS(bpf), 1,
			SCMP_A0(SCMP_CMP_EQ, BPF_RAW_TRACEPOINT_OPEN));
	/* The filter kills a process that clones: no trie writer threads. */
	if (!err)
		lpm_write_without_threads();
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

int privs_keep_only_bpf_capabilities(void)
{
	cap_t caps;
	int err = 0;

	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		bool keep = false;

		for (size_t i = 0; i < ARRAY_SIZE(hookd_caps); i++)
			keep |= hookd_caps[i] == c;
		if (!keep && cap_drop_bound(c) && errno != EINVAL)
			return -errno;
	}
	if (cap_reset_ambient() && errno != EINVAL)
		return -errno;
	caps = cap_init();
	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_EFFECTIVE, ARRAY_SIZE(hookd_caps),
			 hookd_caps, CAP_SET) ||
	    cap_set_flag(caps, CAP_PERMITTED, ARRAY_SIZE(hookd_caps),
			 hookd_caps, CAP_SET) ||
	    cap_set_proc(caps))
		err = -errno;
	cap_free(caps);
	if (err)
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}

/* Allows syscall nr only when argument arg equals one of values. */
static int allow_with_arg(scmp_filter_ctx ctx, int nr, unsigned int arg,
			  const unsigned long *values, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int err =
			seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					 SCMP_CMP(arg, SCMP_CMP_EQ, values[i]));

		if (err)
			return err;
	}
	return 0;
}

static int allow_all(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* A syscall this architecture lacks is simply not needed. */
		if (calls[i] < 0)
			continue;
		int err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);

		if (err)
			return err;
	}
	return 0;
}

int privs_confine(enum privs_profile profile, bool log_only)
{
	scmp_filter_ctx ctx;
	int err;

	ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* The daemon's metrics run threads started before the filter. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!err)
		err = allow_all(ctx, common_syscalls,
				ARRAY_SIZE(common_syscalls));
	if (!err && profile == PRIVS_DAEMON_METRICS)
		err = allow_all(ctx, metrics_syscalls,
				ARRAY_SIZE(metrics_syscalls));
	if (!err && profile == PRIVS_DAEMON_METRICS)
		err = allow_with_arg(ctx, SCMP_SYS(prctl), 0, metrics_prctls,
				     ARRAY_SIZE(metrics_prctls));
	if (!err &&
	    (profile == PRIVS_DAEMON || profile == PRIVS_DAEMON_METRICS)) {
		err = allow_all(ctx, daemon_syscalls,
				ARRAY_SIZE(daemon_syscalls));
		if (!err)
			err = allow_with_arg(ctx, SCMP_SYS(bpf), 0,
					     daemon_bpf_cmds,
					     ARRAY_SIZE(daemon_bpf_cmds));
		if (!err)
			err = allow_with_arg(ctx, SCMP_SYS(ioctl), 1,
					     daemon_ioctls,
					     ARRAY_SIZE(daemon_ioctls));
	} else if (!err) {
		err = allow_all(ctx, writer_syscalls,
				ARRAY_SIZE(writer_syscalls));
		if (!err)
			err = allow_with_arg(ctx, SCMP_SYS(ioctl), 1,
					     writer_ioctls,
					     ARRAY_SIZE(writer_ioctls));
	}
	/* Nor does this allow-list let the process clone. */
	if (!err)
		lpm_write_without_threads();
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

int privs_lock_down(enum privs_profile profile, bool log_only)
{
	int err = privs_drop_capabilities();

	if (err)
		return err;
	return privs_confine(profile, log_only);
}
