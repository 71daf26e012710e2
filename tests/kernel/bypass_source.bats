#!/usr/bin/env bats
# Sources that are not the host's: a fenced process that sends to an
# allowed server from an address it chose makes that server answer the
# address, a host its policy denies (the reason sockets.options refuses
# IP_TRANSPARENT and IP_FREEBIND/IPV6_FREEBIND). The network namespace's
# net.ipv6.ip_nonlocal_bind (docker run --sysctl, a Kubernetes pod's
# sysctls, a host set up for HAProxy or keepalived) gives every IPv6
# socket that freedom without any option: bind() to any address, or name
# it per message in IPV6_PKTINFO. (IPv4 needs IP_TRANSPARENT as well to
# send from such an address: the route refuses it.) cgfence reads the
# sysctl from the socket's namespace (bpf/cgf_source.h): a socket made
# while it is on is refused, one made before has its datagrams and
# connects refused. The allowed server and
# the denied host are a second namespace outside the fence; every datagram
# is also sent unfenced, to show that it arrives. Namespaces the tests make
# only; needs root; nothing skips itself.

load ../common
load watchers

TRICKS=$REPO/tests/probes/source_tricks.py

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

teardown() {
	stop_daemon
	stop_watchers
	[ -z "${NS_C:-}" ] || ip netns del "$NS_C" 2>/dev/null || true
	[ -z "${NS_OUT:-}" ] || ip netns del "$NS_OUT" 2>/dev/null || true
}

# Two namespaces joined by a veth pair: the container's, NS_C ($NET::1),
# where ip_nonlocal_bind is VALUE, and NS_OUT with the allowed server
# ($NET::2) and the denied host ($NET::5).
two_netns() { # VALUE
	NS_C="cgft-src-c-$RANDOM"
	NS_OUT="cgft-src-o-$RANDOM"
	NET="fd63:6766:$((RANDOM % 9000 + 1000))"
	ip netns add "$NS_C"
	ip netns add "$NS_OUT"
	ip -n "$NS_C" link add cgfs0 type veth peer name cgfs1 netns "$NS_OUT"
	ip -n "$NS_C" addr add "$NET::1/64" dev cgfs0 nodad
	ip -n "$NS_OUT" addr add "$NET::2/64" dev cgfs1 nodad
	ip -n "$NS_OUT" addr add "$NET::5/64" dev cgfs1 nodad
	for ns in "$NS_C" "$NS_OUT"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_C" link set cgfs0 up
	ip -n "$NS_OUT" link set cgfs1 up
	# Neighbours known in advance: a datagram from a nonlocal source would
	# wait a second or two for neighbour discovery, longer than a watcher
	# waits to tell "unseen".
	local mac_c mac_out
	mac_c=$(ip netns exec "$NS_C" cat /sys/class/net/cgfs0/address)
	mac_out=$(ip netns exec "$NS_OUT" cat /sys/class/net/cgfs1/address)
	for a in 2 5; do
		ip -n "$NS_C" neigh replace "$NET::$a" lladdr "$mac_out" dev cgfs0 nud permanent
	done
	ip -n "$NS_OUT" neigh replace "$NET::1" lladdr "$mac_c" dev cgfs1 nud permanent
	ip netns exec "$NS_C" sysctl -qw "net.ipv6.ip_nonlocal_bind=$1"
}

# in_c CGROUP|- TRICKS-ARGS...: source_tricks in NS_C, from CGROUP unless "-"
# (joined before ip netns exec remounts /sys).
in_c() {
	local cg=$1
	shift
	if [ "$cg" = - ]; then
		ip netns exec "$NS_C" "$TRICKS" "$@"
	else
		bash -c "echo \$\$ >'$cg/cgroup.procs'; exec ip netns exec '$NS_C' \"\$@\"" \
			in_c "$TRICKS" "$@"
	fi
}

# reflect CGROUP|- bind|pktinfo EXPECTED-SEND SERVER-SEEN DENIED-SEEN: the
# allowed server answers one datagram; the denied host listens on its port.
reflect() {
	local m
	m=$(marker "$2")
	watch_program srv ip netns exec "$NS_OUT" "$TRICKS" --timeout-ms "$WATCH_MS" echo-one "$NET::2" "$PORT"
	watch_program far ip netns exec "$NS_OUT" "$TRICKS" --timeout-ms "$WATCH_MS" recv "$NET::5" "$FAR_PORT" "$m"
	run in_c "$1" send-from "$2" "$NET::5" "$FAR_PORT" "$NET::2" "$PORT" "$m"
	if [ "$output" != "$3" ]; then
		echo "send-from $2 $NET::5 from $1: expected '$3', got '$output'" >&2
		return 1
	fi
	assert_seen srv "$4"
	assert_seen far "$5"
}

