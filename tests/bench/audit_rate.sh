#!/bin/bash
# The audit path: how many denials per second reach the audit log with
# nothing lost, and where loss starts and how it is reported.
#
# A cgroup whose egress is denied sends bursts of unconnected UDP datagrams
# (each one a denial at sendmsg4). With the budget raised out of the way,
# each burst size is run with the daemon writing the log; the table gives
# per burst: attempts, logged deny lines, suppressed + undelivered from the
# daemon's stats records, and the rate. The accounting must add up to the
# attempts in every row ("exact").
#
#   tests/bench/audit_rate.sh [BURST...]      (root; default 1000 10000 100000 1000000)
#   SENDERS=N: the burst is split over N sending processes (default 2, one
#   per CPU here), to push the daemon and its perf buffer past their limit.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
PROBE=$OUT/tests/probe
BURSTS=${*:-1000 10000 100000 1000000}
SENDERS=${SENDERS:-2}

if [ "$(id -u)" -ne 0 ]; then
	echo "audit_rate.sh needs root (cgroups, BPF)" >&2
	exit 1
fi
WORK=$(mktemp -d /tmp/cgfence-auditbench.XXXXXX)
BPFFS=/sys/fs/bpf/cgfence-auditbench-$$
CG="$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)/cgfence-auditbench-$$"
DAEMON=

cleanup() {
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$CG" >/dev/null 2>&1 || true
	rmdir "$CG" 2>/dev/null || true
	rm -rf "$BPFFS" "$WORK" "/run/cgfence/$(basename "$BPFFS")"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

printf '{"version": 1, "name": "audit-bench", "egress": {"default": "deny"}}\n' >"$WORK/p.json"
mkdir -p "$CG"
"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CG" --policy "$WORK/p.json" \
	--event-budget 4000000000 >/dev/null

now_ns() { date +%s%N; }

echo "audit path: $SENDERS sending processes, budget out of the way, daemon perf buffer 64 pages per CPU"
printf '%-9s %-9s %-9s %-11s %-12s %-10s %s\n' attempts logged suppressed undelivered seconds denials/s accounting
for burst in $BURSTS; do
	log="$WORK/audit-$burst.jsonl"
	"$CGFENCE" daemon --bpffs "$BPFFS" --log "$log" --stats-interval 1 2>/dev/null &
	DAEMON=$!
	for _ in $(seq 100); do grep -q '"event":"started"' "$log" 2>/dev/null && break; sleep 0.05; done
	start=$(now_ns)
	pids=()
	for _ in $(seq "$SENDERS"); do
		"$PROBE" --cgroup "$CG" --repeat $((burst / SENDERS)) sendto 127.0.0.9 9 >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	burst=$((burst / SENDERS * SENDERS))
	# until the daemon has written every delivered event
	# until the daemon has written every delivered event (or stopped moving)
	last=-1
	for _ in $(seq 600); do
		sleep 0.05
		n=$(grep -c '"type":"deny"' "$log" || true)
		[ "$n" -ge "$burst" ] || [ "$n" -eq "$last" ] && break
		last=$n
	done
	end=$(now_ns)
	kill -TERM "$DAEMON"
	wait "$DAEMON" || true
	DAEMON=
	logged=$(grep -c '"type":"deny"' "$log" || true)
	suppressed=$(jq -s 'map(select(.type == "stats") | .suppressed) | add // 0' "$log")
	undelivered=$(jq -s 'map(select(.type == "stats") | .undelivered) | add // 0' "$log")
	secs=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", (e - s) / 1e9 }')
	rate=$(awk -v n="$logged" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
	sum=$((logged + suppressed + undelivered))
	verdict=exact
	[ "$sum" -eq "$burst" ] || verdict="MISMATCH ($sum)"
	printf '%-9s %-9s %-9s %-11s %-12s %-10s %s\n' "$burst" "$logged" "$suppressed" \
		"$undelivered" "$secs" "$rate" "$verdict"
done
