#!/usr/bin/env bats
# What contrib/ ships is what cgfence accepts.

setup() {
	CGFENCE=${OUT:-build}/cgfence
	DIR=$(mktemp -d)
}

teardown() {
	rm -rf "$DIR"
}

@test "the policies of the example ConfigMap pass cgfence check as a directory" {
	python3 - "$DIR" <<-'PY'
		import sys, yaml
		cm = yaml.safe_load(open("deploy/kubernetes/policies-configmap.yaml"))
		for key, text in cm["data"].items():
		    open(f"{sys.argv[1]}/{key}", "w").write(text)
	PY
	run "$CGFENCE" check "$DIR"
	[ "$status" -eq 0 ]
	[[ "$output" == *"2 policies, 1 with a selector"* ]]
}

@test "the systemd reload unit runs a command cgfence has" {
	exec_line=$(sed -n 's|^ExecStart=/usr/local/bin/cgfence ||p' contrib/systemd/cgfence-reload.service)
	[ -n "$exec_line" ]
	run "$CGFENCE" ${exec_line%% *} --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--policy-dir DIR"* ]]
}
