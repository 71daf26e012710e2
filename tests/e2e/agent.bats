#!/usr/bin/env bats
# The agent image (make image) run with podman the way the kubelet runs
# deploy/kubernetes/cgfence.yaml: each container's command, env, privileges,
# host PID namespace and mounts come from the manifest (daemonset.py), the
# ConfigMap volume is laid out as the kubelet lays it out (NAME.json ->
# ..data/NAME.json, ..data -> ..TIMESTAMP/) at the kubelet's path for the
# pod. There is no kubelet or CRI-O here: podman with --hooks-dir reads the
# hooks.d file the init container wrote, as CRI-O does, and starts the
# workload with runc. The node paths the pod writes are relocated to this
# file's directories; /sys/fs/bpf and /run/cgfence are the host's, with
# this file's names under them. hookd enters the node's namespaces through
# this test's process rather than PID 1 (NODE_NS_PID): this VM's PID 1 is
# not systemd, and refuses every process, root included, its /proc/1/ns.
# Needs root; runs in CI as root.

load ../common
load e2e

MANIFEST=$REPO/deploy/kubernetes/cgfence.yaml

setup_file() {
	fence_setup_file
	export T="$BATS_FILE_TMPDIR"
	export ROOTFS="$T/rootfs"
	export AGENT_IMAGE="localhost/cgfence-agent:$TEST_ID"
	export WORKLOAD_IMAGE="localhost/cgfence-workload:$TEST_ID"
	(cd "$REPO" && OUT=$OUT tools/build_image.sh "$AGENT_IMAGE") >&2
	build_rootfs "$ROOTFS"
	tar -C "$ROOTFS" -cf "$T/rootfs.tar" .
	podman import "$T/rootfs.tar" "$WORKLOAD_IMAGE" >/dev/null
}

teardown_file() {
	podman rm -f --filter "name=^$TEST_ID-" >/dev/null 2>&1 || true
	podman rmi -f "$AGENT_IMAGE" "$WORKLOAD_IMAGE" >/dev/null 2>&1 || true
	fence_teardown_file
}

# Each test is a node of its own: its own pod, paths and audit log.
setup() {
	NODE="$BATS_TEST_TMPDIR/node"
	POD_UID="$(cat /proc/sys/kernel/random/uuid)"
	RUN_DIR="/run/cgfence/$TEST_ID-agent$BATS_TEST_NUMBER"
	NODE_DIR="$NODE/opt/cgfence" HOOKS_DIR="$NODE/hooks.d" AUDIT="$NODE/log/audit.jsonl"
	VOLUME="$NODE/kubelet/pods/$POD_UID/volumes/kubernetes.io~configmap/policies"
}

teardown() {
	podman rm -f --filter "name=^$TEST_ID-" >/dev/null 2>&1 || true
	stop_servers
	rm -rf "$RUN_DIR"
}

# configmap_version POLICY-JSON...: a new ..TIMESTAMP/ directory holding
# the policies and ..data swapped to it in one rename, as the kubelet
# writes a ConfigMap volume (the first call makes the volume).
configmap_version() {
	local version="..$(date +%Y_%m_%d_%H_%M_%S).$RANDOM" text name
	mkdir -p "$VOLUME/$version"
	for text in "$@"; do
		name=$(echo "$text" | jq -r .name)
		echo "$text" >"$VOLUME/$version/$name.json"
		[ -L "$VOLUME/$name.json" ] || ln -s "..data/$name.json" "$VOLUME/$name.json"
	done
	ln -s "$version" "$VOLUME/..data_tmp"
	mv -T "$VOLUME/..data_tmp" "$VOLUME/..data"
}

# shop_policy NAME PORT: pods of namespace shop may reach 127.0.0.1:PORT/tcp only.
shop_policy() {
	printf '{"version": 1, "name": "%s", "selector": {"io.kubernetes.pod.namespace": "shop"},
	  "egress": {"default": "deny", "rules": [
	    {"action": "allow", "to": ["127.0.0.1"], "protocol": "tcp", "ports": [%s]}]}}' "$1" "$2"
}

