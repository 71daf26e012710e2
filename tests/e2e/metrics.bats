#!/usr/bin/env bats
# Prometheus metrics of `cgfence daemon --metrics` and --metrics-textfile,
# read by real clients: curl, promtool (`promtool check metrics`) and a
# Prometheus server this file starts (temporary config and data, loopback,
# a random port, 1 s scrapes) and asks over its HTTP API. The denials come
# from real busybox containers under runc, fenced through cgfence-hook and
# hookd, with the annotations CRI-O and containerd write for a pod's
# containers (as tests/e2e/pods.bats). Needs root; runs in CI as root.

load ../common
load e2e

setup_file() {
	e2e_setup_file
}

teardown_file() {
	e2e_teardown_file
}

setup() {
	e2e_setup
	LOG="$LIFECYCLE"
	METRICS_PORT=$(random_port)
	TEXTFILE="$BATS_TEST_TMPDIR/cgfence.prom"
	PROM_PID=
}

teardown() {
	if [ -n "$PROM_PID" ]; then
		kill "$PROM_PID" 2>/dev/null || true
		wait "$PROM_PID" 2>/dev/null || true
	fi
	stop_daemon
	stop_servers
	for name in crio ctrd plain; do
		runc_cmd delete --force "$name" >/dev/null 2>&1 || true
	done
	assert_hookd_alive
}

# The daemon of this test, serving metrics on 127.0.0.1:$METRICS_PORT.
start_metrics_daemon() {
	start_daemon --metrics "127.0.0.1:$METRICS_PORT" --metrics-textfile "$TEXTFILE" \
		--hookd-stats "$E2E_DIR/hookd.stats" "$@"
}

scrape() {
	curl -sf --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics"
}

# pod_policy DIR NAME KEY: DIR/NAME.json, chosen for namespace pods-shop
# by KEY, denying all egress.
pod_policy() {
	mkdir -p "$1"
	printf '{"version": 1, "name": "%s", "selector": {"%s": "pods-shop"}, "egress": {"default": "deny"}}\n' \
		"$2" "$3" >"$1/$2.json"
}

# start_prometheus: scrapes the daemon every second; PROM_URL is its API.
start_prometheus() {
	local dir="$BATS_TEST_TMPDIR/prometheus" port
	port=$(random_port)
	while [ "$port" = "$METRICS_PORT" ]; do port=$(random_port); done
	mkdir -p "$dir/data"
	cat >"$dir/prometheus.yml" <<-EOF
		global:
		  scrape_interval: 1s
		  evaluation_interval: 1s
		scrape_configs:
		  - job_name: cgfence
		    static_configs:
		      - targets: ["127.0.0.1:$METRICS_PORT"]
	EOF
	prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" --log.level=warn >"$dir/log" 2>&1 &
	PROM_PID=$!
	PROM_URL="http://127.0.0.1:$port"
	within 30 curl -sf "$PROM_URL/-/ready" >/dev/null && return 0
	echo "prometheus did not start: $(cat "$dir/log")" >&2
	return 1
}

# prom_query QUERY: the result vector of an instant query, once it has
# one (Prometheus scrapes every second), as JSON.
prom_query() {
	local out
	for _ in $(seq 150); do
		out=$(curl -sf --get --data-urlencode "query=$1" "$PROM_URL/api/v1/query") &&
			[ "$(echo "$out" | jq '.data.result | length')" -gt 0 ] && {
			echo "$out" | jq -c '.data.result'
			return 0
		}
		sleep 0.1
	done
	echo "prometheus has no result for $1: $out" >&2
	return 1
}

