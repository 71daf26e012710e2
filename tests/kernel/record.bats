#!/usr/bin/env bats
# Recording at the cgroup level: apply --record remembers every distinct
# flow and device access in the kernel, suggest turns the record into a
# policy, and that policy, enforced, lets the same workload do exactly the
# same again and nothing else.

load ../common

setup_file() {
	fence_setup_file
}

teardown_file() {
	fence_teardown_file
}

teardown() {
	stop_servers
}

record() { # CGROUP [APPLY OPTIONS...]
	local cg=$1
	shift
	"$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$cg" --record "$@"
}

# The JSON Schema editors use accepts it too (cgfence check is the authority).
schema_valid() { # FILE
	python3 "$REPO/tools/schema_check.py" "$REPO/policies/cgfence-policy.schema.json" "$1"
}

suggest() { # SUGGEST OPTIONS...: the policy on stdout, the notes in $BATS_TEST_TMPDIR/suggest.err
	"$CGFENCE" suggest --bpffs "$BPFFS" "$@" 2>"$BATS_TEST_TMPDIR/suggest.err"
}

@test "3,000 peers recorded: all in the suggestion, which lets them all through again and denies a new one" {
	cg=$(new_cgroup peers)
	port=$(random_port)
	run record "$cg"
	[ "$status" -eq 0 ]
	[[ "$output" == *"recording, audit mode"* ]]
	# 127.1.0.1 .. 127.1.11.184: 3,000 addresses on lo; nothing listens, so
	# every connect is refused by the peer, never by the fence.
	run "$PROBE" --cgroup "$cg" connect-range tcp 127.1.0.1 3000 $port
	[ "$output" = "reached 3000 eperm 0 other 0" ]
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	run "$CGFENCE" check "$BATS_TEST_TMPDIR/s.json"
	[ "$status" -eq 0 ]
	schema_valid "$BATS_TEST_TMPDIR/s.json"
	# One rule: every peer on that port, in one address list.
	jq -e --argjson p $port '.mode == "enforce" and .egress.default == "deny" and
	  (.egress.rules | length) == 1 and .egress.rules[0].ports == [$p] and
	  .egress.rules[0].protocol == "tcp" and (.egress.rules[0].to | length) == 3000 and
	  (.egress.rules[0].comment | test("^3000 peers; seen 3000 times, first 20.*Z, last 20.*Z$"))' \
		"$BATS_TEST_TMPDIR/s.json"
	run jq -r '.egress.rules[0].to[]' "$BATS_TEST_TMPDIR/s.json"
	[ "$output" = "$(for i in $(seq 0 2999); do echo "127.1.$(((i + 1) / 256)).$(((i + 1) % 256))"; done)" ]
	grep -q "3000 of 16384 entries" "$BATS_TEST_TMPDIR/suggest.err"
	"$CGFENCE" status --bpffs "$BPFFS" --json | jq -e --arg cg "$cg" '[.[] | select(.cgroup == $cg) | .mode] == ["record"]'

	# Enforced, the same workload gets no denial; a peer it never used does.
	apply_policy "$cg" "$BATS_TEST_TMPDIR/s.json"
	"$CGFENCE" status --bpffs "$BPFFS" --json | jq -e --arg cg "$cg" '[.[] | select(.cgroup == $cg) | .mode] == ["enforce"]'
	run "$PROBE" --cgroup "$cg" connect-range tcp 127.1.0.1 3000 $port
	[ "$output" = "reached 3000 eperm 0 other 0" ]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.1.11.185 $port
	assert_probe EPERM --cgroup "$cg" connect tcp 127.1.0.1 $((port + 1))
	# unfenced, the probe reaches that peer: the EPERM was the fence's
	run "$PROBE" connect-range tcp 127.1.11.185 1 $port
	[ "$output" = "reached 1 eperm 0 other 0" ]
}

