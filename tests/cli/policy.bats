#!/usr/bin/env bats
# cgfence check and explain: no root, no kernel.

load ../common

@test "every policy in policies/ passes cgfence check" {
	run "$CGFENCE" check "$REPO"/policies/*.json
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c ': ok: ')" -eq "$(ls "$REPO"/policies/*.json | grep -vc '\.schema\.json$')" ]
	# The JSON Schema beside them is for editors (tests/cli/schema.bats).
	[[ "$output" == *"cgfence-policy.schema.json: skipped: a JSON Schema for editors, not a policy"* ]]
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

@test "check resolves @NAME from sets/ next to the policy and counts set addresses" {
	mkdir -p "$BATS_TEST_TMPDIR/sets"
	printf '# feed\n203.0.113.0/24\n  198.51.100.7  # host\n\n2001:db8::/32\n' >"$BATS_TEST_TMPDIR/sets/block.txt"
	printf '# nothing yet\n' >"$BATS_TEST_TMPDIR/sets/empty.txt"
	cat >"$BATS_TEST_TMPDIR/web.json" <<'JSON'
{"version": 1, "name": "web",
 "egress": {"default": "allow", "rules": [
  {"action": "deny", "to": ["192.0.2.1", "@block"]},
  {"action": "deny", "to": ["@empty"]}
 ]}}
JSON
	run "$CGFENCE" check "$BATS_TEST_TMPDIR/web.json" "$BATS_TEST_TMPDIR"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"web.json: ok: web: enforce; egress default allow, 2 rules, 4 addresses (3 from sets);"* ]]
	[[ "$output" == *"$BATS_TEST_TMPDIR: 1 policies"* ]]
	# The example naming a set passes as a file and in its directory.
	run "$CGFENCE" check "$REPO/policies/blocklist.json" "$REPO/policies"
	[ "$status" -eq 0 ]
}

@test "check reports a missing or invalid set as FILE:LINE:COL and exits 1" {
	mkdir -p "$BATS_TEST_TMPDIR/sets"
	printf '203.0.113.1/24\n\n  nope # x\n1.2.3.4 5.6.7.8\n::ffff:1.2.3.4\n' >"$BATS_TEST_TMPDIR/sets/bad.txt"
	cat >"$BATS_TEST_TMPDIR/p.json" <<'JSON'
{"version": 1, "name": "p",
 "egress": {"default": "allow", "rules": [
  {"action": "deny", "to": ["@missing", "@bad", "@Bad"]}
 ]}}
JSON
	run "$CGFENCE" check "$BATS_TEST_TMPDIR/p.json"
	echo "$output"
	[ "$status" -eq 1 ]
	D="$BATS_TEST_TMPDIR"
	[[ "$output" == *"$D/p.json:3:29: egress.rules[0].to[0]: set \"missing\" does not exist (no $D/sets/missing.txt)"* ]]
	[[ "$output" == *"$D/p.json:3:41: egress.rules[0].to[1]: set \"bad\" is not valid ($D/sets/bad.txt)"* ]]
	[[ "$output" == *"$D/p.json:3:49: egress.rules[0].to[2]: \"@Bad\" is not a set name"* ]]
	[[ "$output" == *"$D/sets/bad.txt:1:1: 203.0.113.1/24 has host bits set (did you mean 203.0.113.0/24?)"* ]]
	[[ "$output" == *"$D/sets/bad.txt:3:3: \"nope\" is not an IPv4 or IPv6 address or CIDR"* ]]
	[[ "$output" == *"$D/sets/bad.txt:4:9: one address or CIDR per line"* ]]
	[[ "$output" == *"$D/sets/bad.txt:5:1: ::ffff:1.2.3.4 is an IPv4-mapped IPv6 address; write the IPv4 form 1.2.3.4"* ]]
	# A directory check says the same.
	run "$CGFENCE" check "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$D/p.json:3:29: egress.rules[0].to[0]: set \"missing\" does not exist (no $D/sets/missing.txt)"* ]]
}

@test "explain names the set and the entry a rule matched through" {
	run "$CGFENCE" explain --policy "$REPO/policies/blocklist.json" \
		--egress 203.0.113.9:443/tcp --egress '[2001:db8:bad::1]:80/tcp' \
		--egress 169.254.169.254:80/tcp --egress 8.8.8.8:53/udp
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "egress 203.0.113.9:443/tcp: deny by egress.rules[0] ($REPO/policies/blocklist.json:8) (to @blocklist: 203.0.113.0/24, $REPO/policies/sets/blocklist.txt:5): "* ]]
	[[ "${lines[1]}" == *"(to @blocklist: 2001:db8:bad::/48, $REPO/policies/sets/blocklist.txt:7)"* ]]
	[ "${lines[2]}" = "egress 169.254.169.254:80/tcp: deny by egress.rules[0] ($REPO/policies/blocklist.json:8): the shared blocklist, and instance metadata" ]
	[ "${lines[3]}" = "egress 8.8.8.8:53/udp: allow by egress.default" ]
}

@test "the README shows policies/web.json as it is" {
	shown=$(awk '/^One JSON file per policy. `policies\/web.json`:/ { found = 1; next }
		found && /^```json$/ { inside = 1; next }
		inside && /^```$/ { exit }
		inside' "$REPO/README.md")
	[ -n "$shown" ]
	diff <(echo "$shown") "$REPO/policies/web.json"
}
