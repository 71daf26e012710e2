// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * attack: the ways a process inside a fenced cgroup might try to get traffic
 * past the fence, one per action, for the kernel tests
 * (tests/kernel/bypass.bats). Options as in probe.c: the cgroup and the
 * network namespace are joined before anything else. Each action prints one
 * line, "ok" or the errno name (EPERM, ETIMEDOUT, ...), watchers "seen" or
 * "unseen", and exits 0 only on "ok" or "seen". MARKER is an ASCII string
 * carried in the payload so that a watcher recognises the packet. Packets
 * built here have correct checksums; their source port is 40000 + pid % 20000
 * and their source address 127.0.0.1 or ::1 towards loopback, else the one
 * the route gives.
 *
 *   attack [--cgroup DIR] [--netns NAME] [--timeout-ms N] ACTION ARGS
 *   raw-tcp ADDR PORT MARKER    TCP SYN carrying MARKER, from a raw
 *                               IPPROTO_TCP socket
 *   hdrincl ADDR PORT MARKER    IPPROTO_RAW socket: our own IPv4/IPv6 header
 *                               + UDP + MARKER (IPv4 off loopback: source 0,
 *                               which the kernel fills in, no UDP checksum)
 *   icmp ADDR TYPE MARKER       raw ICMP/ICMPv6 message of TYPE, code 0: id
 *                               and sequence (error types: 4 unused bytes),
 *                               then MARKER
 *   ping-dgram ADDR             echo over an ICMP datagram ("ping") socket,
 *                               wait for the reply
 *   ping-raw ADDR               echo over a raw socket; only an echo reply
 *                               with our id counts
 *   packet-send IFACE ADDR PORT MARKER [raw|dgram]
 *                               AF_PACKET frame out of IFACE: IPv4 + UDP +
 *                               MARKER, raw with an Ethernet header (MACs 0)
 *   packet-watch IFACE MARKER [--show]
 *                               AF_PACKET sniffer on IFACE: prints "ready",
 *                               then "seen" once a frame contains MARKER, or
 *                               "unseen" at the timeout; --show adds a line
 *                               with that frame's IP source, destination,
 *                               protocol, route options and direction
 *   xdp-socket                  socket(AF_XDP, SOCK_RAW, 0)
 *   family N TYPE               socket(N, TYPE, 0), numeric N and TYPE
 *   lsrr FIRSTHOP FINAL PORT MARKER udp|tcp|cmsg
 *                               IPv4 loose source route: header destination
 *                               FIRSTHOP, socket destination FINAL (see
 *                               do_lsrr); udp: IP_OPTIONS + sendto MARKER,
 *                               tcp: IP_OPTIONS + connect (MARKER sent once
 *                               connected), cmsg: sendmsg with IP_RETOPTS
 *   rr-request ADDR PORT        TCP with an IPv4 record-route option (which
 *                               the server's replies echo): one-byte request
 *                               and reply
 *   v6-chain ADDR PORT N MARKER udp|syn
 *                               IPPROTO_RAW IPv6 packet: N Destination
 *                               Options headers, then UDP or a TCP SYN
 *   raw-recv ADDR tcp|udp|icmp|icmpv6 MARKER
 *                               raw socket of ADDR's family and PROTO:
 *                               "ready", then "seen" or "unseen"
 *   udp-cmsg ADDR PORT tos|pktinfo|none
 *                               connected UDP: one byte by sendmsg without an
 *                               address, with the control message (tos: ECT(0)
 *                               by IP_TOS / IPV6_TCLASS, pktinfo: IP_PKTINFO /
 *                               IPV6_PKTINFO, zero); wait for the reply
 *   udp-sendto-cmsg ADDR PORT tos|pktinfo
 *                               the same, unconnected, address in the sendmsg
 *   sendmmsg ADDR PORT N        N one-byte datagrams in one sendmmsg(2), wait
 *                               for N replies (N <= 1024; from about 300 on
 *                               `probe serve`'s receive queue overflows)
 *   uring ADDR PORT tcp|udp     io_uring: connect, send and recv one byte
 *                               (udp: sendmsg to ADDR:PORT, recv)
 *   connect-bound tcp|udp BINDADDR ADDR PORT
 *                               bind to BINDADDR, connect to ADDR (such as
 *                               0.0.0.0, :: or ::ffff:0.0.0.0), one-byte
 *                               request and reply
 *   sendto-bound BINDADDR ADDR PORT
 *                               UDP bound to BINDADDR: sendto ADDR one byte,
 *                               wait for the reply
 *   udp-send ADDR PORT MARKER   unconnected UDP: sendto ADDR:PORT MARKER
 *   udp-send-from SPORT ADDR PORT MARKER
 *                               the same from local port SPORT
 *   udp-connected-watch LPORT ADDR PORT MARKER
 *                               UDP bound to port LPORT (ADDR's family) and
 *                               connected to ADDR:PORT: "ready", then "seen"
 *                               once MARKER arrives from it, or "unseen"
 *   compat-hdrincl HEADERDST SENDTODST PORT MARKER
 *                               raw ICMP socket; IP_HDRINCL turned on by the
 *                               32-bit setsockopt (int $0x80, x86_64 only),
 *                               which cgroup setsockopt programs never see;
 *                               then a UDP packet whose header says
 *                               HEADERDST:PORT, sent to SENDTODST. Prints
 *                               both results ("ok EPERM")
 *   sockopt FAMILY TYPE PROTO LEVEL NAME VALUE
 *                               socket(FAMILY, TYPE, PROTO) (numbers), then
 *                               setsockopt(LEVEL, NAME, int VALUE)
 *   tcp-watch ADDR PORT         TCP listener on ADDR:PORT: "ready", then
 *                               "seen" once a connection is accepted, or
 *                               "unseen" at the timeout
 *   udp-recv ADDR PORT MARKER   UDP socket bound to ADDR:PORT: "ready", then
 *                               "seen" or "unseen" (a listener that tells)
 *   udp-twice ADDR PORT MS|GOFILE MARKER1 MARKER2
 *                               UDP connected to ADDR:PORT sends MARKER1,
 *                               waits MS or for GOFILE (pause_between_sends),
 *                               sends MARKER2 on the same socket; prints
 *                               both results ("ok EPERM")
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "probe_common.h"

#define MARKER_MAX 1024
#define CHAIN_MAX  4096 /* v6-chain: Destination Options headers */

/* Packets built and frames read; large enough for lo's 64 KiB MTU. */
static uint8_t pkt[70000];

static int usage(const char *why)
{
	fprintf(stderr, "attack: %s (see the top of tests/probes/attack.c)\n",
		why);
	return 2;
}

/* Is word one of the |-separated list? */
static int one_of(const char *word, const char *list)
{
	size_t n = strlen(word);

	for (const char *p = list; n && p;
	     p = strchr(p, '|'), p = p ? p + 1 : p) {
		if (!strncmp(p, word, n) && (p[n] == '|' || !p[n]))
			return 1;
	}
	return 0;
}

/* Addresses */

/* The IP address in ss: 4 or 16 bytes. */
static void *ip_of(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return &((struct sockaddr_in *)ss)->sin_addr;
	return &((struct sockaddr_in6 *)ss)->sin6_addr;
}

static int is_loopback(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((uint8_t *)ip_of(ss))[0] == 127;
	return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ss)->sin6_addr);
}

/*
 * The source address the kernel picks towards dst, for pseudo-header
 * checksums: 127.0.0.1 or ::1 towards loopback, else that of a UDP socket
 * connected to dst (no packet is sent), else the unspecified address.
 */
static void source_for(struct sockaddr_storage *dst,
		       struct sockaddr_storage *src)
{
	struct sockaddr_storage d = *dst;
	socklen_t len = sizeof(*src);
	int fd;

	memset(src, 0, sizeof(*src));
	src->ss_family = dst->ss_family;
	if (is_loopback(dst)) {
		if (dst->ss_family == AF_INET)
			((struct sockaddr_in *)src)->sin_addr.s_addr =
				htonl(0x7f000001);
		else
			((struct sockaddr_in6 *)src)->sin6_addr =
				in6addr_loopback;
		return;
	}
	((struct sockaddr_in *)&d)->sin_port = htons(9); /* same offset in v6 */
	fd = socket(dst->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (connect(fd, (struct sockaddr *)&d, sizeof(d)) ||
			getsockname(fd, (struct sockaddr *)src, &len))) {
		memset(src, 0, sizeof(*src));
		src->ss_family = dst->ss_family;
	}
	if (fd >= 0)
		close(fd);
}

/* ::ffff:a.b.c.d for an IPv4 address, to bind an IPv6 socket. */
static void map_v4(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in in4 = *(struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = in4.sin_port;
	in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&in6->sin6_addr.s6_addr[12], &in4.sin_addr, 4);
	*len = sizeof(*in6);
}

/* Waiting */

/* Waits for the one-byte reply; 0 or an errno. */
static int await_reply(int fd)
{
	char byte;
	int err = wait_fd(fd, POLLIN);

	if (err)
		return err;
	if (recv(fd, &byte, 1, 0) != 1)
		return errno ? errno : EIO;
	return 0;
}

/* Checksums and headers */

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += p[0] << 8 | p[1];
	if (len)
		sum += p[0] << 8;
	return sum;
}

