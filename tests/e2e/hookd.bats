#!/usr/bin/env bats
# cgfence-hook (what runtimes run) and `cgfence hookd` (which does the work
# in a resident process), driven with OCI state on stdin: the same results
# and messages as `cgfence hook`, the fallback when no hookd listens, and
# who may talk to hookd. Needs root; runs in CI as root (nothing here
# skips itself).

load ../common
load e2e

setup_file() {
	fence_setup_file
	export E2E_DIR="$BATS_FILE_TMPDIR"
	start_hookd "$E2E_DIR/hookd.sock"
}

teardown_file() {
	stop_hookd
	fence_teardown_file
}

setup() {
	e2e_setup
	SLEEPERS=()
}

teardown() {
	kill_sleepers
	stop_servers
	assert_hookd_alive
}

# client [OPTIONS...]: cgfence-hook with this test's paths and hookd.
client() {
	"$HOOK_PATH" --socket "${SOCKET:-$HOOKD_SOCKET}" --policy-dir "$POLICY_DIR" \
		--bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" "$@"
}

direct() {
	"$CGFENCE" hook --policy-dir "$POLICY_DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" "$@"
}




# private_hookd SOCKET [-v]: another hookd, for a test that stops or breaks
# it; PRIVATE_HOOKD is its pid, SOCKET.log its log.
private_hookd() {
	"$CGFENCE" ${2:-} hookd --socket "$1" 2>"$1.log" &
	PRIVATE_HOOKD=$!
	within 30 grep -q listening "$1.log"
	grep -q listening "$1.log"
}

# stall SOCKET: a client that connects, sends one byte and then nothing;
# STALLER is its pid.
stall() {
	"$PROBE" stall-unix "$1" 20 >"$BATS_TEST_TMPDIR/stall.out" &
	STALLER=$!
	within 30 grep -q stalling "$BATS_TEST_TMPDIR/stall.out"
}

# wait_served N: until hookd has finished N requests (poststop is answered
# before hookd finishes and logs it).
wait_served() {
	local want=$1
	within 30 eval '[ "$(hookd_served)" -ge "$want" ]' && return 0
	echo "hookd served $(hookd_served) requests, not $1" >&2
	return 1
}

@test "through hookd, cgfence-hook fences and releases a cgroup as cgfence hook does" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup served)
	sleeper "$cg"
	before=$(hookd_served)
	run client <<<"$(state d-one creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(hookd_served)" -eq $((before + 1)) ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 9
	[ "$(status_json | jq -r '.[0].container_id + " " + .[0].policy + " " + .[0].state')" = "d-one d-deny ok" ]
	run lifecycle '.event == "applied" and .container_id == "d-one"'
	[[ "$output" == *'"source":"hook"'*'"policy":"d-deny"'* ]]
	stop_sleeper
	run client <<<"$(state d-one stopped 0)"
	[ "$status" -eq 0 ]
	wait_served $((before + 2))
	assert_nothing_pinned
	run lifecycle '.event == "removed" and .container_id == "d-one"'
	[[ "$output" == *'"reason":"poststop"'* ]]
}

@test "hookd fences with a policy of 20,000 addresses, which it writes without threads (its filter kills a process that clones)" {
	port=$(random_port)
	addrs=$(awk 'BEGIN { for (i = 1; i <= 20000; i++) printf "%s\"127.3.%d.%d\"", (i > 1 ? "," : ""), int(i / 256), i % 256 }')
	policy d-big "\"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [$port], \"to\": [$addrs]}]}"
	cg=$(new_cgroup big)
	sleeper "$cg"
	before=$(hookd_served)
	run client <<<"$(state d-big creating "$LAST_SLEEPER" '{"cgfence.policy": "d-big"}')"
	[ "$status" -eq 0 ]
	[ "$(hookd_served)" -eq $((before + 1)) ]
	# the first, the middle and the last address of the trie
	start_server tcp 127.3.0.1 $port
	start_server tcp 127.3.39.16 $port
	start_server tcp 127.3.78.32 $port
	assert_probe ok --cgroup "$cg" request tcp 127.3.0.1 $port
	assert_probe ok --cgroup "$cg" request tcp 127.3.39.16 $port
	assert_probe ok --cgroup "$cg" request tcp 127.3.78.32 $port
	assert_probe EPERM --cgroup "$cg" connect tcp 127.3.78.33 $port
	stop_sleeper
	run client <<<"$(state d-big stopped 0)"
	[ "$status" -eq 0 ]
	wait_served $((before + 2))
}

