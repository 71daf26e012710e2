#!/usr/bin/env bats
# Kernel tests: real cgroups, real programs, real sockets and devices.
# Needs root; runs in CI as root (nothing here skips itself).

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

web_policy() { # ALLOWED_PORT
	cat <<JSON
{
  "version": 1, "name": "kt-web",
  "egress": {"default": "deny", "rules": [
    {"action": "allow", "to": ["127.0.0.1"], "protocol": "tcp", "ports": [$1]},
    {"action": "allow", "to": ["127.0.0.0/8"], "protocol": "udp", "ports": [$1]},
    {"action": "allow", "to": ["::1"], "protocol": "tcp", "ports": [$1]}
  ]},
  "devices": {"default": "allow", "rules": [
    {"action": "deny", "type": "c", "major": 1, "minor": 5, "access": "rwm"}
  ]}
}
JSON
}

@test "allowed TCP connect works, denied TCP connect fails with EPERM" {
	cg=$(new_cgroup tcp)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(web_policy $ok)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $ok
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $bad
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.2 $ok
	# the same server is reachable from outside the cgroup
	assert_probe ok request tcp 127.0.0.1 $bad
}

@test "IPv6 rules, and IPv4-mapped IPv6 is judged by the IPv4 rules" {
	cg=$(new_cgroup v6)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(web_policy $ok)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server tcp :: $ok
	start_server tcp :: $bad
	assert_probe ok --cgroup "$cg" request tcp ::1 $ok
	assert_probe EPERM --cgroup "$cg" connect tcp ::1 $bad
	assert_probe ok --cgroup "$cg" request tcp ::ffff:127.0.0.1 $ok
	assert_probe EPERM --cgroup "$cg" connect tcp ::ffff:127.0.0.1 $bad
	assert_probe EPERM --cgroup "$cg" connect tcp ::ffff:127.0.0.2 $ok
}

@test "UDP: denied sendto and connect fail with EPERM, allowed exchange gets its reply" {
	cg=$(new_cgroup udp)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(web_policy $ok)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server udp 127.0.0.1 $ok
	assert_probe EPERM --cgroup "$cg" sendto 127.0.0.1 $bad
	assert_probe EPERM --cgroup "$cg" connect udp 127.0.0.1 $bad
	assert_probe EPERM --cgroup "$cg" sendto ::ffff:127.0.0.1 $bad
	assert_probe ok --cgroup "$cg" sendto 127.0.0.1 $ok
	assert_probe ok --cgroup "$cg" request udp 127.0.0.1 $ok
}

@test "raw ICMP is judged by the packet programs" {
	cg=$(new_cgroup icmp)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-icmp",
	  "sockets": {"raw": ["icmp"]},
	  "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["127.0.0.2"], "protocol": "icmp"}]}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	assert_probe ok --cgroup "$cg" ping 127.0.0.2
	assert_probe EPERM --cgroup "$cg" ping 127.0.0.3
}

