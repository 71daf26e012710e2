#!/usr/bin/env bats
# containerd: a private containerd (its own root, state and socket in this
# file's directory, started and stopped here) runs runc containers from an
# image imported offline, with `ctr run --config`: the base spec is
# `ctr oci spec` with the hooks of contrib/runc/config-hooks.json, as the
# README's containerd section has an admin write it for the CRI plugin's
# base_runtime_spec; on top of it each container gets what the CRI plugin
# adds for a pod's container (the image's rootfs, its own cgroup, the
# annotations under containerd's keys). There is no kubelet or CRI plugin
# here: that part is reproduced. The hook hands the work to this file's
# hookd. Needs root; runs in CI as root (nothing here skips itself).

load ../common
load e2e

setup_file() {
	e2e_setup_file
	export CTRD="$E2E_DIR/containerd"
	export CTRD_SOCK="$CTRD/containerd.sock"
	export CTR_NS="$TEST_ID"
	export IMAGE="localhost/cgfence-ctrd:$TEST_ID"
	mkdir -p "$CTRD"
	cat >"$CTRD/config.toml" <<-EOF
		version = 2
		root = "$CTRD/root"
		state = "$CTRD/state"
		# No CRI: there is no kubelet to serve, and it would want CNI.
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$CTRD_SOCK"
		[ttrpc]
		  address = "$CTRD_SOCK.ttrpc"
		[debug]
		  address = "$CTRD/debug.sock"
	EOF
	containerd --config "$CTRD/config.toml" >"$CTRD/log" 2>&1 &
	echo $! >"$CTRD/pid"
	within 30 ctr_ version >/dev/null || {
		cat "$CTRD/log" >&2
		return 1
	}
	# The image, offline: the e2e rootfs as an OCI archive.
	tar -C "$ROOTFS" -cf "$E2E_DIR/rootfs.tar" .
	podman import "$E2E_DIR/rootfs.tar" "$IMAGE" >/dev/null
	podman save --format oci-archive -o "$E2E_DIR/image.tar" "$IMAGE" 2>/dev/null
	podman rmi -f "$IMAGE" >/dev/null
	ctr_ images import "$E2E_DIR/image.tar" >/dev/null
}

