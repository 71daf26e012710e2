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
	go=$(new_go_file)
	"$PROBE" --cgroup "$cg1" sendto2 127.0.0.6 "$port" "$go" >"$BATS_TEST_TMPDIR/out" &
	sender=$!
	within 30 test -e "$go.sent"
	run set_cmd add blocked 127.0.0.6
	touch "$go"
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

# set add|del -v: which path the command took.
fast_cmd() {
	"$CGFENCE" -v set "$@" --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
}

@test "set add and del change a running policy from its tables' mirror, with the verdicts of a recompile" {
	port=$(random_port)
	start_server tcp 127.0.0.2 "$port"
	start_server tcp 127.0.3.5 "$port"
	printf '127.0.0.9\n' >"$DIR/sets/blocked.txt"
	# Rule 0 names the set; rule 1 allows a /24 the set will cover and
	# leave again, so the set's bit comes and goes below a shared prefix.
	printf '{"version": 1, "name": "kt-fast", "egress": {"default": "deny", "rules": [{"action": "deny", "to": ["@blocked"]}, {"action": "allow", "to": ["127.0.0.0/8"]}]}}\n' >"$DIR/kt-fast.json"
	cg=$(new_cgroup setfast)
	apply_policy "$cg" "$DIR/kt-fast.json" >/dev/null
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.2 "$port"
	assert_probe ok --cgroup "$cg" request tcp 127.0.3.5 "$port"

	run fast_cmd add blocked 127.0.0.2
	[ "$status" -eq 0 ]
	[[ "$output" == *"no policy compiled"* ]]
	[[ "$output" == *"set blocked: 1 added, 2 entries"* ]]
	[[ "$output" == *"$cg: kt-fast (id "*") -> kt-fast (id "* ]]
	[[ "$output" == *"1 of 1 containers changed (1 tables in place: 1 trie entries"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.2 "$port"
	run fast_cmd add blocked 127.0.3.0/24
	[[ "$output" == *"no policy compiled"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.3.5 "$port"
	run fast_cmd add blocked 127.0.3.5
	[[ "$output" == *"no policy compiled"* ]]
	# The /24 leaves; the host below it is still listed: still denied.
	run fast_cmd del blocked 127.0.3.0/24
	[[ "$output" == *"no policy compiled"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.3.5 "$port"
	run fast_cmd del blocked 127.0.3.5
	[[ "$output" == *"no policy compiled"* ]]
	assert_probe ok --cgroup "$cg" request tcp 127.0.3.5 "$port"
	run fast_cmd del blocked 127.0.0.2
	[ "$status" -eq 0 ]
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.2 "$port"
	[ "$(cat "$DIR/sets/blocked.txt")" = "127.0.0.9" ]
	[ "$(jq -c 'select(.event == "changed" and .source == "set" and .policy == "kt-fast")' "$LIFECYCLE" | wc -l)" -eq 6 ]
	# A pass over the directory compiles the policy: it finds the tables
	# it would make already running (no change, no record).
	run "$CGFENCE" reload --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 0 ]
	[[ "$output" != *"->"* ]]
	[ "$(jq -c 'select(.event == "changed" and .source == "reload")' "$LIFECYCLE" | wc -l)" -eq 0 ]
	# ...and knows them by the compiled digest again: the next change
	# names the version a compile of the same text gives.
	run fast_cmd add blocked 127.0.0.2
	[[ "$output" == *"no policy compiled"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.2 "$port"
}

@test "a set file edited behind cgfence's back, or a damaged mirror, sends set add down the full path" {
	port=$(random_port)
	start_server tcp 127.0.0.2 "$port"
	start_server tcp 127.0.0.3 "$port"
	printf '127.0.0.9\n' >"$DIR/sets/blocked.txt"
	blocked_policy kt-stale
	cg=$(new_cgroup setstale)
	apply_policy "$cg" "$DIR/kt-stale.json" >/dev/null
	# An edit in place (no cgfence command): the index is of an older
	# version, so the command reads the file (and the edit takes effect).
	echo 127.0.0.2 >>"$DIR/sets/blocked.txt"
	run fast_cmd add blocked 127.0.0.3
	[ "$status" -eq 0 ]
	[[ "$output" == *"the full path"*"no index of the set file as it is now"* ]]
	id=$(sed -n 's/.*kt-stale (id \([0-9a-f]*\).*/\1/p' <<<"$output" | head -1)
	[ -n "$id" ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.2 "$port"
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.3 "$port"
	# A mirror left half-changed (its sequence odd) is not trusted.
	printf '\001' | dd of="/run/cgfence/$TEST_ID/$id" bs=1 seek=8 conv=notrunc status=none
	run fast_cmd del blocked 127.0.0.3
	[ "$status" -eq 0 ]
	[[ "$output" == *"the full path"*"no intact mirror"* ]]
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.3 "$port"
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.2 "$port"
	# An entry spelled otherwise in the file is found by the full path.
	printf '127.0.0.9\n127.0.0.3/32\n' >"$DIR/sets/blocked.txt.new"
	mv "$DIR/sets/blocked.txt.new" "$DIR/sets/blocked.txt"
	"$CGFENCE" reload --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" >/dev/null
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.3 "$port"
	run fast_cmd del blocked 127.0.0.3
	[ "$status" -eq 0 ]
	[[ "$output" == *"the full path"* ]]
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.3 "$port"
	[ "$(cat "$DIR/sets/blocked.txt")" = "127.0.0.9" ]
}

@test "one fast set add reaches two policies naming the set, each with its own rule" {
	port=$(random_port)
	start_server tcp 127.0.0.2 "$port"
	printf '127.0.0.9\n' >"$DIR/sets/blocked.txt"
	blocked_policy kt-deny2
	printf '{"version": 1, "name": "kt-allow2", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["@blocked"], "protocol": "tcp"}]}}\n' >"$DIR/kt-allow2.json"
	cg1=$(new_cgroup two1)
	cg2=$(new_cgroup two2)
	apply_policy "$cg1" "$DIR/kt-deny2.json" >/dev/null
	apply_policy "$cg2" "$DIR/kt-allow2.json" >/dev/null
	assert_probe ok --cgroup "$cg1" request tcp 127.0.0.2 "$port"
	assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.2 "$port"
	run fast_cmd add blocked 127.0.0.2
	[ "$status" -eq 0 ]
	[[ "$output" == *"no policy compiled"* ]]
	[[ "$output" == *"2 of 2 containers changed (2 tables in place"* ]]
	assert_probe EPERM --cgroup "$cg1" connect tcp 127.0.0.2 "$port"
	assert_probe ok --cgroup "$cg2" request tcp 127.0.0.2 "$port"
	run fast_cmd del blocked 127.0.0.2
	[[ "$output" == *"no policy compiled"* ]]
	assert_probe ok --cgroup "$cg1" request tcp 127.0.0.2 "$port"
	assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.2 "$port"
}

@test "set add and del refuse a set file that is a symbolic link, and leave the link and the running tables as they are" {
	port=$(random_port)
	printf '127.0.0.9\n' >"$DIR/sets/feed-v1.txt"
	ln -s feed-v1.txt "$DIR/sets/blocked.txt"
	blocked_policy kt-set-link
	cg=$(new_cgroup setlink)
	apply_policy "$cg" "$DIR/kt-set-link.json" >/dev/null
	# The set is read through the link.
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.9 "$port"
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.6 "$port"
	run set_cmd add blocked 127.0.0.6
	[ "$status" -eq 1 ]
	[[ "$output" == *"set blocked: $DIR/sets/blocked.txt is a symbolic link (to feed-v1.txt): set add changes only a regular file"* ]]
	run set_cmd del blocked 127.0.0.9
	[ "$status" -eq 1 ]
	[[ "$output" == *"$DIR/sets/blocked.txt is a symbolic link (to feed-v1.txt): set del"* ]]
	[ "$(readlink "$DIR/sets/blocked.txt")" = feed-v1.txt ]
	[ "$(cat "$DIR/sets/feed-v1.txt")" = 127.0.0.9 ]
	[ "$(ls "$DIR/sets")" = "$(printf 'blocked.txt\nfeed-v1.txt')" ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.9 "$port"
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.6 "$port"
	# show reads through it; an edit of the target still counts.
	run set_cmd show blocked
	[ "$status" -eq 0 ]
	[ "$output" = 127.0.0.9 ]
	printf '127.0.0.6\n' >>"$DIR/sets/feed-v1.txt"
	run "$CGFENCE" reload --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.6 "$port"
}

@test "set add and del refuse sets/ that is a Kubernetes ConfigMap's link into ..data, and leave its files as they are" {
	# A ConfigMap of the policy directory whose items are sets/NAME.txt.
	v1="..2026_12_01_09_00_00.123"
	rm -rf "${DIR:?}/sets"
	mkdir -p "$DIR/$v1/sets"
	printf '127.0.0.9\n' >"$DIR/$v1/sets/blocked.txt"
	blocked_policy kt-set-cm
	mv "$DIR/kt-set-cm.json" "$DIR/$v1/"
	ln -s "$v1" "$DIR/..data"
	ln -s ..data/sets "$DIR/sets"
	ln -s ..data/kt-set-cm.json "$DIR/kt-set-cm.json"
	listing=$(ls -lAR "$DIR")
	for change in "add 127.0.0.6" "del 127.0.0.9"; do
		action=${change% *}
		run set_cmd "$action" blocked "${change#* }"
		[ "$status" -eq 1 ]
		[[ "$output" == *"set blocked: $DIR/sets is a symbolic link (to ..data/sets) of a Kubernetes ConfigMap: set $action changes only a set of its own; change the ConfigMap"* ]]
	done
	[ "$(ls -lAR "$DIR")" = "$listing" ]
	[ "$(cat "$DIR/$v1/sets/blocked.txt")" = 127.0.0.9 ]
	# What the policy names is still read through the links.
	run set_cmd show blocked
	[ "$output" = 127.0.0.9 ]
	run "$CGFENCE" check "$DIR/kt-set-cm.json"
	[ "$status" -eq 0 ]
}
