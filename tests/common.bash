# Shared by the bats suites: a private bpffs directory and cgroup tree per
# test file, random ports, background servers, and cleanup of all of it.
# Runtime output is printed only when a test fails (bats shows $output).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Absolute: hooks and tests run the binaries from other working directories.
OUT=${OUT:-build}
case "$OUT" in /*) ;; *) OUT="$REPO/$OUT" ;; esac
CGFENCE=$OUT/cgfence
PROBE=$OUT/tests/probe

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
	for _ in $(seq 100); do
		grep -q ready "$log" && return 0
		sleep 0.02
	done
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
	for _ in $(seq 100); do
		grep -q '"event":"started"' "$LOG" 2>/dev/null && return 0
		sleep 0.05
	done
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
	local deadline=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ "$(jq -c "select($1)" "$LOG" 2>/dev/null | wc -l)" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "wanted $2 records matching $1; log:" >&2
	cat "$LOG" >&2
	return 1
}
