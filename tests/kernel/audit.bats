#!/usr/bin/env bats
# The audit trail: real denials -> perf buffer -> daemon -> audit log lines,
# with budgets, gaps and rotation accounted for.

load ../common

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

setup() {
	LOG="$BATS_TEST_TMPDIR/audit.jsonl"
}

teardown() {
	stop_daemon
	stop_servers
	if [ -n "${SMALL_MNT:-}" ]; then
		umount "$SMALL_MNT" 2>/dev/null || true
	fi
}

fence_policy() { # NAME MODE PORT
	cat <<JSON
{"version": 1, "name": "$1", "mode": "$2",
 "egress": {"default": "deny", "rules": [
   {"action": "allow", "to": ["127.0.0.1"], "protocol": "tcp", "ports": [$3]},
   {"action": "deny", "to": ["127.0.0.0/8"], "protocol": "udp", "comment": "no udp on loopback"}]},
 "ingress": {"default": "deny", "rules": [{"action": "allow", "protocol": "tcp", "ports": [$3]}]},
 "devices": {"default": "allow", "rules": [{"action": "deny", "type": "c", "major": 1, "minor": 5, "access": "rwm"}]}}
JSON
}

@test "each kind of denial becomes one log record with the right fields" {
	cg=$(new_cgroup fields)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-audit-fields enforce $ok)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_daemon
	start_server tcp 127.0.0.1 $bad --cgroup "$cg"
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $bad
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.7 53
	assert_probe EPERM --cgroup "$cg" open /dev/zero r
	assert_probe ETIMEDOUT --timeout-ms 300 connect tcp 127.0.0.1 $bad
	wait_for_lines '.type == "deny"' 4
	cgid=$(stat -c %i "$cg")

	run jq -c 'select(.type == "deny" and .hook == "connect4")' "$LOG"
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	echo "$output" | jq -e --arg p $bad --argjson id "$cgid" '
	  .direction == "egress" and .protocol == "tcp" and .dst == "127.0.0.1" and
	  .dport == ($p | tonumber) and .rule == "egress.default" and .verdict == "deny" and
	  .policy == "kt-audit-fields" and .cgroup_id == $id and .generation == 1 and
	  .comm == "probe" and (.pid > 0) and (.time | test("^20[0-9-]+T[0-9:.]+Z$"))'

	# An IPv4 datagram sent with an address is judged before it is built.
	run jq -c 'select(.type == "deny" and .hook == "sendmsg4" and .protocol == "udp")' "$LOG"
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	echo "$output" | jq -e '.direction == "egress" and .dst == "127.0.0.7" and .dport == 53 and
	  .rule == "egress.rules[1]" and .comm == "probe" and (.pid > 0)'

	run jq -c 'select(.type == "deny" and .hook == "device")' "$LOG"
	echo "$output" | jq -e '.device == "c 1:5" and .access == "r" and .rule == "devices.rules[0]"'

	run jq -c 'select(.type == "deny" and .hook == "ingress")' "$LOG"
	[ "$(echo "$output" | wc -l)" -ge 1 ]
	echo "$output" | head -n 1 | jq -e --arg p $bad '.direction == "ingress" and .src == "127.0.0.1" and .dport == ($p | tonumber) and .rule == "ingress.default"'
	# every line of the log is valid JSON
	jq -e . "$LOG" >/dev/null
}

@test "audit mode lets traffic through and logs it as audit" {
	cg=$(new_cgroup auditmode)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-audit-mode audit 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_daemon
	start_server tcp 127.0.0.1 $port
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $port
	assert_probe ok --cgroup "$cg" open /dev/zero r
	wait_for_lines '.type == "audit"' 2
	jq -e -s --arg p $port 'map(select(.type == "audit" and .hook == "connect4" and .dport == ($p | tonumber))) | length == 1' "$LOG"
	jq -e -s 'map(select(.type == "audit" and .hook == "device" and .device == "c 1:5")) | length == 1' "$LOG"
	[ "$(jq -c 'select(.type == "deny")' "$LOG" | wc -l)" -eq 0 ]
}

