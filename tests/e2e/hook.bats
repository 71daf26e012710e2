#!/usr/bin/env bats
# `cgfence hook` driven directly with OCI state on stdin, for what a real
# runtime does not easily provoke: oversized or endless input, a held lock,
# processes in the root or the runtime's own cgroup. Needs root; runs in
# CI as root (nothing here skips itself).

load ../common
load e2e

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

setup() {
	e2e_setup
	SLEEPERS=()
}

teardown() {
	kill_sleepers
}

hook() {
	"$CGFENCE" hook --policy-dir "$POLICY_DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" "$@"
}



@test "prestart and poststop given as arguments fence and release a cgroup" {
	policy h-open '"egress": {"default": "deny"}'
	cg=$(new_cgroup stage)
	sleeper "$cg"
	run hook prestart <<<"$(state h-stage created "$LAST_SLEEPER" '{"cgfence.policy": "h-open"}')"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 9
	run "$CGFENCE" status --json --bpffs "$BPFFS"
	[ "$(echo "$output" | jq -r '.[0].container_id + " " + .[0].policy + " " + .[0].state')" = "h-stage h-open ok" ]
	kill "$LAST_SLEEPER"
	wait "$LAST_SLEEPER" 2>/dev/null || true
	run hook poststop <<<"$(state h-stage running 0)"
	[ "$status" -eq 0 ]
	assert_nothing_pinned
}

@test "poststop of an unknown container, or with no state pinned at all, exits 0 quietly" {
	run hook <<<"$(state never-seen stopped 0)"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$CGFENCE" hook --policy-dir "$POLICY_DIR" --bpffs /sys/fs/bpf/nothing-here-$TEST_ID <<<"$(state x stopped 0)"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "poststop leaves a cgroup that still runs processes fenced, and says so" {
	policy h-open '"egress": {"default": "allow"}'
	cg=$(new_cgroup busy)
	sleeper "$cg"
	hook <<<"$(state h-busy creating "$LAST_SLEEPER" '{"cgfence.policy": "h-open"}')"
	run hook <<<"$(state h-busy stopped 0)"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: container h-busy: poststop: cgroup $cg still runs processes; leaving it fenced"* ]]
	kill "$LAST_SLEEPER"
	wait "$LAST_SLEEPER" 2>/dev/null || true
	run hook <<<"$(state h-busy stopped 0)"
	assert_nothing_pinned
}

@test "a failure is one line on stderr and a non-zero exit" {
	cg=$(new_cgroup oneline)
	sleeper "$cg"
	run hook <<<"$(state h-one creating "$LAST_SLEEPER" '{"cgfence.policy": "absent"}')"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "cgfence: container h-one: policy \"absent\" named by annotation cgfence.policy does not exist"* ]]
}

@test "state on stdin is bounded in size and in time" {
	run bash -c "head -c 2000000 /dev/zero | tr '\\0' ' ' | $CGFENCE hook --bpffs $BPFFS --policy-dir $POLICY_DIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot read the container state on stdin: larger than 1 MiB"* ]]
	start=$SECONDS
	# A writer that never closes; process substitution is not waited for.
	run bash -c "exec $CGFENCE hook --timeout 1 --bpffs $BPFFS --policy-dir $POLICY_DIR < <(sleep 20 2>/dev/null)"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot read the container state on stdin: timed out"* ]]
	assert_gave_up "$start" 20
	run hook <<<'{"id": "x", "status": "creating", "pid": 1, "annotations": {"a": 1}}'
	[ "$status" -eq 1 ]
	[[ "$output" == *'invalid container state on stdin: annotation "a" must be a string'* ]]
}

@test "relative paths and unknown stages are refused" {
	run "$CGFENCE" hook --policy-dir policies </dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"must be absolute paths"* ]]
	run "$CGFENCE" hook startContainer </dev/null
	[ "$status" -eq 2 ]
	run hook <<<"$(state h-x running 1)"
	[ "$status" -eq 1 ]
	[[ "$output" == *'cannot tell the hook stage from status "running"'* ]]
}