# The manifest's container NAME as podman options, entrypoint and args.
pod_container() {
	python3 "$BATS_TEST_DIRNAME/daemonset.py" "$MANIFEST" "$1" \
		--map "/opt/cgfence=$NODE_DIR" --map "/etc/containers/oci/hooks.d=$HOOKS_DIR" \
		--map "/var/lib/kubelet=$NODE/kubelet" --map "/var/log/cgfence=${AUDIT%/*}" \
		--env "RUN_DIR=$RUN_DIR" --env "BPFFS=$BPFFS" --env "NODE_NS_PID=$$" \
		--configmap "$VOLUME" --pod-uid "$POD_UID" --pod-ip 127.0.0.1 "${@:2}"
}

# agent_run NAME [PODMAN OPTIONS...]: podman run of the manifest's
# container. Like every container of the node, it is started through the
# node's hooks.d (empty for the init container; hookd's and the daemon's
# starts are fenced by `cgfence hook` or hookd, and no policy selects them).
agent_run() {
	local name=$1 spec opts entry args
	shift
	spec=$(pod_container "$name")
	mapfile -t opts < <(echo "$spec" | jq -r '.podman[]')
	mapfile -t entry < <(echo "$spec" | jq -r '.entrypoint[]')
	mapfile -t args < <(echo "$spec" | jq -r '.args[]')
	podman --runtime runc --hooks-dir "$HOOKS_DIR" run --pull=never --name "$TEST_ID-$name" \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
		"${opts[@]}" "$@" ${entry:+--entrypoint "$(echo "$spec" | jq -c .entrypoint)"} \
		"$AGENT_IMAGE" "${args[@]}"
}

# The pod's life up to running: init to completion, then hookd and the
# daemon, each in its own network namespace (the pod's: hostNetwork is off).
start_pod() {
	run agent_run install --rm --network none
	echo "install: $output"
	[ "$status" -eq 0 ]
	agent_run hookd -d --network none >/dev/null
	agent_run daemon -d --network none >/dev/null
	within 30 eval '[ -S "$RUN_DIR/hookd.sock" ] && grep -q "\"event\":\"started\"" "$AUDIT"' && return 0
	echo "hookd: $(podman logs "$TEST_ID-hookd" 2>&1)" >&2
	echo "daemon: $(podman logs "$TEST_ID-daemon" 2>&1)" >&2
	return 1
}

# What the kubelet does when the pod goes: preStop in hookd, then SIGTERM.
stop_pod() {
	local prestop
	mapfile -t prestop < <(pod_container hookd --prestop | jq -r '.[]')
	podman exec "$TEST_ID-hookd" "${prestop[@]}"
	podman stop -t 10 "$TEST_ID-hookd" "$TEST_ID-daemon" >/dev/null
}

# prestop_as UID: the hookd container's preStop, as the pod UID would run
# it (a late preStop of a pod the node has since replaced).
prestop_as() {
	local opts prestop
	mapfile -t opts < <(pod_container hookd | jq -r '.podman[]')
	mapfile -t prestop < <(pod_container hookd --prestop | jq -r '.[]')
	podman --runtime runc run --pull=never --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
		"${opts[@]}" --env "POD_UID=$1" --entrypoint "${prestop[0]}" "$AGENT_IMAGE" "${prestop[@]:1}"
}

# workload NAME NAMESPACE CMD...: a container of a pod in NAMESPACE under
# CRI-O's annotations, started by podman + runc from the node's hooks.d.
workload() {
	local name=$1 ns=$2
	shift 2
	podman --runtime runc --hooks-dir "$HOOKS_DIR" run --pull=never --rm --name "$TEST_ID-$name" \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host \
		--annotation io.kubernetes.pod.namespace="$ns" --annotation io.kubernetes.pod.name="$name-0" \
		--annotation io.kubernetes.container.name=app "$WORKLOAD_IMAGE" "$@"
}

