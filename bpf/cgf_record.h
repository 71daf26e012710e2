/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Recording: every distinct flow and device access of a recorded cgroup,
 * counted in its record table where it is judged (see cgfence_abi.h).
 */
#ifndef CGF_BPF_CGF_RECORD_H
#define CGF_BPF_CGF_RECORD_H

#include "cgf_maps.h"

/*
 * Counts one observation under key: a known entry is counted in place; a
 * new one is added, or, when the table is full, counted in its overflow
 * entry, so that nothing is lost without a trace.
 */
CGF_INLINE void cgf_record_key_add(const struct cgf_cgroup_config *cfg,
				   const struct cgf_record_key *key)
{
	struct cgf_record_key overflow = {.kind = CGF_REC_OVERFLOW};
	__u64 cgroup_id = cfg->cgroup_id;
	struct cgf_record_value *v, fresh;
	void *table;
	__u64 now;
	long err;

	table = bpf_map_lookup_elem(&cgf_records, &cgroup_id);
	if (!table)
		return;
	now = bpf_ktime_get_boot_ns();
	v = bpf_map_lookup_elem(table, key);
	if (!v) {
		fresh.count = 1;
		fresh.first_ns = now;
		fresh.last_ns = now;
		err = bpf_map_update_elem(table, key, &fresh, BPF_NOEXIST);
		if (err != -EEXIST) {
			if (err) { /* full (E2BIG) or out of memory */
				v = bpf_map_lookup_elem(table, &overflow);
				if (v)
					__sync_fetch_and_add(&v->count, 1);
			}
			return;
		}
		/* Another CPU added it meanwhile. */
		v = bpf_map_lookup_elem(table, key);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->count, 1);
	v->last_ns = now;
}

/* A judged flow's peer (IPv4-mapped IPv6 already as IPv4). */
CGF_INLINE void cgf_record_flow(const struct cgf_cgroup_config *cfg,
				__u8 dir_id, __u8 family, __u8 protocol,
				__u16 port, const __u8 addr[16])
{
	struct cgf_record_key key = {.kind = CGF_REC_FLOW,
				     .direction = dir_id,
				     .family = family,
				     .protocol = protocol};

	if (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP)
		key.port = port;
	__builtin_memcpy(key.addr, addr, 16);
	cgf_record_key_add(cfg, &key);
}

CGF_INLINE void cgf_record_device(const struct cgf_cgroup_config *cfg,
				  __u32 type, __u32 major, __u32 minor,
				  __u32 access)
{
	struct cgf_record_key key = {.kind = CGF_REC_DEVICE,
				     .dev_type = type,
				     .dev_access = access,
				     .dev_major = major,
				     .dev_minor = minor};

	cgf_record_key_add(cfg, &key);
}

/* A raw socket created, or a socket option of sockets.options turned on. */
CGF_INLINE void cgf_record_raw_socket(const struct cgf_cgroup_config *cfg,
				      __u32 family, __u32 protocol)
{
	struct cgf_record_key key = {.kind = CGF_REC_RAW_SOCKET,
				     .family = family,
				     .protocol = protocol};

	cgf_record_key_add(cfg, &key);
}

CGF_INLINE void cgf_record_sockopt(const struct cgf_cgroup_config *cfg,
				   __u32 kind)
{
	struct cgf_record_key key = {.kind = CGF_REC_SOCKOPT, .port = kind};

	cgf_record_key_add(cfg, &key);
}

#endif
