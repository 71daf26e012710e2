#!/usr/bin/env bats
# Address sets under attack: a `cgfence set add|del` killed half-way, or
# racing a feed that replaces the set file, must never leave the kernel
# allowing what the set file forbids once a pass over the directory has
# run. gdb stops the command at a chosen point (a breakpoint on a
# function of the enforcer), where the test kills it or changes the file.

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
	"$CGFENCE" -v set "$@" --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
}

reload_cmd() {
	"$CGFENCE" reload --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
}

# under_gdb FUNCTION GDB-COMMAND... -- SET-ARGS...: cgfence set SET-ARGS,
# stopped at the first call of FUNCTION, where the GDB-COMMANDs run
# ("finish" to return from it, "kill", "shell ..."), then the rest of it.
under_gdb() {
	local fn=$1 ex=()
	shift
	while [ "$1" != -- ]; do
		ex+=(-ex "$1")
		shift
	done
	shift
	gdb -q -batch -ex 'set breakpoint pending on' -ex "break $fn" -ex run \
		-ex "info symbol \$pc" "${ex[@]}" -ex continue \
		--args "$CGFENCE" -v set "$@" --policy-dir "$DIR" --bpffs "$BPFFS" \
		--lifecycle-log "$LIFECYCLE" 2>&1
}

