#!/bin/bash
# The audit path: how many denials per second reach the audit log, and
# whether a burst from one or two CPUs is written whole.
#
# A cgroup whose egress is denied sends a burst of unconnected UDP
# datagrams (each one a denial at sendmsg4) from SENDERS processes, each
# pinned to a CPU of its own, with the per-cgroup budget out of the way;
# `cgfence daemon` writes the log. Per row: the denials caused, the deny
# lines in the log, the undelivered and suppressed counts from the
# daemon's stats records ("exact": the three add up to the attempts in
# every round), and two rates over the same lines:
#   wall lines/s  from the burst's start to the log's last write
#                 (mtime), the senders' time included
#   cpu lines/s   lines per second of the daemon's own CPU time
#                 (/proc/PID/schedstat): its capacity, the steadier figure
#                 on a loaded machine
# Each row is run ROUNDS times; figures are medians over the rounds.
#
# BEFORE=REV also builds REV in a temporary worktree and runs its cgfence
# (programs, apply and daemon, a bpffs directory and cgroup of their own)
# in the same rounds, alternating which goes first; "after/before" is the
# median of the same-round ratios of cpu lines/s, with their spread
# (RATIO_TSV=FILE also appends them there: name, median, min, max, as
# bench.sh's ratio_warnings reads them).
#
#   tests/bench/audit_rate.sh [BURST...]   (root; default 10000 100000)
#   SENDERS="1 2" ROUNDS=3 BEFORE=REV
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
OUT=$(cd "${OUT:-build}" && pwd)
PROBE=$OUT/tests/probe
BURSTS=${*:-10000 100000}
SENDERS=${SENDERS:-1 2}
ROUNDS=${ROUNDS:-3}
BEFORE=${BEFORE:-}
NCPU=$(nproc)

if [ "$(id -u)" -ne 0 ]; then
	echo "audit_rate.sh needs root (cgroups, BPF)" >&2
	exit 1
fi
WORK=$(mktemp -d /tmp/cgfence-auditbench.XXXXXX)
ID=cgfence-auditbench-$$
CGROOT="$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)"
DAEMON=
BUILDS=after

