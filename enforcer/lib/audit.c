// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "json_line.h"
#include "cgfence_logic.h"
#include "socknames.h"

/* Seconds change a million times less often than the microseconds. */
void audit_format_time(uint64_t realtime_ns, char *buf, size_t len)
{
	static _Thread_local time_t cached_secs = -1;
	static _Thread_local char base[32];
	time_t secs = realtime_ns / 1000000000ull;
	unsigned int us = realtime_ns % 1000000000ull / 1000;
	char frac[9] = {'.', 0, 0, 0, 0, 0, 0, 'Z', '\0'};
	size_t n;

	if (secs != cached_secs) {
		struct tm tm;

		gmtime_r(&secs, &tm);
		strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_secs = secs;
	}
	for (int i = 6; i >= 1; i--, us /= 10)
		frac[i] = '0' + us % 10;
	n = strlen(base);
	if (len < n + sizeof(frac)) { /* never with a 32-byte buffer */
		snprintf(buf, len, "%s%s", base, frac);
		return;
	}
	memcpy(buf, base, n);
	memcpy(buf + n, frac, sizeof(frac));
}

const char *audit_hook_name(uint8_t hook)
{
	static const char *const names[] = {
		[CGF_HOOK_CONNECT4] = "connect4",
		[CGF_HOOK_CONNECT6] = "connect6",
		[CGF_HOOK_SENDMSG4] = "sendmsg4",
		[CGF_HOOK_SENDMSG6] = "sendmsg6",
		[CGF_HOOK_EGRESS] = "egress",
		[CGF_HOOK_INGRESS] = "ingress",
		[CGF_HOOK_DEVICE] = "device",
		[CGF_HOOK_SOCKET] = "socket",
		[CGF_HOOK_SOCKOPT] = "setsockopt",
	};

	if (hook < sizeof(names) / sizeof(names[0]) && names[hook])
		return names[hook];
	return "unknown";
}

static const char *protocol_name(uint8_t proto, char *buf, size_t len)
{
	const char *name = socknames_protocol_name(proto);

	if (name)
		return name;
	snprintf(buf, len, "%u", proto);
	return buf;
}

static void begin_record(struct json_line *j, char *buf, size_t cap,
			 uint64_t realtime_ns, const char *type)
{
	char when[48];

	audit_format_time(realtime_ns, when, sizeof(when));
	json_line_begin(j, buf, cap);
	json_line_str(j, "time", when);
	json_line_str(j, "type", type);
}

/* The records' one shape for a pod, as k8s_identity_add_json writes it. */
static void add_kubernetes(struct json_line *j, const struct k8s_identity *id)
{
	if (!id || !id->pod[0])
		return;
	json_line_object_begin(j, "kubernetes");
	json_line_str(j, "namespace", id->namespace_);
	json_line_str(j, "pod", id->pod);
	if (id->container[0])
		json_line_str(j, "container", id->container);
	else
		json_line_null(j, "container");
	if (id->sandbox)
		json_line_true(j, "sandbox");
	json_line_object_end(j);
}

static void add_enrichment(struct json_line *j, uint64_t cgroup_id,
			   const struct audit_enrichment *en)
{
	json_line_u64(j, "cgroup_id", cgroup_id);
	if (!en)
		return;
	if (en->container_id && en->container_id[0])
		json_line_safe_str(j, "container_id", en->container_id, 256);
	if (en->cgroup_path && en->cgroup_path[0])
		json_line_safe_str(j, "cgroup", en->cgroup_path, 256);
	add_kubernetes(j, en->kubernetes);
	if (en->policy_name && en->policy_name[0])
		json_line_safe_str(j, "policy", en->policy_name, 256);
}

