#!/usr/bin/env bats
# The kept verdicts (UDP peers kept for a cgroup and an epoch, flows kept
# for a socket, sockets marked judged) tried as an attacker inside the
# container would: a kept peer must open nothing but itself (its address,
# port and protocol, in its cgroup, under its epoch), and no trick with
# sockets or addresses may send what no judgement saw. As in bypass.bats,
# every denied datagram is watched for from outside the fence, and each
# trick is shown to work unfenced. Loopback only; needs root.

load ../common
load watchers

ATTACK=$OUT/tests/attack
TRICKS=$REPO/tests/probes/dgram_tricks.py

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

teardown() {
	stop_servers
	stop_watchers
}

# watch NAME PROGRAM ARGS...: a watcher (attack's or dgram_tricks').
watch() {
	watch_program "$@"
}

# corked_send ARGS...: dgram_tricks cork in the background (GOFILE is
# $BATS_TEST_TMPDIR/go); returns once the head of its datagram is written.
corked_send() {
	rm -f "$BATS_TEST_TMPDIR/go"
	"$TRICKS" "$@" >"$BATS_TEST_TMPDIR/cork" 2>&1 &
	SENDER=$!
	within 30 grep -q corked "$BATS_TEST_TMPDIR/cork" && return 0
	echo "cork $*: $(cat "$BATS_TEST_TMPDIR/cork")" >&2
	return 1
}

# finish_send: lets the corked sender finish; SENT is then its results.
finish_send() {
	touch "$BATS_TEST_TMPDIR/go"
	wait "$SENDER" || true
	SENT=$(tail -n 1 "$BATS_TEST_TMPDIR/cork")
}

udp_watch() { # NAME ADDR PORT MARKER
	watch "$1" "$ATTACK" --timeout-ms "$WATCH_MS" udp-recv "$2" "$3" "$4"
}

# A policy that allows one UDP peer, 127.0.0.1:PORT, and raw sockets of
# the given protocols (JSON list).
one_peer_policy() { # FILE NAME PORT [RAW]
	local raw=
	[ -z "${4:-}" ] || raw="\"sockets\": {\"raw\": $4},"
	write_policy "$1" "{\"version\": 1, \"name\": \"$2\", $raw
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$3]}]}}"
}

@test "a kept UDP peer opens no other port, no TCP, UDP-Lite or ICMP to its address, and no IPv6 twin" {
	cg=$(new_cgroup keptpeer)
	ok=$(random_port)
	bad=$((ok + 1))
	one_peer_policy "$BATS_TEST_TMPDIR/p.json" kt-kept-peer $ok '["icmp"]'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# The peer is judged and kept; a second socket, connected or not, and
	# its IPv4-mapped form from an IPv6 socket pass on it.
	for dst in 127.0.0.1 127.0.0.1 ::ffff:127.0.0.1; do
		m=$(marker kept)
		udp_watch k 127.0.0.1 $ok "$m"
		assert_run ok "$ATTACK" --cgroup "$cg" udp-send $dst $ok "$m"
		assert_seen k seen
	done
	assert_run ok "$PROBE" --cgroup "$cg" connect udp 127.0.0.1 $ok
	# Another port of the same address, from new and connected sockets
	# and through the IPv4-mapped form.
	for dst in 127.0.0.1 ::ffff:127.0.0.1; do
		m=$(marker port)
		udp_watch p 127.0.0.1 $bad "$m"
		assert_run EPERM "$ATTACK" --cgroup "$cg" udp-send $dst $bad "$m"
		assert_run EPERM "$PROBE" --cgroup "$cg" connect udp $dst $bad
		assert_seen p unseen
	done
	# Same address and port, other protocols.
	watch t "$ATTACK" --timeout-ms "$WATCH_MS" tcp-watch 127.0.0.1 $ok
	assert_run EPERM "$PROBE" --cgroup "$cg" connect tcp 127.0.0.1 $ok
	assert_seen t unseen
	m=$(marker lite)
	watch l "$TRICKS" --timeout-ms "$WATCH_MS" udplite-recv 127.0.0.1 $ok "$m"
	assert_run EPERM "$TRICKS" --cgroup "$cg" udplite-send 127.0.0.1 $ok "$m"
	assert_seen l unseen
	assert_run EPERM "$ATTACK" --cgroup "$cg" ping-raw 127.0.0.1
	# The same port of the IPv6 loopback: another peer.
	m=$(marker six)
	udp_watch s ::1 $ok "$m"
	assert_run EPERM "$ATTACK" --cgroup "$cg" udp-send ::1 $ok "$m"
	assert_seen s unseen
	# Unfenced, each of these arrives.
	m=$(marker free)
	udp_watch p 127.0.0.1 $bad "$m"
	assert_run ok "$ATTACK" udp-send ::ffff:127.0.0.1 $bad "$m"
	assert_seen p seen
	m=$(marker freelite)
	watch l "$TRICKS" --timeout-ms "$WATCH_MS" udplite-recv 127.0.0.1 $ok "$m"
	assert_run ok "$TRICKS" udplite-send 127.0.0.1 $ok "$m"
	assert_seen l seen
	assert_run ok "$ATTACK" ping-raw 127.0.0.1
}