@test "failures through hookd are the same line on stderr and the same exit status" {
	cg=$(new_cgroup failing)
	sleeper "$cg"
	st=$(state d-fail creating "$LAST_SLEEPER" '{"cgfence.policy": "absent"}')
	before=$(hookd_served)
	run direct <<<"$st"
	[ "$status" -eq 1 ]
	expected=$output
	run client <<<"$st"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$output" = "$expected" ]
	[[ "$output" == "cgfence: container d-fail: policy \"absent\" named by annotation cgfence.policy does not exist"* ]]
	# Usage errors too: exit 2.
	run "$HOOK_PATH" --socket "$HOOKD_SOCKET" --policy-dir policies </dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"must be absolute paths"* ]]
	run client <<<"$(state d-fail running 1)"
	[ "$status" -eq 1 ]
	[[ "$output" == *'cannot tell the hook stage from status "running"'* ]]
	[ "$(hookd_served)" -eq $((before + 3)) ] # hookd answered all three
	assert_nothing_pinned
}

@test "through hookd, the runtime's own cgroup is still refused" {
	policy d-open '"egress": {"default": "allow"}'
	cg=$(new_cgroup shared)
	sleeper "$cg"
	before=$(hookd_served)
	# The client stands in for the runtime: it runs in the container's cgroup.
	run bash -c "echo \$\$ >$cg/cgroup.procs && exec $HOOK_PATH --socket $HOOKD_SOCKET --policy-dir $POLICY_DIR --bpffs $BPFFS --lifecycle-log $LIFECYCLE" \
		<<<"$(state d-shared creating "$LAST_SLEEPER" '{"cgfence.policy": "d-open"}')"
	[ "$status" -eq 1 ]
	[[ "$output" == *"shares the runtime's cgroup $cg; refusing to fence it"* ]]
	[ "$(hookd_served)" -eq $((before + 1)) ]
	assert_nothing_pinned
}

@test "without a hookd listening, cgfence-hook runs cgfence hook itself" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup fallback)
	sleeper "$cg"
	# No socket at all, then a socket file nobody listens on (hookd died).
	SOCKET="$BATS_TEST_TMPDIR/none.sock" run client <<<"$(state d-fb creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 9
	stale="$BATS_TEST_TMPDIR/stale.sock"
	"$CGFENCE" hookd --socket "$stale" 2>/dev/null &
	pid=$!
	within 30 test -S "$stale"
	kill -9 $pid
	wait $pid 2>/dev/null || true
	[ -S "$stale" ]
	stop_sleeper
	SOCKET=$stale run client <<<"$(state d-fb stopped 0)"
	[ "$status" -eq 0 ]
	assert_nothing_pinned
	# The fallback fails closed like the hook.
	sleeper "$cg"
	SOCKET=$stale run client <<<"$(state d-fb creating "$LAST_SLEEPER" '{"cgfence.policy": "absent"}')"
	[ "$status" -eq 1 ]
	[[ "$output" == "cgfence: container d-fb: policy \"absent\" named by annotation cgfence.policy does not exist"* ]]
	assert_nothing_pinned
}

@test "cgfence-hook bounds the state on stdin in size and in time" {
	run bash -c "head -c 2000000 /dev/zero | tr '\\0' ' ' | $HOOK_PATH --socket $HOOKD_SOCKET --bpffs $BPFFS --policy-dir $POLICY_DIR"
	[ "$status" -eq 1 ]
	[ "$output" = "cgfence: hook: cannot read the container state on stdin: larger than 1 MiB" ]
	start=$SECONDS
	run bash -c "exec $HOOK_PATH --socket $HOOKD_SOCKET --timeout 1 --bpffs $BPFFS --policy-dir $POLICY_DIR < <(sleep 20 2>/dev/null)"
	[ "$status" -eq 1 ]
	[ "$output" = "cgfence: hook: cannot read the container state on stdin: timed out" ]
	assert_gave_up "$start" 20
}

