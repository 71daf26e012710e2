/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading a packet's IP and L4 headers: addresses, protocol, ports, and
 * what could send it somewhere no judgement saw (source routes, header
 * chains too long to follow).
 */
#ifndef CGF_BPF_CGF_PARSE_H
#define CGF_BPF_CGF_PARSE_H

#include "cgf_judge.h"

struct cgf_packet {
	struct cgf_peer src; /* port: source port */
	struct cgf_peer dst; /* port: destination port */
	__u32 l4_off;	     /* where the L4 header starts */
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 l4_ok;	    /* the L4 header was read (not a later fragment) */
	__u8 source_routed; /* IPv4 source route option, IPv6 routing header */
};

#define TCP_FLAG_SYN	 0x02
#define TCP_FLAG_ACK	 0x10
#define IPV4_HDR_LEN	 20 /* without options */
#define IPV6_HDR_LEN	 40
#define IPV4_OPTIONS_MAX 40
#define IPOPT_END	 0
#define IPOPT_NOOP	 1
#define IPOPT_LSRR	 0x83
#define IPOPT_SSRR	 0x89
/*
 * Extension headers followed before the walk gives up. Real packets carry
 * one or two; a longer chain is refused (CGF_RULE_BAD_HEADERS), never
 * judged as if its upper-layer header were unknown.
 */
#define IPV6_EXT_MAX 8

/* Parse results besides "judge this": the packet is refused. */
enum cgf_parse_result {
	CGF_PARSED = 0,
	CGF_UNPARSABLE = -1, /* truncated or not IP: dropped, not reported */
	CGF_UNRESOLVED = -2, /* headers that cannot be followed to the end */
};

/* ICMP types (RFC 792, RFC 4443) the exemptions and answers name. */
#define ICMP_ECHOREPLY	      0
#define ICMP_DEST_UNREACH     3
#define ICMP_TIME_EXCEEDED    11
#define ICMP_PARAMETERPROB    12
#define ICMPV6_ERROR_MAX      127 /* ICMPv6 types 0-127 are errors */
#define ICMPV6_ECHO_REPLY     129
#define ICMPV6_MLD_QUERY      130
#define ICMPV6_NDISC_REDIRECT 137
#define ICMPV6_MLD2_REPORT    143
#define ICMP_ERROR_INNER_OFF  8 /* the offending packet follows 8 bytes */

CGF_INLINE int cgf_parse_l4(struct __sk_buff *skb, __u32 off,
			    struct cgf_packet *pk)
{
	__u8 l4[14];
	__u8 proto = pk->dst.protocol;

	pk->l4_off = off;
	if (proto == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, off, l4, 14))
			return CGF_UNPARSABLE;
		pk->tcp_flags = l4[13];
	} else if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE) {
		if (bpf_skb_load_bytes(skb, off, l4, 4))
			return CGF_UNPARSABLE;
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		if (bpf_skb_load_bytes(skb, off, l4, 1))
			return CGF_UNPARSABLE;
		pk->icmp_type = l4[0];
		pk->l4_ok = 1;
		return CGF_PARSED;
	} else {
		pk->l4_ok = 1;
		return CGF_PARSED;
	}
	pk->src.port = ((__u16)l4[0] << 8) | l4[1];
	pk->dst.port = ((__u16)l4[2] << 8) | l4[3];
	pk->l4_ok = 1;
	return CGF_PARSED;
}

/*
 * A source route sends the packet to its first hop, not to the header's
 * final destination that a judgement saw: such packets are refused. So are
 * options the walk cannot follow. Returns CGF_PARSED, CGF_SOURCE_ROUTED or
 * an error.
 */
#define CGF_SOURCE_ROUTED 1

struct cgf_options_walk {
	__u8 opt[64]; /* indexed & 63: every read is in bounds */
	__u32 off;
	__u32 len;
	int result;
};

/* One option per call (bpf_loop: the verifier checks this body once). */
static long cgf_ipv4_option_step(__u32 i, void *data)
{
	struct cgf_options_walk *w = data;
	__u8 type, olen;

	if (w->off >= w->len)
		return 1;
	type = w->opt[w->off & 63];
	if (type == IPOPT_END)
		return 1;
	if (type == IPOPT_NOOP) {
		w->off++;
		return 0;
	}
	if (type == IPOPT_LSRR || type == IPOPT_SSRR)
		w->result = CGF_SOURCE_ROUTED;
	olen = w->opt[(w->off + 1) & 63];
	if (olen < 2 || w->off + olen > w->len) {
		w->result = CGF_UNRESOLVED;
		return 1;
	}
	w->off += olen;
	return 0;
}

