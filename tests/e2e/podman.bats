#!/usr/bin/env bats
# podman (with runc) running a busybox image made with `podman import`,
# fenced through contrib/oci-hooks.d/cgfence.json as `make install` would
# put it, with paths pointed at this test file's directories. No registry
# is needed. Needs root; runs in CI as root (nothing here skips itself).

load ../common
load e2e

setup_file() {
	e2e_setup_file
	export POLICY_DIR="$E2E_DIR/policies"
	export LIFECYCLE="$E2E_DIR/lifecycle.jsonl"
	export HOOKS_DIR="$E2E_DIR/hooks.d"
	export IMAGE="localhost/cgfence-e2e:$TEST_ID"
	mkdir -p "$POLICY_DIR" "$HOOKS_DIR"
	# The installed hooks.d file, with this build and this test's paths.
	jq --arg path "$HOOK_PATH" --argjson args "$(hook_args)" \
		'.hook.path = $path | .hook.args = $args' \
		"$REPO/contrib/oci-hooks.d/cgfence.json" >"$HOOKS_DIR/cgfence.json"
	tar -C "$ROOTFS" -cf "$E2E_DIR/rootfs.tar" .
	podman import "$E2E_DIR/rootfs.tar" "$IMAGE" >/dev/null
}

teardown_file() {
	podman rm -f --filter "name=^$TEST_ID-" >/dev/null 2>&1 || true
	podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
	e2e_teardown_file
}

teardown() {
	stop_servers
	rm -f "$POLICY_DIR"/*.json
	assert_hookd_alive
}

# podman_run NAME [PODMAN OPTIONS...] -- CMD...
podman_run() {
	local name=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	run podman --runtime runc --hooks-dir "$HOOKS_DIR" run --rm \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host \
		--name "$TEST_ID-$name" "${opts[@]}" "$IMAGE" "$@"
	echo "podman $name exited with $status, output:"
	echo "$output"
}

@test "podman: the hooks.d file fences the container; allowed connect works, denied gets EPERM" {
	ok=$(random_port)
	bad=$((ok + 1))
	policy pod-x "\"egress\": {\"default\": \"deny\", \"rules\": [
	  {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$ok]}]}"
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	served=$(hookd_served)
	podman_run x --annotation cgfence.policy=pod-x -- /bin/sh -c \
		"/probe request tcp 127.0.0.1 $ok; /probe connect tcp 127.0.0.1 $bad; true"
	[ "$status" -eq 0 ]
	assert_output_is $'ok\nEPERM'
	# poststop ran: nothing listed, nothing pinned
	assert_nothing_pinned
	# podman's runc ran cgfence-hook, and hookd did the work
	within 30 eval '[ "$(hookd_served)" -ge $((served + 2)) ]'
	[ "$(hookd_served)" -eq $((served + 2)) ]
	run lifecycle '.event == "removed" and .policy == "pod-x"'
	[[ "$output" == *'"reason":"poststop"'* ]]
}

@test "podman: without an annotation the container gets the default policy" {
	port=$(random_port)
	policy default "\"egress\": {\"default\": \"allow\", \"rules\": [
	  {\"action\": \"deny\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$port]}]}"
	start_server tcp 127.0.0.1 $port
	podman_run plain -- /bin/sh -c "/probe connect tcp 127.0.0.1 $port; true"
	[ "$status" -eq 0 ]
	assert_output_is EPERM
	assert_nothing_pinned
}

@test "podman: a missing policy keeps the container from starting" {
	podman_run missing --annotation cgfence.policy=nope -- /bin/echo STARTED
	[ "$status" -ne 0 ]
	[[ "$output" != *STARTED* ]]
	[[ "$output" == *"nope"*"does not exist"* ]]
	run podman ps -a -q --filter "name=^$TEST_ID-missing\$"
	[ -z "$output" ]
	assert_nothing_pinned
}
