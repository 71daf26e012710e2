#!/usr/bin/env bats
# Real busybox containers under runc, fenced by `cgfence hook` from the
# bundle's createRuntime and poststop hooks. Needs root; runs in CI as root
# (nothing here skips itself).

load ../common
load e2e
load ../kernel/watchers

setup_file() {
	e2e_setup_file
}

teardown_file() {
	e2e_teardown_file
}

setup() {
	e2e_setup
}

teardown() {
	stop_servers
	stop_watchers
	assert_hookd_alive
}

# allow_port_policy NAME PORT: egress to 127.0.0.1:PORT/tcp only.
allow_port_policy() {
	policy "$1" "\"egress\": {\"default\": \"deny\", \"rules\": [
	  {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$2]}]}"
}

@test "a container with policy X reaches the allowed server and gets EPERM for the denied one" {
	ok=$(random_port)
	bad=$((ok + 1))
	allow_port_policy e2e-x $ok
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	new_bundle x '{"cgfence.policy": "e2e-x"}' /bin/sh -c \
		"/probe request tcp 127.0.0.1 $ok; /probe connect tcp 127.0.0.1 $bad; true"
	served=$(hookd_served)
	run_container x
	[ "$status" -eq 0 ]
	assert_output_is $'ok\nEPERM'
	# the host itself is not fenced
	assert_probe ok request tcp 127.0.0.1 $bad
	# runc ran cgfence-hook, and hookd did the work (not the fallback)
	within 30 eval '[ "$(hookd_served)" -ge $((served + 2)) ]'
	[ "$(hookd_served)" -eq $((served + 2)) ]
	run lifecycle ".event == \"applied\" and .container_id == \"$(container_id x)\""
	[[ "$output" == *'"policy":"e2e-x"'*'"mode":"enforce","selected_by":"annotation"'* ]]
	# what keeps packet sockets out of it: the BPF LSM, or (without it) the
	# capability the container was not given
	if [[ "$("$CGFENCE" status --bpffs "$BPFFS")" == *"socket families: fenced by the BPF LSM"* ]]; then
		[[ "$output" == *'"families_fenced_by":"bpf-lsm"'* ]]
	else
		[[ "$output" == *'"families_fenced_by":"no-cap-net-raw"'* ]]
	fi
}

@test "packet sockets: a container without CAP_NET_RAW opens none; one holding it runs only where the BPF LSM refuses them" {
	policy e2e-pkt '"egress": {"default": "deny"}'
	m="cgfm-pkt-$RANDOM$RANDOM"
	watch_program lo "$OUT/tests/attack" --timeout-ms "$WATCH_MS" packet-watch lo "$m"
	# `runc spec` grants no CAP_NET_RAW: the kernel refuses packet sockets.
	new_bundle nopkt '{"cgfence.policy": "e2e-pkt"}' /bin/sh -c \
		"/attack packet-send lo 127.0.0.1 9 $m; /attack xdp-socket; true"
	run_container nopkt
	[ "$status" -eq 0 ]
	assert_output_is $'EPERM\nEPERM'
	# The same container holding CAP_NET_RAW, as Docker grants it.
	new_bundle pkt '{"cgfence.policy": "e2e-pkt"}' /bin/sh -c \
		"echo started; /attack packet-send lo 127.0.0.1 9 $m; true"
	bundle="$BATS_TEST_TMPDIR/bundles/pkt"
	jq '.process.capabilities |= with_entries(.value += ["CAP_NET_RAW"])' "$bundle/config.json" >"$bundle/c.new"
	mv "$bundle/c.new" "$bundle/config.json"
	run_container pkt
	if [[ "$("$CGFENCE" status --bpffs "$BPFFS")" == *"socket families: fenced by the BPF LSM"* ]]; then
		[ "$status" -eq 0 ]
		assert_output_is $'started\nEPERM'
	else
		# No BPF LSM here: fail closed, the container never starts.
		[ "$status" -ne 0 ]
		[[ "$output" != *started* ]]
		[[ "$output" == *"e2e-pkt"*"refuses packet sockets (sockets.families), which only the BPF LSM can enforce for a container holding CAP_NET_RAW"* ]]
		[[ "$output" == *"--cap-drop NET_RAW"* ]]
	fi
	assert_seen lo unseen
	# A policy that allows packet sockets lets it run, and they work.
	policy e2e-pkt-ok '"sockets": {"families": ["any"]}, "egress": {"default": "deny"}'
	new_bundle pktok '{"cgfence.policy": "e2e-pkt-ok"}' /bin/sh -c \
		"/attack packet-send lo 127.0.0.1 9 x; true"
	bundle="$BATS_TEST_TMPDIR/bundles/pktok"
	jq '.process.capabilities |= with_entries(.value += ["CAP_NET_RAW"])' "$bundle/config.json" >"$bundle/c.new"
	mv "$bundle/c.new" "$bundle/config.json"
	run_container pktok
	[ "$status" -eq 0 ]
	assert_output_is ok
}

