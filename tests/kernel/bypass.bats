#!/usr/bin/env bats
# The ways around a fence, tried as an attacker inside the container would
# (root, CAP_NET_RAW): each denied attempt must fail and its traffic must
# never arrive, as seen by a listener or a sniffer outside the fenced cgroup;
# each probe is also run unfenced, to show that it works. Loopback and
# namespaces the tests make only. Needs root; nothing here skips itself.

load ../common
load watchers

ATTACK=$OUT/tests/attack

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

teardown() {
	stop_daemon
	stop_servers
	stop_watchers
	if [ -n "${NETNS:-}" ]; then
		ip netns del "$NETNS" 2>/dev/null || true
	fi
}

# watch NAME ATTACK-ARGS...: an attack watcher (packet-watch, udp-recv,
# tcp-watch, raw-recv).
watch() {
	local name=$1
	shift
	watch_program "$name" "$ATTACK" --timeout-ms "$WATCH_MS" "$@"
}

# assert_attack EXPECTED ATTACK-ARGS...: like assert_probe, for attack.
assert_attack() {
	assert_run "$1" "$ATTACK" "${@:2}"
}

# ---- 1. unspecified destinations ----

@test "connect and sendto to 0.0.0.0, :: and ::ffff:0.0.0.0 are judged as the address the kernel uses" {
	cg=$(new_cgroup unspec)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-unspec\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\", \"::1\"], \"protocol\": \"tcp\", \"ports\": [$ok]},
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\", \"::1\"], \"protocol\": \"udp\", \"ports\": [$ok]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server tcp :: $ok
	start_server udp :: $ok
	# A denied local service: fenced attempts never reach it.
	for dst in 0.0.0.0 :: ::ffff:0.0.0.0; do
		watch tcp tcp-watch :: $bad
		assert_probe EPERM --cgroup "$cg" connect tcp $dst $bad
		assert_seen tcp unseen
		m=$(marker udp)
		watch udp udp-recv :: $bad "$m"
		assert_attack EPERM --cgroup "$cg" udp-send $dst $bad "$m"
		assert_seen udp unseen
		assert_probe EPERM --cgroup "$cg" connect udp $dst $bad
	done
	# Bound to 127.0.0.2, 0.0.0.0 means 127.0.0.2, which the policy denies.
	assert_attack EPERM --cgroup "$cg" connect-bound tcp 127.0.0.2 0.0.0.0 $ok
	assert_attack EPERM --cgroup "$cg" sendto-bound 127.0.0.2 0.0.0.0 $ok
	# The allowed service stays reachable through the unspecified address.
	assert_probe ok --cgroup "$cg" request tcp 0.0.0.0 $ok
	assert_probe ok --cgroup "$cg" request tcp :: $ok
	assert_probe ok --cgroup "$cg" request udp 0.0.0.0 $ok
	assert_attack ok --cgroup "$cg" sendto-bound 127.0.0.1 0.0.0.0 $ok
	# Unfenced, every one of these reaches the host.
	watch tcp tcp-watch :: $bad
	assert_probe ok connect tcp 0.0.0.0 $bad
	assert_seen tcp seen
	m=$(marker udp)
	watch udp udp-recv :: $bad "$m"
	assert_attack ok udp-send :: $bad "$m"
	assert_seen udp seen
	assert_attack ok connect-bound tcp 127.0.0.2 0.0.0.0 $ok
}

# ---- 2. raw sockets that carry TCP (and whole IP headers) ----

@test "a raw IPPROTO_TCP socket's SYN to a denied port never leaves; IP_HDRINCL packets are judged by their header" {
	cg=$(new_cgroup rawtcp)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-rawtcp\",
	  \"sockets\": {\"raw\": [\"any\"], \"options\": [\"hdrincl\"]},
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\", \"::1\"], \"protocol\": \"tcp\", \"ports\": [$ok]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	for dst in 127.0.0.1 ::1; do
		m=$(marker syn)
		watch lo packet-watch lo "$m"
		assert_attack EPERM --cgroup "$cg" raw-tcp $dst $bad "$m"
		assert_seen lo unseen
		m=$(marker hdrincl)
		watch lo packet-watch lo "$m"
		assert_attack EPERM --cgroup "$cg" hdrincl $dst $bad "$m"
		assert_seen lo unseen
		# The allowed port: the raw packet is judged, and passes.
		m=$(marker synok)
		watch lo packet-watch lo "$m"
		assert_attack ok --cgroup "$cg" raw-tcp $dst $ok "$m"
		assert_seen lo seen
		# Unfenced, the same crafted packets go out.
		m=$(marker free)
		watch lo packet-watch lo "$m"
		assert_attack ok raw-tcp $dst $bad "$m"
		assert_seen lo seen
		m=$(marker freeh)
		watch lo packet-watch lo "$m"
		assert_attack ok hdrincl $dst $bad "$m"
		assert_seen lo seen
	done
}