@test "a flood over the budget: logged events plus suppressed add up to the attempts" {
	cg=$(new_cgroup flood)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-flood enforce 1)"
	"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$cg" --policy "$BATS_TEST_TMPDIR/p.json" --event-budget 20 --without-bpf-lsm
	start_daemon
	attempts=300
	"$PROBE" --cgroup "$cg" --repeat $attempts sendto 127.0.0.9 9 >/dev/null || true
	stop_daemon # final stats and drain
	logged=$(jq -c 'select(.type == "deny" and .dst == "127.0.0.9")' "$LOG" | wc -l)
	suppressed=$(jq -s 'map(select(.type == "stats") | .suppressed) | add // 0' "$LOG")
	undelivered=$(jq -s 'map(select(.type == "stats") | .undelivered) | add // 0' "$LOG")
	echo "logged=$logged suppressed=$suppressed undelivered=$undelivered"
	[ "$logged" -ge 20 ]
	[ "$logged" -lt "$attempts" ]
	[ "$suppressed" -gt 0 ]
	[ $((logged + suppressed + undelivered)) -eq "$attempts" ]
}

@test "daemon killed: enforcement holds and the gap is accounted when it restarts" {
	cg=$(new_cgroup gap)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-gap enforce 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_daemon
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	start_server tcp 127.0.0.1 $port
	for i in 1 2 3 4 5; do
		assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $port
	done
	start_daemon
	wait_for_lines '.type == "stats" and .undelivered == 5' 1
	run jq -c 'select(.type == "stats")' "$LOG"
	echo "$output" | tail -n 1 | jq -e --argjson id "$(stat -c %i "$cg")" '.cgroup_id == $id and .policy == "kt-gap" and .undelivered_total >= 5'
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $port
	wait_for_lines '.type == "deny"' 1
}

@test "SIGHUP reopens the log after rotation, and a symlink at the log path is refused" {
	cg=$(new_cgroup rotate)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-rotate enforce 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_daemon
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.11 9
	wait_for_lines '.type == "deny"' 1
	mv "$LOG" "$LOG.1"
	kill -HUP "$DAEMON_PID"
	within 30 test -e "$LOG" # reopened
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.12 9
	wait_for_lines '.type == "deny" and .dst == "127.0.0.12"' 1
	[ "$(jq -c 'select(.dst == "127.0.0.12")' "$LOG.1" | wc -l)" -eq 0 ]
	stop_daemon
	ln -s /etc/passwd "$BATS_TEST_TMPDIR/evil.jsonl"
	run "$CGFENCE" daemon --bpffs "$BPFFS" --log "$BATS_TEST_TMPDIR/evil.jsonl"
	[ "$status" -eq 1 ]
	[[ "$output" == *"refusing to follow a symlink"* ]]
}

@test "cgfence log filters and summarizes a real log" {
	cg=$(new_cgroup review)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-review enforce 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_daemon
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.21 53
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.21 53
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.22 54
	wait_for_lines '.type == "deny"' 3
	stop_daemon
	run "$CGFENCE" log "$LOG" --dest 127.0.0.21/32 --json
	[ "$(echo "$output" | wc -l)" -eq 2 ]
	run "$CGFENCE" log "$LOG" --port 54
	[[ "$output" == *"127.0.0.22:54/udp"* ]]
	[[ "$output" != *"127.0.0.21"* ]]
	run "$CGFENCE" log "$LOG" --summary
	[[ "$output" == *"3 denied"* ]]
	[[ "$output" == *"2  127.0.0.21:53/udp"* ]]
	[[ "$output" == *"3  kt-review egress.rules[1]"* ]]
}