@test "a denied device open fails inside the container" {
	policy e2e-dev '"devices": {"default": "allow", "rules": [
	  {"action": "deny", "type": "c", "major": 1, "minor": 5, "access": "rwm"}]}'
	# runc's own device rules allow /dev/zero: the EPERM is cgfence's.
	new_bundle dev '{"cgfence.policy": "e2e-dev"}' /bin/sh -c \
		"/probe open /dev/zero r; /probe open /dev/null rw; true"
	run_container dev
	[ "$status" -eq 0 ]
	assert_output_is $'EPERM\nok'
}

@test "a container without the annotation gets the policy named default" {
	ok=$(random_port)
	bad=$((ok + 1))
	allow_port_policy default $ok
	allow_port_policy other $bad
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	new_bundle plain '{}' /bin/sh -c \
		"/probe request tcp 127.0.0.1 $ok; /probe connect tcp 127.0.0.1 $bad; true"
	run_container plain
	[ "$status" -eq 0 ]
	assert_output_is $'ok\nEPERM'
	run lifecycle '.event == "applied"'
	[[ "$output" == *'"policy":"default"'*'"selected_by":"default"'* ]]
}

@test "a selector binds a policy to annotations; unmatched containers without a default run unconfined, recorded" {
	ok=$(random_port)
	bad=$((ok + 1))
	allow_port_policy shop $ok
	jq '.selector = {"e2e.cgfence/namespace": "shop"}' "$POLICY_DIR/shop.json" >"$POLICY_DIR/shop.json.new"
	mv "$POLICY_DIR/shop.json.new" "$POLICY_DIR/shop.json"
	start_server tcp 127.0.0.1 $bad
	cmd="/probe connect tcp 127.0.0.1 $bad; true"

	new_bundle in-shop '{"e2e.cgfence/namespace": "shop"}' /bin/sh -c "$cmd"
	run_container in-shop
	assert_output_is EPERM
	run lifecycle '.event == "applied"'
	[[ "$output" == *'"policy":"shop"'*'"selected_by":"selector"'* ]]

	new_bundle elsewhere '{"e2e.cgfence/namespace": "dev"}' /bin/sh -c "$cmd"
	run_container elsewhere
	assert_output_is ok
	run lifecycle ".event == \"unconfined\" and .container_id == \"$(container_id elsewhere)\""
	[ -n "$output" ]

	# Naming the bound policy from outside its selector is refused.
	new_bundle sneaky '{"cgfence.policy": "shop", "e2e.cgfence/namespace": "dev"}' /bin/echo STARTED
	run_container sneaky
	[ "$status" -ne 0 ]
	[[ "$output" != *STARTED* ]]
	[[ "$output" == *'has a selector this container'* ]]
	assert_nothing_pinned
}

@test "a missing, invalid or unattachable policy keeps the container from starting, and nothing stays pinned" {
	policy broken '"egress": {"default": "deny", "rules": [{"action": "allow", "to": ["10.0.0.1/8"]}]}'
	policy fine '"egress": {"default": "allow"}'

	new_bundle missing '{"cgfence.policy": "nope"}' /bin/echo STARTED
	run_container missing
	[ "$status" -ne 0 ]
	[[ "$output" != *STARTED* ]]
	[[ "$output" == *"container $(container_id missing): policy "*"nope"*" named by annotation cgfence.policy does not exist"* ]]

	new_bundle invalid '{"cgfence.policy": "broken"}' /bin/echo STARTED
	run_container invalid
	[ "$status" -ne 0 ]
	[[ "$output" != *STARTED* ]]
	[[ "$output" == *"container $(container_id invalid): policy "*"broken"*" is invalid: "*"broken.json:1:"*"host bits"* ]]

	new_bundle path '{"cgfence.policy": "../policies/fine"}' /bin/echo STARTED
	run_container path
	[ "$status" -ne 0 ]
	[[ "$output" == *'is not a policy name'* ]]

	# Attaching fails: the state directory is not on a bpf filesystem.
	new_bundle noattach '{"cgfence.policy": "fine"}' /bin/echo STARTED
	jq --arg d "$BATS_TEST_TMPDIR/not-bpffs" '.hooks.createRuntime[0].args |= map(if . == env.BPFFS then $d else . end)' \
		"$BATS_TEST_TMPDIR/bundles/noattach/config.json" >"$BATS_TEST_TMPDIR/c.json"
	mv "$BATS_TEST_TMPDIR/c.json" "$BATS_TEST_TMPDIR/bundles/noattach/config.json"
	run_container noattach
	[ "$status" -ne 0 ]
	[[ "$output" != *STARTED* ]]
	[[ "$output" == *"not on a bpf filesystem"* ]]

	run runc --root "$RUNC_ROOT" list -q
	[ -z "$output" ]
	for name in missing invalid path noattach; do
		[ ! -e "$(cgroup2_mount)/$(container_id $name)" ]
	done
	assert_nothing_pinned
	[ ! -e "$LIFECYCLE" ] || [ -z "$(lifecycle '.event == "applied"')" ]
}