@test "sockets.raw: raw sockets fail with EPERM unless the policy lists their protocol, and the refusal is logged" {
	cg=$(new_cgroup rawdeny)
	LOG="$BATS_TEST_TMPDIR/audit.jsonl"
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-rawdeny",
	  "sockets": {"raw": ["icmp"]}, "egress": {"default": "allow"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_daemon
	m=$(marker none)
	watch lo packet-watch lo "$m"
	assert_attack EPERM --cgroup "$cg" raw-tcp 127.0.0.1 9 "$m"
	assert_seen lo unseen
	assert_attack EPERM --cgroup "$cg" hdrincl ::1 9 "$m"
	assert_attack EPERM --cgroup "$cg" raw-recv ::1 icmpv6 "$m"
	assert_attack ok --cgroup "$cg" ping-raw 127.0.0.1
	# A policy without a sockets section allows no raw socket at all.
	write_policy "$BATS_TEST_TMPDIR/q.json" '{"version": 1, "name": "kt-rawnone", "egress": {"default": "allow"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/q.json"
	assert_attack EPERM --cgroup "$cg" ping-raw 127.0.0.1
	assert_attack ok ping-raw 127.0.0.1
	wait_for_lines '.hook == "socket"' 4
	stop_daemon
	run jq -c 'select(.hook == "socket" and .family == "inet" and .socket_type == "raw" and .protocol == "tcp" and .rule == "sockets.raw" and .comm == "attack" and .policy == "kt-rawdeny")' "$LOG"
	[ -n "$output" ]
	run jq -c 'select(.hook == "socket" and .family == "inet" and .protocol == "icmp" and .policy == "kt-rawnone")' "$LOG"
	[ -n "$output" ]
}

# ---- 3. crafted ICMP "replies and errors" ----

@test "ICMP echo replies and errors written by a fenced process are judged; real replies to judged pings pass" {
	cg=$(new_cgroup icmp)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-icmpcraft",
	  "sockets": {"raw": ["icmp", "icmpv6"]},
	  "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["127.0.0.2"], "protocol": "icmp"}]},
	  "ingress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	for type in 0 3 11 12; do
		m=$(marker icmp$type)
		watch lo packet-watch lo "$m"
		assert_attack EPERM --cgroup "$cg" icmp 127.0.0.3 $type "$m"
		assert_seen lo unseen
	done
	for type in 1 129; do
		m=$(marker icmp6$type)
		watch lo packet-watch lo "$m"
		assert_attack EPERM --cgroup "$cg" icmp ::1 $type "$m"
		assert_seen lo unseen
	done
	# The allowed peer: judged and sent; its echo reply comes back in
	# although ingress is default-deny, because it answers a judged ping.
	m=$(marker ok)
	watch lo packet-watch lo "$m"
	assert_attack ok --cgroup "$cg" icmp 127.0.0.2 0 "$m"
	assert_seen lo seen
	assert_attack ok --cgroup "$cg" ping-raw 127.0.0.2
	# An echo reply nobody asked for is not read by the fenced raw socket.
	m=$(marker inbound)
	watch in --cgroup "$cg" raw-recv 127.0.0.1 icmp "$m"
	watch out raw-recv 127.0.0.1 icmp "$m"
	assert_attack ok icmp 127.0.0.1 0 "$m"
	assert_seen in unseen
	assert_seen out seen
	# Unfenced, crafted replies and errors go out.
	m=$(marker free)
	watch lo packet-watch lo "$m"
	assert_attack ok icmp 127.0.0.3 3 "$m"
	assert_seen lo seen
}

@test "a network namespace made inside a fenced cgroup keeps its kernel's neighbour discovery; the process's own is judged" {
	cg=$(new_cgroup ndisc)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-ndisc",
	  "sockets": {"raw": ["icmpv6"]},
	  "egress": {"default": "deny"}, "ingress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	NETNS="cgft-nd-$RANDOM"
	host="cgfh$RANDOM"
	# The namespace (and its neighbour discovery socket) is made by a
	# process of the fenced cgroup, as runc makes a container's.
	bash -c "echo \$\$ >'$cg/cgroup.procs'; exec ip netns add '$NETNS'"
	ip link add "$host" type veth peer name cgfc0 netns "$NETNS"
	ip -6 addr add "fd97:$(printf %x $RANDOM)::1/64" dev "$host" nodad
	prefix=$(ip -6 -o addr show dev "$host" | awk '{print $4}' | sed 's|::1/64||')
	ip link set "$host" up
	ip -n "$NETNS" -6 addr add "$prefix::2/64" dev cgfc0 nodad
	ip -n "$NETNS" link set cgfc0 up
	# From the host, the namespace answers: its kernel resolves our address
	# (neighbour discovery on a new link may take a retry or two).
	within 30 assert_attack ok --timeout-ms 3000 ping-raw "$prefix::2"
	assert_probe ECONNREFUSED connect tcp "$prefix::2" 9
	# A fenced process's own neighbour solicitation (type 135) is judged.
	m=$(marker ns)
	watch link packet-watch "$host" "$m"
	assert_attack EPERM --cgroup "$cg" --netns "$NETNS" icmp "$prefix::1" 135 "$m"
	assert_seen link unseen
	assert_attack ok --netns "$NETNS" icmp "$prefix::1" 135 "$m"
	ip link del "$host"
}

# ---- 4. packet sockets ----

@test "packet sockets: refused by the BPF LSM where it works, else cgfence apply refuses to fence" {
	cg=$(new_cgroup packet)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-packet", "egress": {"default": "deny"}}'
	run "$CGFENCE" status --bpffs "$BPFFS"
	if [[ "$output" == *"socket families: fenced by the BPF LSM"* ]]; then
		apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
		m=$(marker pkt)
		watch lo packet-watch lo "$m"
		assert_attack EPERM --cgroup "$cg" packet-send lo 127.0.0.1 9 "$m"
		assert_attack EPERM --cgroup "$cg" packet-send lo 127.0.0.1 9 "$m" dgram
		assert_seen lo unseen
		assert_attack EPERM --cgroup "$cg" packet-watch lo "$m"
		assert_attack EPERM --cgroup "$cg" xdp-socket
		assert_attack EPERM --cgroup "$cg" family 40 1
	else
		# Fail closed: nothing is attached, and the message says why.
		run "$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$cg" --policy "$BATS_TEST_TMPDIR/p.json"
		[ "$status" -eq 1 ]
		[[ "$output" == *"refuses packet sockets and other address families (sockets.families), which only the BPF LSM can enforce"* ]]
		[[ "$output" == *"--without-bpf-lsm"* ]]
		run bpftool cgroup show "$cg"
		[ -z "$output" ]
		[[ "$("$CGFENCE" status --bpffs "$BPFFS")" == *"socket families: NOT fenced"* ]]
	fi
	# A policy that allows packet sockets fences everywhere; they then work.
	write_policy "$BATS_TEST_TMPDIR/q.json" '{"version": 1, "name": "kt-packet-ok",
	  "sockets": {"families": ["any"]}, "egress": {"default": "deny"}}'
	"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$cg" --policy "$BATS_TEST_TMPDIR/q.json"
	m=$(marker pktok)
	watch lo packet-watch lo "$m"
	assert_attack ok --cgroup "$cg" packet-send lo 127.0.0.1 9 "$m"
	assert_seen lo seen
}

