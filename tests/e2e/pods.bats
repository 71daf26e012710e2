#!/usr/bin/env bats
# Kubernetes pod identity: real busybox containers under runc, fenced
# through cgfence-hook and hookd, whose bundles carry the annotations CRI-O
# and containerd write for a pod's containers. There is no kubelet here:
# the annotations are those the runtimes write (README "Kubernetes pod
# identity"), reproduced. Each runtime's containers are chosen by a
# selector on its own keys, from a policy directory of their own (as on a
# node that runs that runtime). Needs root; runs in CI as root.

load ../common
load e2e

setup_file() {
	e2e_setup_file
}

teardown_file() {
	e2e_teardown_file
}

setup() {
	e2e_setup
	LOG="$LIFECYCLE"
}

teardown() {
	stop_daemon
	for name in crio ctrd pause; do
		runc_cmd delete --force "$name" >/dev/null 2>&1 || true
	done
	assert_hookd_alive
}

# pod_policy DIR NAME KEY PORT: DIR/NAME.json, chosen for namespace
# pods-shop by KEY, allowing egress to 127.0.0.1:PORT/tcp only.
pod_policy() {
	mkdir -p "$1"
	printf '{"version": 1, "name": "%s", "selector": {"%s": "pods-shop"},
	  "egress": {"default": "deny", "rules": [
	    {"action": "allow", "to": ["127.0.0.1"], "protocol": "tcp", "ports": [%s]}]}}\n' \
		"$2" "$3" "$4" >"$1/$2.json"
}

# The records of the audit log matching a jq filter, as one JSON array.
records() {
	jq -c -s "map(select($1))" "$LOG"
}

