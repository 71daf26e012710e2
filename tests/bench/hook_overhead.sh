#!/bin/bash
# What the OCI hook adds to starting a container. hyperfine runs `runc run`
# of a busybox container (/bin/true) in five variants, in the same run:
#
#   plain          no hooks
#   noop           createRuntime and poststop hooks that run /bin/true: what
#                  runc's hook mechanism itself costs
#   hookd          cgfence-hook at both stages, served by `cgfence hookd`
#                  (the installed configuration), policy named by annotation
#   hookd-default  the same, fallback policy `default` (reads every policy
#                  of the directory)
#   direct         `cgfence hook` at both stages: a host without hookd
#
# The BPF programs are loaded by a first, unmeasured start: as in
# production, the per-container work is map updates and attachments only.
# This VM's timings are bimodal and drift with load, so the script runs
# ROUNDS short rounds, each running every variant in turn (starting from a
# different one each round), and reports per variant the best of the
# rounds' medians against plain's, and the median over the rounds of the
# overhead against plain in the same round.
#
# Before them, the hook client's bare start-up (`cgfence-hook --version`),
# built three ways from the same flags: against musl (what the Makefile
# builds where musl-gcc is installed), with `cc -static` (glibc, the
# Makefile's fallback), and the freestanding client of 025c448 (own
# _start and system calls, x86_64 only), which musl replaced. Also in
# rotating rounds; reported as each build's ratio to musl's in the same
# round, median and range over the rounds.
#
# Two sessions: "alone", where the measured container may be the only
# cgroup with a program of each hook type on the host (the kernel then
# flips a static key, patching code on every CPU, at attach and detach),
# and "steady", with another fenced container running, as on a host that
# runs containers.
#
#   tests/bench/hook_overhead.sh [RUNS [ROUNDS]]   (root; default 5 x 24)
#   STARTUP_RUNS=N: runs of each client build per round (default 40 x RUNS)
#
# The target is an overhead under 10 % of a plain `runc run`.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
RUNS=${1:-5}
ROUNDS=${2:-24}
STARTUP_RUNS=${STARTUP_RUNS:-$((40 * RUNS))}

if [ "$(id -u)" -ne 0 ]; then
	echo "hook_overhead.sh needs root (runc, BPF)" >&2
	exit 1