# ---- 5. IPv4 options ----

@test "a loose source route to a denied first hop never leaves (IP_OPTIONS and IP_RETOPTS)" {
	cg=$(new_cgroup lsrr)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-lsrr\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.3\"], \"protocol\": \"udp\", \"ports\": [$port]},
	    {\"action\": \"allow\", \"to\": [\"127.0.0.3\"], \"protocol\": \"tcp\", \"ports\": [$port]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	for how in udp cmsg; do
		m=$(marker $how)
		watch lo packet-watch lo "$m"
		assert_attack EPERM --cgroup "$cg" lsrr 127.0.0.2 127.0.0.3 $port "$m" $how
		assert_seen lo unseen
		m=$(marker free$how)
		watch lo packet-watch lo "$m"
		assert_attack ok lsrr 127.0.0.2 127.0.0.3 $port "$m" $how
		assert_seen lo seen
	done
	run "$ATTACK" --cgroup "$cg" --timeout-ms 700 lsrr 127.0.0.2 127.0.0.3 $port x tcp
	[ "$output" != ok ]
	# Without the option the same destination is allowed.
	m=$(marker plain)
	watch lo packet-watch lo "$m"
	assert_attack ok --cgroup "$cg" udp-send 127.0.0.3 $port "$m"
	assert_seen lo seen
}

# ---- 6. IPv6 extension-header chains ----

@test "IPv6: a header chain longer than the walk is refused both ways; short chains are judged by their real port" {
	cg=$(new_cgroup v6chain)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-v6chain\",
	  \"sockets\": {\"raw\": [\"any\"], \"options\": [\"hdrincl\"]},
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"::1\"], \"protocol\": \"udp\", \"ports\": [$ok]}]},
	  \"ingress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"from\": [\"::1\"], \"protocol\": \"udp\", \"ports\": [$ok]},
	    {\"action\": \"allow\", \"from\": [\"::1\"], \"protocol\": \"tcp\", \"ports\": [$ok]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# Egress.
	for n in 2 12; do
		m=$(marker out$n)
		watch lo packet-watch lo "$m"
		assert_attack EPERM --cgroup "$cg" v6-chain ::1 $bad $n "$m" udp
		assert_seen lo unseen
	done
	m=$(marker short)
	watch lo packet-watch lo "$m"
	assert_attack ok --cgroup "$cg" v6-chain ::1 $ok 2 "$m" udp
	assert_seen lo seen
	m=$(marker long)
	watch lo packet-watch lo "$m"
	assert_attack EPERM --cgroup "$cg" v6-chain ::1 $ok 12 "$m" udp
	assert_seen lo unseen
	# Ingress, to a fenced UDP socket on a denied port: never delivered.
	m=$(marker in)
	watch in --cgroup "$cg" udp-recv ::1 $bad "$m"
	assert_attack ok v6-chain ::1 $bad 12 "$m" udp
	assert_seen in unseen
	m=$(marker inok)
	watch in --cgroup "$cg" udp-recv ::1 $ok "$m"
	assert_attack ok v6-chain ::1 $ok 2 "$m" udp
	assert_seen in seen
	m=$(marker free)
	watch in udp-recv ::1 $bad "$m"
	assert_attack ok v6-chain ::1 $bad 12 "$m" udp
	assert_seen in seen
	# A deny list: only UDP to the bad port is refused, everything else
	# allowed. A chain too long to follow must not turn that datagram into
	# "some other protocol", which the list would let through.
	write_policy "$BATS_TEST_TMPDIR/q.json" "{\"version\": 1, \"name\": \"kt-v6deny\",
	  \"sockets\": {\"raw\": [\"any\"], \"options\": [\"hdrincl\"]},
	  \"egress\": {\"default\": \"allow\", \"rules\": [
	    {\"action\": \"deny\", \"to\": [\"::1\"], \"protocol\": \"udp\", \"ports\": [$bad]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/q.json"
	for n in 2 12; do
		m=$(marker deny$n)
		watch lo packet-watch lo "$m"
		assert_attack EPERM --cgroup "$cg" v6-chain ::1 $bad $n "$m" udp
		assert_seen lo unseen
	done
	m=$(marker allowed)
	watch lo packet-watch lo "$m"
	assert_attack ok --cgroup "$cg" v6-chain ::1 $ok 2 "$m" udp
	assert_seen lo seen
}

@test "IPv6: a SYN behind a long header chain does not open a connection to a fenced listener" {
	cg=$(new_cgroup v6syn)
	NETNS="cgft-syn-$RANDOM"
	ip netns add "$NETNS"
	ip -n "$NETNS" link set lo up
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-v6syn",
	  "ingress": {"default": "deny", "rules": [{"action": "allow", "from": ["::1"], "protocol": "tcp", "ports": [1]}]}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# In the namespace of its own, only the test's packets are counted: a
	# SYN that reaches the listener makes TCP answer (SYN-ACK, then RST).
	tcp_out_segments() {
		ip netns exec "$NETNS" awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "OutSegs") c = i; h = 1 } else print $c }' /proc/net/snmp
	}
	start_server tcp ::1 $port --netns "$NETNS" --cgroup "$cg"
	before=$(tcp_out_segments)
	assert_attack ok --netns "$NETNS" v6-chain ::1 $port 12 x syn
	assert_attack ok --netns "$NETNS" v6-chain ::1 $port 2 x syn
	sleep 0.3
	[ "$(tcp_out_segments)" -eq "$before" ]
	stop_servers
	# Unfenced, the same SYN is answered.
	start_server tcp ::1 $port --netns "$NETNS"
	assert_attack ok --netns "$NETNS" v6-chain ::1 $port 12 x syn
	within 30 eval '[ "$(tcp_out_segments)" -gt "$before" ]'
}