@test "ingress: the local listening port becomes a rule, never the ephemeral ports of replies" {
	cg=$(new_cgroup ingress)
	tcp_in=$(random_port)
	udp_in=$((tcp_in + 1))
	tcp_out=$((tcp_in + 2))
	udp_out=$((tcp_in + 3))
	record "$cg"
	# Servers inside the cgroup, their clients outside; servers outside,
	# their clients inside. Every request gets its reply.
	start_server tcp 127.0.0.1 $tcp_in --cgroup "$cg"
	start_server udp 127.0.0.1 $udp_in --cgroup "$cg"
	start_server tcp 127.0.0.1 $tcp_out
	start_server udp 127.0.0.1 $udp_out
	for _ in 1 2 3; do
		assert_probe ok request tcp 127.0.0.1 $tcp_in
		assert_probe ok request udp 127.0.0.1 $udp_in
		assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $tcp_out
		assert_probe ok --cgroup "$cg" request udp 127.0.0.1 $udp_out
	done
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	cat "$BATS_TEST_TMPDIR/s.json"
	# Exactly the two listening ports in, the two servers' ports out: the
	# clients' ephemeral ports (their replies) appear nowhere.
	run jq -c '[.ingress.rules[] | {protocol, ports, from}]' "$BATS_TEST_TMPDIR/s.json"
	[ "$output" = "[{\"protocol\":\"tcp\",\"ports\":[$tcp_in],\"from\":[\"127.0.0.1\"]},{\"protocol\":\"udp\",\"ports\":[$udp_in],\"from\":[\"127.0.0.1\"]}]" ]
	run jq -c '[.egress.rules[] | {protocol, ports, to}]' "$BATS_TEST_TMPDIR/s.json"
	[ "$output" = "[{\"protocol\":\"tcp\",\"ports\":[$tcp_out],\"to\":[\"127.0.0.1\"]},{\"protocol\":\"udp\",\"ports\":[$udp_out],\"to\":[\"127.0.0.1\"]}]" ]
	jq -e '.ingress.rules[0].comment | test("^1 peer; seen 3 times")' "$BATS_TEST_TMPDIR/s.json"
	schema_valid "$BATS_TEST_TMPDIR/s.json"

	# Enforced: the servers still serve, the clients still get replies.
	apply_policy "$cg" "$BATS_TEST_TMPDIR/s.json"
	assert_probe ok request tcp 127.0.0.1 $tcp_in
	assert_probe ok request udp 127.0.0.1 $udp_in
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $tcp_out
	assert_probe ok --cgroup "$cg" request udp 127.0.0.1 $udp_out
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $((tcp_in + 4))
}

@test "an IPv4-mapped IPv6 peer is suggested as IPv4" {
	cg=$(new_cgroup mapped)
	port=$(random_port)
	record "$cg"
	start_server tcp 127.0.0.1 $port
	assert_probe ok --cgroup "$cg" request tcp ::ffff:127.0.0.1 $port
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	run jq -c '.egress.rules | map({to, ports})' "$BATS_TEST_TMPDIR/s.json"
	[ "$output" = "[{\"to\":[\"127.0.0.1\"],\"ports\":[$port]}]" ]
	"$CGFENCE" check "$BATS_TEST_TMPDIR/s.json"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/s.json"
	assert_probe ok --cgroup "$cg" request tcp ::ffff:127.0.0.1 $port
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $port
}

@test "a full record table is counted and reported by suggest" {
	cg=$(new_cgroup full)
	port=$(random_port)
	record "$cg" --record-size 10
	run "$PROBE" --cgroup "$cg" connect-range tcp 127.2.0.1 30 $port
	[ "$output" = "reached 30 eperm 0 other 0" ]
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	grep -q "warning: cgroup $cg: the record table (10 entries) was full: 20 observations were not recorded" \
		"$BATS_TEST_TMPDIR/suggest.err"
	jq -e '(.egress.rules[0].to | length) == 10 and
	  (.comment | test("WARNING: the record table \\(10 entries\\) was full: 20 observations were not recorded"))' \
		"$BATS_TEST_TMPDIR/s.json"
	run "$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$cg" --record-size 0 --record
	[ "$status" -eq 2 ]
	[[ "$output" == *"--record-size '0': expected a number of entries, 1 to 1048576"* ]]
}