/* The folded one's complement, in network order. */
static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/*
 * Fills the checksum of the UDP, TCP or ICMPv6 message l4 of len bytes
 * from src to dst (4 or 16 bytes each): the pseudo-header is the addresses,
 * the upper-layer length and the protocol (IPv4: zero, protocol, length;
 * IPv6: 32-bit length, 3 zero bytes, next header: the same 16-bit sum).
 */
static void l4_csum(int family, const void *src, const void *dst, int proto,
		    uint8_t *l4, size_t len)
{
	size_t alen = family == AF_INET ? 4 : 16;
	size_t off = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
	uint32_t sum;
	uint16_t c;

	l4[off] = l4[off + 1] = 0;
	sum = csum_add(0, src, alen);
	sum = csum_add(sum, dst, alen);
	sum += proto + (len >> 16) + (len & 0xffff);
	c = csum_fold(csum_add(sum, l4, len));
	if (c == 0 && proto == IPPROTO_UDP)
		c = 0xffff; /* 0 means "no checksum" */
	memcpy(l4 + off, &c, 2);
}

static size_t marker_len(const char *marker)
{
	size_t n = strlen(marker);

	if (n > MARKER_MAX) {
		fprintf(stderr, "attack: MARKER longer than %d\n", MARKER_MAX);
		exit(2);
	}
	return n;
}

static uint32_t random32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = getpid() * 2654435761u ^ (uint32_t)now_ms();
	return r;
}

/*
 * A UDP datagram, or a TCP SYN (random sequence, window 64240, data offset
 * 5), to dport carrying marker at p; returns its length. Checksum 0.
 */
static size_t build_l4(uint8_t *p, int proto, int dport, const char *marker)
{
	struct udphdr *u = (struct udphdr *)p;
	struct tcphdr *t = (struct tcphdr *)p;
	size_t mlen = marker_len(marker);

	if (proto == IPPROTO_UDP) {
		u->source = htons(40000 + getpid() % 20000);
		u->dest = htons(dport);
		u->len = htons(sizeof(*u) + mlen);
		u->check = 0;
		memcpy(p + sizeof(*u), marker, mlen);
		return sizeof(*u) + mlen;
	}
	memset(t, 0, sizeof(*t));
	t->source = htons(40000 + getpid() % 20000);
	t->dest = htons(dport);
	t->seq = htonl(random32());
	t->doff = 5;
	t->syn = 1;
	t->window = htons(64240);
	memcpy(p + sizeof(*t), marker, mlen);
	return sizeof(*t) + mlen;
}