@test "a connected UDP socket whose peer is kept sends nowhere else: sendto, AF_UNSPEC and AF_INET addresses" {
	cg=$(new_cgroup keptconn)
	ok=$(random_port)
	bad=$((ok + 1))
	one_peer_policy "$BATS_TEST_TMPDIR/p.json" kt-kept-conn $ok
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# (A listener on the peer's port: no ICMP error to report on the socket.)
	m=$(marker other)
	udp_watch k 127.0.0.1 $ok "$m"
	udp_watch b 127.0.0.1 $bad "$m"
	assert_run "ok EPERM" "$TRICKS" --cgroup "$cg" connected-sendto $ok 127.0.0.1 $bad "$m"
	assert_seen b unseen
	# udp_sendmsg reads an AF_UNSPEC sockaddr_in as an address, and an
	# IPv6 socket sends to an AF_INET one as IPv4: both judged as IPv4.
	for kind in unspec inet; do
		m=$(marker $kind)
		udp_watch b 127.0.0.1 $bad "$m"
		assert_run EPERM "$TRICKS" --cgroup "$cg" sendto-as $kind 127.0.0.1 $bad "$m"
		assert_seen b unseen
		m=$(marker ${kind}ok)
		udp_watch k 127.0.0.1 $ok "$m"
		assert_run ok "$TRICKS" --cgroup "$cg" sendto-as $kind 127.0.0.1 $ok "$m"
		assert_seen k seen
	done
	# Unfenced, each reaches the denied port.
	m=$(marker free)
	udp_watch k 127.0.0.1 $ok "$m"
	udp_watch b 127.0.0.1 $bad "$m"
	assert_run "ok ok" "$TRICKS" connected-sendto $ok 127.0.0.1 $bad "$m"
	assert_seen b seen
	for kind in unspec inet; do
		m=$(marker free$kind)
		udp_watch b 127.0.0.1 $bad "$m"
		assert_run ok "$TRICKS" sendto-as $kind 127.0.0.1 $bad "$m"
		assert_seen b seen
	done
}

@test "a raw UDP socket copying a kept flow's ports reaches no denied port" {
	cg=$(new_cgroup keptraw)
	ok=$(random_port)
	bad=$((ok + 1))
	sport=$((ok + 2))
	one_peer_policy "$BATS_TEST_TMPDIR/p.json" kt-kept-raw $ok '["udp"]'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# A real flow from port SPORT to the peer, kept...
	m=$(marker flow)
	udp_watch k 127.0.0.1 $ok "$m"
	assert_run ok "$ATTACK" --cgroup "$cg" udp-send-from $sport 127.0.0.1 $ok "$m"
	assert_seen k seen
	# ...and a raw socket's datagram from the same port: judged by its own
	# header, so the allowed port gets it and the denied one does not.
	m=$(marker rawok)
	udp_watch k 127.0.0.1 $ok "$m"
	assert_run ok "$TRICKS" --cgroup "$cg" raw-udp $sport 127.0.0.1 $ok "$m"
	assert_seen k seen
	m=$(marker rawbad)
	udp_watch b 127.0.0.1 $bad "$m"
	assert_run EPERM "$TRICKS" --cgroup "$cg" raw-udp $sport 127.0.0.1 $bad "$m"
	assert_seen b unseen
	m=$(marker free)
	udp_watch b 127.0.0.1 $bad "$m"
	assert_run ok "$TRICKS" raw-udp $sport 127.0.0.1 $bad "$m"
	assert_seen b seen
}

