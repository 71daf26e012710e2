/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cgfence ABI: the structures shared by the BPF programs (bpf/) and user
 * space (enforcer/). Fixed-width types and explicit padding only.
 *
 * How a policy becomes kernel tables
 * ----------------------------------
 * A policy has three sections: egress, ingress and devices. Within a section
 * rules are evaluated in file order and the FIRST matching rule decides;
 * when none matches, the section's default decides. An omitted section
 * leaves its direction unrestricted.
 *
 * Network rules are compiled into two kinds of lookups per direction:
 *
 *   address -> class   (an LPM trie entry per CIDR, keyed by table kind)
 *   proto/port -> class (an LPM trie entry per port-range prefix)
 *
 * and each class is a bitmap of the rules that match it ("rule r matches
 * this address" / "rule r matches this protocol and port"). Prefixes nest,
 * so every trie entry's bitmap already includes the rules of all shorter
 * prefixes containing it: the longest-prefix match then yields exactly the
 * set of rules whose address list contains the address, and a more specific
 * CIDR never hides a shorter one used by an earlier rule. Every table kind
 * has a /0 entry, so lookups never miss. The verdict is the lowest set bit
 * of (address class AND port class); bit r of `allow` gives its action.
 *
 * Example: rules 0 "allow 10.0.0.0/8 tcp 443" and 1 "deny 10.0.0.13":
 *   v4 10.0.0.0/8  -> {0}     v4 10.0.0.13/32 -> {0,1}    v4 0/0 -> {}
 *   tcp 443        -> {0,1}   port 0/0 (any)  -> {1}
 *   10.0.0.13:443/tcp -> {0,1}&{0,1} = {0,1} -> rule 0 (allow): first match.
 *   10.0.0.13:80/tcp  -> {0,1}&{1}   = {1}   -> rule 1 (deny).
 *
 * Per-cgroup configuration lives in cgroup storage keyed by the attached
 * cgroup's id: programs inherited by sub-cgroups still read the
 * configuration of the cgroup they were attached to. policy_id 0 means
 * "attached but not yet configured" and passes everything, so the first
 * apply takes effect on all hooks at once when the id is written.
 */
#ifndef CGFENCE_ABI_H
#define CGFENCE_ABI_H

#include <linux/types.h>

/*
 * 5: every map of the object pinned. A build whose maps or layouts differ
 * (recording added cgf_records and cgf_cgroup_config.record) is told apart
 * from the pinned one by its ELF digest too (cgf_meta, loader.c).
 */
#define CGF_ABI_VERSION 5

#define CGF_MAX_RULES	     1024 /* network rules per direction */
#define CGF_MASK_WORDS	     (CGF_MAX_RULES / 64)
#define CGF_MAX_DEVICE_RULES 128
#define CGF_MAX_POLICIES     4096 /* distinct compiled policies pinned at once */
#define CGF_MAX_CGROUPS	     65536
#define CGF_NAME_LEN	     64
#define CGF_RULE_DEFAULT     0xffff /* "the default decided" in rule fields */
/*
 * Rule fields of refusals no rule of a network section decides: what the
 * sockets section forbids, and packets whose headers could send them
 * somewhere no judgement looked (see cgf_packet_refusal in the programs).
 */
#define CGF_RULE_SOCKETS_RAW                                                   \
	0xfff0 /* sockets.raw: raw socket of that protocol */
#define CGF_RULE_SOCKETS_FAMILY 0xfff1 /* sockets.families: address family */
#define CGF_RULE_SOURCE_ROUTE                                                  \
	0xfff2 /* IPv4 source route option, IPv6 routing header */
#define CGF_RULE_BAD_HEADERS                                                   \
	0xfff3 /* headers the program cannot follow to the end */
#define CGF_RULE_SOCKETS_OPTION 0xfff4 /* sockets.options: a socket option */

enum cgf_action {
	CGF_DENY = 0,
	CGF_ALLOW = 1,
};

enum cgf_mode {
	CGF_MODE_ENFORCE = 0,
	CGF_MODE_AUDIT = 1, /* evaluate and report, never block */
};

enum cgf_direction_id {
	CGF_DIR_EGRESS = 0,
	CGF_DIR_INGRESS = 1,
};

/* First byte of every LPM key: which table the entry belongs to. */
enum cgf_table_kind {
	CGF_T_EGRESS_V4 = 0,
	CGF_T_EGRESS_V6 = 1,
	CGF_T_INGRESS_V4 = 2,
	CGF_T_INGRESS_V6 = 3,
	CGF_T_EGRESS_PORT = 4,
	CGF_T_INGRESS_PORT = 5,
	CGF_T__COUNT,
};

#define CGF_KIND_BITS 8

/*
 * LPM key: prefixlen counts bits from `kind` on. Addresses: 4 (IPv4) or 16
 * (IPv6) bytes in network order in data[]. Ports: data[0] is the IP
 * protocol number, data[1..2] the port in network order (ICMP uses port 0).
 */
struct cgf_lpm_key {
	__u32 prefixlen;
	__u8 kind;
	__u8 data[16];
	__u8 pad[3];
};

/* Class bitmap: bit r set when rule r of the direction matches. */
struct cgf_rule_mask {
	__u64 bits[CGF_MASK_WORDS];
};

struct cgf_direction {
	__u8 restricted; /* 0: section omitted, everything passes */
	__u8 default_action;
	__u16 pad;
	__u32 nrules;
	__u64 allow[CGF_MASK_WORDS]; /* bit r set: rule r allows */
};

/* Device types as the kernel's cgroup_device program reports them. */
enum cgf_dev_type {
	CGF_DEV_ALL = 0,   /* rule matches both block and char */
	CGF_DEV_BLOCK = 1, /* BPF_DEVCG_DEV_BLOCK */
	CGF_DEV_CHAR = 2,  /* BPF_DEVCG_DEV_CHAR */
};

/* Access bits as the kernel reports them (BPF_DEVCG_ACC_*). */
#define CGF_ACC_MKNOD 1
#define CGF_ACC_READ  2
#define CGF_ACC_WRITE 4

#define CGF_DEV_ANY_MAJOR 1
#define CGF_DEV_ANY_MINOR 2

/*
 * A device rule matches a request when the type, major and minor match and:
 * for an allow rule, every requested access bit is in `access` (a rule that
 * allows "r" does not allow an open for read+write); for a deny rule, any
 * requested bit is in `access` (denying "w" denies read+write).
 */
struct cgf_device_rule {
	__u8 type;
	__u8 access;
	__u8 action;
	__u8 flags;
	__u32 major;
	__u32 minor;
};

struct cgf_devices {
	__u8 restricted;
	__u8 default_action;
	__u16 nrules;
	__u32 pad;
	struct cgf_device_rule rules[CGF_MAX_DEVICE_RULES];
};

/*
 * Which sockets a fenced process may create. Every policy has this part
 * (its defaults when the section is omitted): raw sockets and address
 * families other than AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK are the
 * ways to put packets on the wire past the cgroup's packet hooks.
 *
 *   families      bit f set: address family f may be created. The four
 *                 above are always set; AF_PACKET, AF_XDP, AF_VSOCK, ...
 *                 only when the policy lists them.
 *   raw_protocols bit p set: an AF_INET/AF_INET6 SOCK_RAW socket of IP
 *                 protocol p may be created (255, IPPROTO_RAW, only with
 *                 CGF_SOCKOPT_HDRINCL). Packets of allowed raw sockets are
 *                 still judged one by one by egress and ingress.
 *   options       CGF_SOCKOPT_*: socket options that take traffic where no
 *                 judgement looks, allowed (cgroup setsockopt program):
 *                   HDRINCL      IP_HDRINCL, IPV6_HDRINCL (and IPPROTO_RAW
 *                                sockets): the kernel routes by the sendto
 *                                address, the programs see the header's
 *                   RECVERR      IP_RECVERR, IPV6_RECVERR (and _RFC4884):
 *                                ICMP errors, payload and all, reach the
 *                                error queue without the ingress program;
 *                                refused only where ingress is restricted
 *                   TRANSPARENT  IP_TRANSPARENT, IPV6_TRANSPARENT: sending
 *                                from addresses that are not the host's;
 *                                refused only where egress is restricted
 *                   MULTICAST    joining a multicast group, changing its
 *                                source filter: the kernel's IGMP/MLD
 *                                reports carry the groups and sources the
 *                                process chose, past the packet programs;
 *                                refused only where egress is restricted
 *
 * Families are refused by a BPF LSM program (socket_create); raw sockets
 * by the cgroup sock_create program and options by the cgroup setsockopt
 * program, which need no LSM.
 */
#define CGF_FAMILY_BITS	       64
#define CGF_ALL_FAMILIES       (~(__u64)0) /* "families": ["any"]: no LSM needed */
#define CGF_RAW_PROTOCOL_WORDS 4	   /* 256 IP protocol numbers */

#define CGF_SOCKOPT_HDRINCL	1
#define CGF_SOCKOPT_RECVERR	2
#define CGF_SOCKOPT_TRANSPARENT 4
#define CGF_SOCKOPT_MULTICAST	8

struct cgf_sockets {
	__u64 families;
	__u64 raw_protocols[CGF_RAW_PROTOCOL_WORDS];
	__u32 options;
	__u32 pad;
};

/*
 * Value of the policy header map, keyed by policy id. A policy's class
 * masks come in two banks (cgf_classes keys (policy id << 1) | bank) over
 * one LPM trie; `bank` names the one in force. Changing a policy in place
 * fills the other bank and then flips this field (see enforcer/lib/delta.h).
 */
struct cgf_policy {
	__u32 abi_version;
	__u32 mode;
	__u32 bank;
	__u32 pad;
	struct cgf_direction egress;
	struct cgf_direction ingress;
	struct cgf_devices devices;
	struct cgf_sockets sockets;
};

/* Cgroup storage value: which policy the attached cgroup runs. */
struct cgf_cgroup_config {
	__u32 policy_id;  /* 0: not configured yet, pass */
	__u32 generation; /* bumped on every apply to this cgroup */
	__u64 cgroup_id; /* the attached cgroup (programs also run in children) */
	__u32 event_budget; /* denial events per second, beyond: suppressed */
	/*
	 * Unique on this host to one apply of one cgroup (cgf_meta counts
	 * them): the key of every remembered verdict. A generation restarts
	 * after detach, and a parent and a child cgroup fenced apart have
	 * the same ones; an epoch never repeats.
	 */
	__u32 epoch;
	/*
	 * 1: every judged flow and device access is remembered in the
	 * cgroup's record table (cgf_records[cgroup_id], below).
	 */
	__u32 record;
	__u32 pad;
};

#define CGF_DEFAULT_EVENT_BUDGET 200

/*
 * Denial reporting. Every denial (and every would-be denial in audit mode)
 * is offered to a perf buffer of cgf_events as a struct cgf_event, within
 * the cgroup's per-second budget: key CGF_EVENTS_FIRST_KEY + cpu for the
 * first event after a quiet spell on a CPU (it wakes the daemon at once),
 * key cpu for the rest (it wakes the daemon per 64 KiB). Per cgroup, the
 * BPF side counts in
 * cgf_stats, so that nothing is lost silently:
 *
 *   denials = emitted + suppressed (over budget) + undelivered (no reader,
 *             or the perf buffer was full)
 *
 * `cgfence daemon` turns events into audit log lines and reports the
 * counters when it starts and whenever they change.
 */
#define CGF_EVENTS_FIRST_KEY 4096 /* beyond any CPU number cgfence runs on */

enum cgf_hook {
	CGF_HOOK_CONNECT4 = 1,
	CGF_HOOK_CONNECT6,
	CGF_HOOK_SENDMSG4, /* IPv4 datagrams sent with an address */
	CGF_HOOK_SENDMSG6, /* no longer emitted (datagrams: CGF_HOOK_EGRESS) */
	CGF_HOOK_EGRESS,   /* packet egress (datagrams, ICMP, raw, headers) */
	CGF_HOOK_INGRESS,  /* packet ingress */
	CGF_HOOK_DEVICE,
	CGF_HOOK_SOCKET,  /* socket creation (sockets section) */
	CGF_HOOK_SOCKOPT, /* setsockopt (sockets.options) */
};

#define CGF_EVENT_VERSION 2

struct cgf_event {
	__u16 version;
	__u8 hook;	/* enum cgf_hook */
	__u8 direction; /* enum cgf_direction_id; devices: 0 */
	__u8 action; /* what the kernel did: CGF_DENY, or CGF_ALLOW in audit mode */
	__u8 family;   /* 4 or 6; devices: 0; sockets: 0 */
	__u8 protocol; /* sockets: the protocol asked for */
	__u8 dev_type; /* enum cgf_dev_type */
	__u32 policy_id;
	__u32 generation;
	__u32 rule;	 /* index in the section, or CGF_RULE_DEFAULT */
	__u32 pid;	 /* 0 when the hook runs outside process context */
	__u64 time_ns;	 /* CLOCK_BOOTTIME */
	__u64 cgroup_id; /* the fenced cgroup */
	__u8 addr[16];	 /* remote address; IPv4 in the first 4 bytes */
	__u16 port; /* host order: remote port (egress), local port (ingress);
		     * setsockopt: the option's name */
	__u16 dev_access; /* CGF_ACC_* */
	__u32 dev_major;  /* setsockopt: the option's level */
	__u32 dev_minor;
	char comm[16];
	__u16 sock_family; /* sockets: AF_* asked for */
	__u8 sock_type;	   /* sockets: SOCK_* asked for */
	__u8 pad;
};

/* cgf_stats key counting denials of cgroups the full map had no room for. */
#define CGF_STATS_CATCH_ALL 0

struct cgf_cgroup_stats {
	__u64 window_start_ns;
	__u64 window_count;
	__u64 emitted;
	__u64 suppressed;
	__u64 undelivered;
};

/* Socket storage of fenced sockets. */
struct cgf_sock_state {
	/* An audit-mode denial of this connected UDP socket's peer, already
	 * reported under this configuration (allowed peers: cgf_peer_key). */
	__u32 judged;
	__u32 epoch;
	/*
	 * Created by a process of a fenced cgroup (sock_create saw it): its
	 * packets are always judged. Raw sockets without it are the kernel's
	 * own (neighbour discovery of a namespace made in the cgroup).
	 */
	__u32 created_fenced;
	__u32 pad;
};

/*
 * Unconnected UDP sockets: peers that a judged datagram allowed, in either
 * direction, so that replies flow back (server answers, client replies).
 */
struct cgf_flow_key {
	__u64 sock_cookie;
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
	__u16 port;    /* network order */
	__u8 family;   /* 4 or 6 */
	__u8 protocol; /* IPPROTO_UDP, or ICMP for echo and error exchanges */
	__u8 pad[4];
};

#define CGF_FLOW_TABLE_SIZE 65536

/*
 * UDP peers that a judgement allowed (cgf_peer_verdicts), for every socket
 * of the cgroup: an egress judgement depends on nothing but the policy,
 * which the epoch names, and the peer. A datagram to a known peer, from a
 * new socket or an old one, connected or not, passes after one lookup
 * instead of the policy's tables; a new socket needs no flow entry and no
 * socket storage for it. Denials are never kept (each one is judged and
 * reported), nor audit-mode ones.
 */
struct cgf_peer_key {
	__u32 epoch;
	__u8 family;   /* 4 or 6 */
	__u8 protocol; /* the table: IPPROTO_UDP or IPPROTO_UDPLITE; a CPU's */
	__u16 port;    /* recent peer (bpf/cgf_verdicts.h): TCP too */
	__u8 addr[16]; /* IPv4 in the first 4 bytes; host order port */
};

/*
 * The value's flags. The policy restricts ingress: a socket that sends to
 * the peer still remembers it in cgf_udp_flows, so that the peer's replies
 * to that socket, and only to it, pass.
 */
#define CGF_PEER_REPLIES_JUDGED 1u

#define CGF_PEER_TABLE_SIZE 65536

/*
 * Recording (cgfence apply --record, the cgfence.record annotation): what
 * a cgroup really does, aggregated in the kernel so that no observation is
 * lost to the event budget or the perf buffer. cgf_records maps a recorded
 * cgroup's id to its own hash table, which user space makes (its size is
 * the apply's choice), pins under records/<cgroup id> so that it outlives
 * the container, and reads for cgfence suggest. One entry per distinct:
 *
 *   flow    direction, family, protocol, peer address and port: the
 *           remote port for egress, the LOCAL port for ingress (only new
 *           inbound connections and datagrams are judged, so the
 *           ephemeral ports of replies never appear)
 *   device  type, major, minor and the access asked for
 *   socket  a raw socket created: its family (AF_INET, AF_INET6) and IP
 *           protocol; a socket option turned on that sockets.options
 *           governs (the CGF_SOCKOPT_* bit, in port)
 *
 * Flows are recorded where they are judged (a connect, a new peer of a
 * datagram socket, a SYN to a listener), never per packet of a judged
 * flow. IPv4-mapped IPv6 peers are recorded as IPv4, as they are judged.
 * A full table refuses new entries; the key of kind CGF_REC_OVERFLOW,
 * which user space inserts first, counts them (its count field).
 */
enum cgf_record_kind {
	CGF_REC_OVERFLOW = 0,
	CGF_REC_FLOW = 1,
	CGF_REC_DEVICE = 2,
	CGF_REC_RAW_SOCKET = 3,
	CGF_REC_SOCKOPT = 4,
};

#define CGF_RECORD_DEFAULT_SIZE 16384 /* entries, the overflow key aside */
#define CGF_RECORD_MAX_SIZE	1048576

struct cgf_record_key {
	__u8 kind;	 /* enum cgf_record_kind */
	__u8 direction;	 /* flows: enum cgf_direction_id */
	__u8 family;	 /* flows: 4 or 6 */
	__u8 protocol;	 /* flows: IP protocol number */
	__u16 port;	 /* flows: host order; 0 for ICMP and others */
	__u8 dev_type;	 /* devices: enum cgf_dev_type */
	__u8 dev_access; /* devices: CGF_ACC_* asked for */
	__u32 dev_major;
	__u32 dev_minor;
	__u8 addr[16]; /* flows: the peer; IPv4 in the first 4 bytes */
};

struct cgf_record_value {
	__u64 count;
	__u64 first_ns; /* CLOCK_BOOTTIME */
	__u64 last_ns;
};

/*
 * Pinned state that only user space reads: it lives in maps of the BPF
 * object so that it is created, pinned and found together with the
 * programs, and outlives every cgfence process.
 */
#define CGF_CONTAINER_ID_LEN 128
#define CGF_PATH_LEN	     512

/* cgf_containers: a container id -> the cgroup fenced for it last. */
struct cgf_container_key {
	char id[CGF_CONTAINER_ID_LEN]; /* NUL-padded */
};

/* cgf_meta[0]: which build of the BPF object is pinned. */
struct cgf_meta {
	__u32 abi_version;
	__u32 last_epoch; /* the last cgf_cgroup_config.epoch handed out */
	__u8 elf_digest[32];
	__s32 lsm_load_error; /* -errno: why the LSM program was not loaded */
	__u32 pad;
};

/* cgf_policy_info[policy id]: one compiled policy shared by its cgroups. */
struct cgf_policy_info {
	__u8 digest[32];
	char name[CGF_NAME_LEN];
	__u32 refcount; /* cgroups running it */
	__u32 mode;
	__u64 created_ns; /* CLOCK_REALTIME */
	__u32 nentries;
	__u32 nclasses;
};

/* cgf_cgroup_info[cgroup id]: one fenced cgroup. */
struct cgf_cgroup_info {
	__u32 policy_id;
	__u32 generation;
	__u64 applied_ns; /* CLOCK_REALTIME */
	char policy_name[CGF_NAME_LEN];
	char container_id[CGF_CONTAINER_ID_LEN]; /* empty outside the hook */
	char path[CGF_PATH_LEN];
};

#endif /* CGFENCE_ABI_H */
