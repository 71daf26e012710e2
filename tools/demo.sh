#!/bin/bash
# make demo: a busybox container under runc whose createRuntime hook is
# cgfence-hook, served by `cgfence hookd` (as installed). The annotation
# cgfence.policy=demo selects
# policies/demo.json before the container's first instruction; from inside
# it, one connection is allowed, one is denied, and /dev/zero is denied.
# Its poststop hook removes the fence. Then the record -> suggest ->
# enforce loop: a container annotated cgfence.record=true is recorded,
# `cgfence suggest` turns its record into a policy, and the same workload
# runs under it. Everything the demo creates is removed on exit, even when
# interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
PROBE=$OUT/tests/probe
BPFFS=/sys/fs/bpf/cgfence-demo
ID=cgfence-demo-$$

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo needs root (runc, and BPF programs attached to a cgroup)" >&2
	exit 1
fi
WORK=$(mktemp -d /tmp/cgfence-demo.XXXXXX)
RUNC=(runc --root "$WORK/runc")
servers=()
daemon=
hookd=
# One audit log: the daemon's denial records and the hook's lifecycle records.
AUDIT_LOG=$WORK/audit.jsonl

cleanup() {
	for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	for c in "$ID" "$ID-rec" "$ID-learned"; do
		"${RUNC[@]}" delete --force "$c" >/dev/null 2>&1 || true
	done
	[ -n "$hookd" ] && kill "$hookd" 2>/dev/null && wait "$hookd" 2>/dev/null
	"$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$AUDIT_LOG" >/dev/null 2>&1 || true
	rm -rf "$BPFFS" "$WORK" "/run/cgfence/$(basename "$BPFFS")"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
inside() { # LABEL PROBE-ARGS...: one probe run inside the container
	printf '%-30s -> ' "$1"
	shift
	"${RUNC[@]}" exec "$ID" /probe "$@" || true
}

step "the policy directory (the annotation cgfence.policy=demo picks demo.json)"
cat policies/demo.json
"$CGFENCE" check "$REPO/policies"

step "a busybox root filesystem and a runc bundle whose hooks run cgfence-hook"
mkdir -p "$WORK/bundle/rootfs/bin"
cp /bin/busybox "$WORK/bundle/rootfs/bin/"
for applet in sh sleep; do ln -s busybox "$WORK/bundle/rootfs/bin/$applet"; done
cp "$OUT/tests/probe-static" "$WORK/bundle/rootfs/probe"
runc spec --bundle "$WORK/bundle"
HOOKD_SOCKET=$WORK/hookd.sock
hook_args=$(jq -cn --arg s "$HOOKD_SOCKET" --arg p "$REPO/policies" --arg b "$BPFFS" --arg l "$AUDIT_LOG" \
	'["cgfence-hook", "--socket", $s, "--policy-dir", $p, "--bpffs", $b, "--lifecycle-log", $l]')
# No network namespace: the container shares the host's loopback servers.
jq --arg c "$OUT/cgfence-hook" --argjson args "$hook_args" \
	'.process.terminal = false | .process.args = ["/bin/sleep", "3600"]
	| .linux.namespaces |= map(select(.type != "network"))
	| .annotations = {"cgfence.policy": "demo"}
	| .hooks = {"createRuntime": [{"path": $c, "args": $args, "env": []}],
		    "poststop": [{"path": $c, "args": $args, "env": []}]}' \
	"$WORK/bundle/config.json" >"$WORK/config.json"
mv "$WORK/config.json" "$WORK/bundle/config.json"
jq '{annotations, hooks}' "$WORK/bundle/config.json"

step "servers on the host's loopback: 127.0.0.1:18080 (allowed) and :18081 (not listed)"
for port in 18080 18081; do
	"$PROBE" serve tcp 127.0.0.1 $port 1000 >/dev/null 2>&1 &
	servers+=($!)
done
sleep 0.2

step "the audit daemon (no capabilities, seccomp) writes denials to $AUDIT_LOG"
"$CGFENCE" daemon --bpffs "$BPFFS" --log "$AUDIT_LOG" --stats-interval 1 &
daemon=$!
for _ in $(seq 100); do grep -q '"event":"started"' "$AUDIT_LOG" 2>/dev/null && break; sleep 0.05; done
grep -E '^(CapEff|NoNewPrivs|Seccomp):' "/proc/$daemon/status"

step "cgfence hookd: does the hook's work for cgfence-hook (only the capabilities BPF needs)"
"$CGFENCE" hookd --socket "$HOOKD_SOCKET" 2>"$WORK/hookd.log" &
hookd=$!
for _ in $(seq 100); do [ -S "$HOOKD_SOCKET" ] && break; sleep 0.05; done
grep -E '^(CapEff|NoNewPrivs):' "/proc/$hookd/status"

step "runc run: the hook fences the container before it starts"
"${RUNC[@]}" run -d --bundle "$WORK/bundle" "$ID" </dev/null >"$WORK/container.log" 2>&1
"$CGFENCE" status --bpffs "$BPFFS"

step "from inside the container"
inside "connect 127.0.0.1:18080/tcp" request tcp 127.0.0.1 18080
inside "connect 127.0.0.1:18081/tcp" connect tcp 127.0.0.1 18081
inside "open /dev/zero" open /dev/zero r
inside "open /dev/null" open /dev/null r

step "why (the same tables the kernel uses)"
"$CGFENCE" explain --policy policies/demo.json --egress 127.0.0.1:18080/tcp \
	--egress 127.0.0.1:18081/tcp --device c:1:5:r

step "stop the container: its poststop hook removes the fence"
"${RUNC[@]}" kill "$ID" KILL
for _ in $(seq 50); do
	[ "$("${RUNC[@]}" state "$ID" | jq -r .status)" = stopped ] && break
	sleep 0.05
done
"${RUNC[@]}" delete "$ID"
"$CGFENCE" status --bpffs "$BPFFS"

step "the audit log: the container's whole story (cgfence log --container $ID)"
sleep 0.3
kill "$daemon" && wait "$daemon" 2>/dev/null
daemon=
"$CGFENCE" log "$AUDIT_LOG" --container "$ID"

step "record -> suggest -> enforce: a container annotated cgfence.record=true (no policy: it denies nothing)"
# Bundles beside the first, on its root filesystem; their policy directory
# is the demo's own, where the suggestion goes.
LEARNED=$WORK/learned
mkdir -p "$LEARNED"
workload='/probe request tcp 127.0.0.1 18080; /probe open /dev/null r'
learned_bundle() { # NAME ANNOTATIONS-JSON SHELL-COMMAND
	local args
	mkdir -p "$WORK/$1"
	args=$(jq -cn --arg s "$HOOKD_SOCKET" --arg p "$LEARNED" --arg b "$BPFFS" --arg l "$AUDIT_LOG" \
		'["cgfence-hook", "--socket", $s, "--policy-dir", $p, "--bpffs", $b, "--lifecycle-log", $l]')
	jq --arg root "$WORK/bundle/rootfs" --argjson args "$args" --argjson a "$2" --arg cmd "$3" \
		'.root = {"path": $root, "readonly": true} | .process.args = ["/bin/sh", "-c", $cmd]
		| .annotations = $a | .hooks.createRuntime[0].args = $args | .hooks.poststop[0].args = $args' \
		"$WORK/bundle/config.json" >"$WORK/$1/config.json"
}
learned_bundle rec '{"cgfence.record": "true"}' "$workload"
"${RUNC[@]}" run --bundle "$WORK/rec" "$ID-rec" </dev/null

step "cgfence suggest --container $ID-rec --name demo-learned (the container is gone; its record is not)"
"$CGFENCE" suggest --bpffs "$BPFFS" --container "$ID-rec" --name demo-learned >"$LEARNED/demo-learned.json"
jq -c '.egress.rules[], .devices.rules[]' "$LEARNED/demo-learned.json"
"$CGFENCE" check "$LEARNED/demo-learned.json"

step "the same workload under the suggestion (cgfence.policy=demo-learned), and a connection it never made"
learned_bundle learned '{"cgfence.policy": "demo-learned"}' \
	"$workload; /probe connect tcp 127.0.0.1 18081; /probe open /dev/zero r; true"
"${RUNC[@]}" run --bundle "$WORK/learned" "$ID-learned" </dev/null