CGF_INLINE int cgf_ipv4_options(struct __sk_buff *skb, __u32 len)
{
	struct cgf_options_walk w = {.len = len, .result = CGF_PARSED};

	if (!len || len > IPV4_OPTIONS_MAX)
		return CGF_UNRESOLVED;
	/* 4 to 40; written so that the verifier sees 1 to 64 too. */
	asm volatile("%0 += -1; %0 &= 0x3f; %0 += 1" : "+r"(len));
	if (bpf_skb_load_bytes(skb, IPV4_HDR_LEN, w.opt, len))
		return CGF_UNPARSABLE;
	if (bpf_loop(IPV4_OPTIONS_MAX, cgf_ipv4_option_step, &w, 0) < 0)
		return CGF_UNRESOLVED;
	/* A walk that ran out of steps before the end is not followed. */
	if (w.result == CGF_PARSED && w.off < w.len &&
	    w.opt[w.off & 63] != IPOPT_END)
		return CGF_UNRESOLVED;
	return w.result;
}

CGF_INLINE int cgf_parse_ipv4(struct __sk_buff *skb, struct cgf_packet *pk)
{
	__u8 ip[IPV4_HDR_LEN];
	__u32 saddr, daddr, hlen;
	int err;

	if (bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)))
		return CGF_UNPARSABLE;
	hlen = (ip[0] & 0x0f) * 4;
	if (hlen < IPV4_HDR_LEN)
		return CGF_UNPARSABLE;
	__builtin_memcpy(&saddr, ip + 12, 4);
	__builtin_memcpy(&daddr, ip + 16, 4);
	cgf_peer_ip4(&pk->src, saddr);
	cgf_peer_ip4(&pk->dst, daddr);
	pk->src.protocol = pk->dst.protocol = ip[9];
	if (hlen > IPV4_HDR_LEN) {
		err = cgf_ipv4_options(skb, hlen - IPV4_HDR_LEN);
		if (err < 0)
			return err;
		pk->source_routed = err == CGF_SOURCE_ROUTED;
	}
	/* A later fragment has no L4 header: judged with port 0. */
	if (((ip[6] & 0x1f) | ip[7]) != 0)
		return CGF_PARSED;
	return cgf_parse_l4(skb, hlen, pk);
}

/* The extension headers the kernel follows to reach the upper layer. */
CGF_INLINE int cgf_ipv6_is_ext(__u8 next)
{
	return next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
	       next == IPPROTO_DSTOPTS || next == IPPROTO_FRAGMENT ||
	       next == IPPROTO_AH;
}

CGF_INLINE int cgf_parse_ipv6(struct __sk_buff *skb, struct cgf_packet *pk)
{
	__u8 ip[IPV6_HDR_LEN];
	__u32 addr[4];
	__u8 ext[8];
	__u32 off = IPV6_HDR_LEN;
	__u8 next;

	if (bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)))
		return CGF_UNPARSABLE;
	/* IPv4-mapped addresses are judged by the IPv4 rules, as in the hooks. */
	__builtin_memcpy(addr, ip + 8, 16);
	cgf_peer_ip6(&pk->src, addr);
	__builtin_memcpy(addr, ip + 24, 16);
	cgf_peer_ip6(&pk->dst, addr);
	next = ip[6];
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (!cgf_ipv6_is_ext(next))
			break;
		if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
			return CGF_UNPARSABLE;
		if (next == IPPROTO_FRAGMENT) {
			pk->src.protocol = pk->dst.protocol = ext[0];
			if (((ext[2] << 8) | (ext[3] & 0xf8)) != 0)
				return CGF_PARSED; /* later fragment */
			next = ext[0];
			off += 8;
			continue;
		}
		if (next == IPPROTO_ROUTING)
			pk->source_routed = 1;
		if (next == IPPROTO_AH)
			off += (ext[1] + 2) * 4;
		else
			off += (ext[1] + 1) * 8;
		next = ext[0];
	}
	if (cgf_ipv6_is_ext(next))
		return CGF_UNRESOLVED;
	pk->src.protocol = pk->dst.protocol = next;
	return cgf_parse_l4(skb, off, pk);
}

