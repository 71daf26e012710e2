#!/usr/bin/env bats
# Datagrams that reach a socket before the packet program sees them: the
# kernel loops a copy of an IPv4 broadcast or multicast datagram back to the
# sockets of its own network namespace (ip_mc_output) before the original
# passes cgroup egress, so a judgement where datagrams leave comes too late
# for that copy. The listener is a process of the same namespace outside the
# fence (another container of a pod, the host's services for a container on
# the host's network). Each datagram is also sent unfenced, to show that it
# arrives. Namespaces the tests make only; needs root; nothing skips itself.

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
	stop_daemon
	stop_watchers
	[ -z "${HOST_IF:-}" ] || ip link del "$HOST_IF" 2>/dev/null || true
	[ -z "${NETNS:-}" ] || ip netns del "$NETNS" 2>/dev/null || true
}

# A namespace made inside CGROUP (as runc makes a container's), joined to
# the host by a veth pair: NET.2/24 and fd..::2/64 inside, on cgfc0.
fenced_netns() { # CGROUP
	NETNS="cgft-udp-$RANDOM"
	HOST_IF="cgfu$RANDOM"
	NET="10.$((RANDOM % 200 + 20)).$((RANDOM % 250))"
	bash -c "echo \$\$ >'$1/cgroup.procs'; exec ip netns add '$NETNS'"
	ip link add "$HOST_IF" type veth peer name cgfc0 netns "$NETNS"
	ip link set "$HOST_IF" up
	ip -n "$NETNS" addr add "$NET.2/24" dev cgfc0
	ip -n "$NETNS" addr add "fd63:6766:$((RANDOM % 9000 + 1000))::2/64" dev cgfc0 nodad
	ip -n "$NETNS" link set cgfc0 up
	ip -n "$NETNS" route add 224.0.0.0/4 dev cgfc0
}

# in_netns [CGROUP] TRICKS-ARGS...: dgram_tricks in the namespace, from
# CGROUP when it is not "-" (joined before ip netns exec remounts /sys).
in_netns() {
	local cg=$1
	shift
	if [ "$cg" = - ]; then
		ip netns exec "$NETNS" "$TRICKS" "$@"
	else
		bash -c "echo \$\$ >'$cg/cgroup.procs'; exec ip netns exec '$NETNS' \"\$@\"" \
			in_netns "$TRICKS" "$@"
	fi
}

# local_copy CGROUP ADDR EXPECTED-SEND EXPECTED-SEEN [TTL]: an unfenced
# listener of the namespace on ADDR's port; CGROUP ("-": none) sends.
local_copy() {
	local m port
	m=$(marker "$(echo "$2" | tr -c '0-9a-f\n' -)")
	port=$(random_port)
	watch_program l ip netns exec "$NETNS" "$TRICKS" --timeout-ms "$WATCH_MS" local-recv cgfc0 "${2#::ffff:}" $port "$m"
	run in_netns "$1" local-send cgfc0 "$2" $port "$m" ${5:-1}
	if [ "$output" != "$3" ]; then
		echo "send from $1 to $2:$port ttl ${5:-1}: expected '$3', got '$output'" >&2
		return 1
	fi
	assert_seen l "$4"
}

# deny_lines HOOK POLICY DST: the deny lines of $LOG for a UDP datagram to DST.
deny_lines() {
	jq -c --arg h "$1" --arg p "$2" --arg d "$3" 'select(.type == "deny" and
	  .hook == $h and .policy == $p and .dst == $d and .protocol == "udp" and
	  .direction == "egress" and .comm == "python3" and .pid > 0)' "$LOG"
}

