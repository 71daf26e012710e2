# Watchers for the bypass suites: a program in the background that prints
# "ready", then "seen" or "unseen" for what it watches from outside the
# fence. Loaded by bypass.bats and bypass_cache.bats.

# watch_program NAME PROGRAM ARGS...: starts it; returns once it is ready.
WATCHERS=()
watch_program() {
	local name=$1
	shift
	"$@" >"$BATS_TEST_TMPDIR/$name.out" 2>&1 &
	WATCHERS+=($!)
	eval "WATCH_$name=$!"
	for _ in $(seq 100); do
		grep -q ready "$BATS_TEST_TMPDIR/$name.out" && return 0
		sleep 0.02
	done
	echo "watcher $name did not start: $(cat "$BATS_TEST_TMPDIR/$name.out")" >&2
	return 1
}

# assert_seen NAME seen|unseen: waits for the watcher's verdict.
assert_seen() {
	local pid_var="WATCH_$1" got
	wait "${!pid_var}" 2>/dev/null || true
	got=$(tail -n 1 "$BATS_TEST_TMPDIR/$1.out")
	if [ "$got" != "$2" ]; then
		echo "watcher $1: expected '$2', got '$got'" >&2
		return 1
	fi
}

stop_watchers() {
	local pid
	for pid in "${WATCHERS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	WATCHERS=()
}