@test "Prometheus scrapes denials with their pod (CRI-O and containerd keys), audit-mode ones and hook requests; promtool accepts the output" {
	start_metrics_daemon
	bad=$(random_port)
	start_server tcp 127.0.0.1 "$bad"
	# The probe reaches the port unfenced: a denial below is the fence's.
	assert_probe ok connect tcp 127.0.0.1 "$bad"

	POLICY_DIR="$BATS_TEST_TMPDIR/crio-node"
	pod_policy "$POLICY_DIR" pods-crio io.kubernetes.pod.namespace
	new_bundle crio '{
	  "io.kubernetes.cri-o.ContainerType": "container",
	  "io.kubernetes.pod.namespace": "pods-shop",
	  "io.kubernetes.pod.name": "web-0",
	  "io.kubernetes.container.name": "nginx"}' /probe connect tcp 127.0.0.1 "$bad"
	POLICY_DIR="$BATS_TEST_TMPDIR/containerd-node"
	pod_policy "$POLICY_DIR" pods-containerd io.kubernetes.cri.sandbox-namespace
	new_bundle ctrd '{
	  "io.kubernetes.cri.container-type": "container",
	  "io.kubernetes.cri.sandbox-namespace": "pods-shop",
	  "io.kubernetes.cri.sandbox-name": "api-0",
	  "io.kubernetes.cri.container-name": "app"}' /probe connect tcp 127.0.0.1 "$bad"
	# No pod's, in audit mode: the connection goes through, and counts.
	POLICY_DIR="$BATS_TEST_TMPDIR/plain-node"
	mkdir -p "$POLICY_DIR"
	policy metrics-audit '"mode": "audit", "egress": {"default": "deny"}'
	new_bundle plain '{"cgfence.policy": "metrics-audit"}' /probe connect tcp 127.0.0.1 "$bad"

	run_container crio
	assert_output_is EPERM
	run_container ctrd
	assert_output_is EPERM
	run_container plain
	assert_output_is ok

	start_prometheus
	result=$(prom_query 'cgfence_denials_total{namespace="pods-shop",pod="web-0"}')
	echo "$result"
	echo "$result" | jq -e 'length == 1 and .[0].value[1] == "1" and (.[0].metric | del(.instance, .job)) == {
	  "__name__": "cgfence_denials_total", "policy": "pods-crio", "rule": "egress.default", "hook": "connect4",
	  "direction": "egress", "mode": "enforce", "namespace": "pods-shop", "pod": "web-0", "container": "nginx"}'
	result=$(prom_query 'cgfence_denials_total{namespace="pods-shop",pod="api-0"}')
	echo "$result"
	echo "$result" | jq -e 'length == 1 and .[0].value[1] == "1" and (.[0].metric | del(.instance, .job)) == {
	  "__name__": "cgfence_denials_total", "policy": "pods-containerd", "rule": "egress.default", "hook": "connect4",
	  "direction": "egress", "mode": "enforce", "namespace": "pods-shop", "pod": "api-0", "container": "app"}'
	result=$(prom_query 'cgfence_denials_total{mode="audit"}')
	echo "$result"
	echo "$result" | jq -e 'length == 1 and .[0].value[1] == "1" and .[0].metric.policy == "metrics-audit" and
	  (.[0].metric | has("pod") or has("namespace") or has("container") | not)'
	# hookd's requests: three createRuntime and three poststop, answered ok
	result=$(prom_query 'sum by (stage, result) (cgfence_hook_requests_total) >= 3')
	echo "$result"
	echo "$result" | jq -e 'map(select(.metric.result == "ok") | .metric.stage) | sort == ["createRuntime", "poststop"]'
	result=$(prom_query 'cgfence_hook_request_duration_seconds_count{stage="createRuntime"}')
	echo "$result" | jq -e '.[0].value[1] | tonumber >= 3'
	result=$(prom_query 'cgfence_lifecycle_records_total{event="applied"}')
	echo "$result" | jq -e '.[0].value[1] == "3"'

	# promtool reads what was served (and there is something to read).
	scrape >"$BATS_TEST_TMPDIR/scrape.txt"
	run promtool check metrics <"$BATS_TEST_TMPDIR/scrape.txt"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^cgfence_denials_total{.*pod="web-0"' "$BATS_TEST_TMPDIR/scrape.txt"
	grep -q '^# TYPE cgfence_hook_request_duration_seconds histogram$' "$BATS_TEST_TMPDIR/scrape.txt"
	# No address or port in any label.
	! grep -oE '\{[^}]*\}' "$BATS_TEST_TMPDIR/scrape.txt" | grep -E "127\.0\.0\.1|$bad"
	# Every family is announced.
	for f in denials_total events_suppressed_total events_undelivered_total events_lost_total \
		fenced_cgroups policies_loaded lifecycle_records_total policy_changes_total \
		policy_files_rejected_total hook_requests_total hook_request_duration_seconds \
		hookd_stats_readable metrics_series_overflow_total; do
		grep -q "^# HELP cgfence_$f " "$BATS_TEST_TMPDIR/scrape.txt"
		grep -q "^# TYPE cgfence_$f " "$BATS_TEST_TMPDIR/scrape.txt"
	done
	kill -0 "$DAEMON_PID" # scrapes passed the daemon's seccomp filter
	# Every thread (the server's, the worker's) holds no capability and
	# runs under the filter, and the log reopens on SIGHUP meanwhile.
	[ "$(ls /proc/"$DAEMON_PID"/task | wc -l)" -ge 3 ]
	for t in /proc/"$DAEMON_PID"/task/*; do
		grep -qx 'CapEff:	0000000000000000' "$t/status"
		grep -qx 'Seccomp:	2' "$t/status"
		grep -qx 'NoNewPrivs:	1' "$t/status"
	done
	kill -HUP "$DAEMON_PID"
	scrape >/dev/null
	kill -0 "$DAEMON_PID"
	assert_nothing_pinned
}

@test "the textfile: rewritten while the daemon runs and when it stops, in one rename, and promtool accepts it" {
	start_metrics_daemon
	policy metrics-text '"egress": {"default": "deny"}'
	new_bundle plain '{"cgfence.policy": "metrics-text"}' /probe connect tcp 127.0.0.1 9
	run_container plain
	assert_output_is EPERM
	# Refreshed every --stats-interval (1 s), with the daemon running.
	within 30 grep -q '^cgfence_denials_total{policy="metrics-text",rule="egress.default",hook="connect4",direction="egress",mode="enforce"} 1$' \
		"$TEXTFILE"
	cat "$TEXTFILE"
	grep -q '^cgfence_denials_total{policy="metrics-text",rule="egress.default",hook="connect4",direction="egress",mode="enforce"} 1$' "$TEXTFILE"
	run promtool check metrics <"$TEXTFILE"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$TEXTFILE")" = 644 ] # node-exporter runs as another user
	stop_daemon
	# The last word is the daemon's final count; no temporary file left.
	cat "$TEXTFILE"
	grep -q '^cgfence_denials_total{policy="metrics-text",rule="egress.default",hook="connect4",direction="egress",mode="enforce"} 1$' "$TEXTFILE"
	[ "$(ls "$BATS_TEST_TMPDIR" | grep -c 'cgfence.prom')" -eq 1 ]
	run promtool check metrics <"$TEXTFILE"
	[ "$status" -eq 0 ]
}

@test "policy changes and rejected policy files count from the lifecycle records" {
	start_metrics_daemon
	policy metrics-live '"egress": {"default": "deny"}'
	new_bundle plain '{"cgfence.policy": "metrics-live"}' /bin/sleep 30
	runc_run_detached plain
	policy metrics-live '"egress": {"default": "allow"}'
	printf '{"version": 1, "name": "metrics-bad", "egress": {"default": "permit"}}\n' >"$POLICY_DIR/metrics-bad.json"
	"$CGFENCE" reload --policy-dir "$POLICY_DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" || true
	for _ in $(seq 100); do
		scrape >"$BATS_TEST_TMPDIR/scrape.txt" || true
		grep -q '^cgfence_policy_changes_total{policy="metrics-live"} 1$' "$BATS_TEST_TMPDIR/scrape.txt" &&
			grep -q '^cgfence_policy_files_rejected_total{file=".*metrics-bad.json"} [1-9]' "$BATS_TEST_TMPDIR/scrape.txt" && break
		sleep 0.1
	done
	cat "$BATS_TEST_TMPDIR/scrape.txt"
	grep -q '^cgfence_policy_changes_total{policy="metrics-live"} 1$' "$BATS_TEST_TMPDIR/scrape.txt"
	grep -q '^cgfence_policy_files_rejected_total{file=".*metrics-bad.json"} [1-9]' "$BATS_TEST_TMPDIR/scrape.txt"
	grep -q '^cgfence_lifecycle_records_total{event="changed"} 1$' "$BATS_TEST_TMPDIR/scrape.txt"
	grep -q '^cgfence_fenced_cgroups{policy="metrics-live"} 1$' "$BATS_TEST_TMPDIR/scrape.txt"
	runc_stop plain
}

@test "a bad --metrics address or a port in use is refused with a clear error, and nothing is left running" {
	for bad in 127.0.0.1 localhost:9464 :9464 127.0.0.1:0 127.0.0.1:70000 '[::1:9464' ::1:9464; do
		run "$CGFENCE" daemon --bpffs "$BPFFS" --log "$BATS_TEST_TMPDIR/audit.jsonl" --metrics "$bad"
		echo "$bad: $status $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"--metrics '$bad': "* ]]
	done
	run "$CGFENCE" daemon --bpffs "$BPFFS" --log "$BATS_TEST_TMPDIR/audit.jsonl" --metrics-textfile relative.prom
	[ "$status" -eq 2 ]
	[[ "$output" == *"--metrics-textfile relative.prom: an absolute path is required"* ]]
	# The port is taken: the daemon says so and does not start.
	start_server tcp 127.0.0.1 "$METRICS_PORT"
	run timeout 10 "$CGFENCE" daemon --bpffs "$BPFFS" --log "$BATS_TEST_TMPDIR/audit.jsonl" --metrics "127.0.0.1:$METRICS_PORT"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--metrics 127.0.0.1:$METRICS_PORT: cannot listen: Address already in use"* ]]
	! grep -q '"event":"started"' "$BATS_TEST_TMPDIR/audit.jsonl" 2>/dev/null
}