@test "a denied IPv4 broadcast or multicast datagram reaches no socket of the namespace through the kernel's looped-back copy" {
	cg=$(new_cgroup local)
	LOG="$BATS_TEST_TMPDIR/audit.jsonl"
	write_policy "$BATS_TEST_TMPDIR/deny.json" '{"version": 1, "name": "kt-local-copy",
	  "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/deny.json"
	fenced_netns "$cg"
	start_daemon
	g4="239.$((RANDOM % 256)).$((RANDOM % 256)).$((RANDOM % 256))"
	# The subnet's broadcast address and a group: unfenced, the looped-back
	# copy arrives; fenced, sendto fails with EPERM and nothing arrives,
	# multicast with TTL 0 too (the original never leaves the host, so no
	# packet program ever sees it). From IPv6 sockets too, to the
	# IPv4-mapped forms.
	for dst in "$NET.255" "$g4" "::ffff:$NET.255" "::ffff:$g4"; do
		local_copy - "$dst" ok seen
		local_copy "$cg" "$dst" EPERM unseen
	done
	local_copy - "$g4" ok seen 0
	local_copy "$cg" "$g4" EPERM unseen 0
	# Each refusal is logged, before the datagram was built.
	within 30 eval '[ "$(deny_lines sendmsg4 kt-local-copy "$g4" | wc -l)" -ge 3 ]'
	[ "$(deny_lines sendmsg4 kt-local-copy "$NET.255" | wc -l)" -eq 2 ]
	[ "$(deny_lines sendmsg4 kt-local-copy "$g4" | wc -l)" -eq 3 ]
	# Allowed, or in audit mode (logged as audit), they arrive.
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-local-ok\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"$NET.255\", \"$g4\"], \"protocol\": \"udp\"}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	for dst in "$NET.255" "$g4"; do
		local_copy "$cg" "$dst" ok seen
	done
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-local-audit",
	  "mode": "audit", "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	local_copy "$cg" "$g4" ok seen
	wait_for_lines '.policy == "kt-local-audit" and .type == "audit"' 1
	sleep 0.3
	# One line: the packet program does not report it a second time.
	run jq -c 'select(.policy == "kt-local-audit" and (.type == "audit" or .type == "deny"))' "$LOG"
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	echo "$output" | jq -e --arg d "$g4" '.type == "audit" and .hook == "sendmsg4" and .dst == $d'
	# Whether a datagram is broadcast is known only after sendmsg: a check
	# of SO_BROADCAST there races with another thread turning it on.
	# (Last: its thousands of denials keep the daemon busy for a while.)
	apply_policy "$cg" "$BATS_TEST_TMPDIR/deny.json"
	port=$(random_port)
	m=$(marker race)
	watch_program r ip netns exec "$NETNS" "$TRICKS" --timeout-ms "$WATCH_MS" local-recv cgfc0 "$NET.255" $port "$m"
	run in_netns "$cg" broadcast-race "$NET.255" $port "$m" 2
	[ "$output" = EPERM ] || [ "$output" = EACCES ]
	assert_seen r unseen
	watch_program r ip netns exec "$NETNS" "$TRICKS" --timeout-ms "$WATCH_MS" local-recv cgfc0 "$NET.255" $port "$m"
	assert_run ok in_netns - broadcast-race "$NET.255" $port "$m" 2
	assert_seen r seen
}

@test "a denied IPv6 multicast datagram reaches no socket of the namespace; its copy is looped back after the packet program" {
	cg=$(new_cgroup local6)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-local-copy6",
	  "egress": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	fenced_netns "$cg"
	g6=$(printf 'ff0e::6367:666b:%x:%x:%x' $RANDOM $RANDOM $RANDOM)
	LOG="$BATS_TEST_TMPDIR/audit.jsonl"
	start_daemon
	for hops in 1 0; do
		local_copy - "$g6" ok seen $hops
		local_copy "$cg" "$g6" EPERM unseen $hops
	done
	# Refused where it leaves, in the sender's system call.
	within 30 eval '[ "$(deny_lines egress kt-local-copy6 "$g6" | wc -l)" -ge 2 ]'
	[ "$(deny_lines egress kt-local-copy6 "$g6" | wc -l)" -eq 2 ]
}
