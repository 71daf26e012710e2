#!/bin/sh
# Installs the Debian packages that building and testing cgfence need, and
# says what it installs. Does nothing when everything is present.
set -eu
# libmicrohttpd-dev: the header of the daemon's --metrics server;
# prometheus: promtool and the server tests/e2e/metrics.bats scrapes with
# (the tests start their own on the loopback; on a host with systemd the
# package also enables its own prometheus.service: disable it if unwanted).
PACKAGES="clang clang-format libclang-rt-dev llvm libbpf-dev bpftool libelf-dev zlib1g-dev libseccomp-dev libcap-dev
libcjson-dev nettle-dev pkg-config make gcc musl-tools bats iproute2 runc busybox-static jq podman
iptables nftables iperf3 hyperfine gnuplot-nox python3-yaml time containerd
debhelper dpkg-dev fakeroot lintian man-db python3-jsonschema libmicrohttpd-dev prometheus curl gdb strace"
missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "cgfence: missing Debian packages:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "cgfence: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
