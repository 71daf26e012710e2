#!/usr/bin/env bats
# cgfence log on a fixture: filters, table, JSON passthrough, summary.
# Needs no root and no BPF.

load ../common

FIXTURE="$REPO/tests/fixtures/audit-sample.jsonl"

count_json() {
	run "$CGFENCE" log "$FIXTURE" --json "$@"
	[ "$status" -eq 0 ]
	echo "$output" | grep -c '^{' || true
}

@test "table output shows one row per record with target, rule and process" {
	run "$CGFENCE" log "$FIXTURE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"TIME"*"VERDICT"*"CONTAINER"*"POD"*"TARGET"*"RULE"* ]]
	echo "$output" | grep -E 'deny +aaaa1111 +- +web +connect4 +10\.0\.0\.13:443/tcp +egress\.rules\[0\] +curl\[42\]'
	echo "$output" | grep -E 'deny +aaaa1111 +- +web +device +c 1:5 rw +devices\.default +dd\[45\]'
	echo "$output" | grep -F 'from 198.51.100.9:22/tcp'
	echo "$output" | grep -F '[fd00::53]:53/udp'
	[[ "$output" == *"1 line(s) were not valid JSON records"* ]]
}

@test "filters: container prefix, policy, verdict, port, destination CIDR" {
	[ "$(count_json --container aaaa)" -eq 7 ]
	[ "$(count_json --container bbbb2222 --verdict audit)" -eq 1 ]
	[ "$(count_json --policy trial)" -eq 2 ]
	[ "$(count_json --verdict deny)" -eq 6 ]
	[ "$(count_json --port 443)" -eq 3 ]
	[ "$(count_json --dest 10.0.0.0/8)" -eq 2 ]
	[ "$(count_json --dest 2001:db8::/32)" -eq 1 ]
	[ "$(count_json --dest 10.0.0.14)" -eq 0 ]
}

@test "filters: --since and --until take dates and timestamps" {
	[ "$(count_json --since 2026-11-25T09:00:00Z --until 2026-11-25T11:59:59Z --verdict deny)" -eq 2 ]
	[ "$(count_json --since 2026-11-26)" -eq 1 ]
	[ "$(count_json --until 2026-11-24T23:59:59Z)" -eq 1 ]
	[ "$(count_json --until 2026-11-24)" -eq 1 ]
	run "$CGFENCE" log "$FIXTURE" --since yesterday
	[ "$status" -eq 2 ]
}

@test "json output passes the lines through unchanged" {
	run "$CGFENCE" log "$FIXTURE" --json --port 25
	[ "$(echo "$output" | grep '^{')" = "$(grep '"dport":25' "$FIXTURE")" ]
}

@test "summary: totals, top targets per container, counts per rule" {
	run "$CGFENCE" log "$FIXTURE" --summary
	[ "$status" -eq 0 ]
	[[ "$output" == *"denials: 6 denied, 1 audit-only; 17 suppressed over budget, 2 undelivered, 0 lost"* ]]
	echo "$output" | grep -A3 '^  aaaa1111 (5)' | grep -E '^ +2  10\.0\.0\.13:443/tcp$'
	echo "$output" | grep -E '^ +2  web egress\.rules\[0\]$'
	echo "$output" | grep -E '^ +1  trial egress\.rules\[2\]$'
}

@test "bad arguments get a clear error" {
	run "$CGFENCE" log "$FIXTURE" --verdict maybe
	[ "$status" -eq 2 ]
	[[ "$output" == *"--verdict: expected deny or audit"* ]]
	run "$CGFENCE" log "$FIXTURE" --dest 10.0.0.0/33
	[ "$status" -eq 2 ]
	run "$CGFENCE" log /nonexistent/audit.jsonl
	[ "$status" -eq 1 ]
	[[ "$output" == *"/nonexistent/audit.jsonl: No such file or directory"* ]]
}

@test "numbers out of range in a record are shown as absent, never converted" {
	# A log is input: 1e300 or -1 as an integer would be undefined.
	cat >"$BATS_TEST_TMPDIR/odd.jsonl" <<'JSON'
{"time":"2026-11-25T08:10:00.000000Z","type":"deny","hook":"connect4","cgroup_id":11,"container_id":"odd1","policy":"web","direction":"egress","protocol":"tcp","dst":"10.0.0.13","dport":1e300,"rule":"egress.rules[0]","verdict":"deny","pid":-2147483649,"comm":"curl"}
{"time":"2026-11-25T08:11:00.000000Z","type":"stats","cgroup_id":11,"container_id":"odd1","emitted":1e30,"suppressed":-1,"undelivered":18446744073709551615}
JSON
	run "$CGFENCE" log "$BATS_TEST_TMPDIR/odd.jsonl"
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == *" 10.0.0.13/tcp "*" curl[0]" ]]
	[[ "${lines[2]}" == *"emitted 0, suppressed 0, undelivered 0" ]]
	run "$CGFENCE" log --summary "$BATS_TEST_TMPDIR/odd.jsonl"
	[[ "${lines[0]}" == "denials: 1 denied, 0 audit-only; 0 suppressed over budget, 0 undelivered, 0 lost in buffers" ]]
}

