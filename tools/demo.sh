#!/bin/bash
# make demo: fences a scratch cgroup with policies/demo.json and shows one
# allowed connection, one denied connection and one denied device open.
# Everything it creates is removed on exit, even when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
CGFENCE=$OUT/cgfence
PROBE=$OUT/tests/probe
POLICY=policies/demo.json
BPFFS=/sys/fs/bpf/cgfence-demo

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo needs root (it attaches BPF programs to a cgroup)" >&2
	exit 1
fi
mount=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
CG="$mount/cgfence-demo-$$"
servers=()

cleanup() {
	for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$CG" >/dev/null 2>&1 || true
	rmdir "$CG" 2>/dev/null || true
	rm -rf "$BPFFS"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" || true; }

step "the policy"
cat "$POLICY"
show "$CGFENCE" check "$POLICY"

step "two servers on loopback: 127.0.0.1:18080 (allowed) and :18081 (not listed)"
for port in 18080 18081; do
	"$PROBE" serve tcp 127.0.0.1 $port 1000 >/dev/null &
	servers+=($!)
done
sleep 0.2

step "fence a scratch cgroup"
mkdir -p "$CG"
"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$CG" --policy "$POLICY"

step "from inside the cgroup"
printf 'connect 127.0.0.1:18080/tcp -> '; "$PROBE" --cgroup "$CG" request tcp 127.0.0.1 18080 || true
printf 'connect 127.0.0.1:18081/tcp -> '; "$PROBE" --cgroup "$CG" connect tcp 127.0.0.1 18081 || true
printf 'open /dev/zero              -> '; "$PROBE" --cgroup "$CG" open /dev/zero r || true
printf 'open /dev/null              -> '; "$PROBE" --cgroup "$CG" open /dev/null r || true

step "why (the same tables the kernel uses)"
"$CGFENCE" explain --policy "$POLICY" --egress 127.0.0.1:18080/tcp \
	--egress 127.0.0.1:18081/tcp --device c:1:5:r

step "status"
"$CGFENCE" status --bpffs "$BPFFS"
