#!/bin/bash
# What the OCI hook adds to starting a container. hyperfine runs `runc run`
# of a busybox container (/bin/true) in four variants, in the same run:
#
#   plain       no hooks
#   noop        createRuntime and poststop hooks that run /bin/true: what
#               runc's hook mechanism itself costs
#   annotation  cgfence hook at both stages, policy named by annotation
#   default     cgfence hook at both stages, fallback policy `default`
#               (reads every policy of the directory)
#
# The BPF programs are loaded by a first, unmeasured start: as in
# production, the per-container work is map updates and attachments only.
# hyperfine measures each command in one block, so on a busy machine load
# drift would bias the comparison: the script runs ROUNDS rounds and
# reports, per variant, the median of the rounds' means.
#
# Two sessions: "alone", where the measured container may be the only
# cgroup with a program of each hook type on the host (the kernel then
# flips a static key, patching code on every CPU, at attach and detach),
# and "steady", with another fenced container running, as on a host that
# runs containers.
#
#   tests/bench/hook_overhead.sh [RUNS [ROUNDS]]   (root; default 20 x 5)
#
# The target is an overhead under 10 % of a plain `runc run`.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
RUNS=${1:-20}
ROUNDS=${2:-5}

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
NAMES=(plain noop annotation default)

cleanup() {
	for n in "${NAMES[@]}" other; do
		$RUNC delete --force "hookbench-$$-$n" >/dev/null 2>&1 || true
	done
	"$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$WORK/lifecycle.jsonl" >/dev/null 2>&1 || true
	rm -rf "$BPFFS" "$WORK" "/run/cgfence/$(basename "$BPFFS")"
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
	local dir="$WORK/$1" args='[]'
	mkdir -p "$dir"
	runc spec --bundle "$dir"
	[ "$3" = "$CGFENCE" ] &&
		args=$(jq -cn --arg p "$WORK/policies" --arg b "$BPFFS" --arg l "$WORK/lifecycle.jsonl" \
			'["cgfence", "hook", "--policy-dir", $p, "--bpffs", $b, "--lifecycle-log", $l]')
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
bundle annotation '{"cgfence.policy": "demo"}' "$CGFENCE"
bundle default '{}' "$CGFENCE"
bundle other '{"cgfence.policy": "demo"}' "$CGFENCE" '["/bin/sleep", "3600"]'

run_cmd() {
	echo "$RUNC run --bundle $WORK/$1 hookbench-$$-$1"
}

# Load and pin the programs outside the measurement.
$(run_cmd annotation) >/dev/null

cmds=()
for n in "${NAMES[@]}"; do
	cmds+=(-n "$n" "$(run_cmd "$n")")
done

session() { # NAME
	for round in $(seq "$ROUNDS"); do
		hyperfine -N --style none --warmup 2 --runs "$RUNS" \
			--export-json "$WORK/$1-$round.json" "${cmds[@]}" >/dev/null 2>>"$WORK/hyperfine.log"
	done
	jq -rs --arg session "$1" '
		def median: sort | if length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def ms: . * 10000 | round / 10;
		[.[].results[]] | group_by(.command)
		| map({key: .[0].command, value: (map(.mean) | median)}) | from_entries
		| . as $m
		| "\($session): plain runc run \($m.plain | ms) ms; no-op hooks \($m.noop | ms) ms"
		  + " (runc'"'"'s hook mechanism: +\((($m.noop / $m.plain - 1) * 100) | round) %)",
		  ( "annotation", "default" | . as $v
		  | "\($session): cgfence hook (\($v)): \($m[$v] | ms) ms: +\(($m[$v] - $m.plain) | ms) ms,"
		    + " \((($m[$v] / $m.plain - 1) * 1000 | round) / 10) % of a plain runc run;"
		    + " cgfence'"'"'s own share over no-op hooks +\(($m[$v] - $m.noop) | ms) ms"
		    + " (\((($m[$v] / $m.plain - $m.noop / $m.plain) * 1000 | round) / 10) % of plain)" )' \
		"$WORK/$1"-*.json >>"$WORK/summary.txt"
}

session alone
$RUNC run -d --bundle "$WORK/other" "hookbench-$$-other" </dev/null >/dev/null 2>&1
session steady
$RUNC kill "hookbench-$$-other" KILL

echo "kernel $(uname -r), runc $(runc --version | head -1 | awk '{print $3}'), $(nproc) CPUs;" \
	"median of $ROUNDS rounds of $RUNS runs per variant; load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$WORK/summary.txt"
applied=$(grep -c '"event":"applied"' "$WORK/lifecycle.jsonl")
removed=$(grep -c '"event":"removed"' "$WORK/lifecycle.jsonl")
echo "lifecycle records: $applied applied, $removed removed (every hooked run fenced and released)"
