// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stddef.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "socknames.h"

/* Linux's numbers (include/linux/socket.h), which the LSM program sees. */
static const char *const family_names[] = {
	[1] = "unix",	    [2] = "inet",      [3] = "ax25",
	[4] = "ipx",	    [5] = "appletalk", [6] = "netrom",
	[7] = "bridge",	    [8] = "atmpvc",    [9] = "x25",
	[10] = "inet6",	    [11] = "rose",     [12] = "decnet",
	[13] = "netbeui",   [14] = "security", [15] = "key",
	[16] = "netlink",   [17] = "packet",   [18] = "ash",
	[19] = "econet",    [20] = "atmsvc",   [21] = "rds",
	[22] = "sna",	    [23] = "irda",     [24] = "pppox",
	[25] = "wanpipe",   [26] = "llc",      [27] = "ib",
	[28] = "mpls",	    [29] = "can",      [30] = "tipc",
	[31] = "bluetooth", [32] = "iucv",     [33] = "rxrpc",
	[34] = "isdn",	    [35] = "phonet",   [36] = "ieee802154",
	[37] = "caif",	    [38] = "alg",      [39] = "nfc",
	[40] = "vsock",	    [41] = "kcm",      [42] = "qipcrtr",
	[43] = "smc",	    [44] = "xdp",      [45] = "mctp",
};

#define NFAMILIES ((int)(sizeof(family_names) / sizeof(family_names[0])))

bool socknames_family_always_allowed(int family)
{
	return family == AF_UNIX || family == AF_INET || family == AF_INET6 ||
	       family == AF_NETLINK;
}

int socknames_family_by_name(const char *name)
{
	for (int f = 0; f < NFAMILIES; f++)
		if (family_names[f] && !strcmp(family_names[f], name))
			return f;
	return -1;
}

const char *socknames_family_name(int family)
{
	return family >= 0 && family < NFAMILIES ? family_names[family] : NULL;
}

static const char *const type_names[] = {
	[SOCK_STREAM] = "stream",
	[SOCK_DGRAM] = "dgram",
	[SOCK_RAW] = "raw",
	[SOCK_RDM] = "rdm",
	[SOCK_SEQPACKET] = "seqpacket",
	[SOCK_DCCP] = "dccp",
	[SOCK_PACKET] = "packet",
};

const char *socknames_type_name(int type)
{
	if (type < 0 ||
	    type >= (int)(sizeof(type_names) / sizeof(type_names[0])))
		return NULL;
	return type_names[type];
}

int socknames_type_by_name(const char *name)
{
	for (int t = 0; t < (int)(sizeof(type_names) / sizeof(type_names[0]));
	     t++)
		if (type_names[t] && !strcmp(type_names[t], name))
			return t;
	return -1;
}

const char *socknames_protocol_name(unsigned int protocol)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	default:
		return NULL;
	}
}
