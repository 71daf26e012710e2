#!/bin/bash
# What the OCI hook adds to starting a container: hyperfine runs `runc run`
# of a busybox container (/bin/true) without hooks, with cgfence's
# createRuntime and poststop hooks selecting a policy by annotation, and
# with the hooks choosing the fallback `default` (which reads every policy
# of the directory), all in the same hyperfine run. The BPF programs are
# loaded by a first, unmeasured start: as in production, the per-container
# work is map updates and attachments only.
#
#   tests/bench/hook_overhead.sh [RUNS]     (root; default 50 runs each)
#
# Prints hyperfine's results and, per hooked variant, one line
#   hook overhead (annotation): +X.X ms per container (+Y.Y % of a plain runc run)
# The target is under 10 %.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
RUNS=${1:-50}

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
NAMES=(plain annotation default)

cleanup() {
	for n in "${NAMES[@]}"; do
		$RUNC delete --force "hookbench-$$-$n" >/dev/null 2>&1 || true
	done
	"$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$WORK/lifecycle.jsonl" >/dev/null 2>&1 || true
	rm -rf "$BPFFS" "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/rootfs/bin"
cp /bin/busybox "$WORK/rootfs/bin/"
ln -s busybox "$WORK/rootfs/bin/true"
cp "$REPO"/policies/*.json "$WORK/"
mkdir "$WORK/policies"
mv "$WORK"/*.json "$WORK/policies/"

# bundle NAME ANNOTATIONS HOOKS(0|1)
bundle() {
	local dir="$WORK/$1" args
	mkdir -p "$dir"
	runc spec --bundle "$dir"
	args=$(jq -cn --arg p "$WORK/policies" --arg b "$BPFFS" --arg l "$WORK/lifecycle.jsonl" \
		'["cgfence", "hook", "--policy-dir", $p, "--bpffs", $b, "--lifecycle-log", $l]')
	jq --arg root "$WORK/rootfs" --arg c "$CGFENCE" --argjson args "$args" \
		--argjson ann "$2" --argjson hooks "$3" \
		'.root = {"path": $root, "readonly": true}
		| .process.terminal = false | .process.args = ["/bin/true"]
		| .annotations = $ann
		| if $hooks == 1 then .hooks = {
			"createRuntime": [{"path": $c, "args": $args, "env": []}],
			"poststop": [{"path": $c, "args": $args, "env": []}]} else . end' \
		"$dir/config.json" >"$dir/config.json.new"
	mv "$dir/config.json.new" "$dir/config.json"
}
bundle plain '{}' 0
bundle annotation '{"cgfence.policy": "demo"}' 1
bundle default '{}' 1

run_cmd() {
	echo "$RUNC run --bundle $WORK/$1 hookbench-$$-$1"
}

# Load and pin the programs outside the measurement.
$(run_cmd annotation) >/dev/null

cmds=()
for n in "${NAMES[@]}"; do
	cmds+=(-n "$n" "$(run_cmd "$n")")
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/results.json" "${cmds[@]}"

echo
echo "kernel $(uname -r), runc $(runc --version | head -1 | awk '{print $3}'), $RUNS runs each"
jq -r '
	(.results[] | select(.command == "plain")) as $p
	| .results[] | select(.command != "plain")
	| "hook overhead (\(.command)): \(((.mean - $p.mean) * 1000 * 10 | round) / 10 | tostring) ms per container"
	  + " (\(((.mean / $p.mean - 1) * 1000 | round) / 10 | tostring) % of a plain runc run:"
	  + " \((.mean * 10000 | round) / 10) ms vs \(($p.mean * 10000 | round) / 10) ms mean;"
	  + " median \((.median * 10000 | round) / 10) ms vs \(($p.median * 10000 | round) / 10) ms)"' \
	"$WORK/results.json"
applied=$(grep -c '"event":"applied"' "$WORK/lifecycle.jsonl")
removed=$(grep -c '"event":"removed"' "$WORK/lifecycle.jsonl")
echo "lifecycle records: $applied applied, $removed removed (every hooked run fenced and released)"