@test "a pod's containers under CRI-O and containerd keys: named in denials, lifecycle records, log filters and status" {
	ok=$(random_port)
	bad=$((ok + 1))
	start_daemon
	run_then_wait="/probe connect tcp 127.0.0.1 $bad; sleep 30"

	# CRI-O's annotations for container nginx of pod web-0 (trimmed to the
	# identity and the type).
	POLICY_DIR="$BATS_TEST_TMPDIR/crio-node"
	pod_policy "$POLICY_DIR" pods-crio io.kubernetes.pod.namespace $ok
	new_bundle crio '{
	  "io.kubernetes.cri-o.ContainerType": "container",
	  "io.kubernetes.pod.namespace": "pods-shop",
	  "io.kubernetes.pod.name": "web-0",
	  "io.kubernetes.container.name": "nginx"}' /bin/sh -c "$run_then_wait"

	# containerd's for container app of pod api-0, and that pod's pause
	# container (a sandbox: no container name).
	POLICY_DIR="$BATS_TEST_TMPDIR/containerd-node"
	pod_policy "$POLICY_DIR" pods-containerd io.kubernetes.cri.sandbox-namespace $ok
	new_bundle ctrd '{
	  "io.kubernetes.cri.container-type": "container",
	  "io.kubernetes.cri.sandbox-namespace": "pods-shop",
	  "io.kubernetes.cri.sandbox-name": "api-0",
	  "io.kubernetes.cri.container-name": "app"}' /bin/sh -c "$run_then_wait"
	new_bundle pause '{
	  "io.kubernetes.cri.container-type": "sandbox",
	  "io.kubernetes.cri.sandbox-namespace": "pods-shop",
	  "io.kubernetes.cri.sandbox-name": "api-0"}' /bin/sleep 30

	runc_run_detached crio
	runc_run_detached ctrd
	runc_run_detached pause
	within 30 eval '[ "$(records ".type == \"deny\"" | jq length)" -ge 2 ]'

	# status: the pod in the text and in --json
	run "$CGFENCE" status --bpffs "$BPFFS"
	echo "$output"
	[[ "$output" == *"CONTAINER"*"POD"*"POLICY"* ]]
	echo "$output" | grep -E "^$(container_id crio) +pods-shop/web-0 +pods-crio "
	echo "$output" | grep -E "^$(container_id ctrd) +pods-shop/api-0 +pods-containerd "
	echo "$output" | grep -E "^$(container_id pause) +pods-shop/api-0 +pods-containerd "
	status_json | jq -e --arg c "$(container_id crio)" --arg d "$(container_id ctrd)" --arg p "$(container_id pause)" '
	  (map(select(.container_id == $c))[0].kubernetes == {"namespace": "pods-shop", "pod": "web-0", "container": "nginx"}) and
	  (map(select(.container_id == $d))[0].kubernetes == {"namespace": "pods-shop", "pod": "api-0", "container": "app"}) and
	  (map(select(.container_id == $p))[0].kubernetes == {"namespace": "pods-shop", "pod": "api-0", "container": null, "sandbox": true})'

	# A change of the CRI-O node's directory: the changed record names
	# the pod too (reload, or hookd watching the directory: one of them).
	pod_policy "$BATS_TEST_TMPDIR/crio-node" pods-crio io.kubernetes.pod.namespace $((ok + 2))
	"$CGFENCE" reload --policy-dir "$BATS_TEST_TMPDIR/crio-node" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" || true
	within 30 eval '[ "$(records ".event == \"changed\"" | jq length)" -ge 1 ]'
	records '.event == "changed"' | jq -e --arg c "$(container_id crio)" 'length == 1 and .[0].container_id == $c and
	  .[0].kubernetes == {"namespace": "pods-shop", "pod": "web-0", "container": "nginx"}'

	for name in crio ctrd pause; do
		runc_stop "$name"
	done
	within 30 eval '[ "$(records ".event == \"removed\"" | jq length)" -ge 3 ]'
	stop_daemon

	# The daemon's denials name the pod, learned from the hook's records.
	records '.type == "deny"' | jq -e --arg c "$(container_id crio)" --arg d "$(container_id ctrd)" --argjson p $bad '
	  (map(select(.container_id == $c and .dport == $p and .comm == "probe"
	              and .kubernetes == {"namespace": "pods-shop", "pod": "web-0", "container": "nginx"})) | length == 1) and
	  (map(select(.container_id == $d and .dport == $p and .comm == "probe"
	              and .kubernetes == {"namespace": "pods-shop", "pod": "api-0", "container": "app"})) | length == 1)'
	# Each lifecycle record of them too: applied at createRuntime, removed
	# at poststop.
	for name in crio ctrd pause; do
		records ".type == \"lifecycle\" and .container_id == \"$(container_id $name)\"" |
			jq -e '(map(.event) | . - ["changed"] | sort == ["applied", "removed"]) and
			       all(.kubernetes.namespace == "pods-shop")'
	done
	records ".container_id == \"$(container_id pause)\"" | jq -e 'all(.kubernetes.sandbox == true and .kubernetes.container == null)'

	# cgfence log: filters and the POD column
	run "$CGFENCE" log "$LOG" --json --namespace pods-shop --pod web-0
	[ "$status" -eq 0 ]
	# its denial, its two lifecycle records, and the daemon's counts of
	# it (which name the pod even once its cgroup is gone)
	echo "$output" | jq -s -e --arg c "$(container_id crio)" '(map(.cgroup_id) | unique | length == 1) and
	  all(.container_id == $c or .type == "stats") and
	  (map(.type) | (map(select(. == "lifecycle")) | length == 3) and (map(select(. == "deny")) | length == 1)
	   and (map(select(. == "stats")) | length >= 1))'
	run "$CGFENCE" log "$LOG" --json --pod api-0 --verdict deny
	echo "$output" | jq -s -e --arg d "$(container_id ctrd)" 'length == 1 and .[0].container_id == $d'
	run "$CGFENCE" log "$LOG" --json --namespace pods-shop
	[ "$(echo "$output" | jq -s 'map(select(.type == "deny")) | length')" -eq 2 ]
	[ "$(echo "$output" | jq -s 'map(select(.type == "lifecycle")) | length')" -eq 7 ]
	run "$CGFENCE" log "$LOG" --json --namespace default
	[ -z "$output" ]
	run "$CGFENCE" log "$LOG" --verdict deny
	echo "$output"
	echo "$output" | grep -E " deny +\S+ +pods-shop/web-0/nginx +pods-crio +connect4 +127\.0\.0\.1:$bad/tcp"
	echo "$output" | grep -E " deny +\S+ +pods-shop/api-0/app +pods-containerd +connect4 +127\.0\.0\.1:$bad/tcp"
	assert_nothing_pinned
}

@test "a container that is no pod's: no kubernetes field anywhere" {
	start_daemon
	policy e2e-plain '"egress": {"default": "deny"}'
	new_bundle plain '{"cgfence.policy": "e2e-plain", "io.kubernetes.pod.name": "half"}' /bin/sh -c \
		"/probe connect tcp 127.0.0.1 9; true"
	run_container plain
	assert_output_is EPERM
	within 30 eval '[ "$(records ".type == \"deny\"" | jq length)" -ge 1 ] && [ "$(records ".event == \"removed\"" | jq length)" -ge 1 ]'
	stop_daemon
	records ".container_id == \"$(container_id plain)\"" | jq -e 'length == 3 and all(has("kubernetes") | not)'
	run "$CGFENCE" log "$LOG" --json --pod half
	[ -z "$output" ]
}