teardown_file() {
	local id
	for id in $(ctr_ containers ls -q 2>/dev/null); do
		ctr_ tasks kill -s KILL "$id" >/dev/null 2>&1 || true
		ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true
		ctr_ containers delete "$id" >/dev/null 2>&1 || true
	done
	for id in "$CTRD"/mnt/*; do
		[ -d "$id" ] && ctr_ images unmount --rm "$id" >/dev/null 2>&1 || true
	done
	if [ -f "$CTRD/pid" ]; then
		kill "$(cat "$CTRD/pid")" 2>/dev/null || true
		wait "$(cat "$CTRD/pid")" 2>/dev/null || true
	fi
	e2e_teardown_file
}

setup() {
	e2e_setup
	LOG="$LIFECYCLE"
}

teardown() {
	stop_daemon
	stop_servers
	assert_hookd_alive
}

ctr_() {
	ctr --address "$CTRD_SOCK" --namespace "$CTR_NS" "$@"
}

# The base runtime spec an admin writes for containerd: its defaults with
# cgfence's hooks (this build and this test's paths).
base_spec() {
	ctr_ oci spec | jq --slurpfile hooks "$REPO/contrib/runc/config-hooks.json" \
		--arg path "$HOOK_PATH" --argjson create "$(hook_args createRuntime)" --argjson poststop "$(hook_args poststop)" '
	  .hooks = $hooks[0].hooks
	  | .hooks.createRuntime[0] |= (.path = $path | .args = $create)
	  | .hooks.poststop[0] |= (.path = $path | .args = $poststop)'
}

# ctr_run NAME ANNOTATIONS-JSON CMD...: runs a container of the image in
# the foreground: the base spec plus what the CRI plugin sets for a pod's
# container (rootfs, cgroup, annotations, args), without CAP_NET_RAW (a
# pod's securityContext drops it: where the BPF LSM cannot load, as here,
# the hook refuses a container holding it). The host's network
# namespace, so the probe reaches this test's servers on loopback.
ctr_run() {
	local name=$1 annotations=$2 id="$TEST_ID-$1" mnt="$CTRD/mnt/$1" rc=0
	shift 2
	mkdir -p "$mnt"
	ctr_ images mount --rw "$IMAGE" "$mnt" >/dev/null
	base_spec | jq --arg root "$mnt" --arg cg "/$id" --argjson a "$annotations" \
		--argjson args "$(printf '%s\n' "$@" | jq -R . | jq -s .)" '
	  .root = {"path": $root} | .process.args = $args | .process.terminal = false
	  | .annotations = $a | .linux.cgroupsPath = $cg
	  | .linux.namespaces |= map(select(.type != "network"))
	  | .process.capabilities |= with_entries(.value |= map(select(. != "CAP_NET_RAW")))' >"$CTRD/$name.json"
	ctr_ run --rm --config "$CTRD/$name.json" "$id" || rc=$?
	ctr_ images unmount --rm "$mnt" >/dev/null
	return $rc
}

# The annotations containerd's CRI plugin writes for container app of pod
# api-0 in namespace NS (trimmed to the identity and the type).
containerd_pod() {
	printf '{"io.kubernetes.cri.container-type": "container",
	  "io.kubernetes.cri.sandbox-namespace": "%s",
	  "io.kubernetes.cri.sandbox-name": "api-0",
	  "io.kubernetes.cri.sandbox-id": "0123456789abcdef",
	  "io.kubernetes.cri.container-name": "app"%s}' "$1" "${2:+, $2}"
}

@test "containerd + ctr run: the base spec's hooks fence a pod's container, and its denial names the pod" {
	ok=$(random_port)
	bad=$((ok + 1))
	policy ctrd-shop "\"selector\": {\"io.kubernetes.cri.sandbox-namespace\": \"ctrd-shop\"},
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	  {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$ok]}]}"
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	start_daemon
	served=$(hookd_served)

	# Unfenced (another namespace: no policy selects it), both answer.
	run ctr_run other "$(containerd_pod default)" /probe connect tcp 127.0.0.1 $bad
	echo "$output"
	[ "$status" -eq 0 ] && [ "$output" = ok ]

	run ctr_run app "$(containerd_pod ctrd-shop)" /bin/sh -c \
		"/probe connect tcp 127.0.0.1 $ok; /probe connect tcp 127.0.0.1 $bad; true"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "ok
EPERM" ]
	# hookd served both containers' createRuntime and poststop (it logs
	# and records a poststop once it has answered it).
	within 30 eval '[ "$(($(hookd_served) - served))" -eq 4 ]'

	within 30 jq -e -s 'map(select(.type == "deny")) | length >= 1' "$LOG" >/dev/null
	within 30 jq -e -s --arg c "$TEST_ID-app" 'any(.[]; .type == "lifecycle" and .event == "removed" and .container_id == $c)' "$LOG" >/dev/null
	stop_daemon
	jq -c -s --arg c "$TEST_ID-app" 'map(select(.type == "deny" and .container_id == $c))' "$LOG" |
		jq -e --argjson p $bad 'length == 1 and .[0].dport == $p and .[0].policy == "ctrd-shop"
		  and .[0].hook == "connect4" and .[0].comm == "probe" and .[0].rule == "egress.default"
		  and .[0].kubernetes == {"namespace": "ctrd-shop", "pod": "api-0", "container": "app"}'
	# Its lifecycle: applied at createRuntime, removed at poststop, both
	# naming the pod.
	jq -c -s --arg c "$TEST_ID-app" 'map(select(.type == "lifecycle" and .container_id == $c))' "$LOG" |
		jq -e 'map(.event) == ["applied", "removed"] and all(.kubernetes.pod == "api-0")'
	run "$CGFENCE" log "$LOG" --namespace ctrd-shop --pod api-0 --verdict deny --json
	[ "$(echo "$output" | jq -s length)" -eq 1 ]
	assert_nothing_pinned
}

@test "containerd: a pod's container whose policy does not exist is not started" {
	run ctr_run nope "$(containerd_pod ctrd-shop '"cgfence.policy": "nope"')" /bin/sh -c 'echo started'
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *'policy "nope" named by annotation cgfence.policy does not exist'* ]]
	[[ "$output" != *started* ]]
	assert_nothing_pinned
}