@test "with net.ipv6.ip_nonlocal_bind on, a fenced process cannot make an allowed server answer a denied host" {
	cg=$(new_cgroup nonlocal)
	two_netns 1
	PORT=$(random_port)
	FAR_PORT=$((PORT + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-nonlocal\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"$NET::2\"], \"protocol\": \"udp\", \"ports\": [$PORT]}]},
	  \"ingress\": {\"default\": \"deny\"}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	LOG="$BATS_TEST_TMPDIR/audit.jsonl"
	start_daemon
	# Unfenced: the server answers the address the datagram names, and
	# the denied host gets the sender's bytes.
	reflect - bind ok seen seen
	reflect - pktinfo ok seen seen
	# Fenced: the policy denies $NET::5 everything; nothing may reach it
	# through the server, and the attempt is refused and logged.
	reflect "$cg" bind EPERM unseen unseen
	reflect "$cg" pktinfo EPERM unseen unseen
	# Each refusal is in the audit log, at the socket it refused.
	wait_for_lines '.type == "deny" and .hook == "socket" and .family == "inet6" and .socket_type == "dgram" and .rule == "sockets.options" and .option == "net.ipv6.ip_nonlocal_bind" and .comm == "python3" and .pid > 0' 2
}

# later CGROUP|- ACTION ARGS...: source_tricks ACTION with a socket made
# while ip_nonlocal_bind is off, the rest done once the sysctl is on.
# Prints the probe's last line.
later() {
	local cg=$1 out="$BATS_TEST_TMPDIR/later.out" go="$BATS_TEST_TMPDIR/go" pid
	shift
	rm -f "$go"
	ip netns exec "$NS_C" sysctl -qw net.ipv6.ip_nonlocal_bind=0
	in_c "$cg" --timeout-ms 700 "$@" "$go" >"$out" 2>&1 &
	pid=$!
	within 30 grep -q made "$out"
	ip netns exec "$NS_C" sysctl -qw net.ipv6.ip_nonlocal_bind=1
	touch "$go"
	wait "$pid" || true
	tail -n 1 "$out"
}

@test "a socket made before ip_nonlocal_bind was turned on cannot use it: its datagrams and its connects are refused" {
	cg=$(new_cgroup late)
	two_netns 0
	PORT=$(random_port)
	FAR_PORT=$((PORT + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-nonlocal-late\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"$NET::2\"], \"protocol\": \"udp\", \"ports\": [$PORT]},
	    {\"action\": \"allow\", \"to\": [\"$NET::2\"], \"protocol\": \"tcp\", \"ports\": [$PORT]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	LOG="$BATS_TEST_TMPDIR/audit.jsonl"
	start_daemon
	for how in bind pktinfo; do
		for who in - "$cg"; do
			m=$(marker "late-$how")
			watch_program srv ip netns exec "$NS_OUT" "$TRICKS" --timeout-ms "$WATCH_MS" echo-one "$NET::2" "$PORT"
			watch_program far ip netns exec "$NS_OUT" "$TRICKS" --timeout-ms "$WATCH_MS" recv "$NET::5" "$FAR_PORT" "$m"
			got=$(later "$who" send-later "$how" "$NET::5" "$FAR_PORT" "$NET::2" "$PORT" "$m")
			if [ "$who" = - ]; then
				# unfenced, the socket made before uses the sysctl
				[ "$got" = ok ]
				assert_seen srv seen
				assert_seen far seen
			else
				[ "$got" = EPERM ]
				assert_seen srv unseen
				assert_seen far unseen
			fi
		done
	done
	# TCP from the denied host's address to an allowed server: unfenced,
	# the SYN leaves (its answer goes to that host: the connect times
	# out); fenced, connect fails at once.
	[ "$(later - connect-later "$NET::5" "$NET::2" "$PORT")" = timeout ]
	[ "$(later "$cg" connect-later "$NET::5" "$NET::2" "$PORT")" = EPERM ]
	wait_for_lines '.type == "deny" and .hook == "egress" and .rule == "sockets.options" and .protocol == "udp" and .dst == "'"$NET::2"'" and .comm == "python3"' 2
	wait_for_lines '.type == "deny" and .hook == "connect6" and .rule == "sockets.options" and .protocol == "tcp" and .dst == "'"$NET::2"'" and .dport == '"$PORT" 1
}

@test "without ip_nonlocal_bind an IPv6 socket sends from the host's addresses only: the kernel refuses the others" {
	cg=$(new_cgroup local)
	two_netns 0
	PORT=$(random_port)
	FAR_PORT=$((PORT + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-local\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"$NET::2\"], \"protocol\": \"udp\", \"ports\": [$PORT]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# What the first test relies on: the sysctl is the one door here.
	reflect - bind EADDRNOTAVAIL unseen unseen
	reflect - pktinfo EINVAL unseen unseen
	reflect "$cg" bind EADDRNOTAVAIL unseen unseen
	# From its own address the fenced process reaches the allowed server.
	m=$(marker own)
	watch_program srv ip netns exec "$NS_OUT" "$TRICKS" --timeout-ms "$WATCH_MS" echo-one "$NET::2" "$PORT"
	run in_c "$cg" send-from bind "$NET::1" "$FAR_PORT" "$NET::2" "$PORT" "$m"
	[ "$output" = ok ]
	assert_seen srv seen
}