/* An IPv4 (with its checksum) or IPv6 header before len bytes of proto. */
static size_t build_ip(uint8_t *p, int family, const void *src, const void *dst,
		       int proto, size_t len)
{
	struct ip6_hdr *ip6 = (struct ip6_hdr *)p;
	struct iphdr *ip = (struct iphdr *)p;

	if (family == AF_INET) {
		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(*ip) + len);
		ip->id = htons(random32());
		ip->frag_off = htons(IP_DF);
		ip->ttl = 64;
		ip->protocol = proto;
		memcpy(&ip->saddr, src, 4);
		memcpy(&ip->daddr, dst, 4);
		ip->check = csum_fold(csum_add(0, ip, sizeof(*ip)));
		return sizeof(*ip);
	}
	memset(ip6, 0, sizeof(*ip6));
	ip6->ip6_flow = htonl(6 << 28);
	ip6->ip6_plen = htons(len);
	ip6->ip6_nxt = proto;
	ip6->ip6_hlim = 64;
	memcpy(&ip6->ip6_src, src, 16);
	memcpy(&ip6->ip6_dst, dst, 16);
	return sizeof(*ip6);
}

/*
 * A whole packet at p from src to dst: the IP header, nopts (IPv6) 8-byte
 * Destination Options headers (a PadN of 4 zero bytes each), then a UDP
 * datagram or TCP SYN to dport carrying marker. An IPv4 UDP datagram from
 * source 0 (filled in by the kernel) goes without a checksum.
 */
static size_t build_packet(uint8_t *p, int family, const void *src,
			   const void *dst, int proto, int dport, int nopts,
			   const char *marker)
{
	static const uint8_t zero[4];
	size_t hlen = family == AF_INET ? sizeof(struct iphdr)
					: sizeof(struct ip6_hdr);
	uint8_t *q = p + hlen;
	size_t len;

	for (int i = 0; i < nopts; i++, q += 8) {
		q[0] = i + 1 < nopts ? IPPROTO_DSTOPTS : proto;
		q[1] = 0; /* (0 + 1) * 8 bytes */
		q[2] = 1; /* PadN */
		q[3] = 4;
		memset(q + 4, 0, 4);
	}
	len = build_l4(q, proto, dport, marker);
	if (family == AF_INET6 || proto != IPPROTO_UDP || memcmp(src, zero, 4))
		l4_csum(family, src, dst, proto, q, len);
	build_ip(p, family, src, dst, nopts ? IPPROTO_DSTOPTS : proto,
		 q - p - hlen + len);
	return q - p + len;
}

/* Sends len bytes of pkt from off on fd to "to"; prints the outcome. */
static int send_pkt(int fd, size_t off, size_t len, void *to, socklen_t tolen)
{
	if (sendto(fd, pkt + off, len, 0, to, tolen) < 0)
		return result(errno);
	close(fd);
	return result(0);
}

/* Raw IP */

static int do_raw_tcp(const char *host, const char *port, const char *marker)
{
	struct sockaddr_storage dst, src;
	socklen_t len;
	int fd, off = 16;
	size_t n;

	make_addr(host, "0", &dst,
		  &len); /* raw IPv6: a port must be 0 or the protocol */
	fd = socket(dst.ss_family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return result(errno);
	n = build_l4(pkt, IPPROTO_TCP, atoi(port), marker);
	if (dst.ss_family == AF_INET6) {
		/* The kernel sums it, with the source it picks. */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &off,
			       sizeof(off)))
			return result(errno);
	} else {
		source_for(&dst, &src);
		l4_csum(AF_INET, ip_of(&src), ip_of(&dst), IPPROTO_TCP, pkt, n);
	}
	return send_pkt(fd, 0, n, &dst, len);
}