@test "a socket made in the fence stays fenced when passed out by SCM_RIGHTS or when its process moves out" {
	cg=$(new_cgroup keptpass)
	free=$(new_cgroup keptpass-free)
	ok=$(random_port)
	bad=$((ok + 1))
	one_peer_policy "$BATS_TEST_TMPDIR/p.json" kt-kept-pass $ok
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	for how in pass-out move-out; do
		args=(--cgroup "$cg" $how)
		[ $how = pass-out ] || args+=("$free")
		m=$(marker $how)
		udp_watch b 127.0.0.1 $bad "$m"
		assert_run EPERM "$TRICKS" "${args[@]}" 127.0.0.1 $bad "$m"
		assert_seen b unseen
		m=$(marker ${how}ok)
		udp_watch k 127.0.0.1 $ok "$m"
		assert_run ok "$TRICKS" "${args[@]}" 127.0.0.1 $ok "$m"
		assert_seen k seen
	done
	# A socket made outside works, moved in or not.
	m=$(marker free)
	udp_watch b 127.0.0.1 $bad "$m"
	assert_run ok "$TRICKS" --cgroup "$free" move-out "$free" 127.0.0.1 $bad "$m"
	assert_seen b seen
}

@test "a corked datagram on a connected UDP socket is judged when it leaves: a new policy stops it" {
	cg=$(new_cgroup keptcork)
	port=$(random_port)
	one_peer_policy "$BATS_TEST_TMPDIR/loose.json" kt-cork-loose $port
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "kt-cork-strict", "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/loose.json"
	m=$(marker cork)
	watch k "$ATTACK" --timeout-ms "$WATCH_MS" udp-recv 127.0.0.1 $port "$m"
	corked_send --cgroup "$cg" cork 127.0.0.1 $port "$BATS_TEST_TMPDIR/go" "$m" connected
	apply_policy "$cg" "$BATS_TEST_TMPDIR/strict.json"
	finish_send
	[ "$SENT" = "ok EPERM" ]
	assert_seen k unseen
	# Without the change it arrives.
	apply_policy "$cg" "$BATS_TEST_TMPDIR/loose.json"
	m=$(marker corkok)
	watch k "$ATTACK" --timeout-ms "$WATCH_MS" udp-recv 127.0.0.1 $port "$m"
	corked_send --cgroup "$cg" cork 127.0.0.1 $port "$BATS_TEST_TMPDIR/go" "$m" connected
	finish_send
	[ "$SENT" = "ok ok" ]
	assert_seen k seen
}

@test "an audit-mode denial remembered for a socket passes no more once the policy enforces" {
	cg=$(new_cgroup keptaudit)
	port=$(random_port)
	rules="\"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$((port + 1))]}]}"
	write_policy "$BATS_TEST_TMPDIR/audit.json" "{\"version\": 1, \"name\": \"kt-audit\", \"mode\": \"audit\", $rules}"
	write_policy "$BATS_TEST_TMPDIR/enforce.json" "{\"version\": 1, \"name\": \"kt-audit\", $rules}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/audit.json"
	# Connected (marked judged) and unconnected (a kept flow): the first
	# datagram passes in audit mode, the second follows the enforcing policy.
	for kind in connected unconnected; do
		m1=$(marker first)
		m2=$(marker second)
		udp_watch s 127.0.0.1 $port "$m2"
		go=$(new_go_file)
		if [ $kind = connected ]; then
			"$ATTACK" --cgroup "$cg" udp-twice 127.0.0.1 $port "$go" "$m1" "$m2" >"$BATS_TEST_TMPDIR/twice" &
		else
			"$PROBE" --cgroup "$cg" sendto2 127.0.0.1 $port "$go" >"$BATS_TEST_TMPDIR/twice" &
		fi
		sender=$!
		within 30 test -e "$go.sent"
		apply_policy "$cg" "$BATS_TEST_TMPDIR/enforce.json"
		touch "$go"
		wait $sender || true
		[ "$(cat "$BATS_TEST_TMPDIR/twice")" = "ok EPERM" ]
		[ $kind = unconnected ] || assert_seen s unseen
		stop_watchers
		apply_policy "$cg" "$BATS_TEST_TMPDIR/audit.json"
	done
}

