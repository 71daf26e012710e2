#!/usr/bin/env bats
# Packets the kernel sends on a fenced process's behalf, with no socket of
# its own to judge them: what the process chooses must not leave in them.
# The network namespace is made by a process of the fenced cgroup, as runc
# makes a container's; the far end of its veth, outside, is watched.
# Needs root; nothing here skips itself.

load ../common
load watchers

TRICKS=$REPO/tests/probes/dgram_tricks.py

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

teardown() {
	stop_watchers
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

# assert_report GROUP seen|unseen [CGROUP [HOW]]: joins GROUP inside the
# namespace (from CGROUP when given, the HOW of dgram_tricks' mcast-join)
# while the host end is watched for a report of it. joined prints what
# the join said.
assert_report() {
	watch_program report "$TRICKS" --timeout-ms "$WATCH_MS" report-watch "$HOST_IF" "$1"
	if [ -n "${3:-}" ]; then
		bash -c "echo \$\$ >'$3/cgroup.procs'; exec ip netns exec '$NETNS' '$TRICKS' --timeout-ms 300 mcast-join cgfc0 '$1' ${4:-mreq}" >"$BATS_TEST_TMPDIR/joined" 2>&1 || true
	else
		ip netns exec "$NETNS" "$TRICKS" --timeout-ms 300 mcast-join cgfc0 "$1" ${4:-mreq} >"$BATS_TEST_TMPDIR/joined" 2>&1 || true
	fi
	assert_seen report "$2"
}

joined() {
	cat "$BATS_TEST_TMPDIR/joined"
}

random_groups() {
	g4="239.$((RANDOM % 256)).$((RANDOM % 256)).$((RANDOM % 256))"
	g6=$(printf 'ff0e::6367:666b:%x:%x:%x' $RANDOM $RANDOM $RANDOM)
}

@test "where egress is restricted a fenced process cannot join a multicast group: no IGMP or MLD report carries a group it chose" {
	cg=$(new_cgroup mcast)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-mcast",
	  "egress": {"default": "deny"}, "ingress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	fenced_netns "$cg"
	# MCAST_JOIN_GROUP with interface 0 finds cgfc0 by route.
	ip -n "$NETNS" route add 224.0.0.0/4 dev cgfc0
	# The fence holds for the process's own datagrams to the host end...
	[ "$("$PROBE" --cgroup "$cg" --netns "$NETNS" sendto "$PEER" 9)" = EPERM ]
	# ...and unfenced, a join's report reaches it: 3 bytes of a chosen
	# IPv4 group, 14 of an IPv6 one ("cgfk-..."), either way of joining.
	for how in mreq group; do
		random_groups
		assert_report "$g4" seen "" "$how"
		assert_report "$g6" seen "" "$how"
	done
	# Fenced, the join fails with EPERM and the group does not leave.
	for how in mreq group; do
		random_groups
		assert_report "$g4" unseen "$cg" "$how"
		[ "$(joined)" = EPERM ]
		assert_report "$g6" unseen "$cg" "$how"
		[ "$(joined)" = EPERM ]
	done
}

@test "sockets.options \"multicast\" lets a fenced process join groups, and an unrestricted egress needs no option" {
	cg=$(new_cgroup mcastok)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-mcast-ok",
	  "egress": {"default": "deny"}, "sockets": {"options": ["multicast"]}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	fenced_netns "$cg"
	ip -n "$NETNS" route add 224.0.0.0/4 dev cgfc0
	for how in mreq group; do
		random_groups
		assert_report "$g4" seen "$cg" "$how"
		[ "$(joined)" = ok ]
		assert_report "$g6" seen "$cg" "$how"
		[ "$(joined)" = ok ]
	done
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-mcast-open",
	  "ingress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	random_groups
	assert_report "$g4" seen "$cg"
	[ "$(joined)" = ok ]
}

# counter NAME: a MIB counter of $NETNS, absolute (no nstat history written).
counter() {
	ip netns exec "$NETNS" nstat -asz "$1" | awk -v n="$1" '$1 == n { print $2 }'
}

@test "MPTCP: a subflow the kernel opens to an address the server announced is judged" {
	cg=$(new_cgroup mpjoin)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-mpjoin\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$port]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# A namespace whose MPTCP server announces 127.0.0.2 (ADD_ADDR), and
	# whose clients accept the announcement and join it.
	NETNS="cgft-mpj-$RANDOM"
	ip netns add "$NETNS"
	ip -n "$NETNS" link set lo up
	ip -n "$NETNS" addr add 127.0.0.2/8 dev lo
	ip -n "$NETNS" mptcp limits set add_addr_accepted 4 subflows 4
	ip -n "$NETNS" mptcp endpoint add 127.0.0.2 signal
	ip netns exec "$NETNS" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.settimeout(3)
    try:
        while c.recv(100): pass
    except OSError: pass
    c.close()' $port >"$BATS_TEST_TMPDIR/srv" 2>&1 &
	WATCHER=$!
	within 30 grep -q ready "$BATS_TEST_TMPDIR/srv"
	# client [CGROUP]: an MPTCP connection to the allowed 127.0.0.1 that
	# lives 1.5 s, time for the kernel to open the announced subflow.
	client() {
		bash -c "${1:+echo \$\$ >'$1/cgroup.procs';} exec ip netns exec '$NETNS' python3 -c \"\$0\" $port" 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect(("127.0.0.1", int(sys.argv[1])))
for _ in range(15):
    s.send(b"x" * 100); time.sleep(0.1)
print("ok")'
	}
	[ "$(client "$cg")" = ok ]
	# The announcement arrived; the join to the denied address never did.
	[ "$(counter MPTcpExtAddAddr)" -ge 1 ]
	[ "$(counter MPTcpExtMPJoinSynRx)" = 0 ]
	# Unfenced, the kernel joins the announced address.
	[ "$(client)" = ok ]
	[ "$(counter MPTcpExtMPJoinSynRx)" -ge 1 ]
}
