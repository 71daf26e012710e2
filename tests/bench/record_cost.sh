#!/bin/bash
# What recording costs (cgfence apply --record): the connection cost of a
# recorded cgroup against an unfenced one and against the same policy not
# recording, and the memory of the record table as it fills.
#
#   tests/bench/record_cost.sh [ROUNDS [ITER]]   (root; default 7 x 3000)
#
# Each target has its own network namespace and cgroup (connbench: the
# client is fenced, its server is not); connbench interleaves the three in
# 2 ms slices, so machine noise hits them alike. A connection to the same
# peer is one judged flow: the recorded cgroup counts it in its table (the
# entry exists after the first one, the steady state), nothing else. This
# VM's latencies are bimodal: per round, the ratio of the recorded p50 to
# the others', then the median over rounds and the spread.
#
# Memory: the kernel's account of one record table (bytes_memlock) with
# 0, 1,000 and 10,000 distinct peers recorded.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
CONNBENCH=$OUT/tests/connbench
PROBE=$OUT/tests/probe
ROUNDS=${1:-7}
ITER=${2:-3000}
[ "$(id -u)" -eq 0 ] || { echo "record_cost.sh needs root (BPF, cgroups, namespaces)" >&2; exit 1; }
[ -x "$CONNBENCH" ] && [ -x "$PROBE" ] || { echo "build first: make all" >&2; exit 1; }

ID=cgfrecb$$
WORK=$(mktemp -d /tmp/cgfence-recbench.XXXXXX)
BPFFS=/sys/fs/bpf/$ID
CGMOUNT=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
CG=$CGMOUNT/$ID
TARGETS="none fenced recorded"
cleanup() {
	local t
	for t in $TARGETS mem; do
		"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$CG/$t" >/dev/null 2>&1 || true
		rmdir "$CG/$t" 2>/dev/null || true
		ip netns del "$ID-$t" 2>/dev/null || true
	done
	rmdir "$CG" 2>/dev/null || true
	rm -rf "$BPFFS" "/run/cgfence/$ID" "$WORK"
}
trap cleanup EXIT

for t in $TARGETS mem; do
	mkdir -p "$CG/$t"
	ip netns add "$ID-$t"
	ip -n "$ID-$t" link set lo up
done
# The recording policy itself, not recording: what recording adds is the
# table's lookup and count.
printf '{"version": 1, "name": "norecord", "mode": "audit", "sockets": {"families": ["any"]}}\n' >"$WORK/norecord.json"
"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$CG/fenced" --policy "$WORK/norecord.json" >/dev/null
"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$CG/recorded" --record >/dev/null

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f to %.3f", lo, hi }'; }

echo "kernel $(uname -r), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "TCP connect + 1-byte request/reply + close to one loopback peer; $ROUNDS rounds of $ITER connections per target"
PORT=$((20000 + RANDOM % 20000))
: >"$WORK/rounds"
for r in $(seq "$ROUNDS"); do
	args=()
	for t in $TARGETS; do
		if [ "$t" = none ]; then args+=("$t=$ID-$t:"); else args+=("$t=$ID-$t:$CG/$t"); fi
	done
	nice "$CONNBENCH" --budget-ms 4000 tcp 127.0.0.1 "$PORT" "$ITER" "${args[@]}" >"$WORK/out"
	p50() { sed -n "s/^target=$1 .* p50_ns=\([0-9]*\) .*/\1/p" "$WORK/out"; }
	echo "$r $(p50 none) $(p50 fenced) $(p50 recorded)" >>"$WORK/rounds"
done
printf 'p50 per connection (median of rounds): none %.1f us, fenced not recording %.1f us, recorded %.1f us\n' \
	"$(awk '{ print $2 / 1000 }' "$WORK/rounds" | median)" \
	"$(awk '{ print $3 / 1000 }' "$WORK/rounds" | median)" \
	"$(awk '{ print $4 / 1000 }' "$WORK/rounds" | median)"
printf 'recorded/none same-round median %.3f (%s); recorded/fenced %.3f (%s)\n' \
	"$(awk '{ print $4 / $2 }' "$WORK/rounds" | median)" "$(awk '{ print $4 / $2 }' "$WORK/rounds" | spread)" \
	"$(awk '{ print $4 / $3 }' "$WORK/rounds" | median)" "$(awk '{ print $4 / $3 }' "$WORK/rounds" | spread)"
# The record saw every connection: one entry, counted ITER x ROUNDS (and
# the warm-ups) times.
"$CGFENCE" suggest --bpffs "$BPFFS" --cgroup "$CG/recorded" 2>/dev/null |
	jq -r '.egress.rules[0].comment' | sed 's/^/record of the recorded target: /'

# Memory of one table (the default size, 16,384 entries) as it fills.
"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$CG/mem" --record >/dev/null
table="$BPFFS/records/$(stat -c %i "$CG/mem")"
memlock() { bpftool map show pinned "$table" -j | jq .bytes_memlock; }
empty=$(memlock)
"$PROBE" --cgroup "$CG/mem" connect-range tcp 127.10.0.1 1000 9 >/dev/null
k1=$(memlock)
"$PROBE" --cgroup "$CG/mem" connect-range tcp 127.11.0.1 9000 9 >/dev/null
k10=$(memlock)
awk -v e="$empty" -v a="$k1" -v b="$k10" 'BEGIN {
	printf "record table memory (kernel account): empty %.1f KiB, 1,000 peers %.1f KiB, 10,000 peers %.1f KiB (%.0f bytes per entry)\n",
		e / 1024, a / 1024, b / 1024, (b - a) / 9000 }'