@test "with ingress open and egress default-deny a fenced UDP server still answers its clients" {
	cg=$(new_cgroup keptserver)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-server", "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# TCP: the accepted connection answers.
	start_server tcp 127.0.0.1 $port --cgroup "$cg"
	assert_run ok "$PROBE" request tcp 127.0.0.1 $port
	stop_servers
	# UDP: the reply to the client whose datagram came in.
	watch srv "$TRICKS" --timeout-ms "$WATCH_MS" --cgroup "$cg" answer-one $port
	assert_run ok "$TRICKS" --timeout-ms "$WATCH_MS" ask-one $port
	assert_seen srv ok
}

@test "under ingress default-deny a kept peer's replies come in from its own port only" {
	cg=$(new_cgroup keptport)
	port=$(random_port)
	other=$((port + 1))
	lport=$((port + 2))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-kept-port\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"udp\", \"ports\": [$port, $other]}]},
	  \"ingress\": {\"default\": \"deny\"}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	# The peer 127.0.0.1:PORT is kept for the cgroup by a first socket...
	assert_run ok "$PROBE" --cgroup "$cg" sendto 127.0.0.1 $port
	# ...and a second one that sends to it hears it, but not the same
	# address from another port, although the policy allows sending there.
	for i in 1 2; do
		m=$(marker reply$i)
		watch in "$TRICKS" --timeout-ms "$WATCH_MS" --cgroup "$cg" send-then-watch $lport 127.0.0.1 $port "$m"
		assert_run ok "$ATTACK" udp-send-from $port 127.0.0.1 $lport "$m"
		assert_seen in seen
		m=$(marker other$i)
		watch in "$TRICKS" --timeout-ms "$WATCH_MS" --cgroup "$cg" send-then-watch $lport 127.0.0.1 $port "$m"
		assert_run ok "$ATTACK" udp-send-from $other 127.0.0.1 $lport "$m"
		assert_seen in unseen
	done
	# Unfenced, the other port's datagram arrives.
	m=$(marker free)
	watch in "$TRICKS" --timeout-ms "$WATCH_MS" send-then-watch $lport 127.0.0.1 $port "$m"
	assert_run ok "$ATTACK" udp-send-from $other 127.0.0.1 $lport "$m"
	assert_seen in seen
}