@test "a line is a record only when it is one JSON object and nothing else" {
	# --json passes records on as JSON lines: never the rest of a torn one.
	printf '%s\n' \
		'{"time":"2026-11-25T08:10:00.000000Z","type":"deny","dst":"10.0.0.1","dport":80,"protocol":"tcp"}' \
		'{"time":"2026-11-25T08:11:00.000000Z","type":"daemon","event":"started"}0000Z","type":"deny","dst":"10.0.0.2"}' \
		'{"time":"2026-11-25T08:12:00.000000Z","type":"deny","dst":"10.0.0.3"} {"type":"deny"}' >"$BATS_TEST_TMPDIR/torn.jsonl"
	printf '{"time":"2026-11-25T08:13:00.000000Z","type":"deny","dst":"10.0.0.4"}\0{"type":"deny"}\n' >>"$BATS_TEST_TMPDIR/torn.jsonl"
	run "$CGFENCE" log --json "$BATS_TEST_TMPDIR/torn.jsonl"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '^{')" -eq 1 ]
	echo "$output" | grep -qxF '{"time":"2026-11-25T08:10:00.000000Z","type":"deny","dst":"10.0.0.1","dport":80,"protocol":"tcp"}'
	[[ "$output" == *"3 line(s) were not valid JSON records"* ]]
}

PODS="$REPO/tests/fixtures/audit-pods.jsonl"

pods_json() {
	run "$CGFENCE" log "$PODS" --json "$@"
	[ "$status" -eq 0 ]
	echo "$output" | grep '^{' || true
}

@test "pods: --namespace and --pod select a pod's records, exact names only" {
	# The records the hook and the daemon write for containers of CRI-O
	# and containerd pods (README "Kubernetes pod identity").
	[ "$(pods_json --namespace shop | wc -l)" -eq 7 ]
	[ "$(pods_json --namespace kube-system | jq -r .kubernetes.pod)" = coredns-5d78c9 ]
	[ "$(pods_json --pod api-0 | wc -l)" -eq 4 ]
	[ "$(pods_json --pod api-0 --verdict deny | jq -r .kubernetes.container)" = app ]
	[ "$(pods_json --namespace shop --pod web-7d4b9c-x2x | jq -r '.event // .type' | tr '\n' ' ')" = "applied deny removed " ]
	[ "$(pods_json --namespace shop --pod coredns-5d78c9 | wc -l)" -eq 0 ]
	# Exact, not a prefix: pod names share their deployment's prefix.
	[ "$(pods_json --pod web | wc -l)" -eq 0 ]
	[ "$(pods_json --namespace sho | wc -l)" -eq 0 ]
	# A "kubernetes" that is no object names no pod.
	[ "$(pods_json --policy odd | wc -l)" -eq 1 ]
	[ "$(pods_json --policy odd --namespace shop | wc -l)" -eq 0 ]
	# Records of containers that are no pod's never match a pod filter.
	[ "$(pods_json --container aaaa1111 --namespace shop | wc -l)" -eq 0 ]
}

@test "pods: the table shows namespace/pod/container, the summary counts by pod" {
	run "$CGFENCE" log "$PODS"
	[ "$status" -eq 0 ]
	echo "$output" | grep -E '^\S+ +deny +c0ffee01 +shop/web-7d4b9c-x2x/nginx +web +connect4 +10\.0\.0\.13:443/tcp'
	echo "$output" | grep -E '^\S+ +applied +d00d0001 +shop/api-0 +pause +hook'
	echo "$output" | grep -E '^\S+ +stats +d00d0002 +shop/api-0/app +api +- +emitted 1, suppressed 4'
	echo "$output" | grep -E '^\S+ +deny +aaaa1111 +- +web +connect4'
	echo "$output" | grep -E '^\S+ +deny +f00f0001 +- +odd'
	run "$CGFENCE" log "$PODS" --summary --namespace shop
	[ "$status" -eq 0 ]
	[[ "$output" == *"denials: 2 denied, 0 audit-only; 4 suppressed over budget"* ]]
	echo "$output" | grep -E '^  shop/web-7d4b9c-x2x/nginx \(1\)$'
	echo "$output" | grep -A1 -E '^  shop/api-0/app \(1\)$' | grep -E '^ +1  10\.0\.0\.14:5432/tcp$'
}