cleanup() {
	set +e
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	for b in $BUILDS; do
		"$WORK/$b-cgfence" detach --bpffs "/sys/fs/bpf/$ID-$b" --cgroup "$CGROOT/$ID-$b" >/dev/null 2>&1
		rmdir "$CGROOT/$ID-$b" 2>/dev/null
		rm -rf "/sys/fs/bpf/$ID-$b" "/run/cgfence/$ID-$b"
	done
	[ -d "$WORK/tree" ] && git -C "$REPO" worktree remove --force "$WORK/tree" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$OUT/cgfence" "$WORK/after-cgfence"
if [ -n "$BEFORE" ]; then
	echo "building $BEFORE in a worktree..." >&2
	git -C "$REPO" worktree add --detach "$WORK/tree" "$BEFORE" >/dev/null 2>&1
	nice make -C "$WORK/tree" OUT="$WORK/tree/build" -j2 "$WORK/tree/build/cgfence" >/dev/null
	cp "$WORK/tree/build/cgfence" "$WORK/before-cgfence"
	BUILDS="before after"
fi

printf '{"version": 1, "name": "audit-bench", "egress": {"default": "deny"}}\n' >"$WORK/p.json"
for b in $BUILDS; do
	mkdir -p "$CGROOT/$ID-$b"
	"$WORK/$b-cgfence" apply --without-bpf-lsm --bpffs "/sys/fs/bpf/$ID-$b" --cgroup "$CGROOT/$ID-$b" \
		--policy "$WORK/p.json" --event-budget 4000000000 >/dev/null 2>&1
done

now_ns() { date +%s%N; }
cpu_ns() { read -r ns _ <"/proc/$1/schedstat" && echo "$ns"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# run_one BUILD SENDERS BURST: one burst; prints
# "logged undelivered suppressed wall_lines_per_s cpu_lines_per_s exact?"
run_one() {
	local b=$1 senders=$2 burst=$3 log="$WORK/audit.jsonl" pids=() base n last stall c0 c1 start end
	rm -f "$log"
	# No periodic stats during the burst: the last write is the last line.
	"$WORK/$b-cgfence" daemon --bpffs "/sys/fs/bpf/$ID-$b" --log "$log" --stats-interval 86400 2>/dev/null &
	DAEMON=$!
	for _ in $(seq 200); do grep -q '"event":"started"' "$log" 2>/dev/null && break; sleep 0.02; done
	sleep 0.1 # the start's stats record, if any
	base=$(wc -l <"$log")
	c0=$(cpu_ns "$DAEMON")
	start=$(now_ns)
	for i in $(seq 0 $((senders - 1))); do
		taskset -c $((i % NCPU)) "$PROBE" --cgroup "$CGROOT/$ID-$b" --repeat $((burst / senders)) \
			sendto 127.0.0.9 9 >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	burst=$((burst / senders * senders))
	# until every line is written, or the log stopped growing for 0.5 s
	last=-1 stall=0
	while [ "$stall" -lt 50 ]; do
		n=$(stat -c %s "$log")
		if [ "$n" -eq "$last" ]; then stall=$((stall + 1)); else stall=0; fi
		last=$n
		[ "$stall" -eq 3 ] && [ $(($(wc -l <"$log") - base)) -ge "$burst" ] && break
		sleep 0.01
	done
	c1=$(cpu_ns "$DAEMON")
	end=$(stat -c %.9Y "$log" | tr -d .)
	kill -TERM "$DAEMON"
	wait "$DAEMON" || true
	DAEMON=
	local logged suppressed undelivered
	logged=$(grep -c '"type":"deny"' "$log" || true)
	suppressed=$(grep '"type":"stats"' "$log" | jq -s 'map(.suppressed) | add // 0')
	undelivered=$(grep '"type":"stats"' "$log" | jq -s 'map(.undelivered) | add // 0')
	awk -v l="$logged" -v u="$undelivered" -v s="$suppressed" -v b="$burst" \
		-v w=$((end - start)) -v c=$((c1 - c0)) 'BEGIN {
		printf "%d %d %d %.0f %.0f %s\n", l, u, s, (w > 0 ? l / (w / 1e9) : 0),
			(c > 0 ? l / (c / 1e9) : 0), (l + u + s == b ? "exact" : "MISMATCH")
	}'
}

echo "audit path: senders pinned one per CPU ($NCPU CPUs here), budget out of the way, $ROUNDS rounds, medians"
hdr='%-7s %-5s %-8s %-8s %-11s %-10s %-13s %-13s %s\n'
# shellcheck disable=SC2059
printf "$hdr" build cpus attempts logged undelivered suppressed "wall lines/s" "cpu lines/s" accounting
for senders in $SENDERS; do
	for burst in $BURSTS; do
		: >"$WORK/rows"
		for r in $(seq "$ROUNDS"); do
			order=$BUILDS
			[ $((r % 2)) -eq 0 ] && order=$(echo "$BUILDS" | awk '{ for (i = NF; i >= 1; i--) printf "%s ", $i }')
			for b in $order; do
				echo "$r $b $(run_one "$b" "$senders" "$burst")" >>"$WORK/rows"
			done
		done
		for b in $BUILDS; do
			col() { awk -v b="$b" -v k="$1" '$2 == b { print $k }' "$WORK/rows" | median; }
			exact=exact
			awk -v b="$b" '$2 == b && $8 != "exact" { bad = 1 } END { exit bad }' "$WORK/rows" ||
				exact="MISMATCH in a round"
			# shellcheck disable=SC2059
			printf "$hdr" "$b" "$senders" "$((burst / senders * senders))" "$(col 3)" "$(col 4)" \
				"$(col 5)" "$(col 6)" "$(col 7)" "$exact"
		done
		if [ -n "$BEFORE" ]; then
			awk '{ r[$1, $2] = $7 } END { for (k in r) { split(k, p, SUBSEP);
				if (p[2] == "after" && r[p[1], "before"] > 0) print r[k] / r[p[1], "before"] } }' "$WORK/rows" |
				sort -g | awk -v tsv="${RATIO_TSV:-}" -v name="audit $senders CPU(s) $burst after/before cpu lines/s" \
					'{ v[NR] = $1 } END {
					m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
					printf "        after/before cpu lines/s: %.2fx (rounds %.2f-%.2f)\n", m, v[1], v[NR]
					if (tsv != "") printf "%s\t%.4f\t%.4f\t%.4f\n", name, m, v[1], v[NR] >> tsv }'
		fi
	done
done
