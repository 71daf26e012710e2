/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Names of address families and socket types, as policies (sockets
 * section), `cgfence explain` and the audit log write them: the Linux AF_
 * and SOCK_ names in lower case ("packet", "xdp", "raw"). Pure.
 */
#ifndef CGFENCE_SOCKNAMES_H
#define CGFENCE_SOCKNAMES_H

#include <stdbool.h>

/* The families every fenced process may create, whatever the policy. */
bool socknames_family_always_allowed(int family);

/* Family number of a name, or -1. */
int socknames_family_by_name(const char *name);
/* Name of a family, or NULL when it has none here. */
const char *socknames_family_name(int family);
/* "raw", "dgram", ... or NULL. */
const char *socknames_type_name(int type);
int socknames_type_by_name(const char *name);
/* "tcp", "udp", "icmp", "icmpv6" (the names policies write), or NULL. */
const char *socknames_protocol_name(unsigned int protocol);

#endif
