#!/usr/bin/env bats
# The CPU's recent allowed peer (bpf/cgf_verdicts.h, cgf_peer_recent) is
# one per-CPU array for every cgroup of the pinned programs, four slots
# picked by epoch & 3: cgroups whose epochs are 4 apart share a slot, and
# only the epoch in the key keeps one cgroup's kept peer from passing for
# the other. These tests give two cgroups (side by side, or a parent and
# its child, each fenced) epochs that share a slot, keep a peer for one on
# CPU 0 and try it from the other there; and the same epoch in a second
# state directory, whose programs must keep their own. Each denied packet
# is watched for from outside the fence, and each try is shown to work
# unfenced. Loopback only; needs root.

load ../common
load watchers

ATTACK=$OUT/tests/attack

setup_file() {
	fence_setup_file
	export BPFFS2="${BPFFS}b"
}

teardown_file() {
	local d
	if [ -d "$CGROOT" ]; then
		find "$CGROOT" -depth -type d | while read -r d; do
			"$CGFENCE" detach --cgroup "$d" --bpffs "$BPFFS2" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$BPFFS2" "/run/cgfence/${TEST_ID}b"
	fence_teardown_file
}

teardown() {
	stop_servers
	stop_watchers
}

udp_watch() { # NAME ADDR PORT MARKER
	watch_program "$1" "$ATTACK" --timeout-ms "$WATCH_MS" udp-recv "$2" "$3" "$4"
}

tcp_watch() { # NAME ADDR PORT
	watch_program "$1" "$ATTACK" --timeout-ms "$WATCH_MS" tcp-watch "$2" "$3"
}

# cgroup_epoch STATE_DIR CGROUP: the epoch the cgroup's configuration has.
cgroup_epoch() {
	local id
	id=$(stat -c %i "$2")
	bpftool -j map dump pinned "$1/obj/map_cgf_cgroup_cfg" |
		jq -r --argjson id "$id" '.[] | select(.formatted.key == $id) | .formatted.value.epoch'
}

# next_epoch_is STATE_DIR EPOCH: the state's next apply gets EPOCH (which
# must be past every epoch handed out: cgf_meta.last_epoch = EPOCH - 1).
next_epoch_is() {
	local meta="$1/obj/map_cgf_meta" value last
	last=$(bpftool map lookup pinned "$meta" key 0 0 0 0 -j | jq -r '.formatted.value.last_epoch')
	if [ "$last" -ge $(($2 - 1)) ]; then
		echo "$1: epoch $last handed out already, not going back to $2" >&2
		return 1
	fi
	value=$(bpftool map lookup pinned "$meta" key 0 0 0 0 -j | jq -r '.value | join(" ")')
	last=$(printf '%08x' $(($2 - 1)))
	# struct cgf_meta: abi_version (bytes 1-4), last_epoch (5-8, little endian)
	value=$(echo "$value" | awk -v l="$last" '{
		for (i = 0; i < 4; i++) $(5 + i) = "0x" substr(l, 7 - 2 * i, 2); print }')
	bpftool map update pinned "$meta" key 0 0 0 0 value $value
}

# apply_in_one_slot CG1 POLICY1 CG2 POLICY2: the two applies get epochs 4
# apart, which share a CPU's recent slot; the premise is checked.
apply_in_one_slot() {
	local e1 e2
	apply_policy "$1" "$2"
	e1=$(cgroup_epoch "$BPFFS" "$1")
	next_epoch_is "$BPFFS" $((e1 + 4))
	apply_policy "$3" "$4"
	e2=$(cgroup_epoch "$BPFFS" "$3")
	[ "$e2" -eq $((e1 + 4)) ]
}

# A policy that allows 127.0.0.1:PORT over UDP and TCP; one that denies all.
peer_policy() { # FILE NAME PORT
	write_policy "$1" "{\"version\": 1, \"name\": \"$2\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$3]},
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$3]}]}}"
}

strict_policy() { # FILE NAME
	write_policy "$1" "{\"version\": 1, \"name\": \"$2\", \"egress\": {\"default\": \"deny\"}}"
}

# keep_peer CGROUP PORT: the cgroup's allowed datagram and connection to
# 127.0.0.1:PORT on CPU 0, which then keeps that peer for it (UDP, then
# TCP, whose second connect passes by the kept peer alone).
keep_peer() {
	local m
	m=$(marker keep)
	udp_watch k 127.0.0.1 "$2" "$m"
	assert_run ok taskset -c 0 "$ATTACK" --cgroup "$1" udp-send 127.0.0.1 "$2" "$m"
	assert_seen k seen
	for _ in 1 2; do
		assert_run ECONNREFUSED taskset -c 0 "$PROBE" --cgroup "$1" connect tcp 127.0.0.1 "$2"
	done
	m=$(marker keep)
	udp_watch k 127.0.0.1 "$2" "$m"
	assert_run ok taskset -c 0 "$ATTACK" --cgroup "$1" udp-send 127.0.0.1 "$2" "$m"
	assert_seen k seen
}