# ---- 7. verdicts that outlive their policy ----

@test "a connected UDP socket judged under a looser policy is judged again after detach and a stricter apply" {
	cg=$(new_cgroup stale)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/loose.json" "{\"version\": 1, \"name\": \"kt-loose\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$port]}]}}"
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "kt-strict", "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/loose.json"
	m1=$(marker first)
	m2=$(marker second)
	watch second udp-recv 127.0.0.1 $port "$m2"
	go=$(new_go_file)
	"$ATTACK" --cgroup "$cg" udp-twice 127.0.0.1 $port "$go" "$m1" "$m2" >"$BATS_TEST_TMPDIR/twice" &
	sender=$!
	within 30 test -e "$go.sent"
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/strict.json"
	touch "$go"
	wait $sender || true
	[ "$(cat "$BATS_TEST_TMPDIR/twice")" = "ok EPERM" ]
	assert_seen second unseen
	# Without the change, the second datagram goes through.
	apply_policy "$cg" "$BATS_TEST_TMPDIR/loose.json"
	watch second udp-recv 127.0.0.1 $port "$m2"
	assert_attack "ok ok" --cgroup "$cg" udp-twice 127.0.0.1 $port 100 "$m1" "$m2"
	assert_seen second seen
}

@test "a child cgroup fenced apart does not inherit its parent's verdicts" {
	parent=$(new_cgroup sparent)
	child=$(new_cgroup sparent/child)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/loose.json" "{\"version\": 1, \"name\": \"kt-ploose\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$port]}]}}"
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "kt-cstrict", "egress": {"default": "deny"}}'
	apply_policy "$parent" "$BATS_TEST_TMPDIR/loose.json"
	m1=$(marker first)
	m2=$(marker second)
	watch second udp-recv 127.0.0.1 $port "$m2"
	go=$(new_go_file)
	"$ATTACK" --cgroup "$child" udp-twice 127.0.0.1 $port "$go" "$m1" "$m2" >"$BATS_TEST_TMPDIR/twice" &
	sender=$!
	within 30 test -e "$go.sent"
	apply_policy "$child" "$BATS_TEST_TMPDIR/strict.json"
	touch "$go"
	wait $sender || true
	[ "$(cat "$BATS_TEST_TMPDIR/twice")" = "ok EPERM" ]
	assert_seen second unseen
}

@test "a UDP peer kept for one cgroup is judged anew for a sibling whose policy denies it" {
	loose=$(new_cgroup peerloose)
	strict=$(new_cgroup peerstrict)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/loose.json" "{\"version\": 1, \"name\": \"kt-peer-loose\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$port]}]}}"
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "kt-peer-strict", "egress": {"default": "deny"}}'
	apply_policy "$loose" "$BATS_TEST_TMPDIR/loose.json"
	apply_policy "$strict" "$BATS_TEST_TMPDIR/strict.json"
	# Two new sockets of the loose cgroup: judged, then passed on the kept verdict.
	for i in 1 2; do
		m=$(marker loose$i)
		watch l udp-recv 127.0.0.1 $port "$m"
		assert_attack ok --cgroup "$loose" udp-send 127.0.0.1 $port "$m"
		assert_seen l seen
	done
	# The same peer from the strict sibling: refused, and nothing arrives.
	m=$(marker strict)
	watch s udp-recv 127.0.0.1 $port "$m"
	assert_attack EPERM --cgroup "$strict" udp-send 127.0.0.1 $port "$m"
	assert_probe EPERM --cgroup "$strict" connect udp 127.0.0.1 $port
	assert_seen s unseen
}

@test "after an in-place change a new socket's datagram to a peer kept under the old policy is judged again" {
	cg=$(new_cgroup peerchange)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/v1.json" "{\"version\": 1, \"name\": \"kt-peer-change\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.0/8\"], \"protocol\": \"udp\", \"ports\": [$port]}]}}"
	write_policy "$BATS_TEST_TMPDIR/v2.json" "{\"version\": 1, \"name\": \"kt-peer-change\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.0/8\"], \"protocol\": \"udp\", \"ports\": [$((port + 1))]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/v1.json"
	m=$(marker before)
	watch a udp-recv 127.0.0.1 $port "$m"
	assert_attack ok --cgroup "$cg" udp-send 127.0.0.1 $port "$m"
	assert_seen a seen
	run apply_policy "$cg" "$BATS_TEST_TMPDIR/v2.json"
	[[ "$output" == *"in place"* ]]
	m=$(marker after)
	watch b udp-recv 127.0.0.1 $port "$m"
	assert_attack EPERM --cgroup "$cg" udp-send 127.0.0.1 $port "$m"
	assert_probe EPERM --cgroup "$cg" connect udp 127.0.0.1 $port
	assert_seen b unseen
}

@test "under ingress default-deny a kept UDP peer answers each socket that sent to it, and no other" {
	cg=$(new_cgroup peerreply)
	port=$(random_port)
	lport=$((port + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-peer-reply\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$port]}]},
	  \"ingress\": {\"default\": \"deny\"}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server udp 127.0.0.1 $port
	# Three unconnected sockets, one after the other: the first is judged,
	# the others pass on the kept verdict; each must get its own reply.
	run python3 -c 'import socket, sys
open(sys.argv[1] + "/cgroup.procs", "w").write("0")
for _ in range(3):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(2)
    c.sendto(b"x", ("127.0.0.1", int(sys.argv[2])))
    try:
        print(len(c.recv(64)))
    except OSError as e:
        print(e.strerror or "timeout")
    c.close()' "$cg" $port
	[ "$output" = $'1\n1\n1' ]
	assert_probe ok --cgroup "$cg" request udp 127.0.0.1 $port
	stop_servers
	# A socket that never sent to the peer hears nothing from it...
	m=$(marker other)
	watch in --cgroup "$cg" udp-recv 127.0.0.1 $lport "$m"
	assert_attack ok udp-send-from $port 127.0.0.1 $lport "$m"
	assert_seen in unseen
	# ...which an unfenced one does.
	m=$(marker unfenced)
	watch out udp-recv 127.0.0.1 $lport "$m"
	assert_attack ok udp-send-from $port 127.0.0.1 $lport "$m"
	assert_seen out seen
}

