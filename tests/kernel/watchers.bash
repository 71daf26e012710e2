# Watchers for the bypass suites: a program in the background that prints
# "ready", then "seen" or "unseen" for what it watches from outside the
# fence. Loaded by the bypass_*.bats files and runc.bats.

# A watcher's own window (its --timeout-ms) is long: what it waits for
# ends it at once, and a loaded machine may take a while to send. To tell
# "unseen", assert_seen gives it WATCH_GRACE_MS more once the sender is
# done, and stops it.
WATCH_MS=10000
WATCH_GRACE_MS=800

# watch_program NAME PROGRAM ARGS...: starts it; returns once it is ready.
WATCHERS=()
watch_program() {
	local name=$1
	shift
	"$@" >"$BATS_TEST_TMPDIR/$name.out" 2>&1 &
	WATCHERS+=($!)
	eval "WATCH_$name=$!"
	within 30 grep -q ready "$BATS_TEST_TMPDIR/$name.out" && return 0
	echo "watcher $name did not start: $(cat "$BATS_TEST_TMPDIR/$name.out")" >&2
	return 1
}

# watcher_verdict NAME EXPECTED: WATCH_VERDICT is the watcher's verdict;
# call it once what the watcher should or should not see has been sent.
# Expecting "unseen", it waits WATCH_GRACE_MS; anything else, the whole
# window. (Not in $(...): a subshell cannot wait for the watcher.)
watcher_verdict() {
	local pid_var="WATCH_$1" out="$BATS_TEST_TMPDIR/$1.out" end rc=0 kept=() w
	local pid=${!pid_var}
	if [ "$2" = unseen ]; then
		end=$(($(date +%s%N) + WATCH_GRACE_MS * 1000000))
		while kill -0 "$pid" 2>/dev/null && [ "$(date +%s%N)" -lt "$end" ]; do
			sleep 0.02
		done
		kill -TERM "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	# Reaped: stop_watchers must not signal its pid, which may be reused.
	for w in "${WATCHERS[@]}"; do
		[ "$w" = "$pid" ] || kept+=("$w")
	done
	WATCHERS=("${kept[@]}")
	WATCH_VERDICT=$(tail -n 1 "$out")
	# Ended by our SIGTERM, not by itself: it was still waiting, unseen.
	[ "$rc" -ne $((128 + 15)) ] || WATCH_VERDICT=unseen
}

# assert_seen NAME seen|unseen|ok: the watcher's verdict is the expected one.
assert_seen() {
	watcher_verdict "$1" "$2"
	if [ "$WATCH_VERDICT" != "$2" ]; then
		echo "watcher $1: expected '$2', got '$WATCH_VERDICT'" >&2
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
