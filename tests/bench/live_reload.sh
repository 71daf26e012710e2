#!/bin/bash
# How long a policy edit takes to reach running containers (issue #12: at
# most 1 s). N busybox containers (`sleep`) run under runc on one policy,
# fenced through cgfence-hook and a `cgfence hookd` of this script's own
# (own socket, bpffs directory and lifecycle log). Then ROUNDS times: the
# policy file is replaced by rename, alternating between two versions, and
# the script waits for the N "changed" lifecycle records of that round.
# Per round it reports the latency from the rename to the last container's
# record (hookd writes it once that container's kernel state is updated;
# the record's time against the time the rename returned, one clock), what
# it took for this script to see them all, hookd's own account of the pass
# when it logs one ("hookd: DIR: N containers, M changed, ... in T ms
# (kernel K us per changed container)"), and checks in the last container that the new
# version is the one enforced. Then the median and spread over the rounds.
#
#   tests/bench/live_reload.sh [N [ROUNDS]]   (root; default 100 x 5)
#
# Exits 1 when a round misses the 1 s bar or some container was not
# changed, or the enforced version is not the new one.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
N=${1:-100}
ROUNDS=${2:-5}
BAR_MS=1000
WAIT_S=${WAIT_S:-30} # per round, before giving up on missing records

if [ "$(id -u)" -ne 0 ]; then
	echo "live_reload.sh needs root (runc, BPF)" >&2
	exit 1
