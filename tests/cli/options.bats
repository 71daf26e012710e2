#!/usr/bin/env bats
# Every numeric or address option is parsed strictly: a bad value is
# refused with a message naming the option, before anything is done.
# No root needed: nothing gets far enough to touch the kernel.

load ../common

refused() { # OPTION-NAME CGFENCE-ARGS...: exit status 2 and the option named
	local name=$1
	shift
	run "$CGFENCE" "$@" </dev/null
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$name"* ]]
}

@test "daemon --stats-interval takes whole seconds, 1 to 86400" {
	for bad in -1 0 10x '' ' 5' 0x10 86401 99999999999999999999999; do
		refused "--stats-interval '$bad'" daemon --stats-interval "$bad"
	done
}

@test "daemon --buffer-events takes a whole number of events, 1 to 1048576" {
	for bad in 0 -1 64k '' 1048577 99999999999999999999999; do
		refused "--buffer-events '$bad'" daemon --buffer-events "$bad"
	done
}

@test "apply --event-budget takes a whole number, 1 to 4294967295" {
	for bad in 5x 0 -3 4294967296 1.5; do
		refused "--event-budget '$bad'" apply --cgroup /nonexistent --policy /nonexistent --event-budget "$bad"
	done
}

@test "hook --timeout takes whole seconds, 1 to 3600" {
	for bad in 0 3601 2s -1; do
		run "$CGFENCE" hook --timeout "$bad" createRuntime </dev/null
		[ "$status" -ne 0 ]
		[[ "$output" == *"--timeout '$bad': expected 1 to 3600 seconds"* ]]
	done
}

@test "log --port takes a port, --dest a CIDR as policies write it, --since a date or whole units" {
	for bad in abc 0 70000 80x; do
		refused "--port '$bad': expected a port, 1 to 65535" log --port "$bad" /dev/null
	done
	refused "--dest '10.0.0.0/x': \"10.0.0.0/x\" has an invalid prefix length" log --dest 10.0.0.0/x /dev/null
	refused "--dest '10.0.0.1/8': 10.0.0.1/8 has host bits set (did you mean 10.0.0.0/8?)" log --dest 10.0.0.1/8 /dev/null
	refused "--dest '10.0.0.0/33'" log --dest 10.0.0.0/33 /dev/null
	refused "--dest 'fd00::/129'" log --dest fd00::/129 /dev/null
	for bad in -2h 1e3h 1.5h 2w h 99999999999d; do
		refused "--since $bad: expected a date" log --since "$bad" /dev/null
	done
	# The good forms still work.
	run "$CGFENCE" log --dest 10.0.0.0/8 --port 443 --since 2h --until 2026-11-25 "$REPO/tests/fixtures/audit-sample.jsonl"
	[ "$status" -eq 0 ]
}

@test "--version names the version and the BPF object the binary loads" {
	run "$CGFENCE" --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "cgfence "?* ]]
	[ "${lines[1]}" = "BPF object sha256 $(sha256sum "$OUT/cgfence.bpf.o" | cut -d' ' -f1), ABI $(awk '/define CGF_ABI_VERSION/{print $3}' include/cgfence_abi.h)" ]
	version=${lines[0]#cgfence }
	run "$OUT/cgfence-hook" --version
	[ "$status" -eq 0 ]
	[ "$output" = "cgfence-hook $version" ]
}

@test "apply --record-size takes 1 to 1048576 entries, and only with --record" {
	for bad in 0 1048577 5x -1; do
		refused "--record-size '$bad'" apply --cgroup /nonexistent --record --record-size "$bad"
	done
	refused "--record-size needs --record" apply --cgroup /nonexistent --policy /nonexistent --record-size 10
	# without --record, a policy is required
	refused "usage: cgfence apply" apply --cgroup /nonexistent
}

@test "gc --keep-records takes whole seconds" {
	for bad in -1 1h 4294967296; do
		refused "--keep-records '$bad'" gc --keep-records "$bad"
	done
}

@test "suggest: prefix lengths, names, and one source, one mode" {
	for bad in 0 33 24x; do
		refused "--aggregate-v4 '$bad': expected a prefix length, 1 to 32" suggest --cgroup /x --aggregate-v4 "$bad"
	done
	for bad in 0 129; do
		refused "--aggregate-v6 '$bad': expected a prefix length, 1 to 128" suggest --cgroup /x --aggregate-v6 "$bad"
	done
	refused "--name 'Web/1': expected a policy name" suggest --cgroup /x --name Web/1
	refused "suggest needs one of --cgroup DIR and --container ID" suggest
	refused "suggest needs one of --cgroup DIR and --container ID" suggest --cgroup /x --container y
	refused "--merge and --against go one at a time" suggest --cgroup /x --merge a --against b
}