static int do_hdrincl(const char *host, const char *port, const char *marker)
{
	struct sockaddr_storage dst, src;
	socklen_t len;
	size_t n;
	int fd;

	make_addr(host, "0", &dst, &len);
	fd = socket(dst.ss_family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		return result(errno);
	if (dst.ss_family == AF_INET && !is_loopback(&dst)) {
		memset(&src, 0,
		       sizeof(src)); /* raw_send_hdrinc() fills it in */
		src.ss_family = AF_INET;
	} else {
		source_for(&dst, &src);
	}
	n = build_packet(pkt, dst.ss_family, ip_of(&src), ip_of(&dst),
			 IPPROTO_UDP, atoi(port), 0, marker);
	return send_pkt(fd, 0, n, &dst, len);
}

static int do_v6_chain(const char *host, const char *port, int nopts,
		       const char *marker, const char *mode)
{
	struct sockaddr_storage dst, src;
	socklen_t len;
	size_t n;
	int fd;

	make_addr(host, "0", &dst, &len);
	if (dst.ss_family != AF_INET6 || nopts < 0 || nopts > CHAIN_MAX)
		return usage("v6-chain: an IPv6 address and 0 <= N <= 4096");
	fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		return result(errno);
	source_for(&dst, &src);
	n = build_packet(pkt, AF_INET6, ip_of(&src), ip_of(&dst),
			 !strcmp(mode, "syn") ? IPPROTO_TCP : IPPROTO_UDP,
			 atoi(port), nopts, marker);
	return send_pkt(fd, 0, n, &dst, len);
}

/* ICMP */

/* An error message (its second word unused), not one with id and sequence? */
static int icmp_is_error(int family, int type)
{
	if (family == AF_INET)
		return type == 3 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/*
 * An ICMP message at pkt: type, code 0, checksum (IPv4; ICMPv6 raw and
 * ping sockets have the kernel sum it), id and sequence 1 (or 4 unused
 * bytes), body; returns its length.
 */
static size_t build_icmp(int family, int type, const void *body, size_t blen)
{
	uint16_t id = htons(getpid()), seq = htons(1);

	memset(pkt, 0, 8);
	pkt[0] = type;
	if (!icmp_is_error(family, type)) {
		memcpy(pkt + 4, &id, 2);
		memcpy(pkt + 6, &seq, 2);
	}
	memcpy(pkt + 8, body, blen);
	if (family == AF_INET) {
		uint16_t c = csum_fold(csum_add(0, pkt, 8 + blen));

		memcpy(pkt + 2, &c, 2);
	}
	return 8 + blen;
}

static int icmp_proto(int family)
{
	return family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}

static int do_icmp(const char *host, int type, const char *marker)
{
	struct sockaddr_storage dst;
	socklen_t len;
	size_t n;
	int fd;

	make_addr(host, "0", &dst, &len);
	fd = socket(dst.ss_family, SOCK_RAW | SOCK_CLOEXEC,
		    icmp_proto(dst.ss_family));
	if (fd < 0)
		return result(errno);
	n = build_icmp(dst.ss_family, type, marker, marker_len(marker));
	return send_pkt(fd, 0, n, &dst, len);
}

/*
 * Echo request to host, then waits for an echo reply (0 / 129): on a ping
 * socket (dgram) the kernel delivers only ours, without the IP header; a
 * raw IPv4 socket reads the IP header too, and raw sockets see our own
 * request looping back and everyone's ICMP, hence the id check.
 */
static int do_ping(const char *host, int dgram)
{
	struct sockaddr_storage dst;
	long long deadline;
	uint16_t id = htons(getpid());
	socklen_t len;
	int fd, err, v6;
	size_t n;

	make_addr(host, "0", &dst, &len);
	v6 = dst.ss_family == AF_INET6;
	fd = socket(dst.ss_family,
		    (dgram ? SOCK_DGRAM : SOCK_RAW) | SOCK_CLOEXEC,
		    icmp_proto(dst.ss_family));
	if (fd < 0)
		return result(errno);
	n = build_icmp(dst.ss_family, v6 ? 128 : 8, "cgfence!", 8);
	if (sendto(fd, pkt, n, 0, (struct sockaddr *)&dst, len) < 0)
		return result(errno);
	deadline = now_ms() + timeout_ms;
	for (;;) {
		ssize_t got;
		uint8_t *icmp = pkt;

		err = wait_until(fd, POLLIN, deadline);
		if (err)
			return result(err);
		got = recv(fd, pkt, sizeof(pkt), 0);
		if (got < 0)
			return result(errno);
		if (!dgram && !v6) {
			icmp += (pkt[0] & 15) * 4;
			got -= (pkt[0] & 15) * 4;
		}
		if (got >= 8 && icmp[0] == (v6 ? 129 : 0) &&
		    (dgram || !memcmp(icmp + 4, &id, 2)))
			return result(0);
	}
}

/* AF_PACKET */

static int do_packet_send(const char *iface, const char *host, const char *port,
			  const char *marker, const char *mode)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_halen = ETH_ALEN, /* sll_addr: 00:00:00:00:00:00 */
	};
	struct sockaddr_storage dst, src;
	int dgram = !strcmp(mode, "dgram"), fd;
	size_t n;
	socklen_t len;

	make_addr(host, "0", &dst, &len);
	if (dst.ss_family != AF_INET)
		return usage("packet-send: an IPv4 address");
	sll.sll_ifindex = if_nametoindex(iface);
	if (!sll.sll_ifindex)
		return result(errno);
	/* Protocol 0: the socket sends only, it receives nothing. */
	fd = socket(AF_PACKET, (dgram ? SOCK_DGRAM : SOCK_RAW) | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return result(errno);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		return result(errno);
	/* The IPv4 packet at pkt + 16 (aligned), raw: Ethernet header before. */
	source_for(&dst, &src);
	n = build_packet(pkt + 16, AF_INET, ip_of(&src), ip_of(&dst),
			 IPPROTO_UDP, atoi(port), 0, marker);
	if (dgram)
		return send_pkt(fd, 16, n, &sll, sizeof(sll));
	memset(pkt + 16 - ETH_HLEN, 0, 2 * ETH_ALEN);
	pkt[16 - 2] = ETH_P_IP >> 8;
	pkt[16 - 1] = ETH_P_IP & 0xff;
	return send_pkt(fd, 16 - ETH_HLEN, ETH_HLEN + n, &sll, sizeof(sll));
}

static void show_ip4_options(const uint8_t *o, int len)
{
	char a[INET_ADDRSTRLEN];

	while (len > 0 && o[0] != 0) {
		int olen = o[0] == 1 ? 1 : o[1];

		if (olen < 1 || olen > len)
			return;
		if ((o[0] == IPOPT_LSRR || o[0] == IPOPT_SSRR ||
		     o[0] == IPOPT_RR) &&
		    olen >= 3) {
			const char *name = o[0] == IPOPT_LSRR	? "lsrr"
					   : o[0] == IPOPT_SSRR ? "ssrr"
								: "rr";

			printf(" %s ptr %d route", name, o[2]);
			for (int i = 3; i + 4 <= olen; i += 4)
				printf(" %s",
				       inet_ntop(AF_INET, o + i, a, sizeof(a)));
		}
		o += olen;
		len -= olen;
	}
}

/*
 * One line on the IP packet in frame f: "ipv4 SRC > DST proto P [lsrr ptr N
 * route A ...]" or "ipv6 SRC > DST next H [upper U after N ext]", then
 * "outgoing" or "incoming".
 */
static void show_frame(const uint8_t *f, size_t n,
		       const struct sockaddr_ll *from)
{
	int l2 = from->sll_hatype == ARPHRD_ETHER ||
		 from->sll_hatype == ARPHRD_LOOPBACK;
	size_t off = l2 ? ETH_HLEN : 0;
	const uint8_t *ip = f + off;
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	n = n > off ? n - off : 0;
	if (n >= 20 && ip[0] >> 4 == 4) {
		printf("ipv4 %s > %s proto %d",
		       inet_ntop(AF_INET, ip + 12, s, sizeof(s)),
		       inet_ntop(AF_INET, ip + 16, d, sizeof(d)), ip[9]);
		if ((size_t)(ip[0] & 15) * 4 <= n)
			show_ip4_options(ip + 20, (ip[0] & 15) * 4 - 20);
	} else if (n >= 40 && ip[0] >> 4 == 6) {
		int next = ip[6], count = 0;
		size_t p = 40;

		printf("ipv6 %s > %s next %d",
		       inet_ntop(AF_INET6, ip + 8, s, sizeof(s)),
		       inet_ntop(AF_INET6, ip + 24, d, sizeof(d)), next);
		while ((next == 0 || next == 43 || next == 60) && p + 8 <= n) {
			next = ip[p];
			p += (ip[p + 1] + 1) * 8;
			count++;
		}
		if (count)
			printf(" upper %d after %d ext", next, count);
	} else {
		printf("not-ip");
	}
	printf(" %s\n",
	       from->sll_pkttype == PACKET_OUTGOING ? "outgoing" : "incoming");
}

/*
 * Prints "ready", then reads fd until a packet contains marker ("seen", and
 * with show the frame's headers: fd is an AF_PACKET socket) or the timeout
 * ("unseen").
 */
static int watch(int fd, const char *marker, int show)
{
	size_t mlen = marker_len(marker);
	long long deadline;
	int err;

	printf("ready\n");
	fflush(stdout);
	deadline = now_ms() + timeout_ms;
	for (;;) {
		struct sockaddr_storage
			from; /* sockaddr_ll, or a raw socket's peer */
		socklen_t flen = sizeof(from);
		ssize_t n;

		err = wait_until(fd, POLLIN, deadline);
		if (err == ETIMEDOUT) {
			puts("unseen");
			return 1;
		}
		if (err)
			return result(err);
		n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from,
			     &flen);
		if (n < 0)
			return result(errno);
		if (!memmem(pkt, n, marker, mlen))
			continue;
		puts("seen");
		if (show)
			show_frame(pkt, n, (struct sockaddr_ll *)&from);
		return 0;
	}
}