/* Decimal digits of v at p (no NUL); their count. */
static size_t decimal(char *p, uint32_t v)
{
	char digits[10];
	size_t n = 0;

	do {
		digits[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = digits[n - 1 - i];
	return n;
}

/* "section" + suffix (+ a rule's index and "]"), without stdio. */
static void rule_text_of(const char *section, const char *suffix,
			 const uint32_t *index, char *buf, size_t len)
{
	size_t n = strlen(section), m = strlen(suffix);

	if (!len)
		return;
	if (n + m + 12 > len) { /* never with the callers' 64 bytes */
		buf[0] = '\0';
		return;
	}
	memcpy(buf, section, n);
	memcpy(buf + n, suffix, m);
	n += m;
	if (index) {
		n += decimal(buf + n, *index);
		buf[n++] = ']';
	}
	buf[n] = '\0';
}

static void rule_text(const char *section, uint32_t rule, char *buf, size_t len)
{
	switch (rule) {
	case CGF_RULE_DEFAULT:
		rule_text_of(section, ".default", NULL, buf, len);
		break;
	case CGF_RULE_SOCKETS_RAW:
		rule_text_of("sockets", ".raw", NULL, buf, len);
		break;
	case CGF_RULE_SOCKETS_FAMILY:
		rule_text_of("sockets", ".families", NULL, buf, len);
		break;
	case CGF_RULE_SOCKETS_OPTION:
		rule_text_of("sockets", ".options", NULL, buf, len);
		break;
	/* Refused for its headers: no rule of the section decided. */
	case CGF_RULE_SOURCE_ROUTE:
		rule_text_of(section, ".source-route", NULL, buf, len);
		break;
	case CGF_RULE_BAD_HEADERS:
		rule_text_of(section, ".unparsed-headers", NULL, buf, len);
		break;
	default:
		rule_text_of(section, ".rules[", &rule, buf, len);
	}
}

void audit_rule_text(const struct cgf_event *ev, char *buf, size_t len)
{
	const char *section =
		ev->direction == CGF_DIR_EGRESS ? "egress" : "ingress";

	if (ev->hook == CGF_HOOK_DEVICE)
		section = "devices";
	else if (ev->hook == CGF_HOOK_SOCKET || ev->hook == CGF_HOOK_SOCKOPT)
		section = "sockets";
	rule_text(section, ev->rule, buf, len);
}

/* The rule that decided, as the policy's JSON path names it. */
static void add_rule(struct json_line *j, const struct cgf_event *ev)
{
	char buf[64];

	audit_rule_text(ev, buf, sizeof(buf));
	json_line_str(j, "rule", buf);
}

static const char *sockopt_name(uint32_t level, uint32_t optname)
{
	static const struct {
		uint32_t level, name;
		const char *text;
	} names[] = {
		{CGF_SOL_IP, CGF_IP_HDRINCL, "IP_HDRINCL"},
		{CGF_SOL_IP, CGF_IP_RECVERR, "IP_RECVERR"},
		{CGF_SOL_IP, CGF_IP_RECVERR_RFC4884, "IP_RECVERR_RFC4884"},
		{CGF_SOL_IP, CGF_IP_TRANSPARENT, "IP_TRANSPARENT"},
		{CGF_SOL_IP, CGF_IP_FREEBIND, "IP_FREEBIND"},
		{CGF_SOL_IPV6, CGF_IPV6_HDRINCL, "IPV6_HDRINCL"},
		{CGF_SOL_IPV6, CGF_IPV6_RECVERR, "IPV6_RECVERR"},
		{CGF_SOL_IPV6, CGF_IPV6_RECVERR_RFC4884,
		 "IPV6_RECVERR_RFC4884"},
		{CGF_SOL_IPV6, CGF_IPV6_TRANSPARENT, "IPV6_TRANSPARENT"},
		{CGF_SOL_IPV6, CGF_IPV6_FREEBIND, "IPV6_FREEBIND"},
		{CGF_SOL_IP, CGF_IP_ADD_MEMBERSHIP, "IP_ADD_MEMBERSHIP"},
		{CGF_SOL_IP, CGF_IP_UNBLOCK_SOURCE, "IP_UNBLOCK_SOURCE"},
		{CGF_SOL_IP, CGF_IP_BLOCK_SOURCE, "IP_BLOCK_SOURCE"},
		{CGF_SOL_IP, CGF_IP_ADD_SOURCE_MEMBERSHIP,
		 "IP_ADD_SOURCE_MEMBERSHIP"},
		{CGF_SOL_IP, CGF_IP_MSFILTER, "IP_MSFILTER"},
		{CGF_SOL_IPV6, CGF_IPV6_ADD_MEMBERSHIP, "IPV6_ADD_MEMBERSHIP"},
	};
	static const struct {
		uint32_t name;
		const char *text;
	} mcast_names[] = {
		{CGF_MCAST_JOIN_GROUP, "MCAST_JOIN_GROUP"},
		{CGF_MCAST_BLOCK_SOURCE, "MCAST_BLOCK_SOURCE"},
		{CGF_MCAST_UNBLOCK_SOURCE, "MCAST_UNBLOCK_SOURCE"},
		{CGF_MCAST_JOIN_SOURCE_GROUP, "MCAST_JOIN_SOURCE_GROUP"},
		{CGF_MCAST_MSFILTER, "MCAST_MSFILTER"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].level == level && names[i].name == optname)
			return names[i].text;
	/* The protocol-independent ones, at either level. */
	for (size_t i = 0; i < sizeof(mcast_names) / sizeof(mcast_names[0]);
	     i++)
		if ((level == CGF_SOL_IP || level == CGF_SOL_IPV6) &&
		    mcast_names[i].name == optname)
			return mcast_names[i].text;
	return "?";
}

/*
 * A refused socket(2) or setsockopt(2): "family", "socket_type",
 * "protocol", "socket": "packet raw" (and "option"). The record's own
 * "type" is "deny": a second "type" key would hide it from jq, which
 * keeps the last.
 */
static void add_socket(struct json_line *j, const struct cgf_event *ev)
{
	const char *family = socknames_family_name(ev->sock_family);
	const char *type = socknames_type_name(ev->sock_type);
	char fbuf[16], tbuf[16], proto[8], both[48];

	if (!family) {
		snprintf(fbuf, sizeof(fbuf), "%u", ev->sock_family);
		family = fbuf;
	}
	if (!type) {
		snprintf(tbuf, sizeof(tbuf), "%u", ev->sock_type);
		type = tbuf;
	}
	json_line_str(j, "family", family);
	json_line_str(j, "socket_type", type);
	if (ev->sock_family == AF_INET || ev->sock_family == AF_INET6)
		json_line_str(
			j, "protocol",
			protocol_name(ev->protocol, proto, sizeof(proto)));
	else
		json_line_u64(j, "protocol", ev->protocol);
	snprintf(both, sizeof(both), "%s %s", family, type);
	json_line_str(j, "socket", both);
	if (ev->hook == CGF_HOOK_SOCKOPT)
		json_line_str(j, "option",
			      sockopt_name(ev->dev_major, ev->port));
	else if (ev->rule == CGF_RULE_SOCKETS_OPTION)
		/* socket(2) refused for what its namespace lets every IPv6
		 * socket do (bpf/cgf_source.h) */
		json_line_str(j, "option", "net.ipv6.ip_nonlocal_bind");
	add_rule(j, ev);
}

static void add_flow(struct json_line *j, const struct cgf_event *ev)
{
	char addr[INET6_ADDRSTRLEN], proto[8];
	int egress = ev->direction == CGF_DIR_EGRESS;

	if (ev->family == 4) { /* the common case, without stdio */
		size_t n = 0;

		for (int i = 0; i < 4; i++) {
			n += decimal(addr + n, ev->addr[i]);
			addr[n++] = i < 3 ? '.' : '\0';
		}
	} else if (!inet_ntop(AF_INET6, ev->addr, addr, sizeof(addr))) {
		strcpy(addr, "?");
	}
	json_line_str(j, "direction", egress ? "egress" : "ingress");
	json_line_str(j, "protocol",
		      protocol_name(ev->protocol, proto, sizeof(proto)));
	json_line_str(j, egress ? "dst" : "src", addr);
	if (ev->protocol == IPPROTO_TCP || ev->protocol == IPPROTO_UDP)
		json_line_u64(j, "dport", ev->port);
	add_rule(j, ev);
}

static void add_device(struct json_line *j, const struct cgf_event *ev)
{
	char dev[48], access[4];
	int n = 0;

	snprintf(dev, sizeof(dev), "%c %u:%u",
		 ev->dev_type == CGF_DEV_BLOCK ? 'b' : 'c', ev->dev_major,
		 ev->dev_minor);
	if (ev->dev_access & CGF_ACC_READ)
		access[n++] = 'r';
	if (ev->dev_access & CGF_ACC_WRITE)
		access[n++] = 'w';
	if (ev->dev_access & CGF_ACC_MKNOD)
		access[n++] = 'm';
	access[n] = '\0';
	json_line_str(j, "device", dev);
	json_line_str(j, "access", access);
	add_rule(j, ev);
}

long audit_write_event(char *buf, size_t cap, const struct cgf_event *ev,
		       uint64_t realtime_ns, const struct audit_enrichment *en)
{
	static const char digits[] = "0123456789abcdef";
	struct json_line j;
	char id[9];

	begin_record(&j, buf, cap, realtime_ns,
		     ev->action == CGF_ALLOW ? "audit" : "deny");
	json_line_str(&j, "hook", audit_hook_name(ev->hook));
	add_enrichment(&j, ev->cgroup_id, en);
	for (int i = 0; i < 8; i++)
		id[i] = digits[(ev->policy_id >> (28 - 4 * i)) & 15];
	id[8] = '\0';
	json_line_str(&j, "policy_id", id);
	json_line_u64(&j, "generation", ev->generation);
	if (ev->hook == CGF_HOOK_DEVICE)
		add_device(&j, ev);
	else if (ev->hook == CGF_HOOK_SOCKET || ev->hook == CGF_HOOK_SOCKOPT)
		add_socket(&j, ev);
	else
		add_flow(&j, ev);
	json_line_str(&j, "verdict", "deny");
	if (ev->pid) {
		json_line_u64(&j, "pid", ev->pid);
		json_line_safe_str(&j, "comm", ev->comm, sizeof(ev->comm));
	}
	return json_line_end(&j);
}

long audit_write_stats(char *buf, size_t cap, uint64_t realtime_ns,
		       uint64_t cgroup_id, const struct audit_enrichment *en,
		       const struct cgf_cgroup_stats *total,
		       const struct cgf_cgroup_stats *since_last)
{
	struct json_line j;

	begin_record(&j, buf, cap, realtime_ns, "stats");
	add_enrichment(&j, cgroup_id, en);
	json_line_u64(&j, "emitted", since_last->emitted);
	json_line_u64(&j, "suppressed", since_last->suppressed);
	json_line_u64(&j, "undelivered", since_last->undelivered);
	json_line_u64(&j, "emitted_total", total->emitted);
	json_line_u64(&j, "suppressed_total", total->suppressed);
	json_line_u64(&j, "undelivered_total", total->undelivered);
	return json_line_end(&j);
}

long audit_write_counter(char *buf, size_t cap, uint64_t realtime_ns,
			 const char *type, const char *key, uint64_t value,
			 const char *note)
{
	struct json_line j;

	begin_record(&j, buf, cap, realtime_ns, type);
	json_line_u64(&j, key, value);
	if (note)
		json_line_str(&j, "note", note);
	return json_line_end(&j);
}

long audit_write_daemon(char *buf, size_t cap, uint64_t realtime_ns,
			const char *what, const char *log_path)
{
	struct json_line j;

	begin_record(&j, buf, cap, realtime_ns, "daemon");
	json_line_str(&j, "event", what);
	json_line_safe_str(&j, "log", log_path, 256);
	return json_line_end(&j);
}

/* The malloc'ed forms: a line's usual worst case, more for long notes. */
#define FORMAT(call)                                                           \
	do {                                                                   \
		for (size_t cap = AUDIT_LINE_MAX; cap <= 64 * AUDIT_LINE_MAX;  \
		     cap *= 4) {                                               \
			char *line = malloc(cap), *fit;                        \
			long n = line ? call : -ENOMEM;                        \
                                                                               \
			if (n >= 0) {                                          \
				fit = realloc(line, n + 1);                    \
				return fit ? fit : line;                       \
			}                                                      \
			free(line);                                            \
			if (n != -ENOSPC)                                      \
				break;                                         \
		}                                                              \
		return NULL;                                                   \
	} while (0)

char *audit_format_event(const struct cgf_event *ev, uint64_t realtime_ns,
			 const struct audit_enrichment *en)
{
	FORMAT(audit_write_event(line, cap, ev, realtime_ns, en));
}

char *audit_format_stats(uint64_t realtime_ns, uint64_t cgroup_id,
			 const struct audit_enrichment *en,
			 const struct cgf_cgroup_stats *total,
			 const struct cgf_cgroup_stats *since_last)
{
	FORMAT(audit_write_stats(line, cap, realtime_ns, cgroup_id, en, total,
				 since_last));
}

char *audit_format_counter(uint64_t realtime_ns, const char *type,
			   const char *key, uint64_t value, const char *note)
{
	FORMAT(audit_write_counter(line, cap, realtime_ns, type, key, value,
				   note));
}

char *audit_format_daemon(uint64_t realtime_ns, const char *what,
			  const char *log_path)
{
	FORMAT(audit_write_daemon(line, cap, realtime_ns, what, log_path));
}