# ---- 8. ingress through raw sockets ----

@test "under ingress default-deny a fenced raw TCP socket reads no SYN sent to a denied port" {
	cg=$(new_cgroup rawin)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-rawin\",
	  \"sockets\": {\"raw\": [\"tcp\"]},
	  \"ingress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"from\": [\"127.0.0.0/8\", \"::1\"], \"protocol\": \"tcp\", \"ports\": [$ok]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	for dst in 127.0.0.1 ::1; do
		m=$(marker in)
		watch in --cgroup "$cg" raw-recv $dst tcp "$m"
		watch out raw-recv $dst tcp "$m"
		assert_attack ok raw-tcp $dst $bad "$m"
		assert_seen in unseen
		assert_seen out seen
		m=$(marker inok)
		watch in --cgroup "$cg" raw-recv $dst tcp "$m"
		assert_attack ok raw-tcp $dst $ok "$m"
		assert_seen in seen
	done
}

# ---- socket options that take traffic where no judgement looks ----

@test "sockets.options: IP_HDRINCL, IP_RECVERR and IP_TRANSPARENT fail with EPERM unless allowed" {
	cg=$(new_cgroup sockopt)
	# socket(FAMILY, TYPE, PROTO) numbers; then setsockopt(LEVEL, NAME, 1)
	v4raw="2 3 1" v6raw="10 3 58" v4udp="2 2 0" v6udp="10 2 0"
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-sockopt",
	  "sockets": {"raw": ["icmp", "icmpv6"]},
	  "egress": {"default": "deny"}, "ingress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	LOG="$BATS_TEST_TMPDIR/audit.jsonl"
	start_daemon
	assert_attack EPERM --cgroup "$cg" sockopt $v4raw 0 3 1     # IP_HDRINCL
	assert_attack EPERM --cgroup "$cg" sockopt $v6raw 41 36 1   # IPV6_HDRINCL
	assert_attack EPERM --cgroup "$cg" sockopt $v4udp 0 11 1    # IP_RECVERR
	assert_attack EPERM --cgroup "$cg" sockopt $v6udp 41 25 1   # IPV6_RECVERR
	assert_attack EPERM --cgroup "$cg" sockopt $v4udp 0 19 1    # IP_TRANSPARENT
	assert_attack EPERM --cgroup "$cg" sockopt $v6udp 41 75 1   # IPV6_TRANSPARENT
	assert_attack EPERM --cgroup "$cg" sockopt 2 3 255 0 1 0    # an IPPROTO_RAW socket
	assert_attack EPERM --cgroup "$cg" sockopt $v6udp 41 78 1   # IPV6_FREEBIND: spoofed sources
	assert_attack EPERM --cgroup "$cg" sockopt $v6udp 0 15 1    # IP_FREEBIND
	# Eight options refused, and the IPPROTO_RAW socket itself.
	wait_for_lines '.hook == "setsockopt"' 8
	wait_for_lines '.hook == "socket" and .socket_type == "raw" and .protocol == "255" and .rule == "sockets.raw"' 1
	stop_daemon
	run jq -c 'select(.hook == "setsockopt" and .option == "IP_RECVERR" and .family == "inet" and .socket_type == "dgram" and .rule == "sockets.options" and .comm == "attack")' "$LOG"
	[ -n "$output" ]
	run jq -c 'select(.hook == "setsockopt" and .option == "IPV6_FREEBIND" and .family == "inet6")' "$LOG"
	[ -n "$output" ]
	# Turning them off, and other options, are untouched.
	assert_attack ok --cgroup "$cg" sockopt $v4raw 0 3 0
	assert_attack ok --cgroup "$cg" sockopt $v4udp 0 1 16       # IP_TOS
	# Unfenced, all of them work.
	assert_attack ok sockopt $v4raw 0 3 1
	assert_attack ok sockopt $v4udp 0 11 1
	assert_attack ok sockopt $v4udp 0 19 1
	# Where nothing restricts ingress (egress), RECVERR (TRANSPARENT) has
	# nothing to get around.
	write_policy "$BATS_TEST_TMPDIR/q.json" '{"version": 1, "name": "kt-sockopt-open",
	  "sockets": {"raw": ["icmp"]}, "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/q.json"
	assert_attack ok --cgroup "$cg" sockopt $v4udp 0 11 1
	assert_attack EPERM --cgroup "$cg" sockopt $v4udp 0 19 1
	assert_attack EPERM --cgroup "$cg" sockopt $v4raw 0 3 1
	# Allowed by name.
	write_policy "$BATS_TEST_TMPDIR/r.json" '{"version": 1, "name": "kt-sockopt-ok",
	  "sockets": {"raw": ["icmp"], "options": ["hdrincl", "recverr", "transparent"]},
	  "egress": {"default": "deny"}, "ingress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/r.json"
	assert_attack ok --cgroup "$cg" sockopt $v4raw 0 3 1
	assert_attack ok --cgroup "$cg" sockopt $v4udp 0 11 1
	assert_attack ok --cgroup "$cg" sockopt $v4udp 0 19 1
	assert_attack ok --cgroup "$cg" sockopt 2 3 255 0 1 0
}

