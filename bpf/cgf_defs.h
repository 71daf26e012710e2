/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's numbers the programs name (the BPF headers define none of
 * them), and the programs' own constants.
 */
#ifndef CGF_BPF_CGF_DEFS_H
#define CGF_BPF_CGF_DEFS_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#define CGF_INLINE static __always_inline

#define AF_UNIX		   1
#define AF_INET		   2
#define AF_INET6	   10
#define AF_NETLINK	   16
#define SOCK_STREAM	   1
#define SOCK_DGRAM	   2
#define SOCK_RAW	   3
#define SK_PASS		   1 /* cgroup programs: 1 lets the operation or packet through */
#define SK_DROP		   0 /* ... and 0 refuses it (EPERM for the socket hooks) */
#define INADDR_LOOPBACK_BE bpf_htonl(0x7f000001)
/* bpf_cgroup_dev_ctx.access_type: the device type, then the access bits. */
#define CGF_DEV_TYPE(access_type)   ((access_type)&0xffff)
#define CGF_DEV_ACCESS(access_type) ((access_type) >> 16)
#define NSEC_PER_SEC		    1000000000ull
#define EEXIST			    17 /* bpf_map_update_elem(BPF_NOEXIST): there already */

#endif