@test "disk full: the daemon keeps running, counts what it could not write, and says so later" {
	cg=$(new_cgroup diskfull)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-full enforce 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	mnt="$BATS_TEST_TMPDIR/small"
	SMALL_MNT="$mnt"
	mkdir -p "$mnt"
	mount -t tmpfs -o size=64k tmpfs "$mnt"
	LOG="$mnt/audit.jsonl"
	# The textfile (on a filesystem with room) tells when the daemon has
	# taken the denials that it cannot write.
	prom="$BATS_TEST_TMPDIR/full.prom"
	start_daemon --metrics-textfile "$prom"
	# Fill the log's last page with a valid line, then fill the filesystem:
	# the next denials cannot be written.
	size=$(stat -c %s "$LOG")
	pad=$((4096 - size % 4096))
	[ "$pad" -ge 32 ] || pad=$((pad + 4096))
	printf '{"type":"pad","p":"%s"}\n' "$(head -c $((pad - 22)) /dev/zero | tr '\0' x)" >>"$LOG"
	[ $(($(stat -c %s "$LOG") % 4096)) -eq 0 ]
	dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
	for i in 1 2 3; do
		assert_probe EPERM --cgroup "$cg" sendto 127.0.0.4$i 9
	done
	within 30 grep -q '^cgfence_denials_total{policy="kt-full",.*} 3$' "$prom"
	kill -0 "$DAEMON_PID"
	# Room again: the next line is preceded by the count of lost lines.
	rm -f "$mnt/filler"
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.49 9
	wait_for_lines '.dst == "127.0.0.49"' 1
	cp "$LOG" "$BATS_TEST_TMPDIR/full-log.copy"
	stop_daemon
	umount "$mnt"
	SMALL_MNT=
	jq -e -s 'map(select(.type == "write_errors")) | .[0].count >= 3' "$BATS_TEST_TMPDIR/full-log.copy"
}

@test "cgfence log --follow shows new records as they are written" {
	cg=$(new_cgroup follow)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-follow enforce 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_daemon
	"$CGFENCE" log "$LOG" --follow --json >"$BATS_TEST_TMPDIR/follow.out" &
	follower=$!
	sleep 0.3
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.51 9
	within 30 grep -q 127.0.0.51 "$BATS_TEST_TMPDIR/follow.out"
	kill "$follower"
	grep -q '"dst":"127.0.0.51"' "$BATS_TEST_TMPDIR/follow.out"
}

@test "denial counters of a detached cgroup go once reported; a catch-all slot waits for a full map" {
	cg=$(new_cgroup counters)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-counters enforce 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	cgid=$(stat -c %i "$cg")
	key=$(printf '%016x' "$cgid" | sed 's/\(..\)/\1 /g' | awk '{ for (i = NF; i >= 1; i--) printf "%s ", $i }')
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.61 9
	# Unreported (no daemon ran): detach keeps the counter for the daemon.
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg"
	bpftool map lookup pinned "$BPFFS/obj/map_cgf_stats" key hex $key >/dev/null
	start_daemon
	wait_for_lines ".type == \"stats\" and .cgroup_id == $cgid and .undelivered == 1" 1
	stop_daemon
	rmdir "$cg"
	run "$CGFENCE" gc --bpffs "$BPFFS"
	[[ "$output" == *"1 reported denial counter(s) removed"* ]]
	! bpftool map lookup pinned "$BPFFS/obj/map_cgf_stats" key hex $key >/dev/null 2>&1
	# The catch-all slot the BPF side falls back to when the map is full.
	bpftool map lookup pinned "$BPFFS/obj/map_cgf_stats" key hex 00 00 00 00 00 00 00 00 >/dev/null
}

# Sums a field of this cgroup's stats records (deltas since the last report).
stats_sum() { # CGROUP_ID FIELD
	grep '"type":"stats"' "$LOG" | jq -s --argjson id "$1" "map(select(.cgroup_id == \$id) | .$2) | add // 0"
}

