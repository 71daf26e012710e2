#!/usr/bin/env bats
# cgfence check and explain: no root, no kernel.

load ../common

@test "every policy in policies/ passes cgfence check" {
	run "$CGFENCE" check "$REPO"/policies/*.json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c ': ok: ')" -eq "$(ls "$REPO"/policies/*.json | wc -l)" ]
}

@test "check reports every error as FILE:LINE:COL and exits 1" {
	cat >"$BATS_TEST_TMPDIR/bad.json" <<'JSON'
{
  "version": 1,
  "name": "bad",
  "egress": {
    "default": "deny",
    "rules": [
      {"action": "allow", "to": ["10.0.0.1/8"], "protocol": "tcp", "ports": [0]},
      {"action": "permit"}
    ]
  }
}
JSON
	run "$CGFENCE" check "$BATS_TEST_TMPDIR/bad.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad.json:7:34: "*"host bits set"*"10.0.0.0/8"* ]]
	[[ "$output" == *"bad.json:7:78: "* ]]
	[[ "$output" == *"bad.json:8:18: "* ]]
}

@test "explain names the deciding rule from the compiled tables" {
	run "$CGFENCE" explain --policy "$REPO/policies/web.json" \
		--egress 10.0.0.13:443/tcp --egress 10.1.2.3:443/tcp --egress 8.8.8.8:53/udp \
		--ingress 192.168.1.1:8080/tcp --device c:1:3:rw --device c:1:5:r
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "${lines[0]}" == "egress 10.0.0.13:443/tcp: deny by egress.rules[0]"* ]]
	[[ "${lines[1]}" == "egress 10.1.2.3:443/tcp: allow by egress.rules[1]"* ]]
	[[ "${lines[2]}" == "egress 8.8.8.8:53/udp: deny by egress.default" ]]
	[[ "${lines[3]}" == "ingress 192.168.1.1:8080/tcp: allow by ingress.rules[0]"* ]]
	[[ "${lines[4]}" == "devices c:1:3:rw: allow by devices.rules["* ]]
	[[ "${lines[5]}" == "devices c:1:5:r: deny by devices.default" ]]
}

@test "explain judges socket creation: raw protocols and address families" {
	run "$CGFENCE" explain --policy "$REPO/policies/nettools.json" \
		--socket inet:raw:icmp --socket inet6:raw:icmpv6 --socket inet:raw:tcp \
		--socket packet:raw --socket vsock:stream --socket inet:stream
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "socket inet:raw:icmp: allow by sockets.raw[0] ($REPO/policies/nettools.json:6)" ]
	[ "${lines[1]}" = "socket inet6:raw:icmpv6: allow by sockets.raw[1] ($REPO/policies/nettools.json:6)" ]
	[ "${lines[2]}" = "socket inet:raw:tcp: deny by sockets.raw (raw sockets of this protocol are not listed)" ]
	[[ "${lines[3]}" == "socket packet:raw: deny by sockets.families (not listed"* ]]
	[[ "${lines[4]}" == "socket vsock:stream: deny by sockets.families"* ]]
	[ "${lines[5]}" = "socket inet:stream: allow (always allowed)" ]
	printf '{"version": 1, "name": "sniffer", "sockets": {"families": ["packet"]}}\n' >"$BATS_TEST_TMPDIR/s.json"
	run "$CGFENCE" explain --policy "$BATS_TEST_TMPDIR/s.json" --socket packet:dgram
	[ "$output" = "socket packet:dgram: allow by sockets.families[0] ($BATS_TEST_TMPDIR/s.json:1) [packet sockets pass no egress or ingress rule]" ]
	run "$CGFENCE" explain --policy "$BATS_TEST_TMPDIR/s.json" --socket packet
	[ "$status" -eq 2 ]
	[[ "$output" == *"--socket 'packet': expected FAMILY:TYPE[:PROTOCOL]"* ]]
}

@test "explain rejects malformed queries" {
	run "$CGFENCE" explain --policy "$REPO/policies/web.json" --egress 10.0.0.1/tcp
	[ "$status" -eq 2 ]
	[[ "$output" == *"expected ADDRESS:PORT/PROTOCOL"* ]]
}