@test "after the container exits, status no longer lists it and nothing stays pinned" {
	policy e2e-open '"egress": {"default": "allow"}'
	new_bundle done '{"cgfence.policy": "e2e-open"}' /bin/sh -c 'sleep 30'
	runc_run_detached done
	run "$CGFENCE" status --bpffs "$BPFFS"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$(container_id done) "*"e2e-open"*"enforce  ok"* ]]
	runc_stop done
	run "$CGFENCE" status --bpffs "$BPFFS"
	[[ "$output" != *"$(container_id done)"* ]]
	assert_nothing_pinned
	run lifecycle ".event == \"removed\" and .container_id == \"$(container_id done)\""
	[[ "$output" == *'"source":"hook"'*'"policy":"e2e-open"'*'"reason":"poststop"'* ]]
}

@test "a container killed without its poststop hook is cleaned by gc" {
	policy e2e-open '"egress": {"default": "allow"}'
	NO_POSTSTOP=1 new_bundle killed '{"cgfence.policy": "e2e-open"}' /bin/sh -c 'sleep 30'
	runc_run_detached killed
	cg=$(container_cgroup killed)
	cgid=$(stat -c %i "$cg")
	[ -d "$BPFFS/links/$cgid" ]
	runc_cmd kill killed KILL
	sleep 0.2
	runc --root "$RUNC_ROOT" delete --force "$(container_id killed)"
	[ ! -e "$cg" ]
	run "$CGFENCE" status --bpffs "$BPFFS"
	[[ "$output" == *"$(container_id killed) "*"stale"* ]]
	run "$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed $(container_id killed) (cgroup $cg, policy e2e-open)"* ]]
	[[ "$output" == *"gc: 1 stale cgroup record(s)"* ]]
	assert_nothing_pinned
	run lifecycle ".event == \"removed\" and .source == \"gc\""
	[[ "$output" == *"\"container_id\":\"$(container_id killed)\""* ]]
	# a second gc finds nothing
	run "$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[[ "$output" == *"gc: 0 stale cgroup record(s), 0 orphan link dir(s), 0 unused compiled policies, 0 reported denial counter(s) removed; 0 policy"* ]]
}

@test "20 containers started in parallel each get exactly their own policy" {
	base=$(random_port)
	for i in $(seq 0 19); do
		allow_port_policy "par-$i" $((base + i))
		start_server tcp 127.0.0.1 $((base + i))
	done
	# Twenty starts share two CPUs and queue for one hookd: generous
	# timeouts, since this test is about each getting its own policy.
	for i in $(seq 0 19); do
		next=$((base + (i + 1) % 20))
		HOOK_TIMEOUT=60 new_bundle "p$i" "{\"cgfence.policy\": \"par-$i\"}" /bin/sh -c \
			"/probe --timeout-ms 10000 request tcp 127.0.0.1 $((base + i)); /probe connect tcp 127.0.0.1 $next; true"
	done
	pids=()
	for i in $(seq 0 19); do
		runc_run "p$i" >"$BATS_TEST_TMPDIR/p$i.out" 2>&1 &
		pids+=($!)
	done
	failed=0
	for i in $(seq 0 19); do
		wait "${pids[$i]}" || failed=1
		out=$(cat "$BATS_TEST_TMPDIR/p$i.out")
		if [ "$out" != $'ok\nEPERM' ]; then
			echo "container p$i: $out" >&2
			failed=1
		fi
	done
	[ "$failed" -eq 0 ]
	for i in $(seq 0 19); do
		[ "$(lifecycle ".event == \"applied\" and .container_id == \"$(container_id p$i)\"" | jq -r .policy)" = "par-$i" ]
	done
	assert_nothing_pinned
}

