#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""pty_peer: the ways to a terminal, for tests/kernel/bypass_devices.bats.

  pty_peer.py [--cgroup DIR]

joins DIR (its cgroup.procs) first, then opens /dev/ptmx, the terminal it
made by its /dev/pts path, and the same terminal through TIOCGPTPEER (which
no device check sees), printing one line each: "ptmx R", "pts R",
"peer R", R being "ok" or the errno name. A terminal reached either way
is shown to work: what is written to it is read back from /dev/ptmx.
"""
import errno
import fcntl
import os
import struct
import sys

TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441


def result(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def echoes(master, fd):
    os.write(fd, b"x\n")
    return os.read(master, 16).startswith(b"x")


def main(argv):
    if len(argv) == 3 and argv[1] == "--cgroup":
        with open(os.path.join(argv[2], "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    elif len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        print("ptmx", result(e))
        return 1
    print("ptmx ok")
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    n = struct.unpack("i", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
    for how in ("pts", "peer"):
        try:
            if how == "pts":
                fd = os.open("/dev/pts/%d" % n,
                             os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
            else:
                fd = fcntl.ioctl(master, TIOCGPTPEER,
                                 os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
            print(how, "ok" if echoes(master, fd) else "silent")
            os.close(fd)
        except OSError as e:
            print(how, result(e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