@test "a datagram corked under a looser policy is judged when it leaves after a stricter one, from an unconnected or disconnected socket" {
	# Begun under the looser policy, the datagram must be judged by
	# the policy in force when it leaves, also from a connected socket that
	# disconnects (AF_UNSPEC, which no hook sees) before finishing it; the
	# end of the datagram is written after the change. Over IPv6 too, and
	# from an IPv6 socket to an IPv4-mapped address (an IPv4 packet).
	cg=$(new_cgroup keptuncork)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/loose.json" "{\"version\": 1, \"name\": \"kt-uncork-loose\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\", \"::1\"], \"protocol\": \"udp\", \"ports\": [$port]}]}}"
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "kt-uncork-strict", "egress": {"default": "deny"}}'
	got=()
	for case in 127.0.0.1/unconnected/127.0.0.1 127.0.0.1/udp_cork/127.0.0.1 \
		127.0.0.1/disconnected/127.0.0.1 ::1/unconnected/::1 \
		::ffff:127.0.0.1/udp_cork/127.0.0.1; do
		IFS=/ read -r to how at <<<"$case"
		apply_policy "$cg" "$BATS_TEST_TMPDIR/loose.json"
		m=$(marker $how)
		watch k "$ATTACK" --timeout-ms "$WATCH_MS" udp-recv "$at" $port "$m"
		corked_send --cgroup "$cg" cork "$to" $port "$BATS_TEST_TMPDIR/go" "$m" $how
		apply_policy "$cg" "$BATS_TEST_TMPDIR/strict.json"
		# The stricter policy holds for a new datagram...
		assert_run EPERM "$PROBE" --cgroup "$cg" sendto "$to" $port
		# ...and must for the one begun before it.
		finish_send
		watcher_verdict k unseen
		got+=("$to $how: sender $SENT, peer $WATCH_VERDICT")
	done
	printf '%s\n' "${got[@]}" >&2
	[ ${#got[@]} = 5 ]
	[[ "${got[*]}" != *"peer seen"* ]]
}

@test "a peer kept on a CPU passes for no other cgroup there, and not for its own socket once a stricter policy applies" {
	# Every process on CPU 0: the verdict a CPU keeps for its last allowed
	# peer is the one that would wrongly pass.
	cg=$(new_cgroup keptcpu)
	other=$(new_cgroup keptcpuother)
	port=$(random_port)
	one_peer_policy "$BATS_TEST_TMPDIR/p.json" kt-keptcpu $port
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "kt-keptcpu-strict", "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	apply_policy "$other" "$BATS_TEST_TMPDIR/strict.json"
	first=$(marker first)
	second=$(marker second)
	udp_watch a 127.0.0.1 $port "$first"
	rm -f "$BATS_TEST_TMPDIR/go"
	taskset -c 0 "$TRICKS" --cgroup "$cg" send-twice 127.0.0.1 $port "$BATS_TEST_TMPDIR/go" "$first" "$second" \
		>"$BATS_TEST_TMPDIR/twice" 2>&1 &
	sender=$!
	assert_seen a seen
	# Another cgroup's process, on the same CPU, to the same peer.
	m=$(marker otherdst)
	udp_watch b 127.0.0.1 $port "$m"
	run taskset -c 0 "$ATTACK" --cgroup "$other" udp-send 127.0.0.1 $port "$m"
	[ "$output" = EPERM ]
	assert_seen b unseen
	# The first socket's next datagram, after the stricter policy.
	apply_policy "$cg" "$BATS_TEST_TMPDIR/strict.json"
	udp_watch c 127.0.0.1 $port "$second"
	touch "$BATS_TEST_TMPDIR/go"
	wait "$sender" || true
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/twice")" = "ok EPERM" ]
	assert_seen c unseen
	# Unfenced, the same socket's second datagram arrives.
	second=$(marker freesecond)
	udp_watch d 127.0.0.1 $port "$second"
	touch "$BATS_TEST_TMPDIR/go"
	run taskset -c 0 "$TRICKS" send-twice 127.0.0.1 $port "$BATS_TEST_TMPDIR/go" "$(marker freefirst)" "$second"
	[ "${lines[-1]}" = "ok ok" ]
	assert_seen d seen
}

@test "a TCP peer kept on a CPU passes for no other cgroup there, and not once a stricter policy applies" {
	cg=$(new_cgroup keptcputcp)
	other=$(new_cgroup keptcputcpother)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-keptcputcp\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$port]}]}}"
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "kt-keptcputcp-strict", "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	apply_policy "$other" "$BATS_TEST_TMPDIR/strict.json"
	# Allowed (no listener yet: refused by the peer), the second time by
	# the peer CPU 0 keeps.
	for _ in 1 2; do
		assert_run ECONNREFUSED taskset -c 0 "$PROBE" --cgroup "$cg" connect tcp 127.0.0.1 $port
	done
	watch t "$ATTACK" --timeout-ms "$WATCH_MS" tcp-watch 127.0.0.1 $port
	assert_run EPERM taskset -c 0 "$PROBE" --cgroup "$other" connect tcp 127.0.0.1 $port
	assert_seen t unseen
	apply_policy "$cg" "$BATS_TEST_TMPDIR/strict.json"
	watch t "$ATTACK" --timeout-ms "$WATCH_MS" tcp-watch 127.0.0.1 $port
	assert_run EPERM taskset -c 0 "$PROBE" --cgroup "$cg" connect tcp 127.0.0.1 $port
	assert_seen t unseen
	# Unfenced, the connection reaches the listener.
	watch t "$ATTACK" --timeout-ms "$WATCH_MS" tcp-watch 127.0.0.1 $port
	assert_run ok taskset -c 0 "$PROBE" connect tcp 127.0.0.1 $port
	assert_seen t seen
}

