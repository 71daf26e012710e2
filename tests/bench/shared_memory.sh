#!/bin/bash
# Kernel memory of shared policy tables: N cgroups (default 100) fenced
# with one 100,000-address policy must hold one copy of its compiled
# tables, not N. Reports the maps' memlock as `bpftool map show` prints it
# (bytes_memlock), for the policy's tables (the LPM trie and class masks
# the map-in-maps point to) and for all of cgfence's maps, after 1 cgroup
# and after N. Uses a private bpffs directory and cgroup tree.
#
#   tests/bench/shared_memory.sh [N]     (root)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
N=${1:-100}
RULES=1000
ADDRS_PER_RULE=100

if [ "$(id -u)" -ne 0 ]; then
	echo "shared_memory.sh needs root (cgroups, BPF)" >&2
	exit 1
fi
for tool in bpftool jq awk; do
	command -v $tool >/dev/null || { echo "shared_memory.sh needs $tool (make deps)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/cgfence-membench.XXXXXX)
BPFFS=/sys/fs/bpf/cgfence-membench-$$
CGP="$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)/cgfence-membench-$$"

cleanup() {
	local cg
	for cg in "$CGP"/cg*; do
		[ -d "$cg" ] || continue
		"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg" >/dev/null 2>&1 || true
		rmdir "$cg" 2>/dev/null || true
	done
	rmdir "$CGP" 2>/dev/null || true
	rm -rf "$BPFFS" "$WORK" "/run/cgfence/$(basename "$BPFFS")"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1000 rules of 100 distinct IPv4 hosts each: 100,000 addresses.
awk -v rules=$RULES -v per=$ADDRS_PER_RULE 'BEGIN {
	printf "{\"version\": 1, \"name\": \"bench-100k\", \"egress\": {\"default\": \"deny\", \"rules\": [\n"
	for (r = 0; r < rules; r++) {
		printf "%s{\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [443], \"to\": [", r ? ",\n" : ""
		for (i = 0; i < per; i++) {
			n = r * per + i
			printf "%s\"10.%d.%d.%d\"", i ? ", " : "", int(n / 65536) % 256, int(n / 256) % 256, n % 256
		}
		printf "]}"
	}
	printf "\n]}}\n"
}' >"$WORK/bench-100k.json"
"$CGFENCE" check "$WORK/bench-100k.json"

# memlock of a list of map ids
memlock_sum() {
	local total=0 id
	for id in "$@"; do
		total=$((total + $(bpftool map show id "$id" -j | jq .bytes_memlock)))
	done
	echo $total
}

# Inner maps the map-in-maps point to: the compiled policies' tables.
inner_map_ids() { # OUTER-MAP-NAME
	bpftool map dump pinned "$BPFFS/obj/map_$1" -j | jq '
		def hex: ascii_downcase | explode
			| reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));
		.[].value | map(ltrimstr("0x")) | reverse | join("") | hex' # little-endian id
}

pinned_map_ids() {
	local f
	for f in "$BPFFS"/obj/map_*; do
		bpftool map show pinned "$f" -j | jq .id
	done
}

mib() {
	awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'
}

# measure LABEL: one line with the tables' and all maps' memlock
measure() {
	local lpm cls fixed policies
	lpm=$(memlock_sum $(inner_map_ids cgf_lpm))
	cls=$(memlock_sum $(inner_map_ids cgf_classes))
	fixed=$(memlock_sum $(pinned_map_ids))
	policies=$(bpftool map dump pinned "$BPFFS/obj/map_cgf_policy_info" -j | jq length)
	TABLES=$((lpm + cls))
	printf '%-13s compiled policies loaded: %d; their tables: %s (LPM trie %s, class masks %s); all cgfence maps: %s\n' \
		"$1:" "$policies" "$(mib $TABLES)" "$(mib $lpm)" "$(mib $cls)" "$(mib $((TABLES + fixed)))"
}

now_ms() {
	date +%s%3N
}

mkdir -p "$CGP"
for i in $(seq 1 "$N"); do
	mkdir -p "$CGP/cg$i"
done

start=$(now_ms)
"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGP/cg1" --policy "$WORK/bench-100k.json" >/dev/null
first_ms=$(($(now_ms) - start))
measure "1 cgroup"
one_copy=$TABLES

start=$(now_ms)
for i in $(seq 2 "$N"); do
	"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGP/cg$i" --policy "$WORK/bench-100k.json" >/dev/null
done
rest_ms=$(($(now_ms) - start))
measure "$N cgroups"
fenced=$("$CGFENCE" status --json --bpffs "$BPFFS" | jq 'map(select(.policy == "bench-100k")) | length')

echo
echo "kernel $(uname -r); policy: $RULES rules x $ADDRS_PER_RULE addresses = $((RULES * ADDRS_PER_RULE)) addresses"
echo "fenced cgroups: $fenced; one copy of the tables: $(mib $one_copy); with $N cgroups: $(mib $TABLES)" \
	"($(awk -v a=$TABLES -v b=$one_copy 'BEGIN { printf "%.3f", a / b }') x one copy;" \
	"$N private copies would be $(mib $((one_copy * N))))"
echo "apply: first cgroup $first_ms ms (compiles and loads the tables)," \
	"then $(((rest_ms) / (N > 1 ? N - 1 : 1))) ms per cgroup (compiles, finds the same digest, attaches)"