static int do_packet_watch(const char *iface, const char *marker, int show)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
	};
	int fd;

	sll.sll_ifindex = if_nametoindex(iface);
	if (!sll.sll_ifindex)
		return result(errno);
	/* Protocol 0 until bound: no frame of another interface gets queued. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		return result(errno);
	return watch(fd, marker, show);
}

static int do_raw_recv(const char *host, const char *proto, const char *marker)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int p, fd;

	make_addr(host, "0", &ss, &len);
	if (!strcmp(proto, "tcp"))
		p = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		p = IPPROTO_UDP;
	else if (!strcmp(proto, "icmp"))
		p = IPPROTO_ICMP;
	else if (!strcmp(proto, "icmpv6"))
		p = IPPROTO_ICMPV6;
	else
		return usage("raw-recv: tcp, udp, icmp or icmpv6");
	fd = socket(ss.ss_family, SOCK_RAW | SOCK_CLOEXEC, p);
	if (fd < 0)
		return result(errno);
	return watch(fd, marker, 0);
}

/* Sockets */

static int do_socket(int family, int type)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return result(errno);
	close(fd);
	return result(0);
}

/*
 * IP_OPTIONS and IP_RETOPTS take the route as [type, length, pointer 4,
 * A1, ..., An] (length 3 + 4n, n >= 1, else EINVAL). ip_options_compile()
 * (net/ipv4/ip_options.c, called with no skb) takes the FIRST address A1
 * out as opt->faddr and shifts A2..An down; udp_sendmsg(),
 * tcp_v4_connect() and ip_queue_xmit() route to faddr and put it in the
 * IPv4 header's daddr, and ip_options_build() writes the socket's
 * destination into the freed LAST slot. On the wire: daddr A1, route
 * [A2, ..., An, FINAL], pointer 4. So [LSRR, 7, 4, FIRSTHOP] sent to FINAL
 * leaves as daddr FIRSTHOP, route [FINAL] (udp, tcp and cmsg alike), a
 * packet for FIRSTHOP asking it to forward to FINAL; [LSRR, 7, 4, FINAL]
 * would give daddr FINAL, route [FINAL]. Setting LSRR or SSRR needs
 * CAP_NET_RAW (EPERM) since commit 8ff85dbabbbf ("ipv4: restrict IPOPT_SSRR
 * and IPOPT_LSRR options"), as on 6.18. The receiver drops it unless
 * accept_source_route is on ("all" and the interface); when FINAL is in
 * 127/8 its re-routing to FINAL is martian unless route_localnet and
 * accept_local are on too.
 */
static int do_lsrr(const char *first, const char *final, const char *port,
		   const char *marker, const char *mode)
{
	uint8_t opt[8] = {IPOPT_LSRR, 7, 4}; /* opt[7]: IPOPT_END */
	struct sockaddr_storage hop, dst;
	union {
		char buf[CMSG_SPACE(sizeof(opt))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = {(void *)marker, marker_len(marker)};
	struct msghdr msg = {
		.msg_name = &dst,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cb.buf,
		.msg_controllen = sizeof(cb.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int tcp = !strcmp(mode, "tcp"), fd, err;
	socklen_t len;

	make_addr(first, "0", &hop, &len);
	make_addr(final, port, &dst, &len);
	if (hop.ss_family != AF_INET || dst.ss_family != AF_INET)
		return usage("lsrr: IPv4 addresses");
	memcpy(opt + 3, ip_of(&hop), 4);
	fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return result(errno);
	if (!strcmp(mode, "cmsg")) {
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_RETOPTS;
		c->cmsg_len = CMSG_LEN(sizeof(opt));
		memcpy(CMSG_DATA(c), opt, sizeof(opt));
		msg.msg_namelen = len;
		return result(sendmsg(fd, &msg, 0) < 0 ? errno : 0);
	}
	if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof(opt)))
		return result(errno);
	if (!tcp) {
		if (sendto(fd, marker, iov.iov_len, 0, (struct sockaddr *)&dst,
			   len) < 0)
			return result(errno);
		return result(0);
	}
	/* The SYN carries no MARKER: the first data segment does. */
	err = connect_to(fd, &dst, len);
	if (!err && send(fd, marker, iov.iov_len, 0) < 0)
		err = errno;
	return result(err);
}

/*
 * A TCP request and reply from a socket whose IPv4 options carry a record
 * route, which the server's replies echo (what a fenced server must still
 * answer).
 */
static int do_rr_request(const char *host, const char *port)
{
	uint8_t opt[12] = {IPOPT_RR, 11, 4}; /* room for two hops, then END */
	struct sockaddr_storage dst;
	char byte = 'x';
	socklen_t len;
	int fd, err;

	make_addr(host, port, &dst, &len);
	if (dst.ss_family != AF_INET)
		return usage("rr-request: an IPv4 address");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof(opt)))
		return result(errno);
	err = connect_to(fd, &dst, len);
	if (!err && send(fd, &byte, 1, 0) != 1)
		err = errno;
	if (!err)
		err = await_reply(fd);
	return result(err);
}

