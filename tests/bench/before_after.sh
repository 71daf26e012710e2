#!/bin/bash
# A change's cost on the hot path, measured side by side in one run: this
# build's cgfence ("after") against another revision's ("before", built in
# a temporary worktree) and no policy ("none").
#
#   tests/bench/before_after.sh REV [ROUNDS]
#
# Three cgroups in three network namespaces: none, one fenced by REV's
# programs (a bpffs directory of its own), one fenced by this build's; both
# policies are bench.sh's 100,000-address rule set with the tested
# destination matched last. connbench runs the three in 2 ms turns, and
# the rounds alternate which goes first. Per round: the ratios after/none,
# before/none and after/before of the p50s (same-round ratios, so that the
# VM's slow and fast phases cancel); printed: their median over the rounds
# and their spread (min-max). Modes (CGFBA_MODES, default all): tcp
# (connect, 1-byte request and reply, close), udp (sendto to a known peer
# on one socket), udp-new (a new socket's first sendto), dns (a lookup as
# getaddrinfo does it, new socket each); see connbench.c. And apply (not
# in the default): the whole `cgfence apply` of a policy of CGFBA_APPLY_N
# addresses (default 1,000,000, bench.sh's rule set) by each build, exec
# to exit by the wall clock, the builds' programs loaded already, a new
# policy name and cgroup each round, who goes first alternating.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
REV=${1:?usage: $0 REV [ROUNDS]}
ROUNDS=${2:-11}
OUT=${OUT:-build}
case $OUT in /*) ;; *) OUT=$REPO/$OUT ;; esac
ADDR=127.100.0.1
PORT=$((20000 + RANDOM % 20000))
N=100000
ID="cgfba$$"
WORK=$(mktemp -d)
CGMOUNT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
. tests/bench/policy_gen.sh

cleanup() {
	set +e
	for s in before after; do
		[ -x "$WORK/$s-cgfence" ] && "$WORK/$s-cgfence" detach --bpffs "/sys/fs/bpf/$ID-$s" --cgroup "$CGMOUNT/$ID/$s" >/dev/null 2>&1
		rm -rf "/sys/fs/bpf/$ID-$s" "/run/cgfence/$ID-$s"
	done
	for s in before after; do
		[ -x "$WORK/$s-cgfence" ] && "$WORK/$s-cgfence" detach --bpffs "/sys/fs/bpf/$ID-$s" --cgroup "$CGMOUNT/$ID/$s-apply" >/dev/null 2>&1
		rmdir "$CGMOUNT/$ID/$s-apply" 2>/dev/null
	done
	for s in none before after; do
		rmdir "$CGMOUNT/$ID/$s" 2>/dev/null
		ip netns del "$ID-$s" 2>/dev/null
	done
	rmdir "$CGMOUNT/$ID" 2>/dev/null
	git -C "$REPO" worktree remove --force "$WORK/tree" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || { echo "before_after: needs root" >&2; exit 1; }
[ -x "$OUT/cgfence" ] && [ -x "$OUT/tests/connbench" ] || { echo "before_after: make all first" >&2; exit 1; }

echo "building $REV in a worktree..."
git -C "$REPO" worktree add --detach "$WORK/tree" "$REV" >/dev/null 2>&1
make -C "$WORK/tree" OUT="$WORK/tree/build" -j2 "$WORK/tree/build/cgfence" >/dev/null
cp "$WORK/tree/build/cgfence" "$WORK/before-cgfence"
cp "$OUT/cgfence" "$WORK/after-cgfence"

cgfence_policy $N "cgfba-$N" tcp >"$WORK/tcp.json"
cgfence_policy $N "cgfba-udp-$N" udp >"$WORK/udp.json"
mkdir -p "$CGMOUNT/$ID"
for s in none before after; do
	mkdir -p "$CGMOUNT/$ID/$s"
	ip netns add "$ID-$s"
	ip -n "$ID-$s" link set lo up
	ip -n "$ID-$s" addr add "$ADDR/8" dev lo 2>/dev/null || true
done

# apply SYSTEM POLICY: the newer build wants --without-bpf-lsm where no BPF
# LSM fences socket families (the families play no part here).
apply() {
	local extra=
	"$WORK/$1-cgfence" apply --help 2>&1 | grep -q without-bpf-lsm && extra=--without-bpf-lsm
	"$WORK/$1-cgfence" apply $extra --bpffs "/sys/fs/bpf/$ID-$1" --cgroup "$CGMOUNT/$ID/$1" --policy "$2" >/dev/null 2>&1
}

# One mode: ROUNDS connbench runs of the three systems, rotating the order.
measure() { # MODE POLICY ITER
	local mode=$1 order out
	apply before "$2"
	apply after "$2"
	: >"$WORK/$mode.tsv"
	for r in $(seq "$ROUNDS"); do
		case $((r % 3)) in
		0) order="none before after" ;;
		1) order="before after none" ;;
		2) order="after none before" ;;
		esac
		args=()
		for s in $order; do args+=("$s=$ID-$s:$CGMOUNT/$ID/$s"); done
		out=$("$OUT/tests/connbench" --budget-ms 2000 "$mode" "$ADDR" "$PORT" "$3" "${args[@]}")
		echo "$out" | sed -E 's/^target=([a-z]+) .* p50_ns=([0-9]+) .*/\1 \2/' |
			awk -v r="$r" '{ p[$1] = $2 } END { printf "%d\t%d\t%d\t%d\n", r, p["none"], p["before"], p["after"] }' >>"$WORK/$mode.tsv"
	done
	awk -v mode="$mode" '
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ n++; an[n] = $4 / $2; bn[n] = $3 / $2; ab[n] = $4 / $3; nn[n] = $2; b[n] = $3; a[n] = $4 }
	END {
		printf "%-4s  rounds %d  p50 none %.1f us, before %.1f us, after %.1f us (medians)\n", mode, n, median(nn, n) / 1000, median(b, n) / 1000, median(a, n) / 1000
		m1 = median(an, n); m2 = median(bn, n); m3 = median(ab, n)
		printf "      after/none   median %.3f  (%.3f-%.3f)\n", m1, an[1], an[n]
		printf "      before/none  median %.3f  (%.3f-%.3f)\n", m2, bn[1], bn[n]
		printf "      after/before median %.3f  (%.3f-%.3f)\n", m3, ab[1], ab[n]
	}' "$WORK/$mode.tsv"
	echo "      per round (none, before, after p50 ns):"
	sed 's/^/        /' "$WORK/$mode.tsv"
}

