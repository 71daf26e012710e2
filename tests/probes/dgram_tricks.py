#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""dgram_tricks: datagram tricks against the kept-verdict caches, for
tests/kernel/bypass_cache.bats. Like tests/probes/attack.c: --cgroup DIR is
joined before anything else; each action prints one line per result, "ok"
or the errno name (EPERM, ...), watchers "ready" then "seen" or "unseen";
exit 0 only when every result is "ok" or "seen".

  dgram_tricks.py [--cgroup DIR] [--timeout-ms N] ACTION ARGS
  udplite-send ADDR PORT MARKER   UDP-Lite sendto ADDR:PORT MARKER
  udplite-recv ADDR PORT MARKER   UDP-Lite socket bound to ADDR:PORT
  sendto-as unspec|inet ADDR PORT MARKER
                                  sendto with a sockaddr_in whose family is
                                  AF_UNSPEC (IPv4 UDP reads it as an address),
                                  or a sockaddr_in given to an AF_INET6 socket
  connected-sendto CPORT ADDR PORT MARKER
                                  UDP connected to ADDR:CPORT sends MARKER,
                                  then sendto ADDR:PORT MARKER on that socket
  cork ADDR PORT GOFILE MARKER connected|disconnected|unconnected|udp_cork
                                  write "head-" with MSG_MORE (connected: after
                                  connect; disconnected: the same, then
                                  connect(AF_UNSPEC) after the wait; udp_cork:
                                  with UDP_CORK on), print "corked", wait until
                                  GOFILE exists (at most 5 s), then finish the
                                  datagram with MARKER (send without an
                                  address, or UDP_CORK off)
  send-twice ADDR PORT GOFILE MARKER1 MARKER2
                                  one unconnected UDP socket: sendto MARKER1,
                                  print its result, wait until GOFILE exists
                                  (at most 5 s), sendto MARKER2
  raw-udp SPORT ADDR PORT MARKER  raw IPPROTO_UDP socket: a UDP header from
                                  SPORT to PORT, then MARKER
  pass-out ADDR PORT MARKER       a child joins the cgroup, makes a UDP socket
                                  and passes it (SCM_RIGHTS) to this process,
                                  which stays where it was and sends with it
  move-out DIR ADDR PORT MARKER   make a UDP socket in the cgroup, move this
                                  process to DIR, then send with it
  answer-one PORT                 UDP socket on 127.0.0.1:PORT: "ready", then
                                  answer one datagram; prints the reply's
                                  result
  ask-one PORT                    send one datagram to 127.0.0.1:PORT and wait
                                  for the answer: "ok" or "unseen"
  send-then-watch LPORT ADDR PORT MARKER
                                  unconnected UDP socket on port LPORT sends
                                  one datagram to ADDR:PORT, then "ready", then
                                  "seen" once MARKER arrives from anyone
  mcast-join IFACE GROUP [HOW]    join the multicast GROUP (IPv4 or IPv6) on
                                  IFACE, which makes the kernel send a
                                  membership report (IGMP, MLD) carrying it;
                                  stays a member for the timeout. HOW:
                                  "mreq" (IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP,
                                  the default) or "group" (MCAST_JOIN_GROUP
                                  with interface 0: the route picks IFACE)
  report-watch IFACE GROUP        AF_PACKET: "ready", then "seen" once a frame
                                  on IFACE carries GROUP's address bytes in an
                                  IGMP or MLD report, or "unseen"
  local-send IFACE ADDR PORT MARKER [TTL]
                                  sendto ADDR:PORT MARKER from a UDP socket
                                  with SO_BROADCAST on, multicast leaving by
                                  IFACE with TTL (hop limit; default 1) and
                                  multicast loop on (the kernel's default);
                                  ::ffff:a.b.c.d from an IPv6 socket
  broadcast-race ADDR PORT MARKER SECONDS
                                  sendto ADDR:PORT MARKER over and over for
                                  SECONDS while a second thread turns
                                  SO_BROADCAST on and off: a check of the flag
                                  before the kernel's own races with it; prints
                                  "ok" if any sendto succeeded, else the error
                                  of the last
  local-recv IFACE ADDR PORT MARKER
                                  UDP socket bound to the wildcard address and
                                  PORT, a member of ADDR on IFACE when ADDR is
                                  a multicast group: what a broadcast or a
                                  looped-back multicast datagram reaches
"""
import ctypes
import errno
import os
import socket
import struct
import sys
import time

IPPROTO_UDPLITE = 136
UDP_CORK = 1
timeout = 0.8


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else "EIO"


def join(cgroup):
    with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
        f.write("0")


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def send(sock, data, *addr):
    try:
        if addr:
            sock.sendto(data, addr[0])
        else:
            sock.send(data)
        return "ok"
    except OSError as e:
        return err_name(e)


def watch(sock, marker):
    sock.settimeout(timeout)
    print("ready", flush=True)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if marker.encode() in data:
            return "seen"
    return "unseen"


def udplite_send(addr, port, marker):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM, IPPROTO_UDPLITE)
    return [send(s, marker.encode(), (addr, int(port)))]


def udplite_recv(addr, port, marker):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM, IPPROTO_UDPLITE)
    s.bind((addr, int(port)))
    return [watch(s, marker)]


def sendto_as(kind, addr, port, marker):
    """sendto(2) through libc, with a sockaddr_in Python would not build."""
    libc = ctypes.CDLL(None, use_errno=True)
    fam = socket.AF_INET6 if kind == "inet" else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    sa_family = socket.AF_INET if kind == "inet" else socket.AF_UNSPEC
    sin = struct.pack("=H", sa_family) + struct.pack("!H", int(port))
    sin += socket.inet_aton(addr) + bytes(8)
    if kind == "inet":
        sin += bytes(12)  # as long as a sockaddr_in6: udpv6 checks that
    data = marker.encode()
    n = libc.sendto(s.fileno(), data, len(data), 0, sin, len(sin))
    if n < 0:
        return [errno.errorcode.get(ctypes.get_errno(), "EIO")]
    return ["ok"]


def connected_sendto(cport, addr, port, marker):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    try:
        s.connect((addr, int(cport)))
    except OSError as e:
        return [err_name(e)]
    return [send(s, marker.encode()),
            send(s, marker.encode(), (addr, int(port)))]


def wait_for_go(gofile):
    """Until the test makes GOFILE: 60 s at most, for a loaded machine."""
    end = time.monotonic() + 60
    while not os.path.exists(gofile) and time.monotonic() < end:
        time.sleep(0.01)


def cork(addr, port, gofile, marker, how):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    dst = (addr, int(port))
    try:
        if how in ("connected", "disconnected"):
            s.connect(dst)
            s.send(b"head-", socket.MSG_MORE)
        elif how == "udp_cork":
            s.setsockopt(socket.IPPROTO_UDP, UDP_CORK, 1)
            s.sendto(b"head-", dst)
        else:
            s.sendto(b"head-", socket.MSG_MORE, dst)
    except OSError as e:
        return [err_name(e)]
    print("corked", flush=True)
    wait_for_go(gofile)
    if how == "disconnected":
        unspec = struct.pack("=H", socket.AF_UNSPEC) + bytes(14)
        if ctypes.CDLL(None).connect(s.fileno(), unspec, len(unspec)):
            return ["ok", "EIO"]
    try:
        if how == "udp_cork":
            s.send(marker.encode())
            s.setsockopt(socket.IPPROTO_UDP, UDP_CORK, 0)
        else:
            s.send(marker.encode())
    except OSError as e:
        return ["ok", err_name(e)]
    return ["ok", "ok"]


def send_twice(addr, port, gofile, marker1, marker2):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    dst = (addr, int(port))
    first = send(s, marker1.encode(), dst)
    print(first, flush=True)
    wait_for_go(gofile)
    return [first, send(s, marker2.encode(), dst)]


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def raw_udp(sport, addr, port, marker):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    except OSError as e:
        return [err_name(e)]
    payload = marker.encode()
    length = 8 + len(payload)
    src = socket.inet_aton("127.0.0.1")
    dst = socket.inet_aton(addr)
    header = struct.pack("!HHHH", int(sport), int(port), length, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    csum = checksum(pseudo + header + payload) or 0xFFFF
    header = struct.pack("!HHHH", int(sport), int(port), length, csum)
    return [send(s, header + payload, (addr, 0))]


def pass_out(cgroup, addr, port, marker):
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    pid = os.fork()
    if pid == 0:
        join(cgroup)
        u = socket.socket(family_of(addr), socket.SOCK_DGRAM)
        socket.send_fds(child, [b"x"], [u.fileno()])
        os._exit(0)
    _, fds, _, _ = socket.recv_fds(parent, 1, 1)
    os.waitpid(pid, 0)
    u = socket.socket(fileno=fds[0])
    return [send(u, marker.encode(), (addr, int(port)))]


def move_out(cgroup, out, addr, port, marker):
    join(cgroup)
    u = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    join(out)
    return [send(u, marker.encode(), (addr, int(port)))]


def answer_one(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(port)))
    print("ready", flush=True)
    s.settimeout(timeout)
    try:
        _, peer = s.recvfrom(64)
    except socket.timeout:
        return ["ETIMEDOUT"]
    return [send(s, b"reply", peer)]


def ask_one(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(b"ask", ("127.0.0.1", int(port)))
    try:
        s.recv(64)
        return ["ok"]
    except socket.timeout:
        return ["unseen"]


def send_then_watch(lport, addr, port, marker):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if ":" in addr else "0.0.0.0", int(lport)))
    result = send(s, b"hello", (addr, int(port)))
    if result != "ok":
        return [result]
    return [watch(s, marker)]


def mcast_join(iface, group, how="mreq"):
    index = socket.if_nametoindex(iface)
    v6 = ":" in group
    if how == "group":
        # struct group_req: interface (0: by route), padding, the group as
        # a sockaddr_storage. Its first word 0 is not "turn off".
        family = socket.AF_INET6 if v6 else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM)
        if v6:
            sa = struct.pack("@H", family) + bytes(6) + \
                socket.inet_pton(family, group) + bytes(4)
        else:
            sa = struct.pack("@H", family) + bytes(2) + \
                socket.inet_aton(group) + bytes(8)
        mreq = struct.pack("@I", 0) + bytes(4) + sa + bytes(128 - len(sa))
        level = socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP
        name = 42  # MCAST_JOIN_GROUP
    elif v6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", index)
        level, name = socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # struct ip_mreqn: group, local address (any), interface index
        mreq = socket.inet_aton(group) + bytes(4) + struct.pack("@i", index)
        level, name = socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP
    try:
        s.setsockopt(level, name, mreq)
    except OSError as e:
        return [err_name(e)]
    time.sleep(timeout)
    return ["ok"]


def is_multicast(addr):
    if ":" in addr:
        return addr.lower().startswith("ff")
    return 224 <= int(addr.split(".")[0]) <= 239


def local_send(iface, addr, port, marker, ttl="1"):
    index = socket.if_nametoindex(iface)
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    if ":" in addr:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, int(ttl))
    # An IPv6 socket's datagram to an IPv4-mapped address leaves as IPv4.
    if ":" not in addr or addr.lower().startswith("::ffff:"):
        # struct ip_mreqn: no group, any local address, the interface
        mreqn = bytes(8) + struct.pack("@i", index)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, int(ttl))
    return [send(s, marker.encode(), (addr, int(port)))]


def broadcast_race(addr, port, marker, seconds):
    import threading
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    done = threading.Event()

    def toggle():
        on = 0
        while not done.is_set():
            on ^= 1
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, on)

    t = threading.Thread(target=toggle)
    t.start()
    result, end = "EIO", time.monotonic() + float(seconds)
    while time.monotonic() < end and result != "ok":
        result = send(s, marker.encode(), (addr, int(port)))
    done.set()
    t.join()
    return [result]


def local_recv(iface, addr, port, marker):
    index = socket.if_nametoindex(iface)
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if ":" in addr else "0.0.0.0", int(port)))
    if is_multicast(addr) and ":" in addr:
        mreq = socket.inet_pton(socket.AF_INET6, addr) + struct.pack("@I", index)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    elif is_multicast(addr):
        mreq = socket.inet_aton(addr) + bytes(4) + struct.pack("@i", index)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    return [watch(s, marker)]


def report_watch(iface, group):
    family = socket.AF_INET6 if ":" in group else socket.AF_INET
    wanted = socket.inet_pton(family, group)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((iface, 0))
    s.settimeout(timeout)
    print("ready", flush=True)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            frame = s.recv(65536)
        except socket.timeout:
            break
        ip = frame[14:]
        # IGMP (protocol 2), or IPv6 (hop-by-hop, then ICMPv6 MLD): the
        # group's bytes anywhere after the IP header's addresses.
        if family == socket.AF_INET and ip[:1] and ip[0] >> 4 == 4 \
                and ip[9] == 2 and wanted in ip[(ip[0] & 15) * 4:]:
            return ["seen"]
        if family == socket.AF_INET6 and ip[:1] and ip[0] >> 4 == 6 \
                and wanted in ip[40:]:
            return ["seen"]
    return ["unseen"]


def main(argv):
    global timeout
    cgroup = None
    while argv and argv[0].startswith("--"):
        if argv[0] == "--cgroup":
            cgroup = argv[1]
        elif argv[0] == "--timeout-ms":
            timeout = int(argv[1]) / 1000
        else:
            print("unknown option " + argv[0], file=sys.stderr)
            return 2
        argv = argv[2:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    action, args = argv[0], argv[1:]
    if action == "pass-out":
        results = pass_out(cgroup, *args)
    elif action == "move-out":
        results = move_out(cgroup, *args)
    else:
        if cgroup:
            join(cgroup)
        actions = {"udplite-send": udplite_send, "udplite-recv": udplite_recv,
                   "sendto-as": sendto_as,
                   "connected-sendto": connected_sendto, "cork": cork,
                   "send-twice": send_twice,
                   "raw-udp": raw_udp, "answer-one": answer_one,
                   "ask-one": ask_one, "send-then-watch": send_then_watch,
                   "mcast-join": mcast_join,
                   "report-watch": report_watch,
                   "local-send": local_send, "local-recv": local_recv,
                   "broadcast-race": broadcast_race}
        if action not in actions:
            print("unknown action " + action, file=sys.stderr)
            return 2
        results = actions[action](*args)
    print(" ".join(results), flush=True)
    return 0 if all(r in ("ok", "seen") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