@test "set add killed after its kernel write: a later del of the entry leaves it denied, as a fresh apply does" {
	port=$(random_port)
	start_server tcp 127.0.0.5 "$port"
	printf '127.0.0.9\n' >"$DIR/sets/ok.txt"
	printf '{"version": 1, "name": "kt-kill", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["@ok"]}]}}\n' >"$DIR/kt-kill.json"
	cg=$(new_cgroup killed)
	apply_policy "$cg" "$DIR/kt-kill.json" >/dev/null
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.5 "$port"
	# Killed once the tables have the entry, before anything else says so.
	run under_gdb tables_write_plan finish kill -- add ok 127.0.0.5
	[[ "$output" == *"Value returned is \$1 = 0"* ]]
	grep -qx 127.0.0.5 "$DIR/sets/ok.txt"
	# The entry leaves the file again (whichever path the command takes).
	run set_cmd del ok 127.0.0.5
	[ "$status" -eq 0 ]
	[ "$(cat "$DIR/sets/ok.txt")" = 127.0.0.9 ]
	run "$CGFENCE" explain --policy "$DIR/kt-kill.json" --egress "127.0.0.5:$port/tcp"
	[[ "$output" == *deny* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.5 "$port"
	run reload_cmd
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.5 "$port"
	# A cgroup fenced now with the same files gets what they say.
	cg2=$(new_cgroup fresh)
	apply_policy "$cg2" "$DIR/kt-kill.json" >/dev/null
	assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.5 "$port"
	# Unfenced, the server answers.
	mkdir -p "$CGROOT/unfenced"
	assert_probe ok --cgroup "$CGROOT/unfenced" request tcp 127.0.0.5 "$port"
}

@test "set add killed after its kernel write: the next pass makes the tables what the file says" {
	port=$(random_port)
	start_server tcp 127.0.0.6 "$port"
	printf '127.0.0.9\n' >"$DIR/sets/bl.txt"
	printf '{"version": 1, "name": "kt-kill2", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@bl"]}]}}\n' >"$DIR/kt-kill2.json"
	cg=$(new_cgroup killed2)
	apply_policy "$cg" "$DIR/kt-kill2.json" >/dev/null
	run under_gdb tables_write_plan finish kill -- add bl 127.0.0.6
	[[ "$output" == *"Value returned is \$1 = 0"* ]]
	run reload_cmd
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.6 "$port"
	# And changes after it keep following the file.
	run set_cmd del bl 127.0.0.6
	[ "$status" -eq 0 ]
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.6 "$port"
	run set_cmd add bl 127.0.0.6
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.6 "$port"
}

@test "a feed replacing the set file while set add writes it: the pass gives the tables the feed's file" {
	port=$(random_port)
	start_server tcp 127.0.0.3 "$port"
	printf '127.0.0.9\n' >"$DIR/sets/bl.txt"
	printf '{"version": 1, "name": "kt-feedrace", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@bl"]}]}}\n' >"$DIR/kt-feedrace.json"
	cg=$(new_cgroup feedrace)
	apply_policy "$cg" "$DIR/kt-feedrace.json" >/dev/null
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.3 "$port"
	# The feed's new version (it lists 127.0.0.3) is renamed over the
	# file once set add has appended its line, before it is done.
	printf '127.0.0.9\n127.0.0.3\n' >"$BATS_TEST_TMPDIR/feed.txt"
	run under_gdb set_index_count "shell mv $BATS_TEST_TMPDIR/feed.txt $DIR/sets/bl.txt" -- add bl 127.0.0.2
	[[ "$output" == *"set_index_count"* ]]
	[ "$(cat "$DIR/sets/bl.txt")" = "$(printf '127.0.0.9\n127.0.0.3')" ]
	# hookd would see the rename; without it, reload.
	run reload_cmd
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.3 "$port"
	# The next set add must not trust an index of the file it never wrote.
	run set_cmd add bl 127.0.0.4
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.3 "$port"
	run set_cmd show bl
	[ "$output" = "$(printf '127.0.0.9\n127.0.0.3\n127.0.0.4')" ]
}

@test "set add that cannot look at one container's cgroup does not leave that container's policy behind" {
	port=$(random_port)
	printf '127.0.0.9\n' >"$DIR/sets/mixed.txt"
	printf '{"version": 1, "name": "kt-eio-deny", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@mixed"]}]}}\n' >"$DIR/kt-eio-deny.json"
	printf '{"version": 1, "name": "kt-eio-allow", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["@mixed"]}]}}\n' >"$DIR/kt-eio-allow.json"
	cg1=$(new_cgroup eio1)
	cg2=$(new_cgroup eio2)
	apply_policy "$cg1" "$DIR/kt-eio-deny.json" >/dev/null
	apply_policy "$cg2" "$DIR/kt-eio-allow.json" >/dev/null
	assert_probe ECONNREFUSED --cgroup "$cg1" connect tcp 127.0.0.7 "$port"
	assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.7 "$port"
	# The first open of the cgroup2 mount (finding one container's
	# cgroup) fails once with EIO.
	run strace -f -o /dev/null -P "$(cgroup2_mount)" -e trace=openat \
		-e inject=openat:error=EIO:when=1 \
		"$CGFENCE" -v set add mixed 127.0.0.7 --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 0 ]
	grep -qx 127.0.0.7 "$DIR/sets/mixed.txt"
	# The command succeeded: both containers have what the file says.
	assert_probe EPERM --cgroup "$cg1" connect tcp 127.0.0.7 "$port"
	assert_probe ECONNREFUSED --cgroup "$cg2" connect tcp 127.0.0.7 "$port"
}

@test "apply racing a set add fences the cgroup with the set as the add left it" {
	port=$(random_port)
	printf '127.0.0.9\n' >"$DIR/sets/race.txt"
	printf '{"version": 1, "name": "kt-applyrace", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@race"]}]}}\n' >"$DIR/kt-applyrace.json"
	cg1=$(new_cgroup applyrace1)
	cg2=$(new_cgroup applyrace2)
	apply_policy "$cg1" "$DIR/kt-applyrace.json" >/dev/null
	# apply is stopped as it opens the state; a set add runs to its end
	# there (its lines printed by gdb's shell), then apply goes on.
	run gdb -q -batch -ex 'set breakpoint pending on' -ex 'break state_open' -ex run \
		-ex "shell $CGFENCE set add race 127.0.0.7 --policy-dir $DIR --bpffs $BPFFS --lifecycle-log $LIFECYCLE" \
		-ex continue --args "$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$cg2" \
		--policy "$DIR/kt-applyrace.json" --without-bpf-lsm
	[[ "$output" == *"set race: 1 added"* ]]
	[[ "$output" == *"$cg2: fenced with policy kt-applyrace"* ]]
	grep -qx 127.0.0.7 "$DIR/sets/race.txt"
	assert_probe EPERM --cgroup "$cg1" connect tcp 127.0.0.7 "$port"
	# Both commands are done: the cgroup apply fenced denies it too.
	assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.7 "$port"
}

@test "set add down the full path killed after the kernel write: a later del of the entry leaves it denied" {
	port=$(random_port)
	printf '127.0.0.9\n' >"$DIR/sets/okfull.txt"
	printf '{"version": 1, "name": "kt-killfull", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["@okfull"]}]}}\n' >"$DIR/kt-killfull.json"
	cg=$(new_cgroup killfull)
	apply_policy "$cg" "$DIR/kt-killfull.json" >/dev/null
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.5 "$port"
	# No index of the set: the command reads the file and runs a pass,
	# which changes the tables in place from their mirror; it is killed
	# once that change is in the kernel.
	rm -f /run/cgfence/"$TEST_ID"/setindex-*-okfull
	run under_gdb tables_write_plan finish kill -- add okfull 127.0.0.5
	[[ "$output" == *"Value returned is \$1 = 0"* ]]
	[[ "$output" == *"the full path"* ]]
	grep -qx 127.0.0.5 "$DIR/sets/okfull.txt"
	run set_cmd del okfull 127.0.0.5
	[ "$status" -eq 0 ]
	[ "$(cat "$DIR/sets/okfull.txt")" = 127.0.0.9 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.5 "$port"
	run reload_cmd
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.5 "$port"
}

@test "a set file edited in place to the same size, its mtime put back, is read again, not trusted" {
	port=$(random_port)
	printf '127.0.0.9\n127.0.0.5\n' >"$DIR/sets/edited.txt"
	printf '{"version": 1, "name": "kt-edited", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@edited"]}]}}\n' >"$DIR/kt-edited.json"
	cg=$(new_cgroup edited)
	apply_policy "$cg" "$DIR/kt-edited.json" >/dev/null
	run set_cmd add edited 127.0.0.6
	[[ "$output" == *"no policy compiled"* ]]
	# 127.0.0.5 becomes 127.0.0.3 in place: same inode, same size, and
	# the old mtime written back.
	mtime=$(stat -c %y "$DIR/sets/edited.txt")
	printf '127.0.0.3' | dd of="$DIR/sets/edited.txt" bs=1 seek=10 conv=notrunc status=none
	touch -d "$mtime" "$DIR/sets/edited.txt"
	[ "$(stat -c %y "$DIR/sets/edited.txt")" = "$mtime" ]
	run set_cmd add edited 127.0.0.7
	[ "$status" -eq 0 ]
	[[ "$output" == *"the full path"*"no index of the set file as it is now"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.3 "$port"
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.5 "$port"
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.7 "$port"
}

@test "set add and del whose write of the set file fails change nothing, and say so" {
	port=$(random_port)
	printf '127.0.0.9\n127.0.0.5\n' >"$DIR/sets/eio.txt"
	printf '{"version": 1, "name": "kt-wfail", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@eio"]}]}}\n' >"$DIR/kt-wfail.json"
	cg=$(new_cgroup wfail)
	apply_policy "$cg" "$DIR/kt-wfail.json" >/dev/null
	cp "$DIR/sets/eio.txt" "$BATS_TEST_TMPDIR/before"
	# add appends to the file: that write fails.
	run strace -f -o /dev/null -P "$DIR/sets/eio.txt" -e trace=write \
		-e inject=write:error=EIO:when=1 \
		"$CGFENCE" set add eio 127.0.0.6 --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot write $DIR/sets/eio.txt: Input/output error"* ]]
	cmp "$DIR/sets/eio.txt" "$BATS_TEST_TMPDIR/before"
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.6 "$port"
	# del writes a new file to rename over it: that write fails.
	run strace -f -o /dev/null -P "$DIR/sets/eio.txt.tmp" -e trace=pwrite64 \
		-e inject=pwrite64:error=EIO:when=1 \
		"$CGFENCE" set del eio 127.0.0.5 --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot write $DIR/sets/eio.txt: Input/output error"* ]]
	cmp "$DIR/sets/eio.txt" "$BATS_TEST_TMPDIR/before"
	[ ! -e "$DIR/sets/eio.txt.tmp" ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.5 "$port"
	# Both work once the disk does, in place.
	run set_cmd add eio 127.0.0.6
	[[ "$output" == *"no policy compiled"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.6 "$port"
	run set_cmd del eio 127.0.0.5
	[[ "$output" == *"no policy compiled"* ]]
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.5 "$port"
}

@test "reload that cannot look at one container's cgroup says which and why, fails, and still changes the others" {
	port=$(random_port)
	printf '127.0.0.9\n' >"$DIR/sets/rl.txt"
	printf '{"version": 1, "name": "kt-rl-deny", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@rl"]}]}}\n' >"$DIR/kt-rl-deny.json"
	printf '{"version": 1, "name": "kt-rl-allow", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["@rl"]}]}}\n' >"$DIR/kt-rl-allow.json"
	cg1=$(new_cgroup rleio1)
	cg2=$(new_cgroup rleio2)
	apply_policy "$cg1" "$DIR/kt-rl-deny.json" >/dev/null
	apply_policy "$cg2" "$DIR/kt-rl-allow.json" >/dev/null
	assert_probe ECONNREFUSED --cgroup "$cg1" connect tcp 127.0.0.7 "$port"
	assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.7 "$port"
	# A feed adds 127.0.0.7; the pass finds one container's cgroup with
	# the first open of the cgroup2 mount, which fails with EIO.
	printf '127.0.0.7\n' >>"$DIR/sets/rl.txt"
	run strace -f -o /dev/null -P "$(cgroup2_mount)" -e trace=openat \
		-e inject=openat:error=EIO:when=1 \
		"$CGFENCE" reload --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 1 ]
	[ "$(grep -c 'cannot look at its cgroup: Input/output error' <<<"$output")" -eq 1 ]
	[ "$(grep -c ' -> kt-rl-' <<<"$output")" -eq 1 ]
	# The one it could not look at is named, and keeps its old version;
	# the other has the new one.
	if [[ "$output" == *"$cg1 (cgroup id"*"cannot look"* ]]; then
		[[ "$output" == *"-> kt-rl-allow"* ]]
		assert_probe ECONNREFUSED --cgroup "$cg1" connect tcp 127.0.0.7 "$port"
		assert_probe ECONNREFUSED --cgroup "$cg2" connect tcp 127.0.0.7 "$port"
	else
		[[ "$output" == *"$cg2 (cgroup id"*"cannot look"* ]]
		[[ "$output" == *"-> kt-rl-deny"* ]]
		assert_probe EPERM --cgroup "$cg1" connect tcp 127.0.0.7 "$port"
		assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.7 "$port"
	fi
	# The next pass reaches it.
	run "$CGFENCE" reload --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg1" connect tcp 127.0.0.7 "$port"
	assert_probe ECONNREFUSED --cgroup "$cg2" connect tcp 127.0.0.7 "$port"
}

@test "set add holds the lock a feed writer takes: flock on the sets/ directory" {
	printf '127.0.0.9\n' >"$DIR/sets/lk.txt"
	printf '{"version": 1, "name": "kt-lock", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@lk"]}]}}\n' >"$DIR/kt-lock.json"
	cg=$(new_cgroup lock)
	apply_policy "$cg" "$DIR/kt-lock.json" >/dev/null
	# Stopped with the set read and the change under way, set add holds
	# it: flock(1) on the directory, as README tells a feed, cannot have it.
	run under_gdb set_index_count "shell flock -xn $DIR/sets true; echo \"feed lock: \$?\"" -- add lk 127.0.0.2
	[[ "$output" == *"set_index_count"* ]]
	[[ "$output" == *"feed lock: 1"* ]]
	[[ "$output" == *"set lk: 1 added"* ]]
	# Once it is done, the feed has it.
	flock -xn "$DIR/sets" true
}