@test "--against lists every observed flow and device access the policy would deny, with its rule" {
	cg=$(new_cgroup against)
	ok=$(random_port)
	bad=$((ok + 1))
	record "$cg"
	start_server tcp 127.0.0.1 $ok
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $ok
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.1 $bad
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.1 $bad
	assert_probe ok --cgroup "$cg" sendto 127.0.0.9 53
	assert_probe ok --cgroup "$cg" open /dev/zero r
	write_policy "$BATS_TEST_TMPDIR/staged.json" "{\"version\": 1, \"name\": \"staged\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"deny\", \"to\": [\"127.0.0.9\"], \"comment\": \"no such resolver\"},
	    {\"action\": \"allow\", \"to\": [\"127.0.0.0/8\"], \"protocol\": \"tcp\", \"ports\": [$ok]}]},
	  \"devices\": {\"default\": \"allow\", \"rules\": [
	    {\"action\": \"deny\", \"type\": \"c\", \"major\": 1, \"minor\": 5, \"access\": \"r\"}]}}"
	run "$CGFENCE" suggest --bpffs "$BPFFS" --cgroup "$cg" --against "$BATS_TEST_TMPDIR/staged.json"
	[ "$status" -eq 1 ]
	p="$BATS_TEST_TMPDIR/staged.json"
	[[ "$output" == *"egress 127.0.0.1:$bad/tcp: deny by egress.default (seen 2 times, first 20"* ]]
	[[ "$output" == *"egress 127.0.0.9:53/udp: deny by egress.rules[0] ($p:3): no such resolver (seen once, first 20"* ]]
	[[ "$output" == *"devices c:1:5:r: deny by devices.rules[0] ($p:6) (seen once"* ]]
	[[ "$output" == *"$p would deny 3 of 4 observed flows and device accesses"* ]]
	[[ "$output" != *":$ok/tcp"* ]]
	# The suggestion itself denies none of it.
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	run "$CGFENCE" suggest --bpffs "$BPFFS" --cgroup "$cg" --against "$BATS_TEST_TMPDIR/s.json"
	[ "$status" -eq 0 ]
	[[ "$output" == *"would deny 0 of 4 observed"* ]]
}

@test "--merge keeps a policy's rules and adds what its defaults would deny" {
	cg=$(new_cgroup merge)
	a=$(random_port)
	b=$((a + 1))
	record "$cg"
	start_server tcp 127.0.0.1 $a
	start_server tcp 127.0.0.1 $b
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $a
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $b
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.13 $a
	assert_probe ok --cgroup "$cg" open /dev/null rw
	write_policy "$BATS_TEST_TMPDIR/base.json" "{\"version\": 1, \"name\": \"base\",
	  \"selector\": {\"app\": \"merge\"},
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"deny\", \"to\": [\"127.0.0.13\"], \"comment\": \"decommissioned\"},
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$a], \"comment\": \"mine\"}]},
	  \"devices\": {\"default\": \"deny\"}}"
	suggest --cgroup "$cg" --merge "$BATS_TEST_TMPDIR/base.json" >"$BATS_TEST_TMPDIR/m.json"
	cat "$BATS_TEST_TMPDIR/m.json"
	run "$CGFENCE" check "$BATS_TEST_TMPDIR/m.json"
	[ "$status" -eq 0 ]
	schema_valid "$BATS_TEST_TMPDIR/m.json"
	# Its own keys and rules first, as written; then the port it lacked.
	jq -e --argjson a $a --argjson b $b '.name == "base" and .selector == {"app": "merge"} and
	  (.egress.rules | length) == 3 and
	  .egress.rules[0].comment == "decommissioned" and .egress.rules[1].comment == "mine" and
	  .egress.rules[2].action == "allow" and .egress.rules[2].to == ["127.0.0.1"] and
	  .egress.rules[2].ports == [$b] and
	  .devices.rules == [{"action": "allow", "type": "c", "major": 1, "minor": 3, "access": "rw",
	                      "comment": .devices.rules[0].comment}]' "$BATS_TEST_TMPDIR/m.json"
	# What one of its rules denies stays denied, and is said.
	grep -q "merge: egress 127.0.0.13:$a/tcp stays denied: deny by egress.rules\[0\] ($BATS_TEST_TMPDIR/base.json:4): decommissioned" \
		"$BATS_TEST_TMPDIR/suggest.err"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/m.json"
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $a
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $b
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.13 $a
}

@test "device accesses are recorded and suggested by type, major, minor and access" {
	cg=$(new_cgroup devices)
	record "$cg"
	assert_probe ok --cgroup "$cg" open /dev/null rw
	assert_probe ok --cgroup "$cg" open /dev/zero r
	assert_probe ok --cgroup "$cg" open /dev/zero r
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	run jq -c '[.devices.rules[] | {type, major, minor, access}]' "$BATS_TEST_TMPDIR/s.json"
	[ "$output" = '[{"type":"c","major":1,"minor":3,"access":"rw"},{"type":"c","major":1,"minor":5,"access":"r"}]' ]
	jq -e '.devices.rules[1].comment | test("^seen 2 times, first 20")' "$BATS_TEST_TMPDIR/s.json"
	schema_valid "$BATS_TEST_TMPDIR/s.json"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/s.json"
	assert_probe ok --cgroup "$cg" open /dev/null rw
	assert_probe ok --cgroup "$cg" open /dev/zero r
	assert_probe EPERM --cgroup "$cg" open /dev/zero w
	assert_probe EPERM --cgroup "$cg" open /dev/full r
	assert_probe ok open /dev/full r
}

@test "--aggregate-v4 widens peers to prefixes" {
	cg=$(new_cgroup aggregate)
	port=$(random_port)
	record "$cg"
	run "$PROBE" --cgroup "$cg" connect-range tcp 127.3.0.250 12 $port
	[ "$output" = "reached 12 eperm 0 other 0" ]
	suggest --cgroup "$cg" --aggregate-v4 24 >"$BATS_TEST_TMPDIR/s.json"
	run jq -c '.egress.rules[0].to' "$BATS_TEST_TMPDIR/s.json"
	[ "$output" = '["127.3.0.0/24","127.3.1.0/24"]' ]
	"$CGFENCE" check "$BATS_TEST_TMPDIR/s.json"
	schema_valid "$BATS_TEST_TMPDIR/s.json"
	run "$CGFENCE" suggest --bpffs "$BPFFS" --cgroup "$cg" --aggregate-v4 33
	[ "$status" -eq 2 ]
	[[ "$output" == *"--aggregate-v4 '33': expected a prefix length, 1 to 32"* ]]
}

@test "a record outlives its cgroup; gc ages it out" {
	cg=$(new_cgroup gone)
	port=$(random_port)
	id="rec-$RANDOM$RANDOM"
	record "$cg" --container-id "$id"
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.1 $port
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg"
	rmdir "$cg"
	run "$CGFENCE" suggest --bpffs "$BPFFS" --cgroup "$cg"
	[ "$status" -eq 1 ]
	[[ "$output" == *"use --container ID"* ]]
	suggest --container "$id" >"$BATS_TEST_TMPDIR/s.json"
	jq -e --arg n "$id" --argjson p $port '.name == $n and .egress.rules[0].ports == [$p] and
	  (.comment | contains("record of container " + $n))' "$BATS_TEST_TMPDIR/s.json"
	# A week by default: the gc of today keeps it.
	"$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$BATS_TEST_TMPDIR/l.jsonl"
	suggest --container "$id" >/dev/null
	run "$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$BATS_TEST_TMPDIR/l.jsonl" --keep-records 0
	[[ "$output" == *"gc: 1 record(s) of cgroups gone removed"* ]]
	run "$CGFENCE" suggest --bpffs "$BPFFS" --container "$id"
	[ "$status" -eq 1 ]
	[[ "$output" == *"container $id: no record"* ]]
}

@test "apply without --record stops recording; the record stays for suggest" {
	cg=$(new_cgroup stop)
	port=$(random_port)
	record "$cg"
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.1 $port
	write_policy "$BATS_TEST_TMPDIR/open.json" '{"version": 1, "name": "open"}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/open.json"
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.1 $((port + 1))
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	run jq -c '[.egress.rules[].ports[]]' "$BATS_TEST_TMPDIR/s.json"
	[ "$output" = "[$port]" ]
	# recording again goes on in the same table
	record "$cg"
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.1 $((port + 2))
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	run jq -c '[.egress.rules[].ports[]]' "$BATS_TEST_TMPDIR/s.json"
	[ "$output" = "[$port,$((port + 2))]" ]
}

@test "a policy recorded with runs in audit mode: it denies nothing meanwhile" {
	cg=$(new_cgroup audit)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/strict.json" '{"version": 1, "name": "strict",
	  "egress": {"default": "deny"}, "devices": {"default": "deny"}}'
	run record "$cg" --policy "$BATS_TEST_TMPDIR/strict.json"
	[[ "$output" == *"policy strict (recording, audit mode"* ]]
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.1 $port
	assert_probe ok --cgroup "$cg" open /dev/zero r
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	jq -e --argjson p $port '.egress.rules[0].ports == [$p] and (.devices.rules | map(.minor) | index(5)) != null' \
		"$BATS_TEST_TMPDIR/s.json"
	# the same file applied without --record enforces
	apply_policy "$cg" "$BATS_TEST_TMPDIR/strict.json"
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $port
}

