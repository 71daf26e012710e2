#!/usr/bin/env bats
# Input files are regular files: a FIFO (which would block the open or
# the read forever) or a device (/dev/zero never ends) is refused at once
# with a message naming it, and a log line is bounded. No root, no kernel.
# Every run is under `timeout 5`, so that a regression fails, not hangs.

load ../common

FIXTURE="$REPO/tests/fixtures/audit-sample.jsonl"

setup() {
	FIFO="$BATS_TEST_TMPDIR/fifo"
	mkfifo "$FIFO"
}

# refused_input EXPECTED-MESSAGE CGFENCE-ARGS...: exit 1, promptly, message shown.
refused_input() {
	local want=$1
	shift
	# A bounded address space: a regression reading /dev/zero must not
	# take the machine's memory for the 5 s before timeout stops it.
	run bash -c 'ulimit -v 1000000; exec timeout 5 "$@"' - "$CGFENCE" "$@"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$want"* ]]
}

@test "check refuses a FIFO and a device, and still checks a regular file" {
	refused_input "$FIFO: not a regular file" check "$FIFO"
	refused_input "/dev/zero: not a regular file" check /dev/zero
	run timeout 5 "$CGFENCE" check "$REPO/policies/web.json"
	[ "$status" -eq 0 ]
	[[ "$output" == *"web.json: ok: "* ]]
}

@test "explain refuses a FIFO as its policy, and still reads a regular file" {
	refused_input "$FIFO: not a regular file" explain --policy "$FIFO" --egress 10.0.0.1:443/tcp
	run timeout 5 "$CGFENCE" explain --policy "$REPO/policies/web.json" --egress 10.0.0.1:443/tcp
	[ "$status" -eq 0 ]
	[[ "$output" == "egress 10.0.0.1:443/tcp: "* ]]
}

@test "log refuses a FIFO, /dev/zero and a directory, and still reads a regular file" {
	refused_input "cgfence: $FIFO: not a regular file" log "$FIFO"
	refused_input "cgfence: /dev/zero: not a regular file" log /dev/zero
	refused_input "cgfence: $BATS_TEST_TMPDIR: Is a directory" log "$BATS_TEST_TMPDIR"
	run timeout 5 "$CGFENCE" log --json "$FIXTURE"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '^{')" -eq 10 ]
}

@test "log skips a line longer than 64 KiB and counts it, and reads on" {
	local log="$BATS_TEST_TMPDIR/long.jsonl" pad
	head -n 2 "$FIXTURE" >"$log"
	# 64 KiB exactly is still a record; one byte more is not.
	pad=$(head -c $((65536 - 21)) /dev/zero | tr '\0' a)
	printf '{"type":"x","pad":"%s"}\n' "$pad" >>"$log"
	printf '{"type":"x","pad":"%sa"}\n' "$pad" >>"$log"
	sed -n 3p "$FIXTURE" >>"$log"
	head -c 200000 /dev/zero | tr '\0' b >>"$log" # no newline at the end
	run timeout 5 "$CGFENCE" log --json "$log"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '^{')" -eq 4 ]
	[[ "$output" == *"$(sed -n 3p "$FIXTURE")"* ]]
	[[ "$output" == *"long.jsonl: 2 line(s) longer than 64 KiB were skipped"* ]]
	[[ "$output" != *"not valid JSON"* ]]
}

@test "log --follow reads a regular file as it grows" {
	local log="$BATS_TEST_TMPDIR/grow.jsonl" out="$BATS_TEST_TMPDIR/follow.out" follower
	head -n 1 "$FIXTURE" >"$log"
	timeout 20 "$CGFENCE" log --follow --json "$log" >"$out" 2>&1 &
	follower=$!
	within 30 test -s "$out"
	sed -n 2,3p "$FIXTURE" >>"$log"
	within 30 eval '[ "$(grep -c "^{" "$out")" -ge 3 ]'
	kill "$follower"
	wait "$follower" || true
	cat "$out"
	[ "$(grep -c '^{' "$out")" -eq 3 ]
	[ "$(sed -n 3p "$out")" = "$(sed -n 3p "$FIXTURE")" ]
}
