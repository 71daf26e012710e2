#!/usr/bin/env bats
# The record -> suggest -> enforce loop with real containers: a container
# annotated cgfence.record: "true" under runc and under podman is recorded
# by the OCI hook; after it stopped, `cgfence suggest --container ID`
# prints its policy, and the same workload run under that policy gets no
# denial while anything else is denied. Needs root; runs in CI as root
# (nothing here skips itself).

load ../common
load e2e

setup_file() {
	e2e_setup_file
	export HOOKS_DIR="$E2E_DIR/hooks.d"
	export IMAGE="localhost/cgfence-e2e-record:$TEST_ID"
	mkdir -p "$HOOKS_DIR"
	tar -C "$ROOTFS" -cf "$E2E_DIR/rootfs.tar" .
	podman import "$E2E_DIR/rootfs.tar" "$IMAGE" >/dev/null
}

teardown_file() {
	podman rm -f --filter "name=^$TEST_ID-" >/dev/null 2>&1 || true
	podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
	e2e_teardown_file
}

setup() {
	e2e_setup
}

teardown() {
	stop_servers
	assert_hookd_alive
}

suggest_for() { # CONTAINER-ID NAME: the suggestion, as POLICY_DIR/NAME.json
	"$CGFENCE" suggest --bpffs "$BPFFS" --container "$1" --name "$2" >"$POLICY_DIR/$2.json"
	"$CGFENCE" check "$POLICY_DIR/$2.json"
	python3 "$REPO/tools/schema_check.py" "$REPO/policies/cgfence-policy.schema.json" "$POLICY_DIR/$2.json"
}

@test "runc: a recorded container, then the same workload under its suggested policy: no denial, anything else denied" {
	a=$(random_port)
	b=$((a + 1))
	start_server tcp 127.0.0.1 $a
	start_server udp 127.0.0.1 $b
	workload="/probe request tcp 127.0.0.1 $a; /probe request udp 127.0.0.1 $b; /probe open /dev/null rw"
	new_bundle rec '{"cgfence.record": "true"}' /bin/sh -c "$workload"
	run_container rec
	[ "$status" -eq 0 ]
	assert_output_is $'ok\nok\nok'
	run lifecycle ".event == \"applied\" and .container_id == \"$(container_id rec)\""
	[[ "$output" == *'"policy":"record","policy_id"'*'"mode":"audit"'* ]]
	# The container is gone; its record is not.
	assert_nothing_pinned
	suggest_for "$(container_id rec)" e2e-rec
	jq -e --argjson a $a --argjson b $b '
	  ([.egress.rules[] | {protocol, ports, to}] == [
	    {"protocol": "tcp", "ports": [$a], "to": ["127.0.0.1"]},
	    {"protocol": "udp", "ports": [$b], "to": ["127.0.0.1"]}]) and
	  (.devices.rules | map(select(.major == 1 and .minor == 3)) | length) == 1' \
		"$POLICY_DIR/e2e-rec.json"

	new_bundle enf '{"cgfence.policy": "e2e-rec"}' /bin/sh -c \
		"$workload; /probe connect tcp 127.0.0.1 $((a + 2)); /probe open /dev/zero r; true"
	run_container enf
	[ "$status" -eq 0 ]
	assert_output_is $'ok\nok\nok\nEPERM\nEPERM'
	run lifecycle ".event == \"applied\" and .container_id == \"$(container_id enf)\""
	[[ "$output" == *'"policy":"e2e-rec"'*'"mode":"enforce"'* ]]
}

@test "runc: a recorded container whose selected policy is in audit mode is recorded under it" {
	port=$(random_port)
	policy e2e-staged '"mode": "audit", "egress": {"default": "deny"}'
	policy e2e-strict '"egress": {"default": "deny"}'
	new_bundle staged '{"cgfence.policy": "e2e-staged", "cgfence.record": "true"}' /bin/sh -c \
		"/probe connect tcp 127.0.0.1 $port; true"
	run_container staged
	[ "$status" -eq 0 ]
	assert_output_is ECONNREFUSED
	suggest_for "$(container_id staged)" e2e-staged-suggested
	jq -e --argjson p $port '.egress.rules[0].ports == [$p]' "$POLICY_DIR/e2e-staged-suggested.json"
	run "$CGFENCE" suggest --bpffs "$BPFFS" --container "$(container_id staged)" --against "$POLICY_DIR/e2e-strict.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"egress 127.0.0.1:$port/tcp: deny by egress.default"* ]]
}

