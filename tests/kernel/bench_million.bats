#!/usr/bin/env bats
# tests/bench/million.sh smoke (10,000 addresses), from make check so the
# million-address bench cannot rot: every figure is a number for both
# systems, the policy it measures refuses what it does not list, and the
# run leaves nothing behind. Timings are never asserted (make bench).

load ../common

setup_file() {
	export MILLION_LOG="$BATS_FILE_TMPDIR/million.log"
	export MILLION_RES="$BATS_FILE_TMPDIR/res"
	CGFBENCH_RESULTS=$MILLION_RES OUT=$OUT "$REPO/tests/bench/million.sh" smoke >"$MILLION_LOG" 2>&1 && status=0 || status=$?
	echo "$status" >"$BATS_FILE_TMPDIR/million.status"
}

million_fail() {
	echo "$*" >&2
	echo "---- million.sh smoke output ----" >&2
	cat "$MILLION_LOG" >&2
	return 1
}

@test "million.sh smoke exits 0" {
	[ "$(cat "$BATS_FILE_TMPDIR/million.status")" -eq 0 ] || million_fail "million.sh smoke failed"
}

@test "every round times both loaders and reads their peak memory and kernel memory" {
	for sys in cgfence nft; do
		[ "$(awk -F'\t' -v s=$sys '$2 == s && $3 > 0 && $4 > 0 && $5 > 0' "$MILLION_RES/million_rounds.tsv" | wc -l)" -eq 2 ] ||
			million_fail "million_rounds.tsv: not two complete rounds of $sys"
	done
	for sys in none cgfence floor; do
		[ "$(awk -F'\t' -v s=$sys '$2 == s && $3 > 0' "$MILLION_RES/million_connect_rounds.tsv" | wc -l)" -eq 2 ] ||
			million_fail "million_connect_rounds.tsv: not two rounds of $sys"
	done
}

@test "the table: figures, same-round ratio medians and spreads" {
	for row in "load 10000 addresses (s), nft/cgfence" "peak RSS (MiB), nft/cgfence" \
		"kernel memory per address (bytes), nft/cgfence" "connection p50 (us), cgfence/none" \
		"connection p50 (us), floor/none (the kernel hooks)" "connection p50 (us), cgfence/floor (cgfence programs)"; do
		awk -F'\t' -v r="$row" '$1 == r && $2 > 0 && $3 > 0 && $4 > 0 && $5 ~ /^[0-9.]+-[0-9.]+$/ { ok = 1 } END { exit !ok }' \
			"$MILLION_RES/million.tsv" || million_fail "million.tsv: no complete row '$row'"
	done
	awk -F'\t' '$1 ~ /^table mirror per address/ && $2 > 0 { ok = 1 } END { exit !ok }' "$MILLION_RES/million.tsv" ||
		million_fail "million.tsv: no mirror size"
	grep -q '^== a million addresses (10000 addresses, 2 rounds' "$MILLION_LOG" || million_fail "no table on stdout"
}

@test "million.sh leaves no cgroup, namespace, memory cgroup, pin or run directory" {
	id=$(sed -n 's/.*run id \(cgfmillion_[0-9]*\).*/\1/p' "$MILLION_LOG")
	[ -n "$id" ] || million_fail "no run id in the output"
	[ ! -e "$(cgroup2_mount)/$id" ] || million_fail "cgroup $id left"
	[ ! -e "/sys/fs/bpf/$id" ] || million_fail "bpffs $id left"
	[ ! -e "/sys/fs/bpf/$id-floor" ] || million_fail "the floor's pins left"
	[ ! -e "/run/cgfence/$id" ] || million_fail "run directory $id left"
	! ip netns list | grep -q "^${id}_" || million_fail "network namespaces left"
	! find /sys/fs/cgroup -maxdepth 2 -name "$id" 2>/dev/null | grep -q . || million_fail "memory cgroup left"
}
