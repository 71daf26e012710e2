#!/usr/bin/env bats
# Address sets on running cgroups: cgfence set add|del changes what a
# fenced cgroup may reach at once, in place, with no gap for connections
# both versions allow; an edit of the set file reaches it through reload.

load ../common

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

setup() {
	DIR="$BATS_TEST_TMPDIR/policies"
	mkdir -p "$DIR/sets"
	LIFECYCLE="$BATS_TEST_TMPDIR/lifecycle.jsonl"
}

teardown() {
	stop_servers
}

set_cmd() {
	"$CGFENCE" set "$@" --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
}

# A policy denying egress to @blocked (and allowing the rest).
blocked_policy() {
	printf '{"version": 1, "name": "%s", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@blocked"]}]}}\n' "$1" >"$DIR/$1.json"
}

@test "set add and del reach a fenced cgroup at once, and nothing else changes" {
	port=$(random_port)
	start_server tcp 127.0.0.1 "$port"
	start_server tcp 127.0.0.2 "$port"
	printf '# feed\n127.0.0.9\n' >"$DIR/sets/blocked.txt"
	blocked_policy kt-set
	cg=$(new_cgroup setadd)
	apply_policy "$cg" "$DIR/kt-set.json" >/dev/null
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 "$port"
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.2 "$port"

	run set_cmd add blocked 127.0.0.2
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "set blocked: 1 added, 2 entries" ]]
	[[ "$output" == *"$cg: kt-set (id "*") -> kt-set (id "* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.2 "$port"
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 "$port"
	# The file keeps its comment, and has the entry.
	grep -qx '# feed' "$DIR/sets/blocked.txt"
	grep -qx '127.0.0.2' "$DIR/sets/blocked.txt"
	jq -e 'select(.event == "changed" and .source == "set" and .policy == "kt-set")' "$LIFECYCLE" >/dev/null

	run set_cmd del blocked 127.0.0.2
	[ "$status" -eq 0 ]
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.2 "$port"
	run set_cmd show blocked
	[ "$output" = "127.0.0.9" ]
}

@test "a set change writes only what it touches, once for the cgroups sharing the policy" {
	port=$(random_port)
	start_server tcp 127.0.0.3 "$port"
	for i in $(seq 1000); do echo "10.$((i / 250)).$((i % 250)).0/24"; done >"$DIR/sets/blocked.txt"
	blocked_policy kt-shared
	cg1=$(new_cgroup shared1)
	cg2=$(new_cgroup shared2)
	apply_policy "$cg1" "$DIR/kt-shared.json" >/dev/null
	apply_policy "$cg2" "$DIR/kt-shared.json" >/dev/null
	run "$CGFENCE" -v set add blocked 127.0.0.3 --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg1" connect tcp 127.0.0.3 "$port"
	assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.3 "$port"
	[ "$(jq -c 'select(.event == "changed" and .policy == "kt-shared")' "$LIFECYCLE" | wc -l)" -eq 2 ]
	# Both moved together: one policy id before and after (in place).
	[ "$(jq -r 'select(.event == "changed" and .policy == "kt-shared") | .policy_id == .previous_policy_id' "$LIFECYCLE" | sort -u)" = true ]
}

@test "a datagram flow remembered under the old set is judged again after a shared in-place change" {
	# Two cgroups share the tables, so set add changes them in place once;
	# the flow cgroup 1 remembered as allowed must not outlive the change.
	port=$(random_port)
	printf '127.0.0.9\n' >"$DIR/sets/blocked.txt"
	blocked_policy kt-flow
	cg1=$(new_cgroup flow1)
	cg2=$(new_cgroup flow2)
	apply_policy "$cg1" "$DIR/kt-flow.json" >/dev/null
	apply_policy "$cg2" "$DIR/kt-flow.json" >/dev/null
	"$PROBE" --cgroup "$cg1" sendto2 127.0.0.6 "$port" 800 >"$BATS_TEST_TMPDIR/out" &
	sender=$!
	sleep 0.3
	run set_cmd add blocked 127.0.0.6
	[ "$status" -eq 0 ]
	[[ "$output" == *"(1 tables in place"* ]]
	wait $sender || true
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = "ok EPERM" ]
	# Unfenced, the same two datagrams go out.
	mkdir -p "$CGROOT/unfenced"
	run "$PROBE" --cgroup "$CGROOT/unfenced" sendto2 127.0.0.6 "$port" 10
	[ "$output" = "ok ok" ]
}

@test "connections both versions of a set allow never fail while it changes" {
	port=$(random_port)
	start_server tcp 127.0.0.1 "$port"
	printf '127.0.0.9\n' >"$DIR/sets/blocked.txt"
	blocked_policy kt-gap
	cg=$(new_cgroup setgap)
	apply_policy "$cg" "$DIR/kt-gap.json" >/dev/null
	(
		for i in $(seq 20); do
			set_cmd add blocked "127.0.1.$i" >/dev/null
			set_cmd del blocked "127.0.1.$i" >/dev/null
		done
	) &
	changer=$!
	failures=0
	attempts=0
	while kill -0 $changer 2>/dev/null; do
		"$PROBE" --cgroup "$cg" request tcp 127.0.0.1 "$port" >/dev/null || failures=$((failures + 1))
		attempts=$((attempts + 1))
	done
	wait $changer
	echo "attempts=$attempts failures=$failures"
	[ "$attempts" -gt 5 ]
	[ "$failures" -eq 0 ]
	[ "$(jq -c 'select(.event == "changed" and .policy == "kt-gap")' "$LIFECYCLE" | wc -l)" -eq 40 ]
}

@test "a set file replaced by a feed reaches the cgroup through reload" {
	port=$(random_port)
	start_server tcp 127.0.0.4 "$port"
	printf '127.0.0.9\n' >"$DIR/sets/blocked.txt"
	blocked_policy kt-feed
	cg=$(new_cgroup feed)
	apply_policy "$cg" "$DIR/kt-feed.json" >/dev/null
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.4 "$port"
	printf '127.0.0.9\n127.0.0.4\n' >"$DIR/sets/blocked.txt.new"
	mv "$DIR/sets/blocked.txt.new" "$DIR/sets/blocked.txt"
	run "$CGFENCE" reload --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.4 "$port"
}

@test "set refuses bad input and changes nothing" {
	printf '127.0.0.9\n' >"$DIR/sets/blocked.txt"
	cp "$DIR/sets/blocked.txt" "$BATS_TEST_TMPDIR/before"
	run set_cmd add blocked 10.0.0.1/8
	[ "$status" -eq 2 ]
	[[ "$output" == *"'10.0.0.1/8': "*"host bits"* ]]
	run set_cmd add blocked 127.0.0.9
	[ "$status" -eq 1 ]
	[[ "$output" == *"127.0.0.9 is already in $DIR/sets/blocked.txt"* ]]
	run set_cmd del blocked 127.0.0.8
	[ "$status" -eq 1 ]
	[[ "$output" == *"127.0.0.8 is not in"* ]]
	run set_cmd add ../x 127.0.0.1
	[ "$status" -eq 2 ]
	[[ "$output" == *"is not a set name"* ]]
	run set_cmd show nope
	[ "$status" -eq 1 ]
	[[ "$output" == *"no $DIR/sets/nope.txt"* ]]
	run set_cmd add blocked
	[ "$status" -eq 2 ]
	run "$CGFENCE" set frob blocked
	[ "$status" -eq 2 ]
	cmp "$DIR/sets/blocked.txt" "$BATS_TEST_TMPDIR/before"
}
