// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * probe: one network or device operation, for tests, optionally from inside
 * a cgroup and a network namespace. Prints "ok" or the errno name
 * (EPERM, ETIMEDOUT, ...) and exits 0 only on "ok".
 *
 *   probe [--cgroup DIR] [--netns NAME] [--timeout-ms N] [--repeat N] ACTION ARGS
 *   connect tcp|udp ADDR PORT   connect (UDP: connect + send one byte)
 *   request tcp|udp ADDR PORT   send one byte, wait for the one-byte reply
 *   sendto ADDR PORT            unconnected UDP sendto
 *   sendto2 ADDR PORT MS|GOFILE two sendto on one socket, MS apart or
 *                               around a go file (pause_between_sends);
 *                               prints both results ("ok EPERM")
 *   ping ADDR                   ICMP echo over a raw socket, wait for reply
 *   serve tcp|udp ADDR PORT N   answer N requests (one byte each) then exit;
 *                               prints "ready" once listening
 *   connect-range tcp|udp FIRST COUNT PORT
 *                               connect to COUNT consecutive IPv4 addresses
 *                               from FIRST (UDP: and send one byte); prints
 *                               "reached R eperm E other O" (a refused TCP
 *                               connection reached its peer)
 *   open PATH r|w|rw            open a file or device node
 *   stall-unix PATH SECONDS     connect to a unix stream socket, send one
 *                               byte, then nothing for SECONDS (a stuck client)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "probe_common.h"

static int repeat = 1; /* sendto: datagrams to send */

static int do_connect(const char *proto, const char *host, const char *port,
		      int want_reply)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char byte = 'x';
	int fd, err;

	make_addr(host, port, &ss, &len);
	fd = socket(ss.ss_family, sock_type(proto) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	err = connect_to(fd, &ss, len);
	if (err)
		return result(err);
	if (sock_type(proto) == SOCK_DGRAM || want_reply) {
		if (send(fd, &byte, 1, 0) != 1)
			return result(errno);
	}
	if (want_reply) {
		err = wait_fd(fd, POLLIN);
		if (err)
			return result(err);
		if (recv(fd, &byte, 1, 0) != 1)
			return result(errno ? errno : EIO);
	}
	close(fd);
	return result(0);
}

static int do_sendto(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char byte = 'x';
	int fd;

	make_addr(host, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	for (int i = 0; i < repeat; i++) {
		if (sendto(fd, &byte, 1, 0, (struct sockaddr *)&ss, len) != 1 &&
		    repeat == 1)
			return result(errno);
	}
	close(fd);
	return result(0);
}

static int do_sendto_twice(const char *host, const char *port, const char *gap)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char byte = 'x';
	int fd, err[2];

	make_addr(host, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	for (int i = 0; i < 2; i++) {
		if (i)
			pause_between_sends(gap);
		err[i] = sendto(fd, &byte, 1, 0, (struct sockaddr *)&ss, len) ==
					 1
				 ? 0
				 : errno;
	}
	close(fd);
	printf("%s %s\n", err[0] ? errno_name(err[0]) : "ok",
	       err[1] ? errno_name(err[1]) : "ok");
	return err[0] || err[1];
}

static int do_ping(const char *host)
{
	struct sockaddr_storage ss;
	struct icmphdr icmp = {.type = ICMP_ECHO};
	char buf[256];
	socklen_t len;
	int fd, err;

	make_addr(host, "0", &ss, &len);
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		return result(errno);
	icmp.un.echo.sequence = htons(1);
	if (sendto(fd, &icmp, sizeof(icmp), 0, (struct sockaddr *)&ss, len) < 0)
		return result(errno);
	err = wait_fd(fd, POLLIN);
	if (err)
		return result(err);
	if (recv(fd, buf, sizeof(buf), 0) < 0)
		return result(errno);
	return result(0);
}

static int do_serve(const char *proto, const char *host, const char *port,
		    int count)
{
	struct sockaddr_storage ss, peer;
	socklen_t len, plen;
	int fd, one = 1;
	char byte;

	make_addr(host, port, &ss, &len);
	fd = socket(ss.ss_family, sock_type(proto) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return result(errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len))
		return result(errno);
	if (sock_type(proto) == SOCK_STREAM && listen(fd, 64))
		return result(errno);
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		if (sock_type(proto) == SOCK_STREAM) {
			int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

			if (c < 0)
				return result(errno);
			if (recv(c, &byte, 1, 0) == 1 &&
			    send(c, &byte, 1, 0) != 1)
				fprintf(stderr, "serve: send: %s\n",
					strerror(errno));
			close(c);
		} else {
			plen = sizeof(peer);
			if (recvfrom(fd, &byte, 1, 0, (struct sockaddr *)&peer,
				     &plen) != 1)
				return result(errno);
			if (sendto(fd, &byte, 1, 0, (struct sockaddr *)&peer,
				   plen) != 1)
				printf("reply: %s\n", errno_name(errno));
		}
	}
	return result(0);
}