@test "on one CPU, a kept UDP peer opens no other port, protocol or address there" {
	# Every try on CPU 0 right after the kept peer is sent to again there:
	# the CPU's recent peer is that peer, and only its whole key may pass.
	cg=$(new_cgroup keptcpukey)
	ok=$(random_port)
	bad=$((ok + 1))
	one_peer_policy "$BATS_TEST_TMPDIR/p.json" kt-keptcpukey $ok
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	keep() {
		local m
		m=$(marker keep)
		udp_watch k 127.0.0.1 $ok "$m"
		assert_run ok taskset -c 0 "$ATTACK" --cgroup "$cg" udp-send 127.0.0.1 $ok "$m"
		assert_seen k seen
	}
	keep
	m=$(marker port) # another port (the key's port)
	udp_watch p 127.0.0.1 $bad "$m"
	assert_run EPERM taskset -c 0 "$ATTACK" --cgroup "$cg" udp-send 127.0.0.1 $bad "$m"
	assert_seen p unseen
	keep
	m=$(marker addr) # another address (the key's address)
	udp_watch a 127.0.0.2 $ok "$m"
	assert_run EPERM taskset -c 0 "$ATTACK" --cgroup "$cg" udp-send 127.0.0.2 $ok "$m"
	assert_seen a unseen
	keep
	# TCP and UDP-Lite to the same address and port (the key's protocol)
	watch t "$ATTACK" --timeout-ms "$WATCH_MS" tcp-watch 127.0.0.1 $ok
	assert_run EPERM taskset -c 0 "$PROBE" --cgroup "$cg" connect tcp 127.0.0.1 $ok
	assert_seen t unseen
	keep
	m=$(marker lite)
	watch l "$TRICKS" --timeout-ms "$WATCH_MS" udplite-recv 127.0.0.1 $ok "$m"
	assert_run EPERM taskset -c 0 "$TRICKS" --cgroup "$cg" udplite-send 127.0.0.1 $ok "$m"
	assert_seen l unseen
	# Unfenced, each of these arrives.
	m=$(marker freeport)
	udp_watch p 127.0.0.1 $bad "$m"
	assert_run ok taskset -c 0 "$ATTACK" udp-send 127.0.0.1 $bad "$m"
	assert_seen p seen
	m=$(marker freeaddr)
	udp_watch a 127.0.0.2 $ok "$m"
	assert_run ok taskset -c 0 "$ATTACK" udp-send 127.0.0.2 $ok "$m"
	assert_seen a seen
	watch t "$ATTACK" --timeout-ms "$WATCH_MS" tcp-watch 127.0.0.1 $ok
	assert_run ok taskset -c 0 "$PROBE" connect tcp 127.0.0.1 $ok
	assert_seen t seen
	m=$(marker freelite)
	watch l "$TRICKS" --timeout-ms "$WATCH_MS" udplite-recv 127.0.0.1 $ok "$m"
	assert_run ok taskset -c 0 "$TRICKS" udplite-send 127.0.0.1 $ok "$m"
	assert_seen l seen
}