@test "runc: the annotation never turns an enforcing policy off: the container runs enforced and unrecorded" {
	port=$(random_port)
	policy e2e-strict '"egress": {"default": "deny"}'
	new_bundle strict '{"cgfence.policy": "e2e-strict", "cgfence.record": "true"}' /bin/sh -c \
		"/probe connect tcp 127.0.0.1 $port; true"
	run_container strict
	[ "$status" -eq 0 ]
	assert_output_is EPERM
	run lifecycle ".event == \"applied\" and .container_id == \"$(container_id strict)\""
	[[ "$output" == *'"policy":"e2e-strict"'*'"mode":"enforce"'* ]]
	run "$CGFENCE" suggest --bpffs "$BPFFS" --container "$(container_id strict)"
	[ "$status" -ne 0 ]
}

@test "runc: a bad cgfence.record value keeps the container from starting" {
	new_bundle badrec '{"cgfence.record": "yes"}' /bin/echo STARTED
	run_container badrec
	[ "$status" -ne 0 ]
	[[ "$output" != *STARTED* ]]
	[[ "$output" == *"annotation cgfence.record: "*"yes"*": expected "*"true"*" or "*"false"* ]]
	assert_nothing_pinned
}

@test "a recording survives a hookd restart" {
	a=$(random_port)
	b=$((a + 2))
	start_server tcp 127.0.0.1 $a
	# The second peer answers only once hookd was restarted.
	new_bundle long '{"cgfence.record": "true"}' /bin/sh -c \
		"/probe request tcp 127.0.0.1 $a; until /probe request tcp 127.0.0.1 $b >/dev/null; do sleep 0.05; done; echo done"
	runc_run_detached long
	within 30 grep -q ok "$BATS_TEST_TMPDIR/long.log"
	stop_hookd
	start_hookd "$HOOKD_SOCKET"
	start_server tcp 127.0.0.1 $b
	within 30 grep -q done "$BATS_TEST_TMPDIR/long.log"
	runc_stop long
	assert_nothing_pinned
	suggest_for "$(container_id long)" e2e-long
	run jq -c '[.egress.rules[] | .ports[]]' "$POLICY_DIR/e2e-long.json"
	[ "$output" = "[$a,$b]" ]
}

@test "podman: record with the annotation, suggest after the container is removed, enforce: no denial" {
	a=$(random_port)
	start_server tcp 127.0.0.1 $a
	jq --arg path "$HOOK_PATH" --argjson args "$(hook_args)" \
		'.hook.path = $path | .hook.args = $args' \
		"$REPO/contrib/oci-hooks.d/cgfence.json" >"$HOOKS_DIR/cgfence.json"
	workload="/probe request tcp 127.0.0.1 $a; /probe open /dev/null rw"
	podman --runtime runc --hooks-dir "$HOOKS_DIR" run --rm \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host \
		--cidfile "$BATS_TEST_TMPDIR/cid" --annotation cgfence.record=true \
		--name "$TEST_ID-prec" "$IMAGE" /bin/sh -c "$workload" >"$BATS_TEST_TMPDIR/out" 2>&1 ||
		{ cat "$BATS_TEST_TMPDIR/out"; false; }
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = $'ok\nok' ]
	assert_nothing_pinned
	suggest_for "$(cat "$BATS_TEST_TMPDIR/cid")" pod-rec
	jq -e --argjson a $a '[.egress.rules[] | .ports[]] == [$a]' "$POLICY_DIR/pod-rec.json"
	run podman --runtime runc --hooks-dir "$HOOKS_DIR" run --rm \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host \
		--annotation cgfence.policy=pod-rec \
		--name "$TEST_ID-penf" "$IMAGE" /bin/sh -c \
		"$workload; /probe connect tcp 127.0.0.1 $((a + 1)); true"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_output_is $'ok\nok\nEPERM'
}
