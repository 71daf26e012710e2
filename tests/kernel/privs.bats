#!/usr/bin/env bats
# Least privilege: what /proc shows about the running daemon, and what
# happens when it tries a syscall outside its allow-list.

load ../common

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

setup() {
	LOG="$BATS_TEST_TMPDIR/audit.jsonl"
}


status_field() {
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DAEMON_PID/status"
}

@test "the running daemon holds no capabilities, no new privileges, and a seccomp filter" {
	start_daemon
	[ "$(status_field CapEff)" = "0000000000000000" ]
	[ "$(status_field CapPrm)" = "0000000000000000" ]
	[ "$(status_field CapInh)" = "0000000000000000" ]
	[ "$(status_field CapBnd)" = "0000000000000000" ]
	[ "$(status_field CapAmb)" = "0000000000000000" ]
	[ "$(status_field NoNewPrivs)" = "1" ]
	[ "$(status_field Seccomp)" = "2" ]
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
}

@test "a forbidden syscall (bpf BPF_PROG_LOAD) kills the daemon with SIGSYS" {
	start_daemon --test-forbidden-syscall
	kill -USR1 "$DAEMON_PID"
	rc=0
	wait "$DAEMON_PID" || rc=$?
	# 128 + SIGSYS (31)
	[ "$rc" -eq 159 ]
	! grep -q "was not refused" "$BATS_TEST_TMPDIR/daemon.err"
}

@test "with --seccomp-log the forbidden syscall is only logged, the daemon lives on" {
	start_daemon --test-forbidden-syscall --seccomp-log
	kill -USR1 "$DAEMON_PID"
	sleep 0.3
	kill -0 "$DAEMON_PID"
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
}

@test "under the filter the daemon logs, rotates on SIGHUP and stops on SIGTERM" {
	cg=$(new_cgroup confined)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-privs", "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_daemon
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.31 9
	within 30 grep -q 127.0.0.31 "$LOG"
	mv "$LOG" "$LOG.1"
	kill -HUP "$DAEMON_PID"
	within 30 test -e "$LOG" # reopened
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.32 9
	within 30 grep -q 127.0.0.32 "$LOG"
	grep -q 127.0.0.31 "$LOG.1"
	grep -q 127.0.0.32 "$LOG"
	kill -TERM "$DAEMON_PID"
	rc=0
	wait "$DAEMON_PID" || rc=$?
	[ "$rc" -eq 0 ]
	grep -q '"event":"stopped"' "$LOG"
}
