# End-to-end helpers: a busybox rootfs with a static probe, runc bundles
# whose hooks run build/cgfence-hook, served by a `cgfence hookd` of this
# test file (as an installed host runs them), with this test's policy
# directory, bpffs directory and lifecycle log, and checks that nothing
# stays pinned.
# Loaded after ../common (TEST_ID, BPFFS, CGFENCE, start_server, ...).

PROBE_STATIC=$OUT/tests/probe-static

# Per-file state: a rootfs shared read-only by every container of the file.
e2e_setup_file() {
	fence_setup_file
	export E2E_DIR="$BATS_FILE_TMPDIR"
	export ROOTFS="$E2E_DIR/rootfs"
	export RUNC_ROOT="$E2E_DIR/runc-root"
	build_rootfs "$ROOTFS"
	start_hookd "$E2E_DIR/hookd.sock"
}

e2e_teardown_file() {
	local id
	for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do
		runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
	done
	stop_hookd
	fence_teardown_file
}

# start_hookd SOCKET: a hookd in the background; its stderr goes to
# SOCKET.log. HOOKD_SOCKET names the socket for hook_args.
start_hookd() {
	export HOOKD_SOCKET=$1
	"$CGFENCE" -v hookd --socket "$1" 2>>"$1.log" &
	echo $! >"$1.pid"
	within 30 test -S "$1" && return 0
	echo "hookd did not start: $(cat "$1.log")" >&2
	return 1
}

# Requests this file's hookd has finished (it logs each one with -v).
hookd_served() {
	grep -c 'hookd: request of pid [0-9]*: exit status' "$HOOKD_SOCKET.log" || true
}

# hookd still runs: without it cgfence-hook would quietly do the work itself.
assert_hookd_alive() {
	if ! kill -0 "$(cat "$HOOKD_SOCKET.pid")" 2>/dev/null; then
		echo "hookd died: $(tail -n 5 "$HOOKD_SOCKET.log")" >&2
		return 1
	fi
}

stop_hookd() {
	local pid
	[ -n "${HOOKD_SOCKET:-}" ] && [ -f "$HOOKD_SOCKET.pid" ] || return 0
	pid=$(cat "$HOOKD_SOCKET.pid")
	kill "$pid" 2>/dev/null || true
	# Gone, so that a hookd started next finds no other on the socket (one
	# that outlives its SIGTERM is a bug to report, from teardown too).
	within 30 hookd_gone "$pid"
	rm -f "$HOOKD_SOCKET.pid"
}

# hold_state_lock: a process takes the state directory's lock ($BPFFS)
# and holds it until release_state_lock (60 s at most); returns once it
# holds it.
hold_state_lock() {
	STATE_LOCK="$BATS_TEST_TMPDIR/state-lock"
	rm -f "$STATE_LOCK.held" "$STATE_LOCK.go"
	flock "$BPFFS" sh -c 'touch "$1.held"; i=0
		while [ ! -e "$1.go" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done' _ "$STATE_LOCK" &
	STATE_LOCK_HOLDER=$!
	within 30 test -e "$STATE_LOCK.held"
}

release_state_lock() {
	touch "$STATE_LOCK.go"
	wait "$STATE_LOCK_HOLDER" 2>/dev/null || true
}

# hookd_gone PID: the process has exited (a zombie counts: its parent, the
# file's setup, may never reap it).
hookd_gone() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || true
	[ -z "$st" ] || [ "$st" = Z ]
}

# Per-test policy directory and lifecycle log: tests never see each
# other's policies.
e2e_setup() {
	export POLICY_DIR="$BATS_TEST_TMPDIR/policies"
	export LIFECYCLE="$BATS_TEST_TMPDIR/lifecycle.jsonl"
	mkdir -p "$POLICY_DIR"
}

build_rootfs() {
	local dir=$1 applet
	mkdir -p "$dir"/{bin,dev,proc,sys,tmp,etc}
	cp /bin/busybox "$dir/bin/busybox"
	for applet in sh sleep cat echo ls mkdir true; do
		ln -sf busybox "$dir/bin/$applet"
	done
	cp "$PROBE_STATIC" "$dir/probe"
	cp "$OUT/tests/attack-static" "$dir/attack"
}

# policy NAME JSON-BODY: writes $POLICY_DIR/NAME.json; the body is the rest
# of the policy object after "version" and "name".
policy() {
	printf '{"version": 1, "name": "%s", %s}\n' "$1" "$2" >"$POLICY_DIR/$1.json"
}

# The hook as a bundle or hooks.d file runs it: cgfence-hook, which hands
# the work to this file's hookd (JSON array of args). HOOK_TIMEOUT, when
# set, is its --timeout (the default 10 s counts time queued in hookd).
HOOK_PATH=$OUT/cgfence-hook
hook_args() { # [STAGE]
	jq -cn --arg sock "$HOOKD_SOCKET" --arg p "$POLICY_DIR" --arg b "$BPFFS" --arg l "$LIFECYCLE" --arg s "${1:-}" \
		--arg t "${HOOK_TIMEOUT:-}" \
		'["cgfence-hook", "--socket", $sock, "--policy-dir", $p, "--bpffs", $b, "--lifecycle-log", $l]
		+ (if $t == "" then [] else ["--timeout", $t] end) + (if $s == "" then [] else [$s] end)'
}