# Apply: ROUNDS loads of the same CGFBA_APPLY_N-address policy by each
# build (a new name each time: identical policies share their tables).
measure_apply() {
	local n=${CGFBA_APPLY_N:-1000000} r s order t0 t1
	local -A ns=()
	cgfence_policy "$n" "cgfba-apply" tcp >"$WORK/apply.json"
	cgfence_policy 10 "cgfba-warm" tcp >"$WORK/warm.json"
	apply before "$WORK/warm.json"
	apply after "$WORK/warm.json"
	: >"$WORK/apply.tsv"
	for r in $(seq "$ROUNDS"); do
		order="before after"
		[ $((r % 2)) -eq 0 ] && order="after before"
		for s in $order; do
			sed "s/\"cgfba-apply\"/\"cgfba-apply-$r-$s\"/" "$WORK/apply.json" >"$WORK/apply-round.json"
			mkdir -p "$CGMOUNT/$ID/$s-apply"
			t0=$(date +%s%N)
			"$WORK/$s-cgfence" apply --without-bpf-lsm --bpffs "/sys/fs/bpf/$ID-$s" \
				--cgroup "$CGMOUNT/$ID/$s-apply" --policy "$WORK/apply-round.json" >/dev/null 2>&1
			t1=$(date +%s%N)
			ns[$s]=$((t1 - t0))
			"$WORK/$s-cgfence" detach --bpffs "/sys/fs/bpf/$ID-$s" --cgroup "$CGMOUNT/$ID/$s-apply" >/dev/null 2>&1
			rmdir "$CGMOUNT/$ID/$s-apply"
		done
		printf '%d\t%d\t%d\n' "$r" "${ns[before]}" "${ns[after]}" >>"$WORK/apply.tsv"
	done
	awk -v n_addr="$n" '
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ n++; b[n] = $2; a[n] = $3; ab[n] = $3 / $2 }
	END {
		printf "apply  rounds %d  %d addresses: before %.2f s, after %.2f s (medians)\n", n, n_addr, median(b, n) / 1e9, median(a, n) / 1e9
		m = median(ab, n)
		printf "      after/before median %.3f  (%.3f-%.3f)\n", m, ab[1], ab[n]
	}' "$WORK/apply.tsv"
	echo "      per round (before, after ns):"
	sed 's/^/        /' "$WORK/apply.tsv"
}

echo "== $(uname -r), $(nproc) CPUs; before: $(git -C "$REPO" rev-parse --short "$REV"), after: this build ($N addresses in the connbench modes, tested destination last)"
for mode in ${CGFBA_MODES:-tcp udp udp-new dns}; do
	case $mode in
	tcp) measure tcp "$WORK/tcp.json" 2000 ;;
	udp) measure udp "$WORK/udp.json" 20000 ;;
	udp-new) measure udp-new "$WORK/udp.json" 5000 ;;
	dns) measure dns "$WORK/udp.json" 2000 ;;
	apply) measure_apply ;;
	*) echo "before_after: no mode $mode" >&2; exit 2 ;;
	esac
done