CGF_INLINE int cgf_parse(struct __sk_buff *skb, struct cgf_packet *pk)
{
	__u8 version;

	if (bpf_skb_load_bytes(skb, 0, &version, 1))
		return CGF_UNPARSABLE;
	if ((version >> 4) == 4)
		return cgf_parse_ipv4(skb, pk);
	if ((version >> 4) == 6)
		return cgf_parse_ipv6(skb, pk);
	return CGF_UNPARSABLE;
}

/*
 * The fast path's one look at the packet: true when the IP header is the
 * plain one that a stream or datagram socket's judgement assumed, with the
 * socket's protocol right behind it (no IPv4 options, no IPv6 extension
 * headers). Anything else is judged from the packet itself.
 */
CGF_INLINE int cgf_headers_plain(struct __sk_buff *skb, __u32 protocol)
{
	__u8 *data = (__u8 *)(long)skb->data;
	__u8 *end = (__u8 *)(long)skb->data_end;
	__u8 b[7];

	/*
	 * Version 4, header length 20: the first byte says it all, and small
	 * datagrams (29 bytes for one byte of payload) are shorter than the
	 * IPv6 header the next test needs.
	 */
	if (data + 1 <= end && data[0] == 0x45)
		return 1;
	if (data + IPV6_HDR_LEN <= end)
		return (data[0] >> 4) == 6 && data[6] == protocol;
	/* Short or not linear: read it (rare). */
	if (bpf_skb_load_bytes(skb, 0, b, 7))
		return bpf_skb_load_bytes(skb, 0, b, 1) == 0 && b[0] == 0x45;
	if (b[0] == 0x45)
		return 1;
	return (b[0] >> 4) == 6 && b[6] == protocol;
}

/*
 * The destination of a datagram with plain headers, read from fixed
 * offsets: h holds the first 24 (IPv4) or 44 (IPv6) bytes. Not plain (0):
 * IPv4 options, an extension header, another protocol than the socket's,
 * a later fragment (no UDP header to read); the caller parses those.
 * Addresses and port are read as words: the header starts 4-byte aligned
 * in the stack copy, and unaligned packet loads are allowed where it is
 * not (the verifier's default).
 */
#define CGF_PLAIN4_LEN (IPV4_HDR_LEN + 4)
#define CGF_PLAIN6_LEN (IPV6_HDR_LEN + 4)

CGF_INLINE int cgf_plain_dst4(const __u8 *h, __u32 protocol,
			      struct cgf_peer *dst)
{
	if (h[0] != 0x45 || h[9] != protocol || ((h[6] & 0x1f) | h[7]))
		return 0;
	cgf_peer_ip4(dst, ((const __u32 *)h)[4]);
	dst->protocol = protocol;
	dst->port = bpf_ntohs(((const __u16 *)h)[(IPV4_HDR_LEN + 2) / 2]);
	return 1;
}

/* IPv4-mapped destinations are judged as IPv4, as by cgf_parse. */
CGF_INLINE int cgf_plain_dst6(const __u8 *h, __u32 protocol,
			      struct cgf_peer *dst)
{
	if ((h[0] >> 4) != 6 || h[6] != protocol)
		return 0;
	cgf_peer_ip6(dst, (const __u32 *)h + 6);
	dst->protocol = protocol;
	dst->port = bpf_ntohs(((const __u16 *)h)[(IPV6_HDR_LEN + 2) / 2]);
	return 1;
}

/*
 * A UDP socket's datagram: 1 with its destination in *dst (zeroed by the
 * caller) when its headers are plain, the one look at the packet that
 * datagram costs. Direct packet access where the headers are linear.
 */
CGF_INLINE int cgf_plain_udp_dst(struct __sk_buff *skb, __u32 protocol,
				 struct cgf_peer *dst)
{
	__u8 *data = (__u8 *)(long)skb->data;
	__u8 *end = (__u8 *)(long)skb->data_end;
	__u32 b[CGF_PLAIN6_LEN / 4];

	if (data + CGF_PLAIN4_LEN <= end && data[0] == 0x45)
		return cgf_plain_dst4(data, protocol, dst);
	if (data + CGF_PLAIN6_LEN <= end)
		return cgf_plain_dst6(data, protocol, dst);
	/* Not linear (rare): read it. */
	if (bpf_skb_load_bytes(skb, 0, b, CGF_PLAIN4_LEN))
		return 0;
	if (*(__u8 *)b == 0x45)
		return cgf_plain_dst4((__u8 *)b, protocol, dst);
	if (bpf_skb_load_bytes(skb, 0, b, CGF_PLAIN6_LEN))
		return 0;
	return cgf_plain_dst6((__u8 *)b, protocol, dst);
}

#endif