# new_bundle NAME ANNOTATIONS-JSON CMD...: a runc bundle in this test's
# directory. NO_POSTSTOP=1 leaves the poststop hook out (a runtime that
# died before running it).
new_bundle() {
	local name=$1 annotations=$2 dir="$BATS_TEST_TMPDIR/bundles/$1"
	shift 2
	mkdir -p "$dir"
	runc spec --bundle "$dir"
	jq --arg rootfs "$ROOTFS" --arg cgfence "$HOOK_PATH" \
		--argjson create "$(hook_args createRuntime)" \
		--argjson poststop "$(hook_args poststop)" \
		--argjson annotations "$annotations" \
		--argjson poststop_on "$([ "${NO_POSTSTOP:-0}" = 1 ] && echo false || echo true)" \
		--argjson args "$(printf '%s\n' "$@" | jq -R . | jq -s .)" \
		'.root = {"path": $rootfs, "readonly": true}
		| .process.terminal = false
		| .process.args = $args
		| .linux.namespaces |= map(select(.type != "network"))
		| .annotations = $annotations
		| .hooks = {"createRuntime": [{"path": $cgfence, "args": $create, "env": [], "timeout": 30}]}
		| if $poststop_on then .hooks.poststop = [{"path": $cgfence, "args": $poststop, "env": [], "timeout": 30}] else . end' \
		<"$dir/config.json" >"$dir/config.json.new"
	mv "$dir/config.json.new" "$dir/config.json"
}

container_id() {
	echo "${TEST_ID}-$1"
}

# runc_run NAME: runs the bundle in the foreground (its output is the
# container's, plus runc's errors).
runc_run() {
	runc --root "$RUNC_ROOT" run --bundle "$BATS_TEST_TMPDIR/bundles/$1" "$(container_id "$1")"
}

# run_container NAME: bats `run` of runc_run; the output is shown only
# when the test fails.
run_container() {
	run runc_run "$1"
	echo "container $1 exited with $status, output:"
	echo "$output"
}

# runc_run_detached NAME: starts it in the background; stdio goes to a log.
runc_run_detached() {
	runc --root "$RUNC_ROOT" run -d --bundle "$BATS_TEST_TMPDIR/bundles/$1" \
		"$(container_id "$1")" </dev/null >"$BATS_TEST_TMPDIR/$1.log" 2>&1
}

runc_cmd() { # SUBCOMMAND NAME [ARGS...]
	local sub=$1 name=$2
	shift 2
	runc --root "$RUNC_ROOT" "$sub" "$(container_id "$name")" "$@"
}

# The cgroup v2 directory of a running container, from its init's pid.
container_cgroup() {
	local pid
	pid=$(runc_cmd state "$1" | jq -r .pid)
	if ! [ "$pid" -gt 0 ] 2>/dev/null; then
		echo "container $1 is not running: $(cat "$BATS_TEST_TMPDIR/$1.log" 2>/dev/null)" >&2
		return 1
	fi
	echo "$(cgroup2_mount)$(sed -n 's/^0:://p' "/proc/$pid/cgroup")"
}

# Stops and removes a detached container the normal way (poststop runs).
runc_stop() {
	runc_cmd kill "$1" KILL 2>/dev/null || true
	local id=$1
	within 30 eval '[ "$(runc_cmd state "$id" 2>/dev/null | jq -r .status)" = stopped ]' || true
	runc_cmd delete "$1"
}

# The lifecycle records (JSON lines) matching a jq filter.
lifecycle() {
	jq -c "select($1)" "$LIFECYCLE"
}

status_json() {
	"$CGFENCE" status --json --bpffs "$BPFFS"
}

# Nothing of this file's containers is fenced or pinned any more. status
# first: it waits for the state lock, which hookd holds while it finishes a
# poststop it has already answered.
assert_nothing_pinned() {
	local links records
	records=$(status_json)
	if [ "$(echo "$records" | jq length)" != 0 ]; then
		echo "records left: $records" >&2
		return 1
	fi
	links=$(ls -A "$BPFFS/links" 2>/dev/null || true)
	if [ -n "$links" ]; then
		echo "pinned links left: $links" >&2
		return 1
	fi
}

# assert_output_is EXPECTED: the whole output of `run`, line for line.
assert_output_is() {
	if [ "$output" != "$1" ]; then
		printf 'expected:\n%s\ngot:\n%s\n' "$1" "$output" >&2
		return 1
	fi
}

# OCI state for driving a hook by hand: state ID STATUS PID [ANNOTATIONS-JSON]
# Its bundle's config.json grants what `runc spec` does (no CAP_NET_RAW).
state() {
	local bundle="$BATS_FILE_TMPDIR/bundle"
	if [ ! -e "$bundle/config.json" ]; then
		mkdir -p "$bundle"
		echo '{"ociVersion": "1.0.2", "process": {"capabilities": {"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]}}}' >"$bundle/config.json"
	fi
	jq -cn --arg id "$1" --arg status "$2" --argjson pid "$3" --argjson a "${4:-{\}}" --arg b "$bundle" \
		'{ociVersion: "1.0.2", id: $id, status: $status, pid: $pid, bundle: $b, annotations: $a}'
}

# sleeper CGROUP: a process in that cgroup (LAST_SLEEPER); the test's
# teardown ends them all with kill_sleepers.
SLEEPERS=()
sleeper() {
	sleep 60 &
	SLEEPERS+=($!)
	echo $! >"$1/cgroup.procs"
	LAST_SLEEPER=$!
}

stop_sleeper() {
	kill "$LAST_SLEEPER"
	wait "$LAST_SLEEPER" 2>/dev/null || true
}

kill_sleepers() {
	local pid
	for pid in "${SLEEPERS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	SLEEPERS=()
}
