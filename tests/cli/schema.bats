#!/usr/bin/env bats
# policies/cgfence-policy.schema.json, through Debian's python3-jsonschema:
# the example policies validate, and each schema-level mistake (unknown
# key, wrong type, bad enum) fails both the schema and `cgfence check`.

load ../common

SCHEMA="$REPO/policies/cgfence-policy.schema.json"
# Debian's interpreter, where tools/deps.sh installs python3-jsonschema.
schema_check() {
	/usr/bin/python3 "$REPO/tools/schema_check.py" "$SCHEMA" "$@"
}

@test "the schema is a valid draft 2020-12 schema, and every key it knows has a description" {
	run /usr/bin/python3 - "$SCHEMA" <<'PY'
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
Draft202012Validator.check_schema(schema)
missing = []
def walk(node, path):
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            if "description" not in sub:
                missing.append(path + "." + key)
        for key, sub in node.items():
            walk(sub, path + "/" + key)
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            walk(sub, "%s[%d]" % (path, i))
walk(schema, "")
print("\n".join(missing) or "all described")
sys.exit(1 if missing else 0)
PY
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "all described" ]
}

@test "every policy in policies/ validates against the schema and carries \$schema" {
	local files=()
	for f in "$REPO"/policies/*.json; do
		[[ "$f" == *.schema.json ]] || files+=("$f")
	done
	[ "${#files[@]}" -ge 6 ]
	run schema_check "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c ': ok$')" -eq "${#files[@]}" ]
	for f in "${files[@]}"; do
		[ "$(jq -r '."$schema"' "$f")" = cgfence-policy.schema.json ]
	done
	# and cgfence reads them, $schema and all, as a directory too.
	run "$CGFENCE" check "$REPO/policies"
	echo "$output"
	[ "$status" -eq 0 ]
}

# bad NAME JSON EXPECTED-SCHEMA-PATH: a policy with one mistake, which must
# fail the schema at that path (check_bad_files) and `cgfence check`.
BAD_FILES=()
BAD_PATHS=()
bad() {
	printf '%s\n' "$2" >"$BATS_TEST_TMPDIR/$1.json"
	BAD_FILES+=("$BATS_TEST_TMPDIR/$1.json")
	BAD_PATHS+=("$3")
}

# One interpreter for all of them: python's start-up is most of the time.
check_bad_files() {
	local i file schema_out
	schema_out=$(schema_check "${BAD_FILES[@]}") && return 1
	for i in "${!BAD_FILES[@]}"; do
		file=${BAD_FILES[$i]}
		if ! grep -qF "$file: ${BAD_PATHS[$i]}: " <<<"$schema_out"; then
			echo "schema: expected a problem at ${BAD_PATHS[$i]}: $(grep -F "$file:" <<<"$schema_out")" >&2
			return 1
		fi
		run "$CGFENCE" check "$file"
		if [ "$status" -ne 1 ]; then
			echo "cgfence check $file: expected exit 1, got $status: $output" >&2
			return 1
		fi
	done
	[ "${#BAD_FILES[@]}" -ge 50 ]
}

@test "each schema-level mistake of the bad-policy tests fails the schema and cgfence check" {
	local H='"version": 1, "name": "t"'
	local E="$H, \"egress\": {\"default\": \"deny\", \"rules\": ["
	local D="$H, \"devices\": {\"default\": \"deny\", \"rules\": ["
	# tests/cli/policy.bats "check reports every error": action "permit"
	bad permit "{$E {\"action\": \"permit\"}]}}" 'egress.rules[0].action'
	# unknown keys, at every level (tests/unit/test_policy.c bad_cases)
	bad egres "{$H, \"egres\": {}}" '(top level)'
	bad rule "{$H, \"egress\": {\"default\": \"deny\", \"rule\": []}}" egress
	bad port "{$E {\"action\": \"allow\", \"port\": [80]}]}}" 'egress.rules[0]'
	bad from-in-egress "{$E {\"action\": \"allow\", \"from\": [\"10.0.0.0/8\"]}]}}" 'egress.rules[0]'
	bad to-in-ingress "{$H, \"ingress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"10.0.0.0/8\"]}]}}" 'ingress.rules[0]'
	bad minr "{$D {\"action\": \"allow\", \"type\": \"c\", \"minr\": 3, \"access\": \"r\"}]}}" 'devices.rules[0]'
	bad sockets-key "{$H, \"sockets\": {\"packet\": \"allow\"}}" sockets
	# missing required keys
	bad no-version '{"name": "t"}' '(top level)'
	bad no-default "{$H, \"egress\": {\"rules\": []}}" egress
	bad no-action "{$E {\"to\": [\"10.0.0.0/8\"]}]}}" 'egress.rules[0]'
	bad no-type "{$D {\"action\": \"allow\", \"access\": \"r\"}]}}" 'devices.rules[0]'
	# wrong types
	bad version-string '{"version": "1", "name": "t"}' version
	bad name-number '{"version": 1, "name": 5}' name
	bad array '[1]' '(top level)'
	bad selector-array "{$H, \"selector\": [\"a\"]}" selector
	bad selector-value "{$H, \"selector\": {\"a\": 1}}" selector.a
	bad egress-array "{$H, \"egress\": []}" egress
	bad rules-object "{$H, \"egress\": {\"default\": \"deny\", \"rules\": {}}}" egress.rules
	bad rule-string "{$E \"allow\"]}}" 'egress.rules[0]'
	bad to-string "{$E {\"action\": \"allow\", \"to\": \"10.0.0.0/8\"}]}}" 'egress.rules[0].to'
	bad from-number "{$H, \"ingress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"from\": [\"10.0.0.0/8\", 10]}]}}" 'ingress.rules[0].from[1]'
	bad port-bool "{$E {\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [true]}]}}" 'egress.rules[0].ports[0]'
	bad port-fraction "{$E {\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [80.5]}]}}" 'egress.rules[0].ports[0]'
	bad comment-number "{$E {\"action\": \"allow\", \"comment\": 5}]}}" 'egress.rules[0].comment'
	bad major-null "{$D {\"action\": \"allow\", \"type\": \"c\", \"major\": null, \"access\": \"r\"}]}}" 'devices.rules[0].major'
	bad major-x "{$D {\"action\": \"allow\", \"type\": \"c\", \"major\": \"x\", \"access\": \"r\"}]}}" 'devices.rules[0].major'
	bad access-array "{$D {\"action\": \"allow\", \"type\": \"a\", \"access\": [\"r\"]}]}}" 'devices.rules[0].access'
	bad sockets-array "{$H, \"sockets\": []}" sockets
	bad raw-string "{$H, \"sockets\": {\"raw\": \"icmp\"}}" sockets.raw
	bad family-number "{$H, \"sockets\": {\"families\": [17]}}" 'sockets.families[0]'
	bad schema-bool "{$H, \"\$schema\": true}" '$schema'
	# bad enums and values a schema can say
	bad version-2 '{"version": 2, "name": "t"}' version
	bad mode-strict "{$H, \"mode\": \"strict\"}" mode
	bad default-block "{$H, \"ingress\": {\"default\": \"block\"}}" ingress.default
	bad protocol-sctp "{$E {\"action\": \"allow\", \"protocol\": \"sctp\"}]}}" 'egress.rules[0].protocol'
	bad type-x "{$D {\"action\": \"allow\", \"type\": \"x\", \"access\": \"r\"}]}}" 'devices.rules[0].type'
	bad raw-sctp "{$H, \"sockets\": {\"raw\": [\"sctp\"]}}" 'sockets.raw[0]'
	bad family-typo "{$H, \"sockets\": {\"families\": [\"pakcet\"]}}" 'sockets.families[0]'
	bad family-inet "{$H, \"sockets\": {\"families\": [\"inet\"]}}" 'sockets.families[0]'
	bad family-twice "{$H, \"sockets\": {\"families\": [\"packet\", \"xdp\", \"packet\"]}}" sockets.families
	bad option-freebind "{$H, \"sockets\": {\"options\": [\"freebind\"]}}" 'sockets.options[0]'
	bad name-chars '{"version": 1, "name": "Web!"}' name
	bad name-empty '{"version": 1, "name": ""}' name
	bad name-long "{\"version\": 1, \"name\": \"$(printf 'a%.0s' $(seq 64))\"}" name
	bad name-schema '{"version": 1, "name": "web.schema"}' name
	bad empty-to "{$E {\"action\": \"allow\", \"to\": []}]}}" 'egress.rules[0].to'
	bad empty-ports "{$E {\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": []}]}}" 'egress.rules[0].ports'
	bad empty-raw "{$H, \"sockets\": {\"raw\": []}}" sockets.raw
	bad port-0 "{$E {\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [0]}]}}" 'egress.rules[0].ports[0]'
	bad port-65536 "{$E {\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [80, 65536]}]}}" 'egress.rules[0].ports[1]'
	bad port-abc "{$E {\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [\"abc\"]}]}}" 'egress.rules[0].ports[0]'
	bad ports-no-protocol "{$E {\"action\": \"allow\", \"ports\": [80]}]}}" 'egress.rules[0]'
	bad ports-icmp "{$H, \"ingress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"protocol\": \"icmp\", \"ports\": [80]}]}}" 'ingress.rules[0].protocol'
	bad major-4096 "{$D {\"action\": \"allow\", \"type\": \"c\", \"major\": 4096, \"access\": \"r\"}]}}" 'devices.rules[0].major'
	bad minor-2-20 "{$D {\"action\": \"allow\", \"type\": \"c\", \"major\": 1, \"minor\": 1048576, \"access\": \"r\"}]}}" 'devices.rules[0].minor'
	bad access-rx "{$D {\"action\": \"allow\", \"type\": \"c\", \"access\": \"rx\"}]}}" 'devices.rules[0].access'
	bad access-rr "{$D {\"action\": \"allow\", \"type\": \"c\", \"access\": \"rr\"}]}}" 'devices.rules[0].access'
	bad access-empty "{$D {\"action\": \"allow\", \"type\": \"a\", \"access\": \"\"}]}}" 'devices.rules[0].access'
	bad address-hostname "{$E {\"action\": \"allow\", \"to\": [\"example.com\"]}]}}" 'egress.rules[0].to[0]'
	check_bad_files
}

@test "valid policies at the edges of the language pass both the schema and cgfence check" {
	mkdir -p "$BATS_TEST_TMPDIR/sets"
	printf '203.0.113.0/24\n' >"$BATS_TEST_TMPDIR/sets/feed-1.txt"
	cat >"$BATS_TEST_TMPDIR/edges.json" <<'JSON'
{
  "$schema": "https://example.org/anything.json",
  "version": 1,
  "name": "0edge_case-1.v2",
  "mode": "audit",
  "selector": {},
  "comment": "edges",
  "egress": {"default": "allow", "comment": "c", "rules": [
    {"action": "deny", "to": ["@feed-1", "0.0.0.0/0", "::/0", "64:ff9b::/96", "2001:db8::1", "192.0.2.7"]},
    {"action": "allow", "protocol": "udp", "ports": [1, 65535, "1-65535", "00080", "53-53"], "comment": "c"},
    {"action": "allow", "protocol": "icmpv6"},
    {"action": "deny", "protocol": "any"}
  ]},
  "ingress": {"default": "deny", "rules": []},
  "devices": {"default": "deny", "rules": [
    {"action": "allow", "type": "a", "major": "*", "minor": "*", "access": "mwr"},
    {"action": "deny", "type": "b", "major": 0, "minor": 1048575, "access": "w"},
    {"action": "allow", "type": "c", "major": 4095, "access": "rw"}
  ]},
  "sockets": {"raw": ["any"], "families": ["any", "packet"], "options": ["hdrincl", "recverr", "transparent", "multicast"], "comment": "c"}
}
JSON
	run schema_check "$BATS_TEST_TMPDIR/edges.json"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$CGFENCE" check "$BATS_TEST_TMPDIR/edges.json"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "what a schema cannot say, cgfence check says: the schema accepts these, check refuses them" {
	local E='"version": 1, "name": "t", "egress": {"default": "deny", "rules": ['
	printf '{%s {"action": "allow", "to": ["10.0.0.1/8"]}, {"action": "allow", "to": ["10.0.0.0/33"]}, {"action": "allow", "protocol": "tcp", "ports": ["9000-8000"]}, {"action": "allow", "to": ["@missing"]}]}}\n' "$E" \
		>"$BATS_TEST_TMPDIR/deep.json"
	run schema_check "$BATS_TEST_TMPDIR/deep.json"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$CGFENCE" check "$BATS_TEST_TMPDIR/deep.json"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"egress.rules[0].to[0]: 10.0.0.1/8 has host bits set"* ]]
	[[ "$output" == *"egress.rules[1].to[0]: prefix length 33 is out of range"* ]]
	[[ "$output" == *"egress.rules[2].ports[0]: port range 9000-8000 is reversed"* ]]
	[[ "$output" == *'egress.rules[3].to[0]: set "missing" does not exist'* ]]
}

@test "the schema lists exactly the address families cgfence knows" {
	# enforcer/lib/socknames.c is the list; unix, inet, inet6 and netlink
	# are always allowed and may not be listed.
	known=$(grep -o '\[[0-9]*\] = "[a-z0-9]*"' "$REPO/enforcer/lib/socknames.c" | sed 's/.*"\(.*\)"/\1/' |
		grep -vx 'unix\|inet\|inet6\|netlink' | sort)
	[ "$(echo "$known" | wc -l)" -ge 40 ]
	listed=$(jq -r '.properties.sockets.properties.families.items.enum[]' "$SCHEMA" | grep -vx any | sort)
	diff <(echo "$known") <(echo "$listed")
	for f in $listed; do
		printf '{"version": 1, "name": "t", "sockets": {"families": ["%s"]}}\n' "$f" >"$BATS_TEST_TMPDIR/f.json"
		"$CGFENCE" check "$BATS_TEST_TMPDIR/f.json" >/dev/null
	done
}