@test "ingress: a denied port drops new connections, an allowed port accepts them" {
	cg=$(new_cgroup ingress)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "{\"version\": 1, \"name\": \"kt-in\",
	  \"egress\": {\"default\": \"deny\"},
	  \"ingress\": {\"default\": \"deny\", \"rules\": [
	    {\"action\": \"allow\", \"from\": [\"127.0.0.0/8\"], \"protocol\": \"tcp\", \"ports\": [$ok]},
	    {\"action\": \"allow\", \"from\": [\"127.0.0.0/8\"], \"protocol\": \"udp\", \"ports\": [$ok]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server tcp 127.0.0.1 $ok --cgroup "$cg"
	start_server tcp 127.0.0.1 $bad --cgroup "$cg"
	start_server udp 127.0.0.1 $ok --cgroup "$cg"
	start_server udp 127.0.0.1 $bad --cgroup "$cg"
	# Allowed clients get answers although egress defaults to deny.
	assert_probe ok request tcp 127.0.0.1 $ok
	assert_probe ok request udp 127.0.0.1 $ok
	assert_probe ETIMEDOUT --timeout-ms 700 connect tcp 127.0.0.1 $bad
	assert_probe ETIMEDOUT --timeout-ms 700 request udp 127.0.0.1 $bad
}

@test "devices: a denied open fails with EPERM, an allowed one works" {
	cg=$(new_cgroup dev)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(web_policy 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	assert_probe EPERM --cgroup "$cg" open /dev/zero r
	assert_probe ok --cgroup "$cg" open /dev/null rw
}

@test "a devices-only policy loads and leaves the network alone" {
	cg=$(new_cgroup devonly)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-devonly",
	  "devices": {"default": "allow", "rules": [{"action": "deny", "type": "c", "major": 1, "minor": 5, "access": "w"}]}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server tcp 127.0.0.1 $port
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $port
	assert_probe ok --cgroup "$cg" open /dev/zero r
	assert_probe EPERM --cgroup "$cg" open /dev/zero rw
}

@test "sub-cgroups stay fenced" {
	cg=$(new_cgroup parent)
	child=$(new_cgroup parent/child/grandchild)
	ok=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(web_policy $ok)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server tcp 127.0.0.1 $ok
	assert_probe ok --cgroup "$child" request tcp 127.0.0.1 $ok
	assert_probe EPERM --cgroup "$child" connect tcp 127.0.0.1 $((ok + 1))
	assert_probe EPERM --cgroup "$child" open /dev/zero r
}

@test "the policy holds after apply exits, and detach removes everything" {
	cg=$(new_cgroup detach)
	ok=$(random_port)
	bad=$((ok + 1))
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(web_policy $ok)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server tcp 127.0.0.1 $bad
	sleep 0.2
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $bad
	run "$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg"
	[ "$status" -eq 0 ]
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $bad
	assert_probe ok --cgroup "$cg" sendto 127.0.0.1 $bad
	assert_probe ok --cgroup "$cg" open /dev/zero r
	run bpftool cgroup show "$cg"
	[ -z "$output" ]
	[ ! -e "$BPFFS/links/$(stat -c %i "$cg")" ]
	run "$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not fenced by cgfence"* ]]
}

@test "re-apply swaps the policy, and cgroups with one policy share one copy" {
	cg=$(new_cgroup swap)
	cg2=$(new_cgroup swap2)
	a=$(random_port)
	b=$((a + 1))
	write_policy "$BATS_TEST_TMPDIR/a.json" "$(web_policy $a)"
	write_policy "$BATS_TEST_TMPDIR/b.json" "$(web_policy $b)"
	start_server tcp 127.0.0.1 $a
	start_server tcp 127.0.0.1 $b
	apply_policy "$cg" "$BATS_TEST_TMPDIR/a.json"
	run apply_policy "$cg2" "$BATS_TEST_TMPDIR/a.json"
	first_id=$(echo "$output" | sed -n 's/.*policy id \([0-9a-f]*\).*/\1/p')
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $a
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $b
	run apply_policy "$cg" "$BATS_TEST_TMPDIR/b.json"
	[[ "$output" == *"swapped to policy kt-web"*"generation 2"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $a
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $b
	# cg2 kept policy a, and the two cgroups on "a" shared one policy id
	assert_probe ok --cgroup "$cg2" request tcp 127.0.0.1 $a
	run apply_policy "$cg" "$BATS_TEST_TMPDIR/a.json"
	[[ "$output" == *"policy id $first_id"* ]]
}

@test "a swap never opens a gap: connections allowed by both policies never fail" {
	cg=$(new_cgroup gap)
	a=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/a.json" "$(web_policy $a)"
	# Same allowed port, different other content: a real table swap.
	write_policy "$BATS_TEST_TMPDIR/b.json" "$(web_policy $a | sed 's/"minor": 5/"minor": 7/')"
	start_server tcp 127.0.0.1 $a
	apply_policy "$cg" "$BATS_TEST_TMPDIR/a.json"
	(
		for i in $(seq 20); do
			apply_policy "$cg" "$BATS_TEST_TMPDIR/b.json" >/dev/null
			apply_policy "$cg" "$BATS_TEST_TMPDIR/a.json" >/dev/null
		done
	) &
	swapper=$!
	failures=0
	attempts=0
	while kill -0 $swapper 2>/dev/null; do
		"$PROBE" --cgroup "$cg" request tcp 127.0.0.1 $a >/dev/null || failures=$((failures + 1))
		attempts=$((attempts + 1))
	done
	wait $swapper
	echo "attempts=$attempts failures=$failures"
	[ "$attempts" -gt 5 ]
	[ "$failures" -eq 0 ]
}

@test "veth between two network namespaces: the fence applies across a real link" {
	ns_a="${TEST_ID}a"
	ns_b="${TEST_ID}b"
	ip netns add "$ns_a"
	ip netns add "$ns_b"
	ip link add "v${TEST_ID: -6}a" netns "$ns_a" type veth peer name "v${TEST_ID: -6}b" netns "$ns_b"
	ip -n "$ns_a" addr add 10.213.0.1/30 dev "v${TEST_ID: -6}a"
	ip -n "$ns_b" addr add 10.213.0.2/30 dev "v${TEST_ID: -6}b"
	ip -n "$ns_a" link set "v${TEST_ID: -6}a" up
	ip -n "$ns_b" link set "v${TEST_ID: -6}b" up
	cg=$(new_cgroup veth)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-veth",
	  "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["10.213.0.2"], "protocol": "tcp", "ports": [8080]}]},
	  "ingress": {"default": "deny", "rules": [{"action": "allow", "from": ["10.213.0.0/30"], "protocol": "tcp", "ports": [9090]}]}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server tcp 10.213.0.2 8080 --netns "$ns_b"
	start_server tcp 10.213.0.2 8081 --netns "$ns_b"
	start_server tcp 10.213.0.1 9090 --netns "$ns_a" --cgroup "$cg"
	start_server tcp 10.213.0.1 9091 --netns "$ns_a" --cgroup "$cg"
	run_ok=0
	# (the first, over a new link, waits for ARP: a retry may take 1 s)
	assert_probe ok --timeout-ms 10000 --netns "$ns_a" --cgroup "$cg" request tcp 10.213.0.2 8080 || run_ok=1
	assert_probe EPERM --netns "$ns_a" --cgroup "$cg" connect tcp 10.213.0.2 8081 || run_ok=1
	assert_probe ok --netns "$ns_b" request tcp 10.213.0.1 9090 || run_ok=1
	assert_probe ETIMEDOUT --timeout-ms 700 --netns "$ns_b" connect tcp 10.213.0.1 9091 || run_ok=1
	stop_servers
	ip netns del "$ns_a"
	ip netns del "$ns_b"
	[ "$run_ok" -eq 0 ]
}

@test "audit mode evaluates but never blocks" {
	cg=$(new_cgroup audit)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/p.json" '{"version": 1, "name": "kt-audit", "mode": "audit",
	  "egress": {"default": "deny"}, "devices": {"default": "deny"}}'
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	start_server tcp 127.0.0.1 $port
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $port
	assert_probe ok --cgroup "$cg" open /dev/null r
}

@test "cgfence coexists with another program on the same cgroup" {
	cg=$(new_cgroup coexist)
	foreign="$BPFFS-foreign"
	mkdir -p "$foreign"
	# Another tool's device program: allows every device.
	cat >"$BATS_TEST_TMPDIR/foreign.bpf.c" <<'C'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("cgroup/dev")
int foreign_dev(struct bpf_cgroup_dev_ctx *ctx) { return 1; }
C
	clang -O2 -g -target bpf -I/usr/include/$(cc -dumpmachine) -c "$BATS_TEST_TMPDIR/foreign.bpf.c" -o "$BATS_TEST_TMPDIR/foreign.bpf.o"
	bpftool prog load "$BATS_TEST_TMPDIR/foreign.bpf.o" "$foreign/foreign_dev"
	bpftool cgroup attach "$cg" device pinned "$foreign/foreign_dev" multi
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(web_policy 1)"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/p.json"
	run bpftool cgroup show "$cg"
	[ "$(echo "$output" | grep -c ' foreign_dev ')" -eq 1 ]
	[ "$(echo "$output" | grep -c ' cgf_device ')" -eq 1 ]
	assert_probe EPERM --cgroup "$cg" open /dev/zero r
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg"
	run bpftool cgroup show "$cg"
	[ "$(echo "$output" | grep -c ' foreign_dev ')" -eq 1 ]
	[ "$(echo "$output" | grep -c ' cgf_device ')" -eq 0 ]
	assert_probe ok --cgroup "$cg" open /dev/zero r
	bpftool cgroup detach "$cg" device pinned "$foreign/foreign_dev"
	rm -rf "$foreign"
}

# 100,000 addresses over 300 rules, all inside 127.0.0.0/8 like the tested
# address, so the trie does real work; the allowed flow matches the last rule.
big_policy() { # ALLOWED_PORT
	awk -v port="$1" 'BEGIN {
		printf "{\"version\": 1, \"name\": \"kt-big\", \"egress\": {\"default\": \"deny\", \"rules\": ["
		n = 0
		for (r = 0; r < 300; r++) {
			printf "%s{\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [%d], \"to\": [", (r ? "," : ""), 1000 + r
			for (i = 0; i < 334 && n < 100000; i++) {
				n++
				printf "%s\"127.%d.%d.%d\"", (i ? "," : ""), int(n / 65536) % 256 + 1, int(n / 256) % 256, n % 256
			}
			printf "]}"
		}
		printf ",{\"action\": \"deny\", \"to\": [\"127.0.0.0/8\"], \"protocol\": \"tcp\", \"ports\": [%d]}", port + 1
		printf ",{\"action\": \"allow\", \"to\": [\"127.0.0.1\"], \"protocol\": \"tcp\"}]}}\n"
	}'
}

@test "a policy with 100,000 addresses and 302 rules loads and enforces first-match" {
	cg=$(new_cgroup big)
	ok=$(random_port)
	big_policy $ok >"$BATS_TEST_TMPDIR/big.json"
	run "$CGFENCE" check "$BATS_TEST_TMPDIR/big.json"
	[[ "$output" == *"302 rules, 100002 addresses"* ]]
	run apply_policy "$cg" "$BATS_TEST_TMPDIR/big.json"
	[ "$status" -eq 0 ]
	id=$(echo "$output" | sed -n 's/.*policy id \([0-9a-f]*\).*/\1/p')
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $((ok + 1))
	start_server tcp 127.1.0.5 1000
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $ok
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $((ok + 1))
	assert_probe ok --cgroup "$cg" request tcp 127.1.0.5 1000
	assert_probe EPERM --cgroup "$cg" connect tcp 127.1.0.5 1001
	# the middle and the end of the trie, which other writers than the
	# first write (enforcer/kernel/lpm_write.c): address 50,000 is rule
	# 149's, 99,990 rule 299's
	start_server tcp 127.1.195.80 1149
	start_server tcp 127.2.134.150 1299
	assert_probe ok --cgroup "$cg" request tcp 127.1.195.80 1149
	assert_probe EPERM --cgroup "$cg" connect tcp 127.1.195.80 1150
	assert_probe ok --cgroup "$cg" request tcp 127.2.134.150 1299
	assert_probe EPERM --cgroup "$cg" connect tcp 127.2.134.150 1298
	run bpftool map show name "cgf_l_$id"
	echo "$output"
	# room for 100,000+ entries (and for in-place changes)
	[[ "$output" =~ lpm_trie.*max_entries\ 1[0-9]{5}\  ]]
}

@test "changing one rule of a cgroup's own policy writes only what changed, in place" {
	cg=$(new_cgroup inplace)
	a=$(random_port)
	big_policy $a >"$BATS_TEST_TMPDIR/v1.json"
	# v2: the rule that denied port a+1 now denies a+2 instead
	sed "s/\"ports\": \[$((a + 1))\]/\"ports\": [$((a + 2))]/" "$BATS_TEST_TMPDIR/v1.json" >"$BATS_TEST_TMPDIR/v2.json"
	! cmp -s "$BATS_TEST_TMPDIR/v1.json" "$BATS_TEST_TMPDIR/v2.json"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/v1.json"
	start_server tcp 127.0.0.1 $((a + 1))
	start_server tcp 127.0.0.1 $((a + 2))
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $((a + 1))
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $((a + 2))

	run apply_policy "$cg" "$BATS_TEST_TMPDIR/v2.json"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"changed policy kt-big in place"*"generation 2"* ]]
	writes=$(echo "$output" | sed -n 's/.*; \([0-9]*\) trie entries and \([0-9]*\) masks written.*/\1 \2/p')
	[ -n "$writes" ]
	set -- $writes
	[ "$1" -le 4 ] && [ "$2" -le 8 ]
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $((a + 1))
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $((a + 2))

	# and back: the other bank, again in place
	run apply_policy "$cg" "$BATS_TEST_TMPDIR/v1.json"
	[[ "$output" == *"changed policy kt-big in place"*"generation 3"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $((a + 1))
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $((a + 2))

	# a second cgroup shares v1: a change of the first one must not touch it
	cg2=$(new_cgroup inplace2)
	apply_policy "$cg2" "$BATS_TEST_TMPDIR/v1.json"
	run apply_policy "$cg" "$BATS_TEST_TMPDIR/v2.json"
	[[ "$output" == *"swapped to policy kt-big"* ]]
	assert_probe EPERM --cgroup "$cg2" connect tcp 127.0.0.1 $((a + 1))
	assert_probe ok --cgroup "$cg" request tcp 127.0.0.1 $((a + 1))

	# without its mirror a policy still changes, by rebuild
	find /run/cgfence/"$(basename "$BPFFS")" -maxdepth 1 -type f -delete # the mirrors, not the records
	run apply_policy "$cg" "$BATS_TEST_TMPDIR/v1.json"
	[[ "$output" == *"swapped to policy kt-big"* || "$output" == *"fenced"* ]]
	assert_probe EPERM --cgroup "$cg" connect tcp 127.0.0.1 $((a + 1))
}

@test "after an in-place change the next datagram to a peer already allowed is judged again" {
	cg=$(new_cgroup udpchange)
	port=$(random_port)
	write_policy "$BATS_TEST_TMPDIR/v1.json" "{\"version\": 1, \"name\": \"kt-udp\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.0/8\"], \"protocol\": \"udp\", \"ports\": [$port]}]}}"
	write_policy "$BATS_TEST_TMPDIR/v2.json" "{\"version\": 1, \"name\": \"kt-udp\",
	  \"egress\": {\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": [\"127.0.0.0/8\"], \"protocol\": \"udp\", \"ports\": [$((port + 1))]}]}}"
	apply_policy "$cg" "$BATS_TEST_TMPDIR/v1.json"
	go=$(new_go_file)
	"$PROBE" --cgroup "$cg" sendto2 127.0.0.1 $port "$go" >"$BATS_TEST_TMPDIR/out" &
	sender=$!
	within 30 test -e "$go.sent"
	run apply_policy "$cg" "$BATS_TEST_TMPDIR/v2.json"
	touch "$go"
	[[ "$output" == *"in place"* ]]
	wait $sender || true
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = "ok EPERM" ]
}

@test "apply refuses bad input and leaves nothing behind" {
	cg=$(new_cgroup refuse)
	write_policy "$BATS_TEST_TMPDIR/bad.json" '{"version": 1, "name": "kt-bad", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["10.0.0.1/8"]}]}}'
	run "$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$cg" --policy "$BATS_TEST_TMPDIR/bad.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad.json:1:"*"host bits"* ]]
	run bpftool cgroup show "$cg"
	[ -z "$output" ]
	write_policy "$BATS_TEST_TMPDIR/p.json" "$(web_policy 1)"
	run "$CGFENCE" apply --bpffs "$BPFFS" --cgroup /tmp --policy "$BATS_TEST_TMPDIR/p.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"/tmp: not a cgroup v2 directory"* ]]
	run "$CGFENCE" apply --bpffs "$BPFFS" --cgroup "$(cgroup2_mount)" --policy "$BATS_TEST_TMPDIR/p.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"refusing to fence the root cgroup"* ]]
}