/* UDP with control messages */

/* Adds the control message kind (tos|pktinfo|none) for family to msg. */
static int add_cmsg(struct msghdr *msg, void *buf, size_t size, int family,
		    const char *kind)
{
	struct in6_pktinfo pi6 = {0};
	struct in_pktinfo pi = {0};
	int tos = 0x02; /* ECT(0) */
	struct cmsghdr *c;
	const void *data;
	size_t dlen;

	if (!strcmp(kind, "none"))
		return 0;
	msg->msg_control = buf;
	msg->msg_controllen = size;
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	if (!strcmp(kind, "tos")) {
		c->cmsg_type = family == AF_INET ? IP_TOS : IPV6_TCLASS;
		data = &tos;
		dlen = sizeof(tos);
	} else if (!strcmp(kind, "pktinfo")) {
		c->cmsg_type = family == AF_INET ? IP_PKTINFO : IPV6_PKTINFO;
		data = family == AF_INET ? (void *)&pi : (void *)&pi6;
		dlen = family == AF_INET ? sizeof(pi) : sizeof(pi6);
	} else {
		return -1;
	}
	c->cmsg_len = CMSG_LEN(dlen);
	memcpy(CMSG_DATA(c), data, dlen);
	msg->msg_controllen = CMSG_SPACE(dlen);
	return 0;
}

static int do_udp_cmsg(const char *host, const char *port, const char *kind,
		       int connected)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cb;
	struct sockaddr_storage dst;
	char byte = 'x';
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	socklen_t len;
	int fd;

	make_addr(host, port, &dst, &len);
	if (add_cmsg(&msg, cb.buf, sizeof(cb.buf), dst.ss_family, kind))
		return usage("control message: tos, pktinfo or none");
	fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	if (connected && connect(fd, (struct sockaddr *)&dst, len))
		return result(errno);
	if (!connected) {
		msg.msg_name = &dst;
		msg.msg_namelen = len;
	}
	if (sendmsg(fd, &msg, 0) != 1)
		return result(errno);
	return result(await_reply(fd));
}

static int do_sendmmsg(const char *host, const char *port, int n)
{
	static struct mmsghdr mm[1024]; /* UIO_MAXIOV */
	struct sockaddr_storage dst;
	char byte = 'x';
	struct iovec iov = {&byte, 1};
	socklen_t len;
	int fd, sent, rcvbuf;

	make_addr(host, port, &dst, &len);
	if (n < 1 || n > 1024)
		return usage("sendmmsg: 1 <= N <= 1024");
	for (int i = 0; i < n; i++) {
		mm[i].msg_hdr.msg_name = &dst;
		mm[i].msg_hdr.msg_namelen = len;
		mm[i].msg_hdr.msg_iov = &iov;
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	/* Room for the N replies queued before the first recv (up to rmem_max). */
	rcvbuf = n * 2048;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sent = sendmmsg(fd, mm, n, 0);
	if (sent < 0)
		return result(errno);
	if (sent <
	    n) /* the first message not sent fails again, with its errno */
		return result(sendmmsg(fd, mm + sent, n - sent, 0) < 0 ? errno
								       : EIO);
	for (int i = 0; i < n; i++) {
		int err = await_reply(fd);

		if (err)
			return result(err);
	}
	return result(0);
}

/* io_uring, by the raw system calls */

struct uring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	uint64_t seq; /* user_data of the last operation */
};

/* Sets up a ring of 2 entries and maps it; 0 or an errno. */
static int uring_setup(struct uring *u)
{
	struct io_uring_params p = {0};
	size_t sqlen, cqlen;
	uint8_t *sq, *cq;

	u->fd = syscall(__NR_io_uring_setup, 2, &p);
	if (u->fd < 0)
		return errno;
	sqlen = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cqlen = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sqlen = cqlen = sqlen > cqlen ? sqlen : cqlen;
	sq = mmap(NULL, sqlen, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return errno;
	cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP))
		cq = mmap(NULL, cqlen, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_CQ_RING);
	u->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		       IORING_OFF_SQES);
	if (cq == MAP_FAILED || u->sqes == MAP_FAILED)
		return errno;
	u->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	u->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	u->sq_array = (unsigned *)(sq + p.sq_off.array);
	u->cq_head = (unsigned *)(cq + p.cq_off.head);
	u->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	u->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/*
 * Runs one operation with a linked timeout of timeout_ms and waits for its
 * completion: its result (>= 0), or minus an errno, ETIMEDOUT when the
 * timeout cancelled it. The timeout's own completion is skipped.
 */
static int uring_run(struct uring *u, int opcode, int fd, const void *addr,
		     unsigned len, uint64_t off)
{
	struct __kernel_timespec ts = {timeout_ms / 1000,
				       timeout_ms % 1000 * 1000000L};
	unsigned tail = *u->sq_tail, mask = *u->sq_mask, head;
	uint64_t id = u->seq += 2;
	int submit = 2;

	memset(u->sqes, 0, 2 * sizeof(*u->sqes));
	u->sqes[0].opcode = opcode;
	u->sqes[0].flags = IOSQE_IO_LINK;
	u->sqes[0].fd = fd;
	u->sqes[0].addr = (uintptr_t)addr;
	u->sqes[0].len = len;
	u->sqes[0].off = off; /* IORING_OP_CONNECT: the address length */
	u->sqes[0].user_data = id;
	u->sqes[1].opcode = IORING_OP_LINK_TIMEOUT;
	u->sqes[1].fd = -1;
	u->sqes[1].addr = (uintptr_t)&ts;
	u->sqes[1].len = 1;
	u->sqes[1].user_data = id + 1;
	u->sq_array[tail & mask] = 0;
	u->sq_array[(tail + 1) & mask] = 1;
	__atomic_store_n(u->sq_tail, tail + 2, __ATOMIC_RELEASE);
	for (;;) {
		if (syscall(__NR_io_uring_enter, u->fd, submit, 1,
			    IORING_ENTER_GETEVENTS, NULL, 0) < 0 &&
		    errno != EINTR)
			return -errno;
		submit = 0;
		head = *u->cq_head;
		while (head != __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE)) {
			struct io_uring_cqe *cqe =
				&u->cqes[head++ & *u->cq_mask];

			__atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
			if (cqe->user_data == id)
				return cqe->res == -ECANCELED ? -ETIMEDOUT
							      : cqe->res;
		}
	}
}

