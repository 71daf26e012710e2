#!/bin/bash
# What one step of a BPF program costs here: a helper call, an inlined
# lookup, a read of the kernel's socket (tests/bench/helper_cost.bpf.c).
# Each program fences a cgroup of its own, alone on its hook; connbench
# sends N datagrams (sendto on one socket) from each cgroup in turn, for
# ROUNDS rounds with the order reversed every other round, and the
# kernel's own counters (kernel.bpf_stats_enabled) give each program's
# ns per run. Printed: per program, the median over the rounds and the
# spread, and the median of the same-round differences from the empty
# program of its hook: that step's cost, clock reads cancelled.
#
#   tests/bench/helper_cost.sh [ROUNDS [N]]     (root; make builds the object)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-7}
N=${2:-100000}
OUT=${OUT:-build}
OBJ=$OUT/tests/helper_cost.bpf.o
CONNBENCH=$OUT/tests/connbench
ID="cgfhc$$"
B=/sys/fs/bpf/$ID
CGROOT="$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)/$ID"
PROGS="send_empty send_storage send_percpu egress_empty egress_storage egress_fullsock egress_kind"
hook_of() { case $1 in send_*) echo sendmsg4 ;; *) echo egress ;; esac; }

cleanup() {
	set +e
	sysctl -qw kernel.bpf_stats_enabled=0
	for p in $PROGS; do
		bpftool cgroup detach "$CGROOT/$p" "$(hook_of "$p")" pinned "$B/hc_$p" 2>/dev/null
		rmdir "$CGROOT/$p" 2>/dev/null
		ip netns del "${ID}_$p" 2>/dev/null
	done
	rmdir "$CGROOT" 2>/dev/null
	rm -rf "$B"
}
trap cleanup EXIT INT TERM

[ -r "$OBJ" ] || { echo "helper_cost: $OBJ missing: run make" >&2; exit 1; }
mkdir -p "$CGROOT"
bpftool prog loadall "$OBJ" "$B" >/dev/null
for p in $PROGS; do
	mkdir "$CGROOT/$p"
	ip netns add "${ID}_$p"
	ip -n "${ID}_$p" link set lo up
	bpftool cgroup attach "$CGROOT/$p" "$(hook_of "$p")" pinned "$B/hc_$p" multi
done
counters() { # PROG: run_time_ns run_cnt
	bpftool prog show pinned "$B/hc_$1" -j | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'
}
sysctl -qw kernel.bpf_stats_enabled=1
results=$(mktemp)
order=$PROGS
for r in $(seq "$ROUNDS"); do
	for p in $order; do
		read -r t0 n0 < <(counters "$p")
		"$CONNBENCH" --budget-ms 60000 udp 127.100.0.1 31000 "$N" \
			"x=${ID}_$p:$CGROOT/$p" >/dev/null
		read -r t1 n1 < <(counters "$p")
		[ $((n1 - n0)) -gt 0 ] || { echo "helper_cost: hc_$p never ran" >&2; exit 1; }
		printf '%s\t%s\t%s\n' "$r" "$p" "$(((t1 - t0) / (n1 - n0)))" >>"$results"
	done
	order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
done
awk -F'\t' -v rounds="$ROUNDS" '
	function median(a, n,    i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ ns[$1, $2] = $3; if (!($2 in seen)) { seen[$2] = 1; names[++np] = $2 } }
	END {
		printf "%-20s %8s %12s %20s\n", "program", "ns/run", "(spread)", "step: minus empty"
		for (k = 1; k <= np; k++) {
			p = names[k]; base = p ~ /^send_/ ? "send_empty" : "egress_empty"
			lo = hi = ""; delete v; delete d
			for (r = 1; r <= rounds; r++) {
				v[r] = ns[r, p]; d[r] = ns[r, p] - ns[r, base]
				if (lo == "" || v[r] < lo) lo = v[r]
				if (hi == "" || v[r] > hi) hi = v[r]
			}
			printf "%-20s %8d %12s %20s\n", "hc_" p, median(v, rounds), "(" lo "-" hi ")",
				p == base ? "-" : sprintf("%+d ns", median(d, rounds))
		}
	}' "$results"
rm -f "$results"
