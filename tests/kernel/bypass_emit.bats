#!/usr/bin/env bats
# Packets the kernel sends on a fenced process's behalf, with no socket of
# its own to judge them: what the process chooses must not leave in them.
# The network namespace is made by a process of the fenced cgroup, as runc
# makes a container's; the far end of its veth, outside, is watched.
# Needs root; nothing here skips itself.

load ../common

TRICKS=$REPO/tests/probes/dgram_tricks.py

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

teardown() {
	if [ -n "${WATCHER:-}" ]; then
		kill "$WATCHER" 2>/dev/null || true
		wait "$WATCHER" 2>/dev/null || true
	fi
	[ -z "${HOST_IF:-}" ] || ip link del "$HOST_IF" 2>/dev/null || true
	[ -z "${NETNS:-}" ] || ip netns del "$NETNS" 2>/dev/null || true
}

# A namespace made inside CGROUP, joined to the host by a veth pair.
fenced_netns() { # CGROUP
	NETNS="cgft-emit-$RANDOM"
	HOST_IF="cgfe$RANDOM"
	local net="10.$((RANDOM % 200 + 20)).$((RANDOM % 250))"
	bash -c "echo \$\$ >'$1/cgroup.procs'; exec ip netns add '$NETNS'"
	ip link add "$HOST_IF" type veth peer name cgfc0 netns "$NETNS"
	ip addr add "$net.1/24" dev "$HOST_IF"
	ip link set "$HOST_IF" up
	ip -n "$NETNS" addr add "$net.2/24" dev cgfc0
	ip -n "$NETNS" link set cgfc0 up
	PEER="$net.1"
}

# report_seen GROUP [CGROUP]: joins GROUP inside the namespace (from
# CGROUP when given) while the host end is watched; prints the verdict.
report_seen() {
	local out="$BATS_TEST_TMPDIR/report.out"
	"$TRICKS" --timeout-ms 1500 report-watch "$HOST_IF" "$1" >"$out" 2>&1 &
	WATCHER=$!
	for _ in $(seq 100); do
		grep -q ready "$out" && break
		sleep 0.02
	done
	if [ -n "${2:-}" ]; then
		bash -c "echo \$\$ >'$2/cgroup.procs'; exec ip netns exec '$NETNS' '$TRICKS' --timeout-ms 300 mcast-join cgfc0 '$1'" >/dev/null
	else
		ip netns exec "$NETNS" "$TRICKS" --timeout-ms 300 mcast-join cgfc0 "$1" >/dev/null
	fi
	wait "$WATCHER" || true
	WATCHER=
	tail -n 1 "$out"
}

@test "BYPASS: a fenced process's multicast joins send IGMP and MLD reports carrying groups it chose" {
	cg=$(new_cgroup mcast)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-mcast",
	  "egress": {"default": "deny"}, "ingress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	fenced_netns "$cg"
	# The fence holds for the process's own datagrams to the host end...
	[ "$("$PROBE" --cgroup "$cg" --netns "$NETNS" sendto "$PEER" 9)" = EPERM ]
	# ...and unfenced, a join's report reaches it: 3 bytes of a chosen
	# IPv4 group, 14 of an IPv6 one ("cgfk-...").
	g4="239.$((RANDOM % 256)).$((RANDOM % 256)).$((RANDOM % 256))"
	g6=$(printf 'ff0e::6367:666b:%x:%x:%x' $RANDOM $RANDOM $RANDOM)
	[ "$(report_seen "$g4")" = seen ]
	[ "$(report_seen "$g6")" = seen ]
	# Fenced, the group the process chose must not leave.
	g4="239.$((RANDOM % 256)).$((RANDOM % 256)).$((RANDOM % 256))"
	g6=$(printf 'ff0e::6367:666b:%x:%x:%x' $RANDOM $RANDOM $RANDOM)
	got4=$(report_seen "$g4" "$cg")
	got6=$(report_seen "$g6" "$cg")
	echo "IGMP report for $g4: $got4; MLD report for $g6: $got6" >&2
	[ "$got4" = unseen ]
	[ "$got6" = unseen ]
}