fi
for tool in runc jq busybox; do
	command -v $tool >/dev/null || { echo "live_reload.sh needs $tool (make deps)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/cgfence-livebench.XXXXXX)
BPFFS=/sys/fs/bpf/cgfence-livebench-$$
RUNC="runc --root $WORK/runc"
PREFIX=livebench-$$
POLICY_DIR=$WORK/policies
POLICY=$POLICY_DIR/live-bench.json
LIFECYCLE=$WORK/lifecycle.jsonl
HOOKD_SOCKET=$WORK/hookd.sock
HOOKD_LOG=$WORK/hookd.log
HOOKD_PID=

cleanup() {
	local id
	# Containers first, while hookd still serves their poststop.
	for id in $($RUNC list -q 2>/dev/null); do
		$RUNC delete --force "$id" >/dev/null 2>&1 || true
	done
	[ -z "$HOOKD_PID" ] || { kill "$HOOKD_PID"; wait "$HOOKD_PID"; } 2>/dev/null || true
	"$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" >/dev/null 2>&1 || true
	rm -rf "$BPFFS" "/run/cgfence/$(basename "$BPFFS")"
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two versions of the policy: egress to 127.0.0.1, tcp port 9001 or 9002
# only (no server listens: allowed is ECONNREFUSED, denied is EPERM).
PORTS=(9001 9002)
version() { # 0|1
	printf '{"version": 1, "name": "live-bench", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["127.0.0.1"], "protocol": "tcp", "ports": [%s]}]}}\n' \
		"${PORTS[$1]}"
}

mkdir -p "$WORK/rootfs/bin" "$POLICY_DIR" "$WORK/bundle"
cp /bin/busybox "$WORK/rootfs/bin/"
ln -s busybox "$WORK/rootfs/bin/sleep"
cp "$OUT/tests/probe-static" "$WORK/rootfs/probe"
version 0 >"$POLICY"

# One bundle for all containers (runc keeps each one's state by id).
runc spec --bundle "$WORK/bundle"
hook_args=$(jq -cn --arg s "$HOOKD_SOCKET" --arg p "$POLICY_DIR" --arg b "$BPFFS" --arg l "$LIFECYCLE" \
	'["cgfence-hook", "--socket", $s, "--policy-dir", $p, "--bpffs", $b, "--lifecycle-log", $l]')
jq --arg root "$WORK/rootfs" --arg hook "$CGFENCE-hook" --argjson args "$hook_args" \
	'.root = {"path": $root, "readonly": true}
	| .process.terminal = false | .process.args = ["/bin/sleep", "3600"]
	| .linux.namespaces |= map(select(.type != "network"))
	| .annotations = {"cgfence.policy": "live-bench"}
	| .hooks = {
		"createRuntime": [{"path": $hook, "args": ($args + ["createRuntime"]), "env": []}],
		"poststop": [{"path": $hook, "args": ($args + ["poststop"]), "env": []}]}' \
	"$WORK/bundle/config.json" >"$WORK/bundle/config.json.new"
mv "$WORK/bundle/config.json.new" "$WORK/bundle/config.json"

# Its own state and log: at start it adopts only the containers of this run.
"$CGFENCE" -v hookd --socket "$HOOKD_SOCKET" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" 2>>"$HOOKD_LOG" &
HOOKD_PID=$!
for _ in $(seq 50); do grep -q listening "$HOOKD_LOG" && break; sleep 0.1; done
# Without hookd nobody watches the directory: no figure.
grep -q listening "$HOOKD_LOG" || { echo "hookd did not start: $(cat "$HOOKD_LOG")" >&2; exit 1; }

now_ns() { date +%s%N; }

start=$(now_ns)
for i in $(seq "$N"); do
	if ! $RUNC run -d --bundle "$WORK/bundle" "$PREFIX-$i" </dev/null >/dev/null 2>>"$WORK/runc.log"; then
		echo "container $i did not start: $(tail -n 3 "$WORK/runc.log")" >&2
		exit 1
	fi
done
start_ms=$((($(now_ns) - start) / 1000000))
applied=$(jq -c 'select(.event == "applied")' "$LIFECYCLE" | wc -l)
[ "$applied" -eq "$N" ] || { echo "$applied applied records for $N containers" >&2; exit 1; }
echo "kernel $(uname -r), runc $(runc --version | head -1 | awk '{print $3}'), $(nproc) CPUs;" \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "started $N containers through hookd in $((start_ms / 1000)).$((start_ms % 1000 / 100)) s ($((start_ms / N)) ms each)"

# The nanosecond epoch of a record's "time" (ISO 8601, UTC, microseconds),
# in integer arithmetic: a double cannot hold it to the nanosecond.
record_ns() { # SECONDS FRACTION
	local frac="${2}000000000"
	echo $(($1 * 1000000000 + 10#${frac:0:9}))
}

# says WORD PORT: the probe in the last container prints WORD for a
# connect to 127.0.0.1:PORT.
says() {
	[ "$($RUNC exec "$PREFIX-$N" /probe connect tcp 127.0.0.1 "$2" 2>&1 || true)" = "$1" ]
}

ms() { # NS: milliseconds with one decimal
	awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'
}

failed=0
latencies=()
passes=()
for round in $(seq "$ROUNDS"); do
	v=$((round % 2))
	log_offset=$(stat -c %s "$LIFECYCLE")
	hookd_offset=$(stat -c %s "$HOOKD_LOG")
	version "$v" >"$POLICY.new"
	mv -f "$POLICY.new" "$POLICY"
	t0=$(now_ns)
	seen=0
	while :; do
		seen=$(tail -c +$((log_offset + 1)) "$LIFECYCLE" | grep -c '"event":"changed"' || true)
		[ "$seen" -ge "$N" ] && break
		if [ $(($(now_ns) - t0)) -gt $((WAIT_S * 1000000000)) ]; then
			break
		fi
		sleep 0.01
	done
	seen_ns=$(($(now_ns) - t0))
	records=$(tail -c +$((log_offset + 1)) "$LIFECYCLE" | jq -c 'select(.event == "changed")')
	if [ "$seen" -lt "$N" ]; then
		echo "round $round: only $seen of $N containers changed within $WAIT_S s" >&2
		failed=1
		continue
	fi
	# Every container once, all to the same new policy version, by hookd.
	summary=$(jq -rs '[length, (map(.container_id) | unique | length), (map(.policy_id) | unique | length),
		(map(.source) | unique | join(","))] | @tsv' <<<"$records")
	read -r count distinct ids sources <<<"$summary"
	if [ "$count" -ne "$N" ] || [ "$distinct" -ne "$N" ] || [ "$ids" -ne 1 ] || [ "$sources" != hookd ]; then
		echo "round $round: $count changed records, $distinct containers, $ids policy ids, sources $sources" >&2
		failed=1
	fi
	read -r s f <<<"$(jq -rs 'map(.time) | max | capture("^(?<s>[^.]+)(\\.(?<f>[0-9]+))?Z$")
		| "\((.s + "Z") | fromdateiso8601) \(.f // "0")"' <<<"$records")"
	latency_ns=$(($(record_ns "$s" "$f") - t0))
	latencies+=("$latency_ns")
	# The new version is the one enforced, whole.
	if says ECONNREFUSED "${PORTS[$v]}" && says EPERM "${PORTS[$((1 - v))]}"; then
		enforced="enforced in container $N"
	else
		enforced="NOT the new version in container $N"
		failed=1
	fi
	# hookd's account of its pass(es) over the directory, when it logs one:
	# those that changed something (the edit may take more than one).
	pass=
	for _ in $(seq 100); do
		pass=$(tail -c +$((hookd_offset + 1)) "$HOOKD_LOG" |
			sed -nE "s|.*hookd: $POLICY_DIR/?: ([0-9]+) containers, ([0-9]+) changed.* in ([0-9.]+) ms \(kernel ([0-9.]+) us per (changed )?container[;)].*|\1 \2 \3 \4|p" |
			awk '$2 > 0')
		[ -n "$pass" ] && [ "$(awk '{ n += $2 } END { print n }' <<<"$pass")" -ge "$N" ] && break
		sleep 0.02
	done
	if [ -n "$pass" ]; then
		pass_text="hookd: $(awk '{ printf "%s%s of %s containers changed in %s ms, kernel %s us per container",
			(NR > 1 ? "; " : ""), $2, $1, $3, $4 }' <<<"$pass")"
		passes+=("$(tail -n 1 <<<"$pass" | awk '{ print $4 }')")
	else
		pass_text="hookd logged no pass line"
	fi
	over=
	[ "$latency_ns" -le $((BAR_MS * 1000000)) ] || { over=" OVER ${BAR_MS} ms"; failed=1; }
	echo "round $round (version $v): rename -> last container's record $(ms "$latency_ns") ms$over" \
		"(all $N records seen after $(ms "$seen_ns") ms); $enforced; $pass_text"
	# Let the pass settle before the next edit, so that no two rounds merge.
	sleep 0.5
done

if [ "${#latencies[@]}" -gt 0 ]; then
	printf '%s\n' "${latencies[@]}" | sort -n | awk -v n="$N" -v bar="$BAR_MS" '
		{ v[NR] = $1 / 1e6 }
		END {
			med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "latency over %d rounds, %d containers: median %.1f ms, min %.1f ms, max %.1f ms (bar %d ms)\n",
				NR, n, med, v[1], v[NR], bar
		}'
fi
if [ "${#passes[@]}" -gt 0 ]; then
	printf '%s\n' "${passes[@]}" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "kernel work per container (hookd): median %s us, min %s us, max %s us\n", med, v[1], v[NR]
		}'
else
	echo "kernel work per container: hookd logged no pass line to measure it by"
fi
kill -0 "$HOOKD_PID" || { echo "hookd died during the run" >&2; exit 1; }
exit "$failed"