@test "a TCP or UDP peer kept on a CPU passes no more once set del takes it out of the running policy in place" {
	# cgfence set del changes the tables in place and gives the cgroup a
	# new epoch: the peer CPU 0 keeps, for a new connection and for the
	# socket that sent to it, is judged again.
	dir="$BATS_TEST_TMPDIR/policies"
	mkdir -p "$dir/sets"
	printf '127.0.0.9\n127.0.0.1\n' >"$dir/sets/peers.txt"
	port=$(random_port)
	write_policy "$dir/kt-keptset.json" "{\"version\": 1, \"name\": \"kt-keptset\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"@peers\"], \"protocol\": \"tcp\", \"ports\": [$port]},
	    {\"action\": \"allow\", \"to\": [\"@peers\"], \"protocol\": \"udp\", \"ports\": [$port]}]}}"
	cg=$(new_cgroup keptset)
	apply_policy "$cg" "$dir/kt-keptset.json" >/dev/null
	first=$(marker first)
	second=$(marker second)
	udp_watch u 127.0.0.1 $port "$first"
	rm -f "$BATS_TEST_TMPDIR/go"
	taskset -c 0 "$TRICKS" --cgroup "$cg" send-twice 127.0.0.1 $port "$BATS_TEST_TMPDIR/go" "$first" "$second" \
		>"$BATS_TEST_TMPDIR/twice" 2>&1 &
	sender=$!
	assert_seen u seen
	# Allowed (no listener: refused by the peer), the second time by the
	# peer CPU 0 keeps.
	for _ in 1 2; do
		assert_run ECONNREFUSED taskset -c 0 "$PROBE" --cgroup "$cg" connect tcp 127.0.0.1 $port
	done
	run "$CGFENCE" set del peers 127.0.0.1 --policy-dir "$dir" --bpffs "$BPFFS" \
		--lifecycle-log "$BATS_TEST_TMPDIR/lifecycle.jsonl"
	[ "$status" -eq 0 ]
	[[ "$output" == *"(1 tables in place"* ]]
	watch t "$ATTACK" --timeout-ms "$WATCH_MS" tcp-watch 127.0.0.1 $port
	assert_run EPERM taskset -c 0 "$PROBE" --cgroup "$cg" connect tcp 127.0.0.1 $port
	assert_seen t unseen
	udp_watch u 127.0.0.1 $port "$second"
	touch "$BATS_TEST_TMPDIR/go"
	wait "$sender" || true
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/twice")" = "ok EPERM" ]
	assert_seen u unseen
	# Unfenced, the connection reaches the listener and the datagram its
	# receiver.
	watch t "$ATTACK" --timeout-ms "$WATCH_MS" tcp-watch 127.0.0.1 $port
	assert_run ok taskset -c 0 "$PROBE" connect tcp 127.0.0.1 $port
	assert_seen t seen
	second=$(marker freesecond)
	udp_watch u 127.0.0.1 $port "$second"
	touch "$BATS_TEST_TMPDIR/go"
	run taskset -c 0 "$TRICKS" send-twice 127.0.0.1 $port "$BATS_TEST_TMPDIR/go" "$(marker freefirst)" "$second"
	[ "${lines[-1]}" = "ok ok" ]
	assert_seen u seen
}

@test "with its 2^32 epochs used up an apply is refused before it changes anything: no epoch is handed out twice" {
	# A verdict kept under an epoch passes for whatever configuration gets
	# that epoch next: a second policy of the cgroup (the peer CPU 0 keeps,
	# the peer table), or another cgroup's. Epochs are 32 bits, and a busy
	# set feed reserves one per container per change.
	cg=$(new_cgroup epochsout)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-epochsout\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$port]}]}}"
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "kt-epochsout-strict", "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	for _ in 1 2; do
		assert_run ECONNREFUSED taskset -c 0 "$PROBE" --cgroup "$cg" connect tcp 127.0.0.1 $port
	done
	# What 2^32 reservations leave in cgf_meta: the last epoch there is.
	meta="$BPFFS/obj/map_cgf_meta"
	value=$(bpftool map lookup pinned "$meta" key 0 0 0 0 -j | jq -r '.value | join(" ")')
	# struct cgf_meta: abi_version (bytes 1-4), last_epoch (5-8), ...
	used=$(echo "$value" | awk '{ for (i = 5; i <= 8; i++) $i = "0xff"; print }')
	bpftool map update pinned "$meta" key 0 0 0 0 value $used
	run apply_policy "$cg" "$BATS_TEST_TMPDIR/strict.json"
	[ "$status" -ne 0 ]
	[[ "$output" == *"epochs"*"used up"* ]]
	# Nothing changed: the first policy, whole, on a CPU that keeps nothing
	# and on the one that keeps the peer.
	for cpu in 1 0; do
		assert_run ECONNREFUSED taskset -c $cpu "$PROBE" --cgroup "$cg" connect tcp 127.0.0.1 $port
	done
}
