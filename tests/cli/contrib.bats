#!/usr/bin/env bats
# What contrib/ ships is what cgfence accepts.

setup() {
	CGFENCE=${OUT:-build}/cgfence
	DIR=$(mktemp -d)
}

teardown() {
	rm -rf "$DIR"
}

@test "the systemd reload unit runs a command cgfence has" {
	exec_line=$(sed -n 's|^ExecStart=/usr/local/bin/cgfence ||p' contrib/systemd/cgfence-reload.service)
	[ -n "$exec_line" ]
	run "$CGFENCE" ${exec_line%% *} --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--policy-dir DIR"* ]]
}

@test "the systemd daemon unit serves metrics on the loopback only, with flags cgfence has" {
	exec_line=$(sed -n 's|^ExecStart=/usr/local/bin/cgfence ||p' contrib/systemd/cgfence-daemon.service)
	[[ " $exec_line " == *" --metrics 127.0.0.1:"[0-9]*" "* ]]
	run "$CGFENCE" daemon --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--metrics ADDR:PORT"* ]]
	[[ "$output" == *"--metrics-textfile FILE"* ]]
}
