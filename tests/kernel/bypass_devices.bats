#!/usr/bin/env bats
# Devices reached past the cgroup device program. The TIOCGPTPEER ioctl on
# an open /dev/ptmx opens its terminal (c 136:N) with no device check, so a
# policy that lets /dev/ptmx open while it denies terminals cannot hold: it
# is refused. Each probe runs unfenced too, where every way works.

load ../common

PTY=$REPO/tests/probes/pty_peer.py

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

@test "a policy that lets /dev/ptmx open while it denies terminals is refused, and fences nothing" {
	pol="$BATS_TEST_TMPDIR/kt-noterm.json"
	printf '{"version": 1, "name": "kt-noterm",\n "devices": {"default": "allow", "rules": [{"action": "deny", "type": "c", "major": 136, "access": "rw", "comment": "no terminals"}]}}\n' >"$pol"
	cg=$(new_cgroup noterm)
	run apply_policy "$cg" "$pol"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$pol:2:25: devices.default: allows /dev/ptmx (c 5:2) while devices.rules[0] denies a terminal (c 136:1048575): the TIOCGPTPEER ioctl on /dev/ptmx opens its terminal with no device check; deny c 5:2 too, or allow c 136:* \"rw\""* ]]
	run "$CGFENCE" check "$pol"
	[ "$status" -ne 0 ]
	# Nothing half-applied: the cgroup is not fenced.
	run "$PTY" --cgroup "$cg"
	[ "$output" = $'ptmx ok\npts ok\npeer ok' ]
}

@test "with /dev/ptmx denied too, no way leads to a terminal" {
	pol="$BATS_TEST_TMPDIR/kt-noterm2.json"
	printf '{"version": 1, "name": "kt-noterm2", "devices": {"default": "allow", "rules": [{"action": "deny", "type": "c", "major": 5, "minor": 2, "access": "rw"}, {"action": "deny", "type": "c", "major": 136, "access": "rw"}]}}\n' >"$pol"
	cg=$(new_cgroup noterm2)
	apply_policy "$cg" "$pol" >/dev/null
	run "$PTY" --cgroup "$cg"
	[ "$output" = "ptmx EPERM" ]
	mkdir -p "$CGROOT/unfenced"
	run "$PTY" --cgroup "$CGROOT/unfenced"
	[ "$output" = $'ptmx ok\npts ok\npeer ok' ]
}