@test "a raw socket that writes its own header anyway (a 32-bit setsockopt no cgroup program sees) sends nothing" {
	cg=$(new_cgroup compat)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-compat\",
	  \"sockets\": {\"raw\": [\"icmp\"]},
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$port]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# The header says an allowed UDP destination; the kernel would route it
	# by the sendto address. The option is set (the kernel's 32-bit entry
	# runs no cgroup setsockopt program), but the packet is refused: a raw
	# ICMP socket's packet that is not ICMP wrote its own header.
	m=$(marker compat)
	watch lo packet-watch lo "$m"
	assert_attack "ok EPERM" --cgroup "$cg" compat-hdrincl 127.0.0.1 127.0.0.2 $port "$m"
	assert_seen lo unseen
	m=$(marker free)
	watch lo packet-watch lo "$m"
	assert_attack "ok ok" compat-hdrincl 127.0.0.1 127.0.0.2 $port "$m"
	assert_seen lo seen
}

@test "a connected UDP socket stops hearing from its peer once a new policy denies it" {
	cg=$(new_cgroup connrecv)
	peer=$(random_port)
	local_port=$((peer + 1))
	write_policy "$BATS_TEST_TMPDIR/loose.json" "{\"version\": 1, \"name\": \"kt-cr-loose\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$peer]}]},
	  \"ingress\": {\"default\": \"deny\"}}"
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "kt-cr-strict",
	  "egress": {"default": "deny"}, "ingress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/loose.json"
	# Under the loose policy the reply from the peer arrives...
	m=$(marker before)
	watch in --cgroup "$cg" udp-connected-watch $local_port 127.0.0.1 $peer "$m"
	assert_attack ok udp-send-from $peer 127.0.0.1 $local_port "$m"
	assert_seen in seen
	# ...and after the strict one replaced it, it does not.
	m=$(marker after)
	watch in --cgroup "$cg" udp-connected-watch $local_port 127.0.0.1 $peer "$m"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/strict.json"
	assert_attack ok udp-send-from $peer 127.0.0.1 $local_port "$m"
	assert_seen in unseen
}