static int do_uring(const char *host, const char *port, const char *proto)
{
	struct sockaddr_storage dst;
	int udp = !strcmp(proto, "udp"), fd, res;
	char byte = 'x';
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {
		.msg_name = &dst, .msg_iov = &iov, .msg_iovlen = 1};
	struct uring u = {0};
	socklen_t len;

	make_addr(host, port, &dst, &len);
	msg.msg_namelen = len;
	res = uring_setup(&u);
	if (res)
		return result(res);
	fd = socket(dst.ss_family,
		    (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	if (udp) {
		res = uring_run(&u, IORING_OP_SENDMSG, fd, &msg, 1, 0);
	} else {
		res = uring_run(&u, IORING_OP_CONNECT, fd, &dst, 0, len);
		if (res >= 0)
			res = uring_run(&u, IORING_OP_SEND, fd, &byte, 1, 0);
	}
	if (res >= 0)
		res = uring_run(&u, IORING_OP_RECV, fd, &byte, 1, 0);
	return result(res < 0 ? -res : res == 1 ? 0 : EIO);
}

/* Bound sockets */

/* Socket of dst's family bound to bindaddr (IPv4 mapped for IPv6). */
static int bound_socket(const char *bindaddr, struct sockaddr_storage *dst,
			int type)
{
	struct sockaddr_storage b;
	socklen_t blen;
	int fd;

	make_addr(bindaddr, "0", &b, &blen);
	if (b.ss_family == AF_INET && dst->ss_family == AF_INET6)
		map_v4(&b, &blen);
	fd = socket(dst->ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&b, blen)) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static int do_connect_bound(const char *proto, const char *bindaddr,
			    const char *host, const char *port)
{
	struct sockaddr_storage dst;
	char byte = 'x';
	socklen_t len;
	int fd, err;

	make_addr(host, port, &dst, &len);
	fd = bound_socket(bindaddr, &dst, sock_type(proto));
	if (fd < 0)
		return result(errno);
	err = connect_to(fd, &dst, len);
	if (err)
		return result(err);
	if (send(fd, &byte, 1, 0) != 1)
		return result(errno);
	return result(await_reply(fd));
}

static int do_sendto_bound(const char *bindaddr, const char *host,
			   const char *port)
{
	struct sockaddr_storage dst;
	char byte = 'x';
	socklen_t len;
	int fd;

	make_addr(host, port, &dst, &len);
	fd = bound_socket(bindaddr, &dst, SOCK_DGRAM);
	if (fd < 0)
		return result(errno);
	if (sendto(fd, &byte, 1, 0, (struct sockaddr *)&dst, len) != 1)
		return result(errno);
	return result(await_reply(fd));
}

static int do_udp_recv(const char *host, const char *port, const char *marker)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	make_addr(host, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len))
		return result(errno);
	return watch(fd, marker, 0);
}

static int do_udp_send(const char *host, const char *port, const char *marker)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	make_addr(host, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	if (sendto(fd, marker, strlen(marker), 0, (struct sockaddr *)&ss, len) <
	    0)
		return result(errno);
	return result(0);
}

/* A UDP socket of dst's family bound to the wildcard address and lport; -1
 * with errno set. */
static int udp_bound_to_port(const struct sockaddr_storage *dst,
			     const char *lport)
{
	struct sockaddr_storage local;
	socklen_t llen;
	int fd, one = 1;

	make_addr(dst->ss_family == AF_INET ? "0.0.0.0" : "::", lport, &local,
		  &llen);
	fd = socket(dst->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&local, llen)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int do_udp_send_from(const char *sport, const char *host,
			    const char *port, const char *marker)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	make_addr(host, port, &ss, &len);
	fd = udp_bound_to_port(&ss, sport);
	if (fd < 0 || sendto(fd, marker, strlen(marker), 0,
			     (struct sockaddr *)&ss, len) < 0)
		return result(errno);
	return result(0);
}

static int do_udp_connected_watch(const char *lport, const char *host,
				  const char *port, const char *marker)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	make_addr(host, port, &ss, &len);
	fd = udp_bound_to_port(&ss, lport);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
		return result(errno);
	return watch(fd, marker, 0);
}

#if defined(__x86_64__)
#include <sys/mman.h>
/* A system call through the 32-bit entry: ebx, ecx, edx, esi, edi. */
static long ia32_syscall(long nr, long a, long b, long c, long d, long e)
{
	long ret;
	register long rbx asm("rbx") = a;

	asm volatile("int $0x80"
		     : "=a"(ret)
		     : "0"(nr), "r"(rbx), "c"(b), "d"(c), "S"(d), "D"(e)
		     : "memory", "r8", "r9", "r10", "r11");
	return ret;
}
#define IA32_NR_SETSOCKOPT 366
#endif

static int do_compat_hdrincl(const char *hdst, const char *sdst,
			     const char *port, const char *marker)
{
#if defined(__x86_64__)
	struct sockaddr_storage header, to;
	socklen_t hlen, tlen;
	int fd, err[2];
	int *one;
	size_t len;

	make_addr(hdst, port, &header, &hlen);
	make_addr(sdst, "0", &to, &tlen);
	if (header.ss_family != AF_INET || to.ss_family != AF_INET)
		return usage("compat-hdrincl: IPv4 addresses");
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		return result(errno);
	/* The 32-bit entry takes 32-bit pointers. */
	one = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (one == MAP_FAILED)
		return result(errno);
	*one = 1;
	err[0] = -ia32_syscall(IA32_NR_SETSOCKOPT, fd, IPPROTO_IP, IP_HDRINCL,
			       (long)one, sizeof(*one));
	{
		struct sockaddr_storage src;

		source_for(&header, &src);
		len = build_packet(pkt, AF_INET, ip_of(&src), ip_of(&header),
				   IPPROTO_UDP, atoi(port), 0, marker);
	}
	err[1] = sendto(fd, pkt, len, 0, (struct sockaddr *)&to, tlen) < 0
			 ? errno
			 : 0;
	printf("%s %s\n", err[0] ? errno_name(err[0]) : "ok",
	       err[1] ? errno_name(err[1]) : "ok");
	return err[0] || err[1];
#else
	(void)hdst, (void)sdst, (void)port, (void)marker;
	return result(ENOSYS);
#endif
}