hookd_requests() {
	podman logs "$TEST_ID-hookd" 2>&1 | grep -c 'hookd: request of pid [0-9]*: exit status' || true
}

@test "the agent pod installs the hook; a pod's runc container is fenced by hookd and its denial reaches the audit log with the pod" {
	ok=$(random_port)
	bad=$((ok + 1))
	configmap_version "$(shop_policy web $ok)"
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	start_pod

	# What install left on the node: one release, current, the policy
	# link to the pod's volume, and the hooks.d file naming them.
	[ "$(readlink "$NODE_DIR/current")" = "releases/$(cat "$NODE_DIR/current/VERSION")" ]
	[ "$(readlink "$RUN_DIR/policies")" = "$VOLUME" ]
	jq -e --arg hook "$NODE_DIR/current/bin/cgfence-hook" --arg p "$RUN_DIR/policies" --arg b "$BPFFS" '
	  .hook.path == $hook and (.hook.args | index($p)) and (.hook.args | index($b)) and
	  .stages == ["createRuntime", "poststop"]' "$HOOKS_DIR/cgfence.json"

	# Unfenced, both ports answer (the probe works).
	assert_probe ok connect tcp 127.0.0.1 $bad

	run workload shop shop /probe connect tcp 127.0.0.1 $ok
	echo "$output"
	[ "$status" -eq 0 ] && [ "$output" = ok ]
	run workload shop shop /probe connect tcp 127.0.0.1 $bad
	echo "$output"
	[ "$output" = EPERM ]
	# Another namespace's pod gets no policy here (no default.json).
	run workload other default /probe connect tcp 127.0.0.1 $bad
	[ "$output" = ok ]
	# hookd served each start and stop, not `cgfence hook` (it logs a
	# poststop once it has answered it).
	within 30 eval '[ "$(hookd_requests)" -ge 6 ]'

	within 30 jq -e -s 'map(select(.type == "deny")) | length >= 1' "$AUDIT" >/dev/null
	jq -c -s --argjson p $bad 'map(select(.type == "deny" and .dport == $p))' "$AUDIT" | jq -e --arg p $bad '
	  length == 1 and .[0].policy == "web" and .[0].verdict == "deny" and .[0].hook == "connect4"
	  and .[0].dst == "127.0.0.1" and .[0].comm == "probe" and .[0].rule == "egress.default"
	  and .[0].kubernetes == {"namespace": "shop", "pod": "shop-0", "container": "app"}'
	run "$CGFENCE" log "$AUDIT" --namespace shop --verdict deny --json
	[ "$(echo "$output" | jq -s length)" -eq 1 ]

	# The daemon's metrics answer on the pod's address and named port.
	port=$(python3 -c 'import sys, yaml
ds = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "DaemonSet"][0]
c = [c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "daemon"][0]
print([p["containerPort"] for p in c["ports"] if p["name"] == "metrics"][0])' "$MANIFEST")
	run nsenter --target "$(podman inspect -f '{{.State.Pid}}' "$TEST_ID-daemon")" --net \
		curl -sf "http://127.0.0.1:$port/metrics"
	[ "$status" -eq 0 ]
	echo "$output" | grep '^cgfence_denials_total{'
	[ "$(echo "$output" | grep '^cgfence_denials_total{' | grep 'namespace="shop"' | grep 'pod="shop-0"' |
		grep 'policy="web"' | awk '{ print $NF }')" = 1 ]

	stop_pod
}