@test "hookd answers root only, keeps only the capabilities its BPF work needs, and is confined" {
	pid=$(cat "$HOOKD_SOCKET.pid")
	# SYS_ADMIN, BPF, PERFMON, NET_ADMIN, DAC_READ_SEARCH, DAC_OVERRIDE
	want=$(printf '%016x' $(((1 << 21) | (1 << 39) | (1 << 38) | (1 << 12) | (1 << 2) | (1 << 1))))
	grep -qx "CapEff:	$want" "/proc/$pid/status"
	grep -qx "CapPrm:	$want" "/proc/$pid/status"
	grep -qx "CapBnd:	$want" "/proc/$pid/status"
	grep -qx "CapAmb:	0000000000000000" "/proc/$pid/status"
	grep -qx "NoNewPrivs:	1" "/proc/$pid/status"
	grep -qx "Seccomp:	2" "/proc/$pid/status" # filter mode: exec, fork, mount... kill it
	[ "$(stat -c %a "$HOOKD_SOCKET")" = 600 ]

	# A non-root user cannot even reach the socket...
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$HOOK_PATH" --socket "$HOOKD_SOCKET" </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == "cgfence: hook: cannot reach cgfence hookd at $HOOKD_SOCKET: Permission denied" ]]
	# ...and one let through by careless permissions gets no service.
	open_dir=$(mktemp -d /tmp/cgfence-open.XXXXXX) # bats' own tree is 0700
	sock="$open_dir/hookd.sock"
	"$CGFENCE" hookd --socket "$sock" 2>"$open_dir/log" &
	pid=$!
	within 30 test -S "$sock"
	chmod 0755 "$open_dir"
	chmod 0777 "$sock"
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$HOOK_PATH" --socket "$sock" <<<"{}"
	kill $pid
	wait $pid 2>/dev/null || true
	log=$(cat "$open_dir/log")
	rm -rf "$open_dir"
	[ "$status" -eq 1 ]
	[[ "$output" == "cgfence: hook: cgfence hookd at $sock gave no answer: connection closed" ]]
	[[ "$log" == *"hookd: refused a client that is not root"* ]]
}

@test "a second hookd on the same socket is refused; one that died is replaced" {
	run "$CGFENCE" hookd --socket "$HOOKD_SOCKET"
	[ "$status" -eq 1 ]
	[ "$output" = "cgfence: hookd: $HOOKD_SOCKET: another hookd is listening" ]
	sock="$BATS_TEST_TMPDIR/died.sock"
	private_hookd "$sock"
	kill -9 $PRIVATE_HOOKD
	wait $PRIVATE_HOOKD 2>/dev/null || true
	# The socket file stays behind; the next hookd takes it over.
	[ -S "$sock" ]
	private_hookd "$sock"
	# It serves: a malformed state comes back as the hook's error.
	SOCKET=$sock run client <<<'{"id": 5}'
	kill $PRIVATE_HOOKD
	wait $PRIVATE_HOOKD 2>/dev/null || true
	[ "$status" -eq 1 ]
	[[ "$output" == "cgfence: hook: invalid container state on stdin: "* ]]
}

@test "hookd notices pinned state removed behind its back and loads it anew" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup reload)
	sleeper "$cg"
	client <<<"$(state d-r1 creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	stop_sleeper
	client <<<"$(state d-r1 stopped 0)"
	assert_nothing_pinned
	# What an admin's cleanup (or a reboot of bpffs) does while hookd runs.
	"$CGFENCE" gc --bpffs "$BPFFS" >/dev/null
	rm -rf "$BPFFS" "/run/cgfence/$TEST_ID"
	sleeper "$cg"
	before=$(hookd_served)
	run client <<<"$(state d-r2 creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	[ "$status" -eq 0 ]
	[ "$(hookd_served)" -eq $((before + 1)) ]
	[ -d "$BPFFS/obj" ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 9
	stop_sleeper
	client <<<"$(state d-r2 stopped 0)"
	assert_nothing_pinned
}