@test "re-applying the same policy keeps what it remembered: a UDP server still reaches its clients" {
	cg=$(new_cgroup reapply)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-push\",
	  \"egress\": {\"default\": \"deny\"},
	  \"ingress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"from\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$port]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# A fenced server: one request, one reply, then a push 0.8 s later.
	python3 -c 'import socket, sys, time
open(sys.argv[1] + "/cgroup.procs", "w").write("0")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[2])))
print("ready", flush=True)
data, peer = s.recvfrom(64); s.sendto(b"reply", peer); time.sleep(0.8)
try:
    s.sendto(b"push", peer); print("push ok", flush=True)
except OSError as e:
    print("push", e.strerror, flush=True)' "$cg" $port >"$BATS_TEST_TMPDIR/server" &
	server=$!
	within 30 grep -q ready "$BATS_TEST_TMPDIR/server"
	python3 -c 'import socket, sys, time
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(2)
c.sendto(b"hello", ("127.0.0.1", int(sys.argv[1])))
print(c.recv(64).decode(), flush=True)
print(c.recv(64).decode(), flush=True)' $port >"$BATS_TEST_TMPDIR/client" &
	client=$!
	sleep 0.3
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	wait $server
	wait $client
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/server")" = "push ok" ]
	[ "$(cat "$BATS_TEST_TMPDIR/client")" = $'reply\npush' ]
}