static int do_sockopt(int family, int type, int proto, int level, int name,
		      int value)
{
	int fd = socket(family, type | SOCK_CLOEXEC, proto);

	if (fd < 0)
		return result(errno);
	return result(setsockopt(fd, level, name, &value, sizeof(value)) ? errno
									 : 0);
}

static int do_tcp_watch(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, c, one = 1, err;

	make_addr(host, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16))
		return result(errno);
	printf("ready\n");
	fflush(stdout);
	err = wait_fd(fd, POLLIN);
	if (err == ETIMEDOUT) {
		puts("unseen");
		return 1;
	}
	c = err ? -1 : accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return result(err ? err : errno);
	puts("seen");
	return 0;
}

static int do_udp_twice(const char *host, const char *port, const char *gap,
			const char *m1, const char *m2)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err[2];

	make_addr(host, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
		return result(errno);
	err[0] = send(fd, m1, strlen(m1), 0) < 0 ? errno : 0;
	pause_between_sends(gap);
	err[1] = send(fd, m2, strlen(m2), 0) < 0 ? errno : 0;
	printf("%s %s\n", err[0] ? errno_name(err[0]) : "ok",
	       err[1] ? errno_name(err[1]) : "ok");
	return err[0] || err[1];
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-') {
		if (!strcmp(argv[i], "--cgroup") && join_cgroup(argv[i + 1]))
			return 2;
		if (!strcmp(argv[i], "--netns") && join_netns(argv[i + 1]))
			return 2;
		if (!strcmp(argv[i], "--timeout-ms"))
			timeout_ms = atoi(argv[i + 1]);
		i += 2;
	}
	argc -= i;
	argv += i;
	if (argc == 4 && !strcmp(argv[0], "raw-tcp"))
		return do_raw_tcp(argv[1], argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[0], "hdrincl"))
		return do_hdrincl(argv[1], argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[0], "icmp"))
		return do_icmp(argv[1], atoi(argv[2]), argv[3]);
	if (argc == 2 && !strcmp(argv[0], "ping-dgram"))
		return do_ping(argv[1], 1);
	if (argc == 2 && !strcmp(argv[0], "ping-raw"))
		return do_ping(argv[1], 0);
	if ((argc == 5 || (argc == 6 && one_of(argv[5], "raw|dgram"))) &&
	    !strcmp(argv[0], "packet-send"))
		return do_packet_send(argv[1], argv[2], argv[3], argv[4],
				      argc == 6 ? argv[5] : "raw");
	if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "--show"))) &&
	    !strcmp(argv[0], "packet-watch"))
		return do_packet_watch(argv[1], argv[2], argc == 4);
	if (argc == 1 && !strcmp(argv[0], "xdp-socket"))
		return do_socket(AF_XDP, SOCK_RAW);
	if (argc == 3 && !strcmp(argv[0], "family"))
		return do_socket(atoi(argv[1]), atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[0], "lsrr") &&
	    one_of(argv[5], "udp|tcp|cmsg"))
		return do_lsrr(argv[1], argv[2], argv[3], argv[4], argv[5]);
	if (argc == 6 && !strcmp(argv[0], "v6-chain") &&
	    one_of(argv[5], "udp|syn"))
		return do_v6_chain(argv[1], argv[2], atoi(argv[3]), argv[4],
				   argv[5]);
	if (argc == 4 && !strcmp(argv[0], "raw-recv"))
		return do_raw_recv(argv[1], argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[0], "udp-cmsg"))
		return do_udp_cmsg(argv[1], argv[2], argv[3], 1);
	if (argc == 4 && !strcmp(argv[0], "udp-sendto-cmsg") &&
	    one_of(argv[3], "tos|pktinfo"))
		return do_udp_cmsg(argv[1], argv[2], argv[3], 0);
	if (argc == 4 && !strcmp(argv[0], "sendmmsg"))
		return do_sendmmsg(argv[1], argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[0], "uring") &&
	    one_of(argv[3], "tcp|udp"))
		return do_uring(argv[1], argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[0], "connect-bound") &&
	    one_of(argv[1], "tcp|udp"))
		return do_connect_bound(argv[1], argv[2], argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[0], "sendto-bound"))
		return do_sendto_bound(argv[1], argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[0], "rr-request"))
		return do_rr_request(argv[1], argv[2]);
	if (argc == 4 && !strcmp(argv[0], "udp-send"))
		return do_udp_send(argv[1], argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[0], "udp-send-from"))
		return do_udp_send_from(argv[1], argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[0], "udp-connected-watch"))
		return do_udp_connected_watch(argv[1], argv[2], argv[3],
					      argv[4]);
	if (argc == 5 && !strcmp(argv[0], "compat-hdrincl"))
		return do_compat_hdrincl(argv[1], argv[2], argv[3], argv[4]);
	if (argc == 7 && !strcmp(argv[0], "sockopt"))
		return do_sockopt(atoi(argv[1]), atoi(argv[2]), atoi(argv[3]),
				  atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	if (argc == 3 && !strcmp(argv[0], "tcp-watch"))
		return do_tcp_watch(argv[1], argv[2]);
	if (argc == 4 && !strcmp(argv[0], "udp-recv"))
		return do_udp_recv(argv[1], argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[0], "udp-twice"))
		return do_udp_twice(argv[1], argv[2], argv[3], argv[4],
				    argv[5]);
	return usage("usage");
}