@test "through hookd, a policy file edited in place applies to the next container and to running ones" {
	port=$(random_port)
	other=$((port < 60000 ? port + 1 : port - 1)) # as many digits: the edit keeps the size
	edit_policy() { # PORT: allow 127.0.0.1:PORT/tcp only
		printf '{"version": 1, "name": "d-edit", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["127.0.0.1"], "protocol": "tcp", "ports": [%s]}]}}\n' \
			"$1" >"$POLICY_DIR/d-edit.json"
	}
	edit_policy "$other"
	sleep 1.1 # settled: hookd keeps what it parses from now on
	before=$(hookd_served)
	cg=$(new_cgroup edit1)
	sleeper "$cg"
	client <<<"$(state d-e1 creating "$LAST_SLEEPER" '{"cgfence.policy": "d-edit"}')"
	first=$(lifecycle '.container_id == "d-e1" and .event == "applied"' | jq -r .policy_id)
	cg2=$(new_cgroup edit2)
	sleeper "$cg2"
	client <<<"$(state d-e2 creating "$LAST_SLEEPER" '{"cgfence.policy": "d-edit"}')"
	[ "$(lifecycle '.container_id == "d-e2" and .event == "applied"' | jq -r .policy_id)" = "$first" ]

	start_server tcp 127.0.0.1 "$port"
	assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.1 "$port"
	# An admin edits the file in place: same inode, same size, only the
	# times tell. The next container gets the new rules, and hookd, which
	# watches the directory, gives them to the running ones (live.bats).
	size=$(stat -c %s "$POLICY_DIR/d-edit.json")
	edit_policy "$port"
	[ "$(stat -c %s "$POLICY_DIR/d-edit.json")" = "$size" ]
	cg3=$(new_cgroup edit3)
	sleeper "$cg3"
	client <<<"$(state d-e3 creating "$LAST_SLEEPER" '{"cgfence.policy": "d-edit"}')"
	[ "$(lifecycle '.container_id == "d-e3" and .event == "applied"' | jq -r .policy_id)" != "$first" ]
	assert_probe ok --cgroup "$cg3" request tcp 127.0.0.1 "$port"
	within 30 eval '[ "$("$PROBE" --cgroup "$cg" connect tcp 127.0.0.1 "$port")" = ok ]'
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 "$port"
	[ "$(hookd_served)" -eq $((before + 3)) ]
	stop_servers
	kill_sleepers
	for id in d-e1 d-e2 d-e3; do client <<<"$(state $id stopped 0)"; done
	assert_nothing_pinned
}

@test "hookd drops a client that stalls (after 2 s) and serves the request behind it" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup stalled)
	sleeper "$cg"
	stall "$HOOKD_SOCKET"
	staller=$STALLER
	start=$SECONDS
	run client <<<"$(state d-st creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	kill $staller 2>/dev/null || true
	wait $staller 2>/dev/null || true
	[ "$status" -eq 0 ]
	# The staller would hold on for 20 s; hookd dropped it (at 2 s).
	assert_gave_up "$start" 20
	grep -q "hookd: dropped a request from pid $staller: malformed" "$HOOKD_SOCKET.log"
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 9
	stop_sleeper
	client <<<"$(state d-st stopped 0)"
	assert_nothing_pinned
}

@test "a container whose runtime gave up before hookd answered is not left fenced" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup warm)
	sleeper "$cg"
	# Load the programs first so that the directory exists to lock.
	client <<<"$(state d-warm creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	stop_sleeper
	client <<<"$(state d-warm stopped 0)"
	cg=$(new_cgroup gaveup)
	sleeper "$cg"
	hold_state_lock
	receiving=$(grep -c ': receiving' "$HOOKD_SOCKET.log" || true)
	# hookd waits for the lock; meanwhile the runtime's own hook timeout
	# kills cgfence-hook, and the runtime will not start the container.
	"$HOOK_PATH" --socket "$HOOKD_SOCKET" --policy-dir "$POLICY_DIR" --bpffs "$BPFFS" \
		--lifecycle-log "$LIFECYCLE" <<<"$(state d-gone creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')" &
	gone=$!
	# Once hookd has the request (it then waits for the lock), the runtime
	# gives up.
	within 30 eval '[ "$(grep -c ": receiving" "$HOOKD_SOCKET.log")" -gt "$receiving" ]'
	kill -9 $gone
	wait $gone 2>/dev/null || true
	release_state_lock
	within 30 eval "lifecycle '.event == \"removed\" and .container_id == \"d-gone\"' | grep -q ."
	run lifecycle '.container_id == "d-gone"'
	[[ "${lines[0]}" == *'"event":"applied"'* ]]
	[[ "${lines[1]}" == *'"event":"removed"'*'"reason":"the runtime left before the hook answered"'* ]]
	grep -q "container d-gone: the runtime left before the hook answered; fence of $cg removed" "$HOOKD_SOCKET.log"
	assert_nothing_pinned
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.1 9
}