@test "a ConfigMap change reaches a running pod's container through hookd" {
	ok=$(random_port)
	bad=$((ok + 1))
	configmap_version "$(shop_policy web $ok)"
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	start_pod
	podman --runtime runc --hooks-dir "$HOOKS_DIR" run --pull=never -d --name "$TEST_ID-live" \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host \
		--annotation io.kubernetes.pod.namespace=shop "$WORKLOAD_IMAGE" sleep 600 >/dev/null
	run podman exec "$TEST_ID-live" /probe connect tcp 127.0.0.1 $bad
	[ "$output" = EPERM ]

	configmap_version "$(shop_policy web $bad)"
	within 30 eval '[ "$(podman exec "$TEST_ID-live" /probe connect tcp 127.0.0.1 $bad)" = ok ]'
	run podman exec "$TEST_ID-live" /probe connect tcp 127.0.0.1 $ok
	[ "$output" = EPERM ]
	podman rm -f -t 0 "$TEST_ID-live" >/dev/null
	stop_pod
}

@test "the pod going away: the hook is off the node, a running container keeps its fence, its stop still cleans up, and the next pod installs again" {
	ok=$(random_port)
	bad=$((ok + 1))
	configmap_version "$(shop_policy web $ok)"
	start_server tcp 127.0.0.1 $bad
	start_pod
	podman --runtime runc --hooks-dir "$HOOKS_DIR" run --pull=never -d --name "$TEST_ID-keep" \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host \
		--annotation io.kubernetes.pod.namespace=shop "$WORKLOAD_IMAGE" sleep 600 >/dev/null

	stop_pod
	[ ! -e "$HOOKS_DIR/cgfence.json" ]
	[ ! -e "$RUN_DIR/policies" ]
	[ ! -e "$RUN_DIR/hookd.sock" ]
	# The fence is pinned, not held by the pod.
	run podman exec "$TEST_ID-keep" /probe connect tcp 127.0.0.1 $bad
	[ "$output" = EPERM ]
	# New containers get no hook at all (nothing half-installed).
	run workload after shop /probe connect tcp 127.0.0.1 $bad
	[ "$output" = ok ]
	# The running one's poststop runs the node copy's `cgfence hook`
	# (no hookd listens), which removes its fence.
	podman rm -f -t 1 "$TEST_ID-keep" >/dev/null
	[ "$(status_json | jq length)" -eq 0 ]
	[ -z "$(ls -A "$BPFFS/links" 2>/dev/null)" ]

	# The next pod on the node (its own uid and volume) installs again,
	# and a late preStop of the old one leaves that alone.
	old_uid=$POD_UID
	POD_UID=$(cat /proc/sys/kernel/random/uuid)
	VOLUME="$NODE/kubelet/pods/$POD_UID/volumes/kubernetes.io~configmap/policies"
	configmap_version "$(shop_policy web $ok)"
	run agent_run install --rm --network none
	[ "$status" -eq 0 ]
	[ "$(readlink "$RUN_DIR/policies")" = "$VOLUME" ]
	run prestop_as "$old_uid"
	echo "$output"
	[[ "$output" == *"belongs to pod $POD_UID, not this one"* ]]
	[ -e "$HOOKS_DIR/cgfence.json" ] && [ -L "$RUN_DIR/policies" ]
	run prestop_as "$POD_UID"
	[ ! -e "$HOOKS_DIR/cgfence.json" ] && [ ! -e "$RUN_DIR/policies" ]
}

@test "install refuses a kubelet directory that is not where the volume is, and leaves the node as it was" {
	configmap_version "$(shop_policy web 443)"
	run agent_run install --rm --network none --env KUBELET_DIR=/nonexistent
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"no /nonexistent/pods/$POD_UID/volumes/kubernetes.io~configmap/policies on the node"* ]]
	[ ! -e "$HOOKS_DIR/cgfence.json" ]
	[ ! -e "$NODE_DIR/current" ]

	# A broken policy in the ConfigMap is refused before the hook goes in.
	configmap_version '{"version": 1, "name": "web", "egress": {"default": "maybe"}}'
	run agent_run install --rm --network none
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"web.json:1:"*"egress.default"* ]]
	[ ! -e "$HOOKS_DIR/cgfence.json" ]
}