fi
for tool in runc hyperfine jq; do
	command -v $tool >/dev/null || { echo "hook_overhead.sh needs $tool (make deps)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/cgfence-hookbench.XXXXXX)
BPFFS=/sys/fs/bpf/cgfence-hookbench-$$
RUNC="runc --root $WORK/runc"
NAMES=(plain noop hookd hookd-default direct)
HOOKD_SOCKET=$WORK/hookd.sock
HOOKD_PID=

cleanup() {
	[ -z "$HOOKD_PID" ] || { kill "$HOOKD_PID"; wait "$HOOKD_PID"; } 2>/dev/null || true
	for n in "${NAMES[@]}" other; do
		$RUNC delete --force "hookbench-$$-$n" >/dev/null 2>&1 || true
	done
	"$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$WORK/lifecycle.jsonl" >/dev/null 2>&1 || true
	rm -rf "$BPFFS" "/run/cgfence/$(basename "$BPFFS")"; [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/rootfs/bin" "$WORK/policies"
cp /bin/busybox "$WORK/rootfs/bin/"
ln -s busybox "$WORK/rootfs/bin/true"
ln -s busybox "$WORK/rootfs/bin/sleep"
cp "$REPO"/policies/*.json "$WORK/policies/"

# bundle NAME ANNOTATIONS HOOK-PATH|"" [CMD-JSON]
bundle() {
	local dir="$WORK/$1" args='[]' opts
	mkdir -p "$dir"
	runc spec --bundle "$dir"
	opts=$(jq -cn --arg p "$WORK/policies" --arg b "$BPFFS" --arg l "$WORK/lifecycle.jsonl" \
		'["--policy-dir", $p, "--bpffs", $b, "--lifecycle-log", $l]')
	case $3 in
	"$CGFENCE") args=$(jq -cn --argjson o "$opts" '["cgfence", "hook"] + $o') ;;
	"$CGFENCE-hook") args=$(jq -cn --argjson o "$opts" --arg s "$HOOKD_SOCKET" '["cgfence-hook", "--socket", $s] + $o') ;;
	esac
	jq --arg root "$WORK/rootfs" --arg hook "$3" --argjson args "$args" \
		--argjson ann "$2" --argjson cmd "${4:-[\"/bin/true\"]}" \
		'.root = {"path": $root, "readonly": true}
		| .process.terminal = false | .process.args = $cmd
		| .annotations = $ann
		| if $hook != "" then .hooks = {
			"createRuntime": [{"path": $hook, "args": $args, "env": []}],
			"poststop": [{"path": $hook, "args": $args, "env": []}]} else . end' \
		"$dir/config.json" >"$dir/config.json.new"
	mv "$dir/config.json.new" "$dir/config.json"
}
bundle plain '{}' ""
bundle noop '{}' /bin/true
bundle hookd '{"cgfence.policy": "demo"}' "$CGFENCE-hook"
bundle hookd-default '{}' "$CGFENCE-hook"
bundle direct '{"cgfence.policy": "demo"}' "$CGFENCE"
bundle other '{"cgfence.policy": "demo"}' "$CGFENCE-hook" '["/bin/sleep", "3600"]'

"$CGFENCE" -v hookd --socket "$HOOKD_SOCKET" 2>>"$WORK/hookd.log" &
HOOKD_PID=$!
for _ in $(seq 50); do grep -q listening "$WORK/hookd.log" && break; sleep 0.1; done
# Without hookd, cgfence-hook would quietly run cgfence hook itself, and the
# "hookd" figures would be the fallback's.
grep -q listening "$WORK/hookd.log" || { echo "hookd did not start: $(cat "$WORK/hookd.log")" >&2; exit 1; }

run_cmd() {
	echo "$RUNC run --bundle $WORK/$1 hookbench-$$-$1"
}

# Load and pin the programs outside the measurement.
$(run_cmd direct) >/dev/null


# Round r runs the variants starting from the r-th, so that none is always
# measured first or right after the same neighbour.
rotated_cmds() { # ROUND
	local n=${#NAMES[@]} i k
	for ((i = 0; i < n; i++)); do
		k=$(((i + $1) % n))
		printf '%s\n' -n "${NAMES[k]}" "$(run_cmd "${NAMES[k]}")"
	done
}

session() { # NAME
	local round cmds
	for round in $(seq "$ROUNDS"); do
		mapfile -t cmds < <(rotated_cmds "$round")
		hyperfine -N --style none --warmup 1 --runs "$RUNS" \
			--export-json "$WORK/$1-$round.json" "${cmds[@]}" >/dev/null 2>>"$WORK/hyperfine.log"
	done
	# Two views of the same rounds (each variant's median per round):
	#   best:   each variant's best round median against plain's (the
	#           machine's fast mode; what the brief compares);
	#   paired: each round's overhead against plain in the same round,
	#           median over the rounds (drift cancels; both modes count).
	jq -rs --arg session "$1" '
		def median: sort | if length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def ms: . * 10000 | round / 10;
		def pct: . * 1000 | round / 10;
		[ .[] | [.results[] | {key: .command, value: (.times | median)}] | from_entries ] as $rounds
		| def best($v): $rounds | map(.[$v]) | min;
		  def paired($v): $rounds | map(.[$v] / .plain - 1) | median;
		  def show($v): "+\((best($v) - best("plain")) | ms) ms (+\((best($v) / best("plain") - 1) | pct) %) best;"
			+ " +\(paired($v) | pct) % paired";
		"\($session): plain runc run \(best("plain") | ms) ms best, \($rounds | map(.plain) | median | ms) ms median",
		"\($session): no-op hooks (runc'"'"'s hook mechanism): \(show("noop"))",
		( "hookd", "hookd-default", "direct" | "\($session): \(.): \(show(.))" )' \
		"$WORK/$1"-*.json >>"$WORK/summary.txt"
}

# The client builds whose start-up is compared: NAME=PATH lines.
client_builds() {
	local flags=(-O2 -g -std=gnu11 -D_GNU_SOURCE -I"$OUT" -static) old=025c448 f
	if command -v musl-gcc >/dev/null; then
		musl-gcc "${flags[@]}" -Ienforcer/lib enforcer/client/cgfence-hook.c -o "$WORK/hook-musl" &&
			echo "musl=$WORK/hook-musl"
	fi
	cc "${flags[@]}" -Ienforcer/lib enforcer/client/cgfence-hook.c -o "$WORK/hook-glibc" &&
		echo "glibc=$WORK/hook-glibc"
	[ "$(uname -m)" = x86_64 ] && git cat-file -e "$old^{commit}" 2>/dev/null || return 0
	mkdir -p "$WORK/freestanding"
	for f in client/cgfence-hook.c client/rt.h client/freestanding.c lib/hookd_proto.h; do
		git show "$old:enforcer/$f" >"$WORK/freestanding/${f#*/}"
	done
	cc "${flags[@]}" -nostdlib -ffreestanding -fno-stack-protector -fno-builtin \
		-fno-tree-loop-distribute-patterns -U_FORTIFY_SOURCE \
		"$WORK"/freestanding/{cgfence-hook,freestanding}.c -o "$WORK/hook-freestanding" &&
		echo "freestanding=$WORK/hook-freestanding"
}

# Round r starts from the r-th build; each round's figure is its ratio
# to musl's median in the same round (drift and the two modes cancel).
startup() {
	local builds round i k n cmds
	mapfile -t builds < <(client_builds)
	n=${#builds[@]}
	[ "$n" -gt 1 ] && [[ ${builds[0]} == musl=* ]] ||
		{ echo "client start-up: no musl-gcc, or fewer than two builds: no figure" >>"$WORK/summary.txt"; return; }
	for round in $(seq "$ROUNDS"); do
		cmds=()
		for ((i = 0; i < n; i++)); do
			k=$(((i + round) % n))
			cmds+=(-n "${builds[k]%%=*}" "${builds[k]#*=} --version")
		done
		hyperfine -N --style none --warmup 20 --runs "$STARTUP_RUNS" \
			--export-json "$WORK/startup-$round.json" "${cmds[@]}" >/dev/null 2>>"$WORK/hyperfine.log"
	done
	jq -rs --argjson runs "$STARTUP_RUNS" '
		def median: sort | if length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def us: . * 1e6 | round;
		def x: . * 100 | round / 100;
		[ .[] | [.results[] | {key: .command, value: (.times | median)}] | from_entries ] as $rounds
		| ["glibc", "freestanding"] | map(select(. as $b | $rounds[0] | has($b))) as $others
		| "client start-up (cgfence-hook --version, \($runs) runs per build per round): musl \($rounds | map(.musl) | median | us) us median of the rounds'"'"' medians",
		( $others[] as $b | ($rounds | map(.[$b] / .musl)) as $r
		  | "client start-up: \($b) / musl: x\($r | median | x) median of same-round ratios (\($r | min | x) to \($r | max | x)); \($rounds | map(.[$b]) | median | us) us" )' \
		"$WORK"/startup-*.json >>"$WORK/summary.txt"
}

startup
session alone
$RUNC run -d --bundle "$WORK/other" "hookbench-$$-other" </dev/null >/dev/null 2>&1
session steady
$RUNC kill "hookbench-$$-other" KILL

echo "kernel $(uname -r), runc $(runc --version | head -1 | awk '{print $3}'), $(nproc) CPUs;" \
	"$ROUNDS rounds of $RUNS runs per variant; load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$WORK/summary.txt"
applied=$(grep -c '"event":"applied"' "$WORK/lifecycle.jsonl")
removed=$(grep -c '"event":"removed"' "$WORK/lifecycle.jsonl")
echo "lifecycle records: $applied applied, $removed removed (every hooked run fenced and released)"
kill -0 "$HOOKD_PID" || { echo "hookd died during the run" >&2; exit 1; }
# Two hookd variants x two stages x (warm-up + runs) x rounds x two
# sessions, and the createRuntime of the container the steady session runs.
expected=$((2 * 2 * (RUNS + 1) * ROUNDS * 2 + 1))
served=$(grep -c 'hookd: request of pid [0-9]*: exit status' "$WORK/hookd.log")
echo "hookd served $served of the $expected requests of the hookd variants"
[ "$served" -eq "$expected" ] || { echo "some hookd runs fell back to cgfence hook: no figure" >&2; exit 1; }
