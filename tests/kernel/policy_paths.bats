#!/usr/bin/env bats
# A policy directory reached through a symbolic link is the same directory:
# a `set add|del` or `reload` that names it by another path than the one a
# cgroup was fenced from must still reach that cgroup, never report
# success while the running tables keep the old version. And a policy
# file that is a link keeps the sets next to the path it was named by.

load ../common

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

setup() {
	REAL="$BATS_TEST_TMPDIR/real-policies"
	LINK="$BATS_TEST_TMPDIR/policies"
	mkdir -p "$REAL/sets"
	ln -s "$REAL" "$LINK"
	LIFECYCLE="$BATS_TEST_TMPDIR/lifecycle.jsonl"
}

teardown() {
	stop_servers
}

# A policy denying egress to @blocked (and allowing the rest).
blocked_policy() {
	printf '{"version": 1, "name": "%s", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@blocked"]}]}}\n' "$1" >"$REAL/$1.json"
}

@test "set add through a linked policy directory reaches the cgroup applied from it" {
	port=$(random_port)
	start_server tcp 127.0.0.2 "$port"
	printf '127.0.0.9\n' >"$REAL/sets/blocked.txt"
	blocked_policy kt-link
	cg=$(new_cgroup linkset)
	apply_policy "$cg" "$LINK/kt-link.json" >/dev/null
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.2 "$port"

	run "$CGFENCE" -v set add blocked 127.0.0.2 --policy-dir "$LINK" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"1 of 1 containers changed"* ]]
	# by the fast path: the tables' record names the directory by its link
	[[ "$output" == *"changed in place from the tables' mirrors"* ]]
	# What the policy now says, in the same tables' logic...
	run "$CGFENCE" explain --policy "$LINK/kt-link.json" --egress "127.0.0.2:$port/tcp"
	[[ "$output" == *"deny by egress.rules[0]"* ]]
	# ...is what the kernel does.
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.2 "$port"

	# And through the real path, the other way round.
	run "$CGFENCE" -v set del blocked 127.0.0.2 --policy-dir "$REAL" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"1 of 1 containers changed"* ]]
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.2 "$port"
}

@test "reload through a linked policy directory reaches the cgroup applied from it" {
	port=$(random_port)
	start_server tcp 127.0.0.3 "$port"
	printf '127.0.0.9\n' >"$REAL/sets/blocked.txt"
	blocked_policy kt-linkreload
	cg=$(new_cgroup linkreload)
	apply_policy "$cg" "$REAL/kt-linkreload.json" >/dev/null
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.3 "$port"

	printf '127.0.0.3\n' >"$REAL/sets/blocked.txt"
	run "$CGFENCE" reload --policy-dir "$LINK" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.3 "$port"
}

@test "a policy file that is a link keeps the sets next to the path it was applied by" {
	# A link within the directory, as a directory may hold (a ConfigMap's
	# NAME.json -> ..data/NAME.json is one): apply reads @blocked from the
	# sets/ next to the path it is given, as check and explain do, so a set
	# add on that directory must reach it.
	port=$(random_port)
	start_server tcp 127.0.0.5 "$port"
	mkdir -p "$REAL/versions"
	printf '127.0.0.9\n' >"$REAL/sets/blocked.txt"
	printf '{"version": 1, "name": "kt-filelink", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@blocked"]}]}}\n' >"$REAL/versions/kt-filelink.json"
	ln -s versions/kt-filelink.json "$REAL/kt-filelink.json"
	cg=$(new_cgroup filelink)
	apply_policy "$cg" "$REAL/kt-filelink.json" >/dev/null
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.5 "$port"

	run "$CGFENCE" set add blocked 127.0.0.5 --policy-dir "$REAL" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$CGFENCE" explain --policy "$REAL/kt-filelink.json" --egress "127.0.0.5:$port/tcp"
	[[ "$output" == *"deny by egress.rules[0]"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.5 "$port"
}