@test "a new hookd replaces programs another build left pinned, even when its first request is a poststop" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup build)
	sleeper "$cg"
	client <<<"$(state d-b1 creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	stop_sleeper
	client <<<"$(state d-b1 stopped 0)"
	# What another cgfence build leaves pinned: its own digest in cgf_meta.
	meta="$BPFFS/obj/map_cgf_meta"
	value=$(bpftool map lookup pinned "$meta" key 0 0 0 0 -j | jq -r '.value | join(" ")')
	# struct cgf_meta: abi_version, last_epoch, then the 32-byte digest
	other=$(echo "$value" | awk '{ $40 = ($40 == "0xff") ? "0x00" : "0xff"; print }')
	bpftool map update pinned "$meta" key 0 0 0 0 value $other
	before=$(stat -c %i "$BPFFS/obj")
	# A hookd started now (an upgrade) whose first request is a poststop...
	sock="$BATS_TEST_TMPDIR/upgrade.sock"
	private_hookd "$sock"
	pid=$PRIVATE_HOOKD
	SOCKET=$sock client <<<"$(state d-b-other stopped 0)"
	# ...then a container: the foreign programs are replaced, not used.
	sleeper "$cg"
	SOCKET=$sock run client <<<"$(state d-b2 creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	after=$(stat -c %i "$BPFFS/obj")
	restored=$(bpftool map lookup pinned "$meta" key 0 0 0 0 -j | jq -r '.value | join(" ")')
	stop_sleeper
	SOCKET=$sock client <<<"$(state d-b2 stopped 0)"
	kill $pid
	wait $pid 2>/dev/null || true
	[ "$status" -eq 0 ]
	[ "$after" != "$before" ]
	# this build's digest again (the epoch counter starts anew with the object)
	[ "$(echo "$restored" | cut -d' ' -f9-40)" = "$(echo "$value" | cut -d' ' -f9-40)" ]
	assert_nothing_pinned
}

@test "a client in another mount namespace is told to run cgfence hook itself" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup otherns)
	sleeper "$cg"
	before=$(hookd_served)
	# Paths (policy dir, bpffs, log) could mean other files there.
	run unshare --mount --propagation private "$HOOK_PATH" --socket "$HOOKD_SOCKET" \
		--policy-dir "$POLICY_DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" \
		<<<"$(state d-ns creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 9
	grep -q "hookd: pid [0-9]* is in another PID or mount namespace; it runs cgfence hook itself" "$HOOKD_SOCKET.log"
	[ "$(hookd_served)" -eq "$before" ]
	stop_sleeper
	client <<<"$(state d-ns stopped 0)"
	assert_nothing_pinned
}

@test "a client in another PID namespace is told to run cgfence hook itself" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup otherpid)
	sleeper "$cg"
	before=$(hookd_served)
	# There the state's pid would name another process.
	run unshare --pid --fork "$HOOK_PATH" --socket "$HOOKD_SOCKET" \
		--policy-dir "$POLICY_DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" \
		<<<"$(state d-pidns creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	[ "$status" -eq 0 ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 9
	[ "$(hookd_served)" -eq "$before" ]
	stop_sleeper
	client <<<"$(state d-pidns stopped 0)"
	assert_nothing_pinned
}

@test "cgfence-hook gives up after its --timeout when hookd does not answer" {
	# A hookd that takes requests and never answers them, for 20 s.
	mute=$BATS_TEST_TMPDIR/mute.sock
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen()
print("listening", flush=True)
time.sleep(20)' "$mute" >"$BATS_TEST_TMPDIR/mute.out" &
	muted=$!
	within 30 grep -q listening "$BATS_TEST_TMPDIR/mute.out"
	# Into a file, not `run`'s pipe: the mute end holds the stderr it was
	# passed until it goes, and `run` would wait for that.
	start=$SECONDS
	status=0
	"$HOOK_PATH" --socket "$mute" --timeout 1 --policy-dir "$POLICY_DIR" --bpffs "$BPFFS" \
		<<<"$(state d-mute creating 1)" >"$BATS_TEST_TMPDIR/mute.err" 2>&1 || status=$?
	kill $muted 2>/dev/null || true
	wait $muted 2>/dev/null || true
	[ "$status" -eq 1 ]
	[ "$(cat "$BATS_TEST_TMPDIR/mute.err")" = "cgfence: hook: timed out waiting for cgfence hookd at $mute" ]
	assert_gave_up "$start" 20

	# The real hookd, held up by a stalled client (for 2 s, its limit).
	stall "$HOOKD_SOCKET"
	staller=$STALLER
	run client --timeout 1 <<<"$(state d-late creating 1)"
	kill $staller 2>/dev/null || true
	wait $staller 2>/dev/null || true
	[ "$status" -eq 1 ]
	# (hookd, once free, still writes its answer's message to the stderr
	# it got, so `run` returns only then: this part is not timed)
	[ "${lines[0]}" = "cgfence: hook: timed out waiting for cgfence hookd at $HOOKD_SOCKET" ]
}