@test "a sub-cgroup of a container stays fenced" {
	ok=$(random_port)
	bad=$((ok + 1))
	allow_port_policy e2e-sub $ok
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	new_bundle sub '{"cgfence.policy": "e2e-sub"}' /bin/sh -c 'sleep 30'
	runc_run_detached sub
	cg=$(container_cgroup sub)
	mkdir -p "$cg/payload/worker"
	assert_probe ok --cgroup "$cg/payload/worker" request tcp 127.0.0.1 $ok
	assert_probe EPERM --cgroup "$cg/payload/worker" connect tcp 127.0.0.1 $bad
	rmdir "$cg/payload/worker" "$cg/payload"
	runc_stop sub
	assert_nothing_pinned
}

@test "runc update keeps the policy in force" {
	ok=$(random_port)
	bad=$((ok + 1))
	policy e2e-upd "\"egress\": {\"default\": \"deny\", \"rules\": [
	  {\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\", \"ports\": [$ok]}]},
	  \"devices\": {\"default\": \"allow\", \"rules\": [
	  {\"action\": \"deny\", \"type\": \"c\", \"major\": 1, \"minor\": 5, \"access\": \"rwm\"}]}"
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	new_bundle upd '{"cgfence.policy": "e2e-upd"}' /bin/sh -c 'sleep 30'
	runc_run_detached upd
	runc --root "$RUNC_ROOT" update --memory 67108864 --pids-limit 100 "$(container_id upd)"
	runc --root "$RUNC_ROOT" update --cpu-share 512 "$(container_id upd)"
	run runc_cmd exec upd /probe connect tcp 127.0.0.1 $bad
	assert_output_is EPERM
	run runc_cmd exec upd /probe request tcp 127.0.0.1 $ok
	assert_output_is ok
	run runc_cmd exec upd /probe open /dev/zero r
	assert_output_is EPERM
	run "$CGFENCE" status --bpffs "$BPFFS"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$(container_id upd) "*" ok "* ]]
	runc_stop upd
	assert_nothing_pinned
}

@test "status says loudly when someone detached cgfence's programs from a container" {
	policy e2e-open '"egress": {"default": "allow"}'
	new_bundle det '{"cgfence.policy": "e2e-open"}' /bin/sh -c 'sleep 30'
	runc_run_detached det
	cg=$(container_cgroup det)
	bpftool link detach pinned "$BPFFS/links/$(stat -c %i "$cg")/cgf_connect4"
	run "$CGFENCE" status --bpffs "$BPFFS"
	[ "$status" -eq 1 ]
	[[ "$output" == *"WARNING: $cg (container $(container_id det)): 1 of "*" cgfence programs were detached"*"NOT enforced"* ]]
	[[ "$output" == *"$(container_id det) "*"DETACHED"* ]]
	runc_stop det
	assert_nothing_pinned
}

@test "one audit log tells a container's story: applied, its denials with its id, removed" {
	LOG="$LIFECYCLE"
	start_daemon
	ok=$(random_port)
	allow_port_policy e2e-story $ok
	new_bundle story '{"cgfence.policy": "e2e-story"}' /bin/sh -c \
		"/probe connect tcp 127.0.0.1 $((ok + 1)); true"
	run_container story
	assert_output_is EPERM
	id=$(container_id story)
	within 30 grep -q '"type":"deny"' "$LOG"
	within 30 jq -e -s --arg id "$id" 'any(.[]; .event == "removed" and .container_id == $id)' "$LOG" >/dev/null
	stop_daemon
	jq -e -s --arg id "$id" --arg p $((ok + 1)) '
	  (map(select(.type == "lifecycle" and .event == "applied" and .container_id == $id)) | length == 1) and
	  (map(select(.type == "deny" and .container_id == $id and .policy == "e2e-story" and
	              .hook == "connect4" and .dport == ($p | tonumber) and .comm == "probe")) | length == 1) and
	  (map(select(.type == "lifecycle" and .event == "removed" and .container_id == $id)) | length == 1)' "$LOG"
	run "$CGFENCE" log "$LOG" --container "$id"
	echo "$output"
	[[ "$output" == *" applied "*"e2e-story"*" deny "*"connect4"*"127.0.0.1:$((ok + 1))/tcp"*"egress.default"*"probe["*" removed "*"e2e-story"* ]]
}
