#!/bin/bash
# What --metrics costs the daemon: its CPU time (every thread's, from
# /proc/PID/task/*/schedstat) per 10,000 denials, without metrics and with
# --metrics and --metrics-textfile while a client scrapes /metrics every
# second. Rounds alternate the two, side by side; the table gives each
# round, then the median of the same-round ratios and their range.
#
# A cgroup whose egress is denied sends a burst of unconnected UDP
# datagrams (each a denial at sendmsg4, as tests/bench/audit_rate.sh), with
# the event budget out of the way; CPU is counted from the daemon's start
# (after its set-up) to the moment it has logged the burst.
#
#   tests/bench/metrics_cost.sh [DENIALS [ROUNDS]]   (root; default 50000 5)
#   WITH_OPTS="--metrics 127.0.0.1:PORT": other options for the "with"
#   daemon (the scraper still asks 127.0.0.1 at a random port)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
PROBE=$OUT/tests/probe
DENIALS=${1:-50000}
ROUNDS=${2:-5}

if [ "$(id -u)" -ne 0 ]; then
	echo "metrics_cost.sh needs root (cgroups, BPF)" >&2
	exit 1
fi
WORK=$(mktemp -d /tmp/cgfence-metricsbench.XXXXXX)
BPFFS=/sys/fs/bpf/cgfence-metricsbench-$$
CG="$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)/cgfence-metricsbench-$$"
DAEMON=
SCRAPER=

cleanup() {
	[ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null && wait "$SCRAPER" 2>/dev/null
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$CG" >/dev/null 2>&1 || true
	rmdir "$CG" 2>/dev/null || true
	rm -rf "$BPFFS" "$WORK" "/run/cgfence/$(basename "$BPFFS")"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

printf '{"version": 1, "name": "metrics-bench", "egress": {"default": "deny"}}\n' >"$WORK/p.json"
mkdir -p "$CG"
"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CG" --policy "$WORK/p.json" \
	--event-budget 4000000000 >/dev/null

# CPU nanoseconds of every thread of a process.
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'
}

# run_once with|without: prints "CPU_NS LOGGED UNDELIVERED"
run_once() {
	local mode=$1 log="$WORK/audit-$1.jsonl" port opts=() before after n last
	rm -f "$log" "$WORK/m.prom"
	port=$((20000 + RANDOM % 30000))
	if [ "$mode" = with ]; then
		opts=(${WITH_OPTS:---metrics 127.0.0.1:$port --metrics-textfile $WORK/m.prom --hookd-stats $WORK/none})
	fi
	"$CGFENCE" daemon --bpffs "$BPFFS" --log "$log" --stats-interval 1 "${opts[@]}" 2>"$WORK/err" &
	DAEMON=$!
	for _ in $(seq 100); do grep -q '"event":"started"' "$log" 2>/dev/null && break; sleep 0.05; done
	if [ "$mode" = with ]; then
		(while :; do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" || true; sleep 1; done) &
		SCRAPER=$!
	fi
	sleep 0.2
	before=$(cpu_ns "$DAEMON")
	"$PROBE" --cgroup "$CG" --repeat "$DENIALS" sendto 127.0.0.9 9 >/dev/null || true
	last=-1
	for _ in $(seq 1200); do
		sleep 0.05
		n=$(grep -c '"type":"deny"' "$log" || true)
		[ "$n" -ge "$DENIALS" ] || [ "$n" -eq "$last" ] && break
		last=$n
	done
	after=$(cpu_ns "$DAEMON")
	if [ -n "$SCRAPER" ]; then
		kill "$SCRAPER" 2>/dev/null || true
		wait "$SCRAPER" 2>/dev/null || true
		SCRAPER=
	fi
	kill -TERM "$DAEMON"
	wait "$DAEMON" || true
	DAEMON=
	n=$(grep -c '"type":"deny"' "$log" || true)
	echo "$((after - before)) $n $(jq -s 'map(select(.type == "stats") | .undelivered) | add // 0' "$log")"
}

echo "daemon CPU per 10,000 denials ($DENIALS per round, $ROUNDS rounds, alternating; with: --metrics, --metrics-textfile, a scrape a second)"
printf '%-6s %-14s %-14s %-8s %-10s %s\n' round "without (ms)" "with (ms)" ratio logged undelivered
ratios=()
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then
		read -r cw lw uw < <(run_once without)
		read -r cm lm um < <(run_once with)
	else
		read -r cm lm um < <(run_once with)
		read -r cw lw uw < <(run_once without)
	fi
	pw=$(awk -v c="$cw" -v n="$lw" 'BEGIN { printf "%.1f", c / 1e6 * 10000 / n }')
	pm=$(awk -v c="$cm" -v n="$lm" 'BEGIN { printf "%.1f", c / 1e6 * 10000 / n }')
	ratio=$(awk -v a="$pm" -v b="$pw" 'BEGIN { printf "%.3f", a / b }')
	ratios+=("$ratio")
	printf '%-6s %-14s %-14s %-8s %-10s %s\n' "$r" "$pw" "$pm" "$ratio" "$lw/$lm" "$uw/$um"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
	m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "with/without, same round: median %.3f (%.3f to %.3f)\n", m, v[1], v[NR] }'