@test "raw sockets and socket options are recorded: the suggestion allows them, and only them" {
	cg=$(new_cgroup raw)
	record "$cg"
	# a raw ICMP ping, and IP_RECVERR on a UDP socket (what ping does)
	assert_probe ok --cgroup "$cg" ping 127.0.0.1
	run "$OUT/tests/attack" --cgroup "$cg" sockopt 2 2 0 0 11 1
	[ "$output" = ok ]
	suggest --cgroup "$cg" >"$BATS_TEST_TMPDIR/s.json"
	cat "$BATS_TEST_TMPDIR/s.json"
	run jq -c '.sockets' "$BATS_TEST_TMPDIR/s.json"
	[ "$output" = '{"raw":["icmp"],"options":["recverr"]}' ]
	jq -e '[.egress.rules[] | select(.protocol == "icmp") | .to] == [["127.0.0.1"]]' "$BATS_TEST_TMPDIR/s.json"
	schema_valid "$BATS_TEST_TMPDIR/s.json"
	# --against a policy with the default sockets section names them
	write_policy "$BATS_TEST_TMPDIR/plain.json" '{"version": 1, "name": "plain", "ingress": {"default": "deny"}}'
	run "$CGFENCE" suggest --bpffs "$BPFFS" --cgroup "$cg" --against "$BATS_TEST_TMPDIR/plain.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"sockets inet:raw:icmp: deny by sockets.raw (seen once"* ]]
	[[ "$output" == *"sockets option recverr: deny by sockets.options (seen once"* ]]
	apply_policy "$cg" "$BATS_TEST_TMPDIR/s.json"
	assert_probe ok --cgroup "$cg" ping 127.0.0.1
	run "$OUT/tests/attack" --cgroup "$cg" sockopt 2 2 0 0 11 1
	[ "$output" = ok ]
	# what it never did: IP_HDRINCL, a raw UDP socket
	run "$OUT/tests/attack" --cgroup "$cg" sockopt 2 3 1 0 3 1
	[ "$output" = EPERM ]
	run "$OUT/tests/attack" --cgroup "$cg" sockopt 2 3 17 0 11 1
	[ "$output" = EPERM ]
}

@test "a recording that cannot start leaves the cgroup's enforced policy as it was: no audit-mode tables in its place" {
	cg=$(new_cgroup recordfails)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/a.json" "{\"version\": 1, \"name\": \"kt-recfail-a\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$port]}]}}"
	write_policy "$BATS_TEST_TMPDIR/b.json" "{\"version\": 1, \"name\": \"kt-recfail-b\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$((port + 1))]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/a.json"
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $((port + 2))
	# The record table's pin path is taken by a directory: record_start
	# fails, after the in-place change would have written b's audit copy.
	mkdir -p "$BPFFS/records/$(stat -c %i "$cg")"
	run record "$cg" --policy "$BATS_TEST_TMPDIR/b.json" --without-bpf-lsm
	[ "$status" -ne 0 ]
	rmdir "$BPFFS/records/$(stat -c %i "$cg")"
	# Still policy a, enforced: what b's audit copy would let through is
	# refused, and what a allows passes.
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $((port + 2))
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $((port + 1))
	assert_probe ECONNREFUSED --cgroup "$cg" connect tcp 127.0.0.1 $port
	run "$CGFENCE" status --bpffs "$BPFFS" --cgroup "$cg"
	[[ "$output" == *kt-recfail-a* ]]
	# Unfenced, the refused connection reaches the host (nothing listens).
	assert_probe ECONNREFUSED connect tcp 127.0.0.1 $((port + 2))
}
