#!/bin/bash
# Run time of each cgfence BPF program per operation, from the kernel's
# own counters (kernel.bpf_stats_enabled), under bench.sh's 100,000-address
# policy: N of connbench's operations of MODE (CGFPC_MODE, default tcp:
# socket, two setsockopt, connect, 1-byte request and reply, close; udp:
# one sendto on the same socket; udp-new, dns: see connbench.c).
#
#   [CGFPC_MODE=tcp|udp|udp-new|dns] tests/bench/prog_cost.sh [CGFENCE-BINARY [N]]     (root)
#
# Prints program, runs per operation, ns per run, ns per operation. Give
# another build's binary to compare (before_after.sh builds one: its
# worktree is build/ of REV).
set -euo pipefail
cd "$(dirname "$0")/../.."
CGFENCE=${1:-build/cgfence}
N=${2:-3000}
MODE=${CGFPC_MODE:-tcp}
case $MODE in
tcp) PROTO=tcp ;;
udp | udp-new | dns) PROTO=udp ;;
*) echo "prog_cost: unknown mode $MODE" >&2; exit 1 ;;
esac
ID="cgfpc$$"
CG="$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)/$ID"
B=/sys/fs/bpf/$ID
ADDR=127.100.0.1
PORT=$((20000 + RANDOM % 20000))
. tests/bench/policy_gen.sh

stats() {
	bpftool prog show -j | jq -c --argjson ids "$(ids)" \
		'[.[] | select(.id as $i | $ids | index($i)) | {name, t: (.run_time_ns // 0), n: (.run_cnt // 0)}]'
}
ids() { # the programs pinned for this run only
	for p in "$B"/obj/prog_*; do bpftool prog show pinned "$p" -j | jq .id; done | jq -s -c .
}
cleanup() {
	set +e
	sysctl -qw kernel.bpf_stats_enabled=0
	"$CGFENCE" detach --bpffs "$B" --cgroup "$CG" >/dev/null 2>&1
	rm -rf "$B" "/run/cgfence/$ID" "/tmp/$ID.json"
	rmdir "$CG" 2>/dev/null
	ip netns del "$ID" 2>/dev/null
}
trap cleanup EXIT

cgfence_policy 100000 "cgfpc" "$PROTO" >"/tmp/$ID.json"
mkdir -p "$CG"
ip netns add "$ID"
ip -n "$ID" link set lo up
extra=
"$CGFENCE" apply --help 2>&1 | grep -q without-bpf-lsm && extra=--without-bpf-lsm
"$CGFENCE" apply $extra --bpffs "$B" --cgroup "$CG" --policy "/tmp/$ID.json" >/dev/null 2>&1
sysctl -qw kernel.bpf_stats_enabled=1
before=$(stats)
build/tests/connbench --budget-ms 60000 "$MODE" "$ADDR" "$PORT" "$N" "x=$ID:$CG" >/dev/null
after=$(stats)
jq -rn --argjson a "$before" --argjson b "$after" --argjson n "$N" '
	["program", "runs/op", "ns/run", "ns/op"], ($b[] as $x | ($a[] | select(.name == $x.name)) as $y
	| ($x.n - $y.n) as $runs | ($x.t - $y.t) as $ns | select($runs > 0)
	| [$x.name, ($runs / $n * 100 | round / 100), ($ns / $runs | round), ($ns / $n | round)]) | @tsv'