# ---- nothing legitimate refused ----

@test "ordinary UDP and TCP variants work on allowed flows and fail on denied ones: cmsgs, IP_PKTINFO, sendmmsg, io_uring" {
	cg=$(new_cgroup legit)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-legit\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\", \"::1\"], \"protocol\": \"udp\", \"ports\": [$ok]},
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\", \"::1\"], \"protocol\": \"tcp\", \"ports\": [$ok]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server udp :: $ok
	start_server tcp :: $ok
	start_server udp :: $bad
	start_server tcp :: $bad
	for dst in 127.0.0.1 ::1; do
		for kind in tos pktinfo none; do
			assert_attack ok --cgroup "$cg" udp-cmsg $dst $ok $kind
			assert_attack EPERM --cgroup "$cg" udp-cmsg $dst $bad $kind
		done
		for kind in tos pktinfo; do
			assert_attack ok --cgroup "$cg" udp-sendto-cmsg $dst $ok $kind
			assert_attack EPERM --cgroup "$cg" udp-sendto-cmsg $dst $bad $kind
		done
		assert_attack ok --cgroup "$cg" sendmmsg $dst $ok 32
		assert_attack EPERM --cgroup "$cg" sendmmsg $dst $bad 32
		assert_attack ok --cgroup "$cg" uring $dst $ok tcp
		assert_attack EPERM --cgroup "$cg" uring $dst $bad tcp
		assert_attack ok --cgroup "$cg" uring $dst $ok udp
		assert_attack EPERM --cgroup "$cg" uring $dst $bad udp
		# The kernel refuses an explicit port 0 before a datagram
		# is built.
		assert_attack EINVAL --cgroup "$cg" udp-send $dst 0 x
		# The denied ones work unfenced.
		assert_attack ok udp-cmsg $dst $bad tos
		assert_attack ok uring $dst $bad udp
	done
	# A fenced server answers a client whose IP options its replies echo.
	srv=$((ok + 2))
	start_server tcp 127.0.0.1 $srv --cgroup "$cg"
	assert_attack ok rr-request 127.0.0.1 $srv
	# MPTCP (whose subflows are kernel TCP sockets): judged at connect.
	mptcp_connect() { # ADDR PORT [CGROUP]
		python3 -c 'import socket, sys
if len(sys.argv) > 3: open(sys.argv[3] + "/cgroup.procs", "w").write("0")
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_STREAM, 262)
s.settimeout(2)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); s.send(b"x"); print("ok" if s.recv(1) else "EOF")
except OSError as e:
    print(e.strerror)' "$@"
	}
	[ "$(mptcp_connect 127.0.0.1 $ok "$cg")" = ok ]
	[ "$(mptcp_connect 127.0.0.1 $bad "$cg")" = "Operation not permitted" ]
	[ "$(mptcp_connect ::1 $bad "$cg")" = "Operation not permitted" ]
	[ "$(mptcp_connect 127.0.0.1 $bad)" = ok ]
	# TCP Fast Open: the SYN that carries data passes the connect hook.
	fastopen() { # ADDR PORT [CGROUP]
		python3 -c 'import socket, struct, sys
if len(sys.argv) > 3: open(sys.argv[3] + "/cgroup.procs", "w").write("0")
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 2, 0))
try:
    s.sendto(b"x", socket.MSG_FASTOPEN, (sys.argv[1], int(sys.argv[2]))); print("ok" if s.recv(1) else "EOF")
except OSError as e:
    print(e.strerror)' "$@"
	}
	[ "$(fastopen 127.0.0.1 $ok "$cg")" = ok ]
	[ "$(fastopen 127.0.0.1 $bad "$cg")" = "Operation not permitted" ]
	[ "$(fastopen ::1 $bad "$cg")" = "Operation not permitted" ]
	[ "$(fastopen 127.0.0.1 $bad)" = ok ]
}