@test "the root cgroup and the runtime's own cgroup are refused" {
	policy h-open '"egress": {"default": "allow"}'
	sleep 60 &
	SLEEPERS+=($!)
	echo $! >"$(cgroup2_mount)/cgroup.procs"
	run hook <<<"$(state h-root creating $! '{"cgfence.policy": "h-open"}')"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is in the root cgroup; refusing to fence it"* ]]

	cg=$(new_cgroup shared)
	sleeper "$cg"
	run bash -c "echo \$\$ >$cg/cgroup.procs && exec $CGFENCE hook --policy-dir $POLICY_DIR --bpffs $BPFFS --lifecycle-log $LIFECYCLE" \
		<<<"$(state h-shared creating "$LAST_SLEEPER" '{"cgfence.policy": "h-open"}')"
	[ "$status" -eq 1 ]
	[[ "$output" == *"shares the runtime's cgroup $cg; refusing to fence it"* ]]
	assert_nothing_pinned
}

@test "a held state lock makes the hook give up within its timeout, leaving nothing behind" {
	policy h-open '"egress": {"default": "allow"}'
	cg=$(new_cgroup locked)
	sleeper "$cg"
	# Load the programs first so that the directory exists to lock.
	hook <<<"$(state h-warm creating "$LAST_SLEEPER" '{"cgfence.policy": "h-open"}')"
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg"
	hold_state_lock
	start=$SECONDS
	run hook --timeout 2 <<<"$(state h-locked creating "$LAST_SLEEPER" '{"cgfence.policy": "h-open"}')"
	release_state_lock
	[ "$status" -eq 1 ]
	[[ "$output" == *"timed out waiting for the state lock"* ]]
	# (the lock would have been held for 60 s)
	assert_gave_up "$start" 60
	assert_nothing_pinned
}

@test "a container no policy applies to runs unconfined, and that is recorded" {
	cg=$(new_cgroup unconfined)
	sleeper "$cg"
	run hook <<<"$(state h-free creating "$LAST_SLEEPER")"
	[ "$status" -eq 0 ]
	run lifecycle '.event == "unconfined"'
	[[ "$output" == *'"container_id":"h-free"'*'"cgroup":"'"$cg"'"'*'"policy":null'* ]]
	assert_nothing_pinned
}

@test "a policy's tables outlive its last container for the next one, and gc removes them" {
	policy h-open '"egress": {"default": "deny"}'
	cg=$(new_cgroup idle)
	sleeper "$cg"
	hook <<<"$(state h-idle1 creating "$LAST_SLEEPER" '{"cgfence.policy": "h-open"}')"
	kill "$LAST_SLEEPER"
	wait "$LAST_SLEEPER" 2>/dev/null || true
	hook <<<"$(state h-idle1 stopped 0)"
	id=$(lifecycle '.event == "applied"' | jq -r .policy_id)
	name="cgf_l_$id"
	run bpftool map show name "$name"
	[ "$status" -eq 0 ]

	sleeper "$cg"
	hook <<<"$(state h-idle2 creating "$LAST_SLEEPER" '{"cgfence.policy": "h-open"}')"
	[ "$(lifecycle '.container_id == "h-idle2"' | jq -r .policy_id)" = "$id" ]
	kill "$LAST_SLEEPER"
	wait "$LAST_SLEEPER" 2>/dev/null || true
	hook <<<"$(state h-idle2 stopped 0)"

	run "$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[[ "$output" =~ ", "[1-9][0-9]*" unused compiled policies, " ]]
	# freed after an RCU grace period
	within 30 eval '! bpftool map show name "$name" >/dev/null 2>&1'
	run bpftool map show name "$name"
	[ "$status" -ne 0 ]
	assert_nothing_pinned
}

