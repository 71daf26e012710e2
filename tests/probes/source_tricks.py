#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""source_tricks: datagrams sent from an address that is not the host's,
for tests/kernel/bypass_source.bats. An allowed server answers where the
datagram says it came from: a source the sender chose makes the server
write to a host the sender's policy denies. Each action prints one line per
result, "ok" or the errno name (EPERM, ...), watchers "ready" then "seen"
or "unseen"; exit 0 only when every result is "ok" or "seen".

  source_tricks.py [--timeout-ms N] ACTION ARGS
  send-from bind|pktinfo SRC SPORT DST DPORT MARKER
                                  IPv6 UDP: sendto DST:DPORT MARKER from
                                  SRC:SPORT, either bound to it (bind) or
                                  named per message in an IPV6_PKTINFO
                                  control message (pktinfo, bound to SPORT
                                  on any address)
  send-later bind|pktinfo SRC SPORT DST DPORT MARKER FILE
                                  send-from with a socket made first:
                                  "made", then the rest once FILE exists
                                  (the test changes the namespace between)
  connect-later SRC DST DPORT FILE
                                  IPv6 TCP: a socket made first ("made"),
                                  then, once FILE exists, bound to SRC and
                                  connected to DST:DPORT ("ok", the errno
                                  name, or "timeout" after the timeout)
  echo-one ADDR PORT              IPv6 UDP server on ADDR:PORT: "ready",
                                  then it answers one datagram to wherever
                                  that datagram says it came from ("seen"),
                                  or "unseen"
  recv ADDR PORT MARKER           IPv6 UDP socket on ADDR:PORT: "ready",
                                  then "seen" once MARKER arrives, else
                                  "unseen"
"""
import errno
import select
import socket
import struct
import sys
import time


def result(err):
    if err is None:
        print("ok", flush=True)
        return True
    print(errno.errorcode.get(err, str(err)), flush=True)
    return False


def wait_for_file(path):
    print("made", flush=True)
    end = time.monotonic() + 60  # a loaded machine's test may be slow
    while time.monotonic() < end:
        try:
            open(path).close()
            return
        except OSError:
            time.sleep(0.025)


def send_from(how, src, sport, dst, dport, marker, later=None):
    # A fence may refuse the socket itself (its namespace's sysctl).
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError as e:
        return result(e.errno)
    if later:
        wait_for_file(later)
    try:
        if how == "bind":
            s.bind((src, sport))
            s.sendto(marker.encode(), (dst, dport))
        else:
            s.bind(("::", sport))
            # struct in6_pktinfo: the source address, then the interface
            # (0: the route's).
            info = socket.inet_pton(socket.AF_INET6, src) + struct.pack("@I", 0)
            s.sendmsg([marker.encode()],
                      [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, info)],
                      0, (dst, dport))
    except OSError as e:
        return result(e.errno)
    finally:
        s.close()
    return result(None)


def connect_later(src, dst, dport, later, timeout_ms):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    wait_for_file(later)
    s.settimeout(timeout_ms / 1000)
    try:
        s.bind((src, 0))
        s.connect((dst, dport))
    except socket.timeout:
        print("timeout", flush=True)
        return False
    except OSError as e:
        return result(e.errno)
    finally:
        s.close()
    return result(None)


def wait_readable(s, timeout_ms):
    deadline = time.monotonic() + timeout_ms / 1000.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if select.select([s], [], [], left)[0]:
            return True


def echo_one(addr, port, timeout_ms):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    if not wait_readable(s, timeout_ms):
        print("unseen", flush=True)
        return False
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
    print("seen", flush=True)
    return True


def recv(addr, port, marker, timeout_ms):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    deadline = time.monotonic() + timeout_ms / 1000.0
    while wait_readable(s, max(0, (deadline - time.monotonic()) * 1000)):
        if marker.encode() in s.recv(2048):
            print("seen", flush=True)
            return True
    print("unseen", flush=True)
    return False


def main(argv):
    timeout_ms = 2000
    if len(argv) >= 2 and argv[0] == "--timeout-ms":
        timeout_ms = int(argv[1])
        argv = argv[2:]
    if not argv:
        sys.exit(__doc__)
    action, args = argv[0], argv[1:]
    if action == "send-from" and len(args) == 6 and args[0] in ("bind", "pktinfo"):
        return send_from(args[0], args[1], int(args[2]), args[3], int(args[4]),
                         args[5])
    if action == "send-later" and len(args) == 7 and args[0] in ("bind", "pktinfo"):
        return send_from(args[0], args[1], int(args[2]), args[3], int(args[4]),
                         args[5], args[6])
    if action == "connect-later" and len(args) == 4:
        return connect_later(args[0], args[1], int(args[2]), args[3],
                             timeout_ms)
    if action == "echo-one" and len(args) == 2:
        return echo_one(args[0], int(args[1]), timeout_ms)
    if action == "recv" and len(args) == 3:
        return recv(args[0], int(args[1]), args[2], timeout_ms)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:]) else 1)
