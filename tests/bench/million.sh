#!/bin/bash
# make bench: a million addresses. `cgfence apply` of a policy of
# 1,000,000 addresses against `nft -f` of the same million-element set,
# side by side, and what a connection costs under that policy.
#
#   tests/bench/million.sh [full|smoke]     (root; docs/benchmarks.md)
#
# Rule sets as in bench.sh (tests/bench/policy_gen.sh): N decoys
# 127.100.0.2, .3, ... and the tested 127.100.0.1:PORT last; cgfence gets
# them over 256 TCP rules, nft as an `ipv4_addr . inet_service` set.
# Each round loads both, taking turns in who goes first: the whole
# command, from exec to exit, by the wall clock, and its peak RSS
# (/usr/bin/time). cgfence's programs are loaded already (a host that runs
# containers has them), and every round's policy has a new name (identical
# policies share their tables). Each command runs in a memory cgroup of
# its own, so what the kernel keeps charged once it has exited is the
# kernel memory of the tables (cgfence's trie and class maps, nft's set).
# Then connbench times connections (socket, connect, 1-byte exchange,
# close) from a cgroup under the million-address policy against one
# without policy and one fenced by programs that do nothing (the hooks'
# floor, tests/bench/floor.sh), interleaved in 2 ms slices, over more
# rounds than the loads (the effect is a few percent).
#
# Every ratio is given as the median of the same-round ratios and their
# spread (lowest-highest); when the spread is wider than the effect, the
# table says so. Results: a table on stdout, million.tsv and
# million_rounds.tsv under build/bench (smoke: build/bench-smoke).
# CGFBENCH_MILLION (addresses), CGFBENCH_MILLION_ROUNDS and
# CGFBENCH_MILLION_CONN_ROUNDS override.
# Everything created is removed on exit, also on SIGINT/SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
MODE=${1:-full}
OUT=${OUT:-build}
CGFENCE=$REPO/$OUT/cgfence
CONNBENCH=$REPO/$OUT/tests/connbench
PROBE=$REPO/$OUT/tests/probe
FLOOR_OBJ=$REPO/$OUT/tests/floor.bpf.o
case $OUT in /*) CGFENCE=$OUT/cgfence CONNBENCH=$OUT/tests/connbench PROBE=$OUT/tests/probe FLOOR_OBJ=$OUT/tests/floor.bpf.o ;; esac

case $MODE in
full) N=1000000 ROUNDS=5 CONN_ROUNDS=11 CONN_ITER=4000 BUDGET_MS=1500 RES=$OUT/bench ;;
smoke) N=10000 ROUNDS=2 CONN_ROUNDS=2 CONN_ITER=200 BUDGET_MS=300 RES=$OUT/bench-smoke ;;
*)
	echo "usage: $0 [full|smoke]" >&2
	exit 2
	;;
esac
N=${CGFBENCH_MILLION:-$N}
ROUNDS=${CGFBENCH_MILLION_ROUNDS:-$ROUNDS}
CONN_ROUNDS=${CGFBENCH_MILLION_CONN_ROUNDS:-$CONN_ROUNDS}
RES=${CGFBENCH_RESULTS:-$RES}
ADDR=127.100.0.1
PORT=$((20000 + RANDOM % 20000))

die() {
	echo "million: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (cgroups, namespaces, BPF, netfilter)"
[ -x "$CGFENCE" ] && [ -x "$CONNBENCH" ] && [ -x "$PROBE" ] && [ -f "$FLOOR_OBJ" ] || die "build first: make all"
tools/deps.sh

mount_of() { # FSTYPE [SUPER-OPTION]: the first such mount in mountinfo
	awk -v fs="$1" -v opt="${2:-}" '{
		for (i = 1; i <= NF; i++) if ($i == "-") break
		if ($(i + 1) != fs) next
		if (opt != "" && ("," $(i + 3) ",") !~ ("," opt ",")) next
		print $5; exit }' /proc/self/mountinfo
}
CGMOUNT=$(mount_of cgroup2)
[ -n "$CGMOUNT" ] || die "no cgroup2 mount in /proc/self/mountinfo"

ID=cgfmillion_$$
CGROOT=$CGMOUNT/$ID
BPFFS=/sys/fs/bpf/$ID
TMP=
NETNS_MADE=

# Kernel memory a memory cgroup holds: cgroup v2 "kernel" in memory.stat
# where cgroup2 has the memory controller, else v1's kmem counter.
MEMCG_ROOT='' MEMCG_KIND=''
if grep -qw memory "$CGMOUNT/cgroup.controllers" 2>/dev/null &&
	grep -qw memory "$CGMOUNT/cgroup.subtree_control" 2>/dev/null; then
	MEMCG_ROOT=$CGROOT MEMCG_KIND=v2
elif v1=$(mount_of cgroup memory) && [ -n "$v1" ] && [ -f "$v1/memory.kmem.usage_in_bytes" ]; then
	MEMCG_ROOT=$v1/$ID MEMCG_KIND=v1
fi

cleanup() {
	local status=$? d ns
	set +e
	trap - EXIT INT TERM
	if [ -d "$CGROOT" ]; then
		find "$CGROOT" -depth -type d | while read -r d; do
			"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$d" >/dev/null 2>&1
			rmdir "$d" 2>/dev/null || echo "million: could not remove $d" >&2
		done
	fi
	for ns in $NETNS_MADE; do
		ip netns del "$ns" 2>/dev/null || echo "million: could not remove netns $ns" >&2
	done
	if [ "$MEMCG_KIND" = v1 ] && [ -d "$MEMCG_ROOT" ]; then
		find "$MEMCG_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null
	fi
	rm -rf "$BPFFS" "$BPFFS-floor" "/run/cgfence/$ID"
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/cgfmillion.XXXXXX)
mkdir -p "$RES" "$CGROOT"
[ "$MEMCG_KIND" = v1 ] && mkdir -p "$MEMCG_ROOT"

netns_make() { # NAME
	ip netns add "$1"
	NETNS_MADE="$NETNS_MADE $1"
	ip -n "$1" link set lo up
}

# A fresh memory cgroup (v2: below our tree, which has the controller).
memcg_make() { # NAME: prints its path, or nothing without memory cgroups
	local d
	[ -n "$MEMCG_KIND" ] || return 0
	if [ "$MEMCG_KIND" = v2 ]; then
		echo +memory >"$CGROOT/cgroup.subtree_control"
	fi
	d=$MEMCG_ROOT/mem_$1
	mkdir "$d"
	echo "$d"
}

memcg_kernel_bytes() { # DIR
	case $MEMCG_KIND in
	v2) awk '$1 == "kernel" { print $2 }' "$1/memory.stat" ;;
	v1) cat "$1/memory.kmem.usage_in_bytes" ;;
	*) echo 0 ;;
	esac
}

# Runs a command (in a namespace, or "-") in memory cgroup MEMCG (or "-")
# under /usr/bin/time; prints "seconds peak_rss_kb". Its output goes to
# $TMP/out, and to stderr when it fails.
timed() { # NETNS|- MEMCG|- COMMAND...
	local ns=$1 mcg=$2 enter=()
	shift 2
	[ "$ns" != - ] && enter=(nsenter --net="/run/netns/$ns")
	# shellcheck disable=SC2016
	"${enter[@]}" bash -c '[ "$1" = - ] || echo $$ >"$1/cgroup.procs"; shift
		exec /usr/bin/time -f "%e %M" -o "$0" "$@"' "$TMP/time" "$mcg" "$@" >"$TMP/out" 2>&1 ||
		{ cat "$TMP/out" >&2; die "failed: $*"; }
	tail -n 1 "$TMP/time"
}

. tests/bench/policy_gen.sh
. tests/bench/floor.sh

nft_set() { # N
	awk -v n="$1" -v port="$PORT" -v target="$ADDR" "$DECOY_AWK"'
	BEGIN {
		print "table inet cgfmillion {"
		print "  set allowed {"
		print "    type ipv4_addr . inet_service"
		printf "    elements = {"
		for (i = 0; i < n; i++)
			printf " %s . %d,%s", decoy(i), port, i % 8 == 7 ? "\n" : ""
		printf " %s . %d }\n  }\n", target, port
		print "  chain output {"
		print "    type filter hook output priority filter; policy accept;"
		print "    ip daddr . tcp dport @allowed accept"
		print "  }"
		print "}"
	}'
}

echo "== a million addresses: $N addresses, $ROUNDS rounds (run id $ID, load avg $(cut -d' ' -f1-3 /proc/loadavg))" >&2
cgfence_policy "$N" cgfmillion-NAME tcp >"$TMP/policy.json"
nft_set "$N" >"$TMP/set.nft"
netns_make "${ID}_nft"
netns_make "${ID}_none"
netns_make "${ID}_cgfence"
netns_make "${ID}_floor"
mkdir "$CGROOT/none" "$CGROOT/cgfence" "$CGROOT/floor" "$CGROOT/warm"
floor_attach "$FLOOR_OBJ" "$BPFFS-floor" "$CGROOT/floor"
# Loads and pins the programs: every timed apply below finds them.
printf '{"version": 1, "name": "cgfmillion-warm", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["%s"]}]}}\n' \
	"$ADDR" >"$TMP/warm.json"
"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGROOT/warm" --policy "$TMP/warm.json" >/dev/null 2>&1

printf 'round\tsystem\tseconds\tpeak_rss_kb\tkernel_bytes\n' >"$RES/million_rounds.tsv"
for r in $(seq "$ROUNDS"); do
	for sys in $( ((r % 2)) && echo cgfence nft || echo nft cgfence); do
		mcg=$(memcg_make "${sys}_$r")
		if [ "$sys" = cgfence ]; then
			f=$TMP/policy_$r.json
			sed "1s/cgfmillion-NAME/cgfmillion-$r/" "$TMP/policy.json" >"$f"
			cg=$CGROOT/load_$r
			mkdir "$cg"
			t=$(timed - "${mcg:--}" "$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$cg" --policy "$f")
			kb=$(memcg_kernel_bytes "${mcg:-/nonexistent}" 2>/dev/null || echo 0)
			# The user-space copy of the tables, for changes in place.
			id=$(sed -n 's/.*policy id \([0-9a-f]*\).*/\1/p' "$TMP/out")
			mirror=$(stat -c %s "/run/cgfence/$ID/$id" 2>/dev/null || echo)
			"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg" >/dev/null
			rmdir "$cg"
			# Its tables stay idle for the next container: gone for good.
			"$CGFENCE" gc --bpffs "$BPFFS" --lifecycle-log "$TMP/lifecycle.jsonl" >/dev/null
			rm -f "$f"
		else
			nsenter --net="/run/netns/${ID}_nft" nft flush ruleset
			t=$(timed "${ID}_nft" "${mcg:--}" nft -f "$TMP/set.nft")
			kb=$(memcg_kernel_bytes "${mcg:-/nonexistent}" 2>/dev/null || echo 0)
			nsenter --net="/run/netns/${ID}_nft" nft flush ruleset
		fi
		printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$sys" "${t% *}" "${t#* }" "${kb:-0}" >>"$RES/million_rounds.tsv"
	done
	printf '  round %s: done\n' "$r" >&2
done
[ -n "${mirror:-}" ] || die "no table mirror of the policy in /run/cgfence/$ID"

# Connections under the million-address policy, against none.
f=$TMP/policy_conn.json
sed "1s/cgfmillion-NAME/cgfmillion-conn/" "$TMP/policy.json" >"$f"
"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGROOT/cgfence" --policy "$f" >/dev/null 2>&1
targets="none=${ID}_none:$CGROOT/none cgfence=${ID}_cgfence:$CGROOT/cgfence floor=${ID}_floor:$CGROOT/floor"
"$CONNBENCH" --warmup 0 tcp "$ADDR" "$PORT" 20 $targets >/dev/null ||
	die "the allowed flow is blocked under the million-address policy"
# A destination outside the policy really fails there: it is in force.
denied=$("$PROBE" --cgroup "$CGROOT/cgfence" --netns "${ID}_cgfence" connect tcp 127.100.0.0 "$PORT" || true)
[ "$denied" = EPERM ] || die "a connection outside the policy gave \"$denied\", not EPERM"
# The last decoy, in the trie's last batch, is allowed: no server, refused.
last=$(awk "$DECOY_AWK"' BEGIN { print decoy(ARGV[1] - 1) }' "$N")
allowed=$("$PROBE" --cgroup "$CGROOT/cgfence" --netns "${ID}_cgfence" connect tcp "$last" "$PORT" || true)
[ "$allowed" = ECONNREFUSED ] || die "a connection to $last, in the policy, gave \"$allowed\", not ECONNREFUSED"
printf 'round\tsystem\tp50_ns\n' >"$RES/million_connect_rounds.tsv"
for r in $(seq "$CONN_ROUNDS"); do
	# the three take turns, a different one first each round
	order=$(echo "$targets" | awk -v r="$r" '{ for (i = 0; i < NF; i++) printf "%s ", $((i + r) % NF + 1) }')
	"$CONNBENCH" --budget-ms "$BUDGET_MS" tcp "$ADDR" "$PORT" "$CONN_ITER" $order |
		sed -E "s/^target=([a-z]+) .* p50_ns=([0-9]+) .*/$r\t\1\t\2/" >>"$RES/million_connect_rounds.tsv"
done

# million.tsv: one row per figure; ratios are medians of same-round ratios.
awk -F'\t' -v n="$N" -v mirror="$mirror" -v memcg="$MEMCG_KIND" '
	function median(a, k,   i, j, t) { for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
	function spread(a, k,   i, lo, hi) { lo = hi = a[1]; for (i = 2; i <= k; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
		return sprintf("%.2f-%.2f", lo, hi) }
	function wide(a, k, m,   i, lo, hi) { lo = hi = a[1]; for (i = 2; i <= k; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
		return hi - lo > (m > 1 ? m - 1 : 1 - m) ? "rounds disagree by more than the effect" : "" }
	function row(name, c, o, ra, k, m) { m = median(ra, k)
		printf "%s\t%s\t%s\t%.2f\t%s\t%s\n", name, c, o, m, spread(ra, k), wide(ra, k, m) }
	FILENAME ~ /connect/ { if (FNR > 1) { p50[$1, $2] = $3; if ($1 > crounds) crounds = $1 }; next }
	FNR > 1 { s[$1, $2] = $3; rss[$1, $2] = $4; kb[$1, $2] = $5; if ($1 > rounds) rounds = $1 }
	END {
		print "figure\tcgfence\tnft -f (or none)\tratio (median of rounds)\tspread\tnote"
		for (r = 1; r <= rounds; r++) { ct[r] = s[r, "cgfence"]; nt[r] = s[r, "nft"]; tr[r] = nt[r] / ct[r]
			cr[r] = rss[r, "cgfence"]; nr[r] = rss[r, "nft"]; mr[r] = nr[r] / cr[r]
			ck[r] = kb[r, "cgfence"] / n; nk[r] = kb[r, "nft"] / n; kr[r] = ck[r] > 0 ? nk[r] / ck[r] : 0 }
		for (r = 1; r <= crounds; r++) { cc[r] = p50[r, "cgfence"]; cn[r] = p50[r, "none"]; cf[r] = p50[r, "floor"]
			pr[r] = cn[r] > 0 ? cc[r] / cn[r] : 0; fr[r] = cn[r] > 0 ? cf[r] / cn[r] : 0; pf[r] = cf[r] > 0 ? cc[r] / cf[r] : 0 }
		row("load " n " addresses (s), nft/cgfence", sprintf("%.2f", median(ct, rounds)), sprintf("%.2f", median(nt, rounds)), tr, rounds)
		row("peak RSS (MiB), nft/cgfence", sprintf("%.0f", median(cr, rounds) / 1024), sprintf("%.0f", median(nr, rounds) / 1024), mr, rounds)
		if (memcg != "")
			row("kernel memory per address (bytes), nft/cgfence", sprintf("%.0f", median(ck, rounds)), sprintf("%.0f", median(nk, rounds)), kr, rounds)
		printf "table mirror per address (bytes, /run/cgfence)\t%.0f\t-\t-\t-\t\n", mirror / n
		row("connection p50 (us), cgfence/none", sprintf("%.1f", median(cc, crounds) / 1000), sprintf("%.1f", median(cn, crounds) / 1000), pr, crounds)
		row("connection p50 (us), floor/none (the kernel hooks)", sprintf("%.1f", median(cf, crounds) / 1000), sprintf("%.1f", median(cn, crounds) / 1000), fr, crounds)
		row("connection p50 (us), cgfence/floor (cgfence programs)", sprintf("%.1f", median(cc, crounds) / 1000), sprintf("%.1f", median(cf, crounds) / 1000), pf, crounds)
	}' "$RES/million_rounds.tsv" "$RES/million_connect_rounds.tsv" >"$RES/million.tsv"

printf '\n== a million addresses (%s addresses, %s rounds; kernel memory from %s memory cgroups)\n' "$N" "$ROUNDS" "${MEMCG_KIND:-no}"
awk -F'\t' '{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } nf[NR] = NF }
	END { for (r = 1; r <= NR; r++) { line = ""
		for (i = 1; i <= nf[r]; i++) line = line (i > 1 ? "  " : "") sprintf(i == 1 || i == nf[r] ? "%-*s" : "%*s", w[i], cell[r, i])
		sub(/ +$/, "", line); print line } }' "$RES/million.tsv"