@test "inside a hostile rootfs the hook reads and writes only where it is told" {
	policy h-sym '"egress": {"default": "allow"}'
	rootfs="$BATS_TEST_TMPDIR/rootfs"
	mkdir -p "$rootfs/var/log"
	victim="$BATS_TEST_TMPDIR/victim"
	echo "precious" >"$victim"
	# What a container could plant where a careless hook would look.
	ln -s /etc "$rootfs/policies"
	ln -s "$victim" "$rootfs/audit.jsonl"
	ln -s "$BATS_TEST_TMPDIR" "$rootfs/var/log/cgfence"
	ln -s /etc/passwd "$POLICY_DIR/h-passwd.json"
	cg=$(new_cgroup hostile)
	sleeper "$cg"

	# Relative paths would resolve inside the rootfs: refused.
	run bash -c "cd $rootfs && exec $CGFENCE hook --policy-dir policies --bpffs $BPFFS --lifecycle-log audit.jsonl" \
		<<<"$(state h-sym creating "$LAST_SLEEPER" '{"cgfence.policy": "h-sym"}')"
	[ "$status" -eq 2 ]
	# A symlink at the record path is not followed: the container starts
	# (records are not worth failing it for), the victim is untouched.
	run bash -c "cd $rootfs && exec $CGFENCE hook --policy-dir $POLICY_DIR --bpffs $BPFFS --lifecycle-log $rootfs/audit.jsonl" \
		<<<"$(state h-sym creating "$LAST_SLEEPER" '{"cgfence.policy": "h-sym"}')"
	[ "$status" -eq 0 ]
	[[ "$output" == *"cannot write the lifecycle record"* ]]
	[ "$(cat "$victim")" = "precious" ]
	# A policy file that is a symlink (to /etc/passwd) is refused, by name too.
	run hook <<<"$(state h-sym2 creating "$LAST_SLEEPER" '{"cgfence.policy": "h-passwd"}')"
	[ "$status" -eq 1 ]
	[[ "$output" != *"root:x:0"* ]]
	hook <<<"$(state h-sym stopped 0)" || true
	rm -f "$POLICY_DIR/h-passwd.json"
}

@test "poststop removes exactly its container among others, and a reused id's stale record stays for gc" {
	policy h-open '"egress": {"default": "allow"}'
	for i in 1 2 3 4 5; do
		cg=$(new_cgroup many$i)
		sleeper "$cg"
		eval "pid$i=$LAST_SLEEPER"
		hook <<<"$(state h-many$i creating "$LAST_SLEEPER" '{"cgfence.policy": "h-open"}')"
	done
	kill "$pid3"
	wait "$pid3" 2>/dev/null || true
	hook <<<"$(state h-many3 stopped 0)"
	[ "$(status_json | jq -r '[.[].container_id | select(startswith("h-many"))] | sort | join(" ")')" = "h-many1 h-many2 h-many4 h-many5" ]

	# A runtime killed before poststop, then the same id for a new cgroup:
	# poststop of the new one leaves the old record, stale, to gc.
	kill "$pid5"
	wait "$pid5" 2>/dev/null || true
	rmdir "$CGROOT/many5"
	cg=$(new_cgroup many5b)
	sleeper "$cg"
	hook <<<"$(state h-many5 creating "$LAST_SLEEPER" '{"cgfence.policy": "h-open"}')"
	stop_sleeper
	hook <<<"$(state h-many5 stopped 0)"
	run "$CGFENCE" status --bpffs "$BPFFS"
	[[ "$output" == *"h-many5 "*"stale"*"$CGROOT/many5"* ]]
	[[ "$output" != *"many5b"* ]]
	kill_sleepers
	for i in 1 2 4; do hook <<<"$(state h-many$i stopped 0)"; done
	"$CGFENCE" gc --bpffs "$BPFFS" >/dev/null
	[ "$(status_json | jq '[.[] | select(.container_id | startswith("h-many"))] | length')" = 0 ]
}