static int do_connect_range(const char *proto, const char *first,
			    const char *count_text, const char *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(atoi(port))};
	int count = atoi(count_text), reached = 0, eperm = 0, other = 0;
	uint32_t base;
	char byte = 'x';

	if (inet_pton(AF_INET, first, &sin.sin_addr) != 1)
		return result(EINVAL);
	base = ntohl(sin.sin_addr.s_addr);
	for (int i = 0; i < count; i++) {
		int fd = socket(AF_INET, sock_type(proto) | SOCK_CLOEXEC, 0),
		    err;

		if (fd < 0)
			return result(errno);
		sin.sin_addr.s_addr = htonl(base + i);
		err = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) ? errno
									: 0;
		if (!err && sock_type(proto) == SOCK_DGRAM &&
		    send(fd, &byte, 1, 0) != 1)
			err = errno;
		if (!err || err == ECONNREFUSED)
			reached++;
		else if (err == EPERM)
			eperm++;
		else
			other++;
		close(fd);
	}
	printf("reached %d eperm %d other %d\n", reached, eperm, other);
	return reached != count;
}

static int do_open(const char *path, const char *mode)
{
	int flags = !strcmp(mode, "rw")	 ? O_RDWR
		    : !strcmp(mode, "w") ? O_WRONLY
					 : O_RDONLY;
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		return result(errno);
	close(fd);
	return result(0);
}

static int do_stall_unix(const char *path, int seconds)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    write(fd, "C", 1) != 1)
		return result(errno);
	printf("stalling\n");
	fflush(stdout);
	sleep(seconds);
	close(fd);
	return 0;
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
		if (!strcmp(argv[i], "--repeat"))
			repeat = atoi(argv[i + 1]);
		i += 2;
	}
	argc -= i;
	argv += i;
	if (argc == 5 && !strcmp(argv[0], "connect-range"))
		return do_connect_range(argv[1], argv[2], argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[0], "connect"))
		return do_connect(argv[1], argv[2], argv[3], 0);
	if (argc == 4 && !strcmp(argv[0], "request"))
		return do_connect(argv[1], argv[2], argv[3], 1);
	if (argc == 3 && !strcmp(argv[0], "sendto"))
		return do_sendto(argv[1], argv[2]);
	if (argc == 4 && !strcmp(argv[0], "sendto2"))
		return do_sendto_twice(argv[1], argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[0], "ping"))
		return do_ping(argv[1]);
	if (argc == 5 && !strcmp(argv[0], "serve"))
		return do_serve(argv[1], argv[2], argv[3], atoi(argv[4]));
	if (argc == 3 && !strcmp(argv[0], "open"))
		return do_open(argv[1], argv[2]);
	if (argc == 3 && !strcmp(argv[0], "stall-unix"))
		return do_stall_unix(argv[1], atoi(argv[2]));
	fprintf(stderr,
		"usage: see the comment at the top of tests/probes/probe.c\n");
	return 2;
}
