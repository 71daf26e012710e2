#!/usr/bin/env bats
# cgfence check and explain: no root, no kernel.

load ../helpers

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

@test "explain rejects malformed queries" {
	run "$CGFENCE" explain --policy "$REPO/policies/web.json" --egress 10.0.0.1/tcp
	[ "$status" -eq 2 ]
	[[ "$output" == *"expected ADDRESS:PORT/PROTOCOL"* ]]
}