# refused_from CGROUP PORT: on CPU 0, right after keep_peer, the cgroup's
# datagram and connection to 127.0.0.1:PORT fail with EPERM and never arrive.
refused_from() {
	local m
	m=$(marker other)
	udp_watch u 127.0.0.1 "$2" "$m"
	assert_run EPERM taskset -c 0 "$ATTACK" --cgroup "$1" udp-send 127.0.0.1 "$2" "$m"
	assert_seen u unseen
	tcp_watch t 127.0.0.1 "$2"
	assert_run EPERM taskset -c 0 "$PROBE" --cgroup "$1" connect tcp 127.0.0.1 "$2"
	assert_seen t unseen
}

# arrives_unfenced PORT: the same datagram and connection, from no fence.
arrives_unfenced() {
	local m
	m=$(marker free)
	udp_watch u 127.0.0.1 "$1" "$m"
	assert_run ok taskset -c 0 "$ATTACK" udp-send 127.0.0.1 "$1" "$m"
	assert_seen u seen
	tcp_watch t 127.0.0.1 "$1"
	assert_run ok taskset -c 0 "$PROBE" connect tcp 127.0.0.1 "$1"
	assert_seen t seen
}

@test "two cgroups whose epochs share a CPU's recent slot: the peer kept for one passes for the other neither by UDP nor by TCP" {
	allowed=$(new_cgroup slotallowed)
	denied=$(new_cgroup slotdenied)
	port=$(random_port)
	peer_policy "$BATS_TEST_TMPDIR/p.json" kr-slot $port
	strict_policy "$BATS_TEST_TMPDIR/strict.json" kr-slot-strict
	apply_in_one_slot "$allowed" "$BATS_TEST_TMPDIR/p.json" \
		"$denied" "$BATS_TEST_TMPDIR/strict.json"
	keep_peer "$allowed" $port
	refused_from "$denied" $port
	arrives_unfenced $port
}

@test "a child fenced apart from its parent in the same recent slot: the child's kept peer does not pass the parent's fence" {
	parent=$(new_cgroup slotparent)
	child="$parent/child"
	mkdir "$child"
	port=$(random_port)
	peer_policy "$BATS_TEST_TMPDIR/p.json" kr-child $port
	strict_policy "$BATS_TEST_TMPDIR/strict.json" kr-parent-strict
	# A socket of the child runs the child's programs, then the parent's:
	# the child's allow keeps the peer on CPU 0, in the very slot the
	# parent's programs look up next.
	apply_in_one_slot "$child" "$BATS_TEST_TMPDIR/p.json" \
		"$parent" "$BATS_TEST_TMPDIR/strict.json"
	for _ in 1 2; do
		refused_from "$child" $port
	done
	# The child alone passes (its own fence allows the peer): the parent's
	# fence is what refused above.
	"$CGFENCE" detach --cgroup "$parent" --bpffs "$BPFFS" >/dev/null
	keep_peer "$child" $port
	arrives_unfenced $port
}

@test "the same epoch in a second state directory: one state's kept peer passes no cgroup of the other" {
	allowed=$(new_cgroup stateallowed)
	denied=$(new_cgroup statedenied)
	port=$(random_port)
	peer_policy "$BATS_TEST_TMPDIR/p.json" kr-state $port
	strict_policy "$BATS_TEST_TMPDIR/strict.json" kr-state-strict
	# Each state loaded by a first apply, then its cgroup's next policy
	# under epoch 1000, which neither has handed out yet.
	apply_policy "$allowed" "$BATS_TEST_TMPDIR/strict.json"
	next_epoch_is "$BPFFS" 1000
	apply_policy "$allowed" "$BATS_TEST_TMPDIR/p.json"
	"$CGFENCE" apply --bpffs "$BPFFS2" --cgroup "$denied" --policy "$BATS_TEST_TMPDIR/p.json" \
		--without-bpf-lsm >/dev/null
	next_epoch_is "$BPFFS2" 1000
	"$CGFENCE" apply --bpffs "$BPFFS2" --cgroup "$denied" --policy "$BATS_TEST_TMPDIR/strict.json" \
		--without-bpf-lsm >/dev/null
	[ "$(cgroup_epoch "$BPFFS" "$allowed")" -eq 1000 ]
	[ "$(cgroup_epoch "$BPFFS2" "$denied")" -eq 1000 ]
	keep_peer "$allowed" $port
	refused_from "$denied" $port
	"$CGFENCE" detach --cgroup "$denied" --bpffs "$BPFFS2" >/dev/null
	arrives_unfenced $port
}
