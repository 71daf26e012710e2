#!/bin/bash
# One address added to and removed from a 100,000-entry address set that a
# running policy names: the whole `cgfence set add` / `set del` command
# (process start included) against `nft add element` / `nft delete
# element` on a 100,000-element nftables set, side by side in one run; and
# a feed's set file replaced by a version that differs in 1,000 entries,
# through `cgfence reload`. This VM's timings are bimodal: ROUNDS rounds,
# each timing every command in turn (the first one alternating), report
# the median over rounds of the same-round ratio cgfence/nft with its
# spread, and each system's median.
#
#   tests/bench/set_change.sh [ENTRIES [ROUNDS]]   (root; default 100000 x 9)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
ENTRIES=${1:-100000}
ROUNDS=${2:-9}
[ "$(id -u)" -eq 0 ] || { echo "set_change.sh needs root (BPF, nft)" >&2; exit 1; }
command -v nft >/dev/null || { echo "set_change.sh needs nft (make deps)" >&2; exit 1; }

ID=cgfsetb$$
WORK=$(mktemp -d /tmp/cgfence-setbench.XXXXXX)
BPFFS=/sys/fs/bpf/$ID
CGMOUNT=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
CG=$CGMOUNT/$ID
DIR=$WORK/policies
cleanup() {
	"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$CG" >/dev/null 2>&1 || true
	for c in "$CG-2" "$CG-3" "$CG-c" "$CG-n"; do
		"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$c" >/dev/null 2>&1 || true
		rmdir "$c" 2>/dev/null || true
	done
	rmdir "$CG" 2>/dev/null || true
	for ns in "$ID" "${ID}c" "${ID}n"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$BPFFS" "/run/cgfence/$ID"
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$DIR/sets" "$CG"
# ENTRIES distinct hosts in 10.0.0.0/8, the same in both systems.
awk -v n="$ENTRIES" 'BEGIN { for (i = 0; i < n; i++) printf "10.%d.%d.%d\n", int(i / 65536), int(i / 256) % 256, i % 256 }' >"$DIR/sets/feed.txt"
printf '{"version": 1, "name": "feedpol", "egress": {"default": "allow", "rules": [{"action": "deny", "to": ["@feed"]}]}}\n' >"$DIR/feedpol.json"
"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CG" --policy "$DIR/feedpol.json" >/dev/null 2>&1

ip netns add "$ID"
{
	echo "table inet $ID { set feed { type ipv4_addr; elements = {"
	awk 'NR > 1 { printf ",\n" } { printf "%s", $0 }' "$DIR/sets/feed.txt"
	echo "}; }; chain out { type filter hook output priority 0; ip daddr @feed drop; }; }"
} >"$WORK/feed.nft"
ip netns exec "$ID" nft -f "$WORK/feed.nft"

us() { # COMMAND...: microseconds, exec included
	local s e
	s=$EPOCHREALTIME
	"$@" >/dev/null
	e=$EPOCHREALTIME
	echo $((${e/./} - ${s/./}))
}
cg_add() { us "$CGFENCE" set add feed "$1" --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$WORK/l.jsonl"; }
cg_del() { us "$CGFENCE" set del feed "$1" --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$WORK/l.jsonl"; }
nft_add() { us ip netns exec "$ID" nft add element inet "$ID" feed "{ $1 }"; }
nft_del() { us ip netns exec "$ID" nft delete element inet "$ID" feed "{ $1 }"; }
noop_ns() { us ip netns exec "$ID" true; }

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f to %.2f", lo, hi }'; }

echo "kernel $(uname -r), $(nft --version | cut -d' ' -f1-2), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "a set of $ENTRIES entries named by a running policy, and an nftables set of the same $ENTRIES; $ROUNDS rounds"
: >"$WORK/rounds"
for r in $(seq "$ROUNDS"); do
	addr="172.31.$((r / 256)).$((r % 256))"
	if [ $((r % 2)) -eq 1 ]; then
		ca=$(cg_add "$addr"); na=$(nft_add "$addr"); cd=$(cg_del "$addr"); nd=$(nft_del "$addr")
	else
		na=$(nft_add "$addr"); ca=$(cg_add "$addr"); nd=$(nft_del "$addr"); cd=$(cg_del "$addr")
	fi
	echo "$r $ca $na $cd $nd $(noop_ns)" >>"$WORK/rounds"
done
# The kernel's part of one more change (the command reports it).
kernel=$("$CGFENCE" set add feed 172.30.0.1 --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$WORK/l.jsonl" |
	sed -n 's/.*, \([0-9.]*\) us in the kernel.*/\1/p')
printf 'add:  cgfence set add %.2f ms, nft add element %.2f ms (median); cgfence/nft same-round median %.1f (%s)\n' \
	"$(awk '{ print $2 / 1000 }' "$WORK/rounds" | median)" "$(awk '{ print $3 / 1000 }' "$WORK/rounds" | median)" \
	"$(awk '{ print $2 / $3 }' "$WORK/rounds" | median)" "$(awk '{ print $2 / $3 }' "$WORK/rounds" | spread)"
printf 'del:  cgfence set del %.2f ms, nft delete element %.2f ms (median); cgfence/nft same-round median %.1f (%s)\n' \
	"$(awk '{ print $4 / 1000 }' "$WORK/rounds" | median)" "$(awk '{ print $5 / 1000 }' "$WORK/rounds" | median)" \
	"$(awk '{ print $4 / $5 }' "$WORK/rounds" | median)" "$(awk '{ print $4 / $5 }' "$WORK/rounds" | spread)"
printf 'ip netns exec true (what nft pays to enter the namespace): %.2f ms\n' "$(awk '{ print $6 / 1000 }' "$WORK/rounds" | median)"
echo "kernel work of one cgfence set change: $kernel us (bar: 100 us)"

# Memory: a second policy naming the same set, on a second cgroup. Each
# policy has tables of its own (its trie holds the set's entries with its
# own classes), so the set's entries are held once per policy naming it.
# The bytes of one policy's tables: its maps are named cgf_*_ID (other
# processes' maps on this machine do not count).
tables_bytes() { # POLICY-ID
	bpftool map show -j | python3 -c 'import json, sys; print(sum(m.get("bytes_memlock", 0) for m in json.load(sys.stdin) if m.get("name", "").startswith("cgf_") and m.get("name", "").endswith("_" + sys.argv[1])))' "$1"
}
policy_id_of() { sed -n 's/.*policy id \([0-9a-f]*\).*/\1/p'; }
printf '{"version": 1, "name": "feedpol2", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["@feed"]}]}}\n' >"$DIR/feedpol2.json"
mkdir -p "$CG-2" "$CG-3"
id2=$("$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CG-2" --policy "$DIR/feedpol2.json" 2>/dev/null | policy_id_of)
id3=$("$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CG-3" --policy "$DIR/feedpol2.json" 2>/dev/null | policy_id_of)
awk -v n="$ENTRIES" -v a="$(tables_bytes "$id2")" -v same="$([ "$id2" = "$id3" ] && echo 1 || echo 0)" 'BEGIN {
	printf "memory: a second policy naming the %d-entry set: +%.1f MiB of BPF maps (%.0f bytes per entry); a second cgroup on that policy: %s\n",
		n, a / 1048576, a / n, same ? "+0 (it runs the same tables)" : "NEW TABLES (not shared)" }'
"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$CG-2" >/dev/null 2>&1 || true
"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$CG-3" >/dev/null 2>&1 || true
rmdir "$CG-2" "$CG-3" 2>/dev/null || true

# Connection cost with a 100,000-entry set: a policy allowing TCP to
# @decoys, whose entries share their leading bits with the tested address
# (the last of them), so that the trie lookup walks deep; against the
# same client in a cgroup without a policy, in one connbench run (the two
# take turns in 2 ms slices), each in a network namespace of its own.
CONNBENCH=$OUT/tests/connbench
ADDR=127.100.0.1
CPORT=$((20000 + RANDOM % 20000))
awk -v n="$ENTRIES" 'BEGIN { for (i = 2; i <= n; i++) printf "127.%d.%d.%d\n", 100 + int(i / 65536), int(i / 256) % 256, i % 256; print "127.100.0.1" }' >"$DIR/sets/decoys.txt"
printf '{"version": 1, "name": "connpol", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["@decoys"], "protocol": "tcp", "ports": [%d]}]}}\n' "$CPORT" >"$DIR/connpol.json"
mkdir -p "$CG-c" "$CG-n"
for ns in "${ID}c" "${ID}n"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CG-c" --policy "$DIR/connpol.json" >/dev/null 2>&1
: >"$WORK/conn"
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then order="cgfence=${ID}c:$CG-c none=${ID}n:$CG-n"; else order="none=${ID}n:$CG-n cgfence=${ID}c:$CG-c"; fi
	# shellcheck disable=SC2086
	"$CONNBENCH" --budget-ms 1000 tcp "$ADDR" "$CPORT" 3000 $order |
		sed -nE 's/^target=([a-z]+) .* p50_ns=([0-9]+).*/\1 \2/p' | sort | awk -v r="$r" '{ v[$1] = $2 } END { print r, v["cgfence"], v["none"] }' >>"$WORK/conn"
done
printf 'connection with a %s-entry set: cgfence %.1f us, none %.1f us (p50, median of rounds); cgfence/none same-round median %.3f (%s) (bar: 1.03)\n' "$ENTRIES" \
	"$(awk '{ print $2 / 1000 }' "$WORK/conn" | median)" "$(awk '{ print $3 / 1000 }' "$WORK/conn" | median)" \
	"$(awk '{ print $2 / $3 }' "$WORK/conn" | median)" "$(awk '{ print $2 / $3 }' "$WORK/conn" | spread)"
"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$CG-c" >/dev/null 2>&1 || true
rmdir "$CG-c" "$CG-n" 2>/dev/null || true
ip netns del "${ID}c" 2>/dev/null || true
ip netns del "${ID}n" 2>/dev/null || true

# A feed's new version: 1,000 entries replaced, the file swapped by rename.
awk -v n="$ENTRIES" 'NR <= 1000 { printf "11.%d.%d.%d\n", int(NR / 65536), int(NR / 256) % 256, NR % 256; next } { print }' \
	"$DIR/sets/feed.txt" >"$DIR/sets/feed.txt.new"
mv "$DIR/sets/feed.txt.new" "$DIR/sets/feed.txt"
s=$EPOCHREALTIME
out=$("$CGFENCE" -v reload --policy-dir "$DIR" --bpffs "$BPFFS" --lifecycle-log "$WORK/l.jsonl" 2>&1)
e=$EPOCHREALTIME
printf 'feed: 1,000 of %s entries replaced, through cgfence reload: %.1f ms in all (bar: 1000 ms)\n' "$ENTRIES" "$(((${e/./} - ${s/./}) / 1000)).$(((${e/./} - ${s/./}) % 1000 / 100))"
echo "$out" | sed 's/^/  /'