@test "a burst of 100,000 denials from two CPUs at once is written whole, and every one is accounted" {
	cg=$(new_cgroup burst)
	cgid=$(stat -c %i "$cg")
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-burst enforce 1)"
	"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$cg" --policy "$BATS_TEST_TMPDIR/p.json" \
		--event-budget 4000000000 --without-bpf-lsm
	start_daemon
	# Each sender pinned to a CPU of its own: both CPUs deny as fast as they can.
	taskset -c 0 "$PROBE" --cgroup "$cg" --repeat 50000 sendto 127.0.0.9 9 >/dev/null &
	first=$!
	taskset -c $((1 % $(nproc))) "$PROBE" --cgroup "$cg" --repeat 50000 sendto 127.0.0.10 9 >/dev/null &
	second=$!
	wait "$first"
	wait "$second"
	# One of them really is refused, from outside the burst's count.
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.11 9
	wait_for_lines '.dst == "127.0.0.11"' 1
	stop_daemon # drains, then the final stats
	written=$(grep -c '"type":"deny".*"dst":"127.0.0.\(9\|10\)"' "$LOG")
	emitted=$(stats_sum "$cgid" emitted)
	suppressed=$(stats_sum "$cgid" suppressed)
	undelivered=$(stats_sum "$cgid" undelivered)
	echo "written=$written emitted=$emitted suppressed=$suppressed undelivered=$undelivered"
	[ $((emitted + suppressed + undelivered)) -eq 100001 ]
	[ "$undelivered" -eq 0 ]
	[ "$suppressed" -eq 0 ]
	[ "$written" -eq 100000 ]
	[ "$(grep -c '"dst":"127.0.0.9"' "$LOG")" -eq 50000 ]
	[ "$(grep -c '"dst":"127.0.0.10"' "$LOG")" -eq 50000 ]
	[ "$(grep -c '"type":"lost"' "$LOG")" -eq 0 ]
	# Every line whole, and named (the cached names are the cgroup's).
	tail -n 3 "$LOG" | jq -e -s 'length == 3'
	grep '"dst":"127.0.0.10"' "$LOG" | tail -n 1 | jq -e --argjson id "$cgid" \
		'.cgroup_id == $id and .policy == "kt-burst" and .rule == "egress.rules[1]" and .comm == "probe"'
}

@test "a daemon too slow for a burst: what its buffer cannot hold is counted undelivered, exactly" {
	cg=$(new_cgroup slow)
	cgid=$(stat -c %i "$cg")
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-slow enforce 1)"
	"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$cg" --policy "$BATS_TEST_TMPDIR/p.json" \
		--event-budget 4000000000 --without-bpf-lsm
	# A buffer of two pages, and a daemon that does not read it meanwhile.
	start_daemon --buffer-events 64
	kill -STOP "$DAEMON_PID"
	taskset -c 0 "$PROBE" --cgroup "$cg" --repeat 5000 sendto 127.0.0.9 9 >/dev/null
	kill -CONT "$DAEMON_PID"
	# The kernel writes its count of dropped events before the next event
	# in that CPU's buffer (the first after a quiet spell goes to another).
	taskset -c 0 "$PROBE" --cgroup "$cg" --repeat 20 sendto 127.0.0.8 9 >/dev/null
	wait_for_lines '.dst == "127.0.0.8"' 20
	stop_daemon
	written=$(grep -c '"type":"deny".*"dst":"127.0.0.9"' "$LOG")
	emitted=$(stats_sum "$cgid" emitted)
	undelivered=$(stats_sum "$cgid" undelivered)
	lost=$(grep '"type":"lost"' "$LOG" | jq -s 'map(.count) | add // 0')
	echo "written=$written emitted=$emitted undelivered=$undelivered lost=$lost"
	[ "$written" -gt 0 ]
	[ "$written" -lt 5000 ]
	[ $((written + 20)) -eq "$emitted" ]
	[ $((written + undelivered)) -eq 5000 ]
	# The perf buffer's own count of what it dropped says the same.
	[ "$lost" -eq "$undelivered" ]
}

@test "a policy replaced while the daemon runs: the next denial names the new one" {
	cg=$(new_cgroup renamed)
	write_policy "$BATS_TEST_TMPDIR/a.json" "$(fence_policy kt-named-a enforce 1)"
	write_policy "$BATS_TEST_TMPDIR/b.json" "$(fence_policy kt-named-b enforce 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/a.json"
	start_daemon
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.71 9
	wait_for_lines '.dst == "127.0.0.71" and .policy == "kt-named-a"' 1
	apply_policy "$cg" "$BATS_TEST_TMPDIR/b.json"
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.72 9
	wait_for_lines '.dst == "127.0.0.72" and .policy == "kt-named-b"' 1
}

@test "denials read after their cgroup was detached still name it (the apply that judged them)" {
	cg=$(new_cgroup gone)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(fence_policy kt-gone enforce 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_daemon
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.81 9
	wait_for_lines '.dst == "127.0.0.81"' 1
	# The daemon reads the next denial only after the detach.
	kill -STOP "$DAEMON_PID"
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.82 9
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg"
	kill -CONT "$DAEMON_PID"
	wait_for_lines ".dst == \"127.0.0.82\" and .cgroup == \"$cg\" and .policy == \"kt-gone\"" 1
}
