# Shared by the bats suites: a private bpffs directory and cgroup tree per
# test file, random ports, background servers, and cleanup of all of it.
# Runtime output is printed only when a test fails (bats shows $output).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Absolute: hooks and tests run the binaries from other working directories.
OUT=${OUT:-build}
case "$OUT" in /*) ;; *) OUT="$REPO/$OUT" ;; esac
CGFENCE=$OUT/cgfence
PROBE=$OUT/tests/probe

# within SECONDS CMD...: runs CMD until it succeeds, for at most SECONDS;
# on timeout, CMD's last stderr says what it saw. A wait ends at the first
# success, so a generous bound costs nothing when all is well and gives a
# loaded machine its time. For a condition, not a command:
# within 30 eval '[ "$(count)" -ge "$want" ]' (single quotes: evaluated
# anew; name variables there, not $1: those would be within's own).
within() {
	# Names of its own: an eval'd condition sees these before the caller's.
	local within_s=$1 within_end within_err="${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR}/within.err"
	shift
	within_end=$(($(date +%s%N) + within_s * 1000000000))
	until "$@" 2>"$within_err"; do
		if [ "$(date +%s%N)" -gt "$within_end" ]; then
			echo "not within $within_s s: $*" >&2
			cat "$within_err" >&2
			return 1
		fi
		sleep 0.05
	done
}

cgroup2_mount() {
	awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo
}

# Per-file state: called from setup_file.
fence_setup_file() {
	export TEST_ID="cgft$$_$RANDOM"
	export BPFFS="/sys/fs/bpf/$TEST_ID"
	export CGROOT="$(cgroup2_mount)/$TEST_ID"
	mkdir -p "$CGROOT"
}

fence_teardown_file() {
	local d
	# Children first: rmdir only works on empty cgroups.
	if [ -d "$CGROOT" ]; then
		find "$CGROOT" -depth -type d | while read -r d; do
			"$CGFENCE" detach --cgroup "$d" --bpffs "$BPFFS" >/dev/null 2>&1 || true
			rmdir "$d" 2>/dev/null || true
		done
	fi
	rm -rf "$BPFFS" "/run/cgfence/$TEST_ID"
}

# new_cgroup NAME: a fresh cgroup under this file's tree; prints its path.
new_cgroup() {
	local cg="$CGROOT/$1"
	mkdir -p "$cg"
	echo "$cg"
}

# random_port: a port below the kernel's ephemeral range, so that no
# client's local port (or its TIME_WAIT) already holds it: EADDRINUSE.
random_port() {
	local low
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	if [ "${low:-0}" -ge 20000 ]; then
		echo $((10000 + RANDOM % (low - 10100)))
	else
		echo $((20000 + RANDOM % 30000))
	fi
}

# start_server PROTO ADDR PORT [PROBE OPTIONS...]: background server that
# answers one-byte requests until stopped; waits until it listens.
start_server() {
	local proto=$1 addr=$2 port=$3 log
	shift 3
	log=$(mktemp)
	"$PROBE" "$@" serve "$proto" "$addr" "$port" 100000000 >"$log" 2>&1 &
	SERVER_PIDS="${SERVER_PIDS:-} $!"
	within 30 grep -q ready "$log" && return 0
	echo "server $proto $addr:$port did not start: $(cat "$log")" >&2
	return 1
}

stop_servers() {
	local pid
	for pid in ${SERVER_PIDS:-}; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	SERVER_PIDS=
}

# write_policy FILE JSON
write_policy() {
	printf '%s\n' "$2" >"$1"
}

apply_policy() {
	"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$1" --policy "$2" --without-bpf-lsm
}

# assert_run EXPECTED COMMAND ARGS...: the command's output (under `run`)
# is the expected word (ok, EPERM, ...).
assert_run() {
	local expected=$1
	shift
	run "$@"
	if [ "$output" != "$expected" ]; then
		echo "$*: expected '$expected', got '$output'" >&2
		return 1
	fi
}

# assert_probe EXPECTED PROBE-ARGS...: assert_run for the probe.
assert_probe() {
	assert_run "$1" "$PROBE" "${@:2}"
}

# assert_gave_up START HOLD: the command timed from START (a $SECONDS)
# ended in under half of HOLD, the seconds that what it waited on held
# out: it gave up on its own timeout. The margin is wide on purpose; a
# loaded machine is slow, and the test is about giving up, not speed.
assert_gave_up() {
	local elapsed=$((SECONDS - $1))
	if [ "$elapsed" -ge $(($2 / 2)) ]; then
		echo "it took ${elapsed}s: it waited for what held it for ${2}s, not for its timeout" >&2
		return 1
	fi
}

# new_go_file: the path of a go file not there yet, for the probes' two
# sends around a change (sendto2, udp-twice): once PATH.sent exists the
# first send is done, and touching PATH lets the second go.
new_go_file() {
	local go
	go=$(mktemp -u "$BATS_TEST_TMPDIR/go.XXXXXX")
	echo "$go"
}

# marker NAME: a payload no other test or run sends, for watchers to find.
marker() {
	echo "cgfm-$1-$RANDOM$RANDOM"
}

# start_daemon [OPTIONS]: cgfence daemon writing to $LOG, in the background;
# returns once it has logged its start.
start_daemon() {
	"$CGFENCE" daemon --bpffs "$BPFFS" --log "$LOG" --stats-interval 1 "$@" \
		2>"$BATS_TEST_TMPDIR/daemon.err" &
	DAEMON_PID=$!
	within 30 grep -q '"event":"started"' "$LOG" && return 0
	cat "$BATS_TEST_TMPDIR/daemon.err" >&2
	return 1
}

stop_daemon() {
	if [ -n "${DAEMON_PID:-}" ]; then
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
		DAEMON_PID=
	fi
}

# wait_for_lines JQ_FILTER COUNT: until $LOG has COUNT records matching,
# for up to 30 seconds (a loaded machine writes a burst's thousands of
# lines slowly; the test fails on what is written, not on how fast).
wait_for_lines() {
	local filter=$1 count=$2
	within 30 eval '[ "$(jq -c "select($filter)" "$LOG" 2>/dev/null | wc -l)" -ge "$count" ]' && return 0
	echo "wanted $2 records matching $1; log:" >&2
	cat "$LOG" >&2
	return 1
}