@test "cgfence-hook works with its stdout and stderr closed; poststop warnings go to hookd's log" {
	policy d-open '"egress": {"default": "allow"}'
	cg=$(new_cgroup closedfds)
	sleeper "$cg"
	client <<<"$(state d-fds creating "$LAST_SLEEPER" '{"cgfence.policy": "d-open"}')" >&- 2>&-
	[ "$(status_json | jq -r '.[] | select(.container_id == "d-fds") | .state')" = ok ]
	# The cgroup still runs a process: poststop leaves it fenced and says
	# so, in hookd's log (runc shows a poststop hook's output nowhere).
	run client <<<"$(state d-fds stopped 0)"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	within 30 grep -q "container d-fds: poststop: cgroup $cg still runs processes" "$HOOKD_SOCKET.log"
	grep -q "warning: container d-fds: poststop: cgroup $cg still runs processes; leaving it fenced" "$HOOKD_SOCKET.log"
	stop_sleeper
	client <<<"$(state d-fds stopped 0)"
	assert_nothing_pinned
}

@test "on SIGTERM hookd serves the clients already queued, and new ones run cgfence hook themselves" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup drain)
	sleeper "$cg"
	sock="$BATS_TEST_TMPDIR/drain.sock"
	private_hookd "$sock" -v
	pid=$PRIVATE_HOOKD
	kill -HUP $pid # ignored
	# Busy with a stalled client: the next request waits in the queue.
	stall "$sock"
	staller=$STALLER
	SOCKET=$sock client <<<"$(state d-queued creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')" \
		>"$BATS_TEST_TMPDIR/queued.out" 2>&1 &
	queued=$!
	# Until its connection waits in the listening socket's queue.
	within 30 eval '[ "$(ss -xlH src "$sock" | awk "{ print \$3 }")" -ge 1 ]'
	kill -TERM $pid
	wait $queued
	wait $pid
	kill $staller 2>/dev/null || true
	wait $staller 2>/dev/null || true
	[ ! -e "$sock" ]
	grep -q "hookd: request of pid [0-9]*: exit status 0" "$sock.log"
	[ ! -s "$BATS_TEST_TMPDIR/queued.out" ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 9
	stop_sleeper
	client <<<"$(state d-queued stopped 0)"
	assert_nothing_pinned
}

@test "hookd refuses to mount (EPERM) instead of dying when /sys/fs/bpf goes away" {
	policy d-deny '"egress": {"default": "deny"}'
	cg=$(new_cgroup nobpffs)
	sleeper "$cg"
	sock="$BATS_TEST_TMPDIR/nobpffs.sock"
	# A mount namespace of its own for hookd and its client: there,
	# /sys/fs/bpf is unmounted once hookd runs.
	run unshare --mount --propagation private bash -c '
		"$1" hookd --socket "$2" 2>"$2.log" &
		pid=$!
		# (a shell of its own, without the suite functions such as within)
		for _ in $(seq 600); do grep -q listening "$2.log" && break; sleep 0.05; done
		umount -l /sys/fs/bpf
		"$3" --socket "$2" --policy-dir "$4" --bpffs "$5" --lifecycle-log "$6"
		echo "client: $?"
		kill -0 $pid && echo "hookd: alive"
		kill $pid' _ "$CGFENCE" "$sock" "$HOOK_PATH" "$POLICY_DIR" "$BPFFS" "$LIFECYCLE" \
		<<<"$(state d-nobpf creating "$LAST_SLEEPER" '{"cgfence.policy": "d-deny"}')"
	[[ "$output" == *"cgfence: container d-nobpf: $BPFFS: Operation not permitted"* ]]
	[[ "$output" == *"client: 1"* ]]
	[[ "$output" == *"hookd: alive"* ]]
	assert_nothing_pinned
}
