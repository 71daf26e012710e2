#!/usr/bin/env bats
# make bench-smoke, run from make check so the benchmark cannot rot: every
# table is produced with a number for every system, and the run leaves
# nothing behind. Timings are never asserted (they belong to make bench).

load ../common

setup_file() {
	export SMOKE_LOG="$BATS_FILE_TMPDIR/smoke.log"
	export SMOKE_RES="$OUT/bench-smoke"
	OUT=$OUT "$REPO/tests/bench/bench.sh" smoke >"$SMOKE_LOG" 2>&1 && status=0 || status=$?
	echo "$status" >"$BATS_FILE_TMPDIR/smoke.status"
}

# Fails with the whole log, so a broken bench explains itself.
smoke_fail() {
	echo "$*" >&2
	echo "---- bench.sh smoke output ----" >&2
	cat "$SMOKE_LOG" >&2
	return 1
}

# The table that follows "== TITLE" in the output, up to the next blank line.
smoke_table() {
	awk -v t="== $1" 'index($0, t) == 1 { on = 1; next } on && /^$/ { exit } on' "$SMOKE_LOG"
}

@test "bench-smoke exits 0" {
	[ "$(cat "$BATS_FILE_TMPDIR/smoke.status")" -eq 0 ] || smoke_fail "bench.sh smoke failed"
}

@test "connection cost: p50 and p99 for every system at 0 and 1k rules" {
	for title in "1. Connection cost, p50" "1. Connection cost, p99"; do
		table=$(smoke_table "$title")
		for rules in 0 1k; do
			row=$(echo "$table" | awk -v r="$rules" '$1 == r')
			[ -n "$row" ] || smoke_fail "$title: no row for $rules rules"
			# rules, 5 systems, 4 ratios: all numbers
			echo "$row" | awk 'NF == 10 { for (i = 2; i <= NF; i++) if ($i !~ /^[0-9]+(\.[0-9]+)?$/) exit 1; ok = 1 } END { exit !ok }' ||
				smoke_fail "$title: not a number for every system: $row"
		done
	done
	for sys in none cgfence iptl iptn nft; do
		for rules in 0 1000; do
			awk -F'\t' -v s=$sys -v r=$rules '$1 == r && $2 == s && $3 > 0 && $4 > 0 { ok = 1 } END { exit !ok }' \
				"$SMOKE_RES/connect.tsv" || smoke_fail "connect.tsv: no $sys at $rules rules"
		done
	done
	[ "$(head -c 4 "$SMOKE_RES/connect-cost.png" | tail -c 3)" = PNG ] || smoke_fail "no PNG plot"
}

@test "UDP sendto and iperf3: none and cgfence" {
	for mode in udp udp-new dns; do
		for sys in none cgfence; do
			awk -F'\t' -v m=$mode -v s=$sys '$1 == m && $3 == s && $4 > 0 && $5 > 0 { ok = 1 } END { exit !ok }' \
				"$SMOKE_RES/udp.tsv" || smoke_fail "udp.tsv: no $mode for $sys"
		done
	done
	for sys in none cgfence; do
		awk -F'\t' -v s=$sys '$2 == s && $3 > 0 { ok = 1 } END { exit !ok }' "$SMOKE_RES/iperf.tsv" ||
			smoke_fail "iperf.tsv: no throughput for $sys"
	done
	# rules, p50s, the same-round ratio and its spread, p99s and their ratio
	for row in "sendto, same socket, same peer" "sendto, first on a new socket" "DNS lookup, new socket each \(A\+AAAA\)"; do
		smoke_table "2. UDP: sendto" | grep -qE "^$row( +[0-9.]+){4} +[0-9.]+-[0-9.]+( +[0-9.]+){3}\$" ||
			smoke_fail "UDP table: no numbers for '$row'"
	done
	smoke_table "2. TCP bulk throughput" | grep -qE '^ *1000( +[0-9.]+){3}( +[0-9.]+-[0-9.]+){3}$' || smoke_fail "iperf3 table"
}

@test "every ratio row has its same-round median and spread" {
	table=$(smoke_table "1. Connection cost, same-round ratios")
	for rules in 0 1k; do
		echo "$table" | grep -qE "^ *$rules( +[0-9]+\.[0-9]{2} \([0-9]+\.[0-9]{2}-[0-9]+\.[0-9]{2}\)){4}\$" ||
			smoke_fail "same-round ratio table: no row for $rules rules"
	done
	for m in udp udp-new dns; do
		awk -F'\t' -v m=$m '$1 == m && $2 > 0 && $3 <= $2 && $2 <= $4 && $5 == 2 { ok = 1 } END { exit !ok }' \
			"$SMOKE_RES/udp_ratios.tsv" || smoke_fail "udp_ratios.tsv: no median within its spread for $m"
	done
}

@test "the hooks' floor: floor/none, cgfence/none and cgfence/floor for every workload" {
	for mode in udp udp-new dns; do
		awk -F'\t' -v m=$mode '$1 == m && $3 == "floor" && $4 > 0 { ok = 1 } END { exit !ok }' \
			"$SMOKE_RES/udp.tsv" || smoke_fail "udp.tsv: no $mode for the floor"
	done
	table=$(smoke_table "2. The hooks' floor")
	r='[0-9]+\.[0-9]{3} \([0-9]+\.[0-9]{3}-[0-9]+\.[0-9]{3}\)'
	for row in "TCP connection" "UDP sendto, same socket" "UDP sendto, first on a new socket" "DNS lookup"; do
		echo "$table" | grep -qE "^$row( +$r){3}\$" || smoke_fail "floor table: no ratios for '$row'"
	done
}

@test "load time and one-rule change: every system" {
	for sys in cgfence iptl iptn nft; do
		awk -F'\t' -v s=$sys '$1 == 1000 && $2 == s && $3 > 0 { ok = 1 } END { exit !ok }' "$SMOKE_RES/load.tsv" ||
			smoke_fail "load.tsv: no $sys"
		awk -F'\t' -v s=$sys '$2 == s && $3 > 0 { ok = 1 } END { exit !ok }' "$SMOKE_RES/change.tsv" ||
			smoke_fail "change.tsv: no $sys"
	done
	smoke_table "3. Loading a policy" | grep -qE '^ *1k( +[0-9.]+){7}$' || smoke_fail "load table"
	[ "$(smoke_table "3. Changing one rule" | grep -cE '[0-9]+\.[0-9]+ +[0-9]+\.[0-9]+ +[0-9]+\.[0-9]+$')" -eq 7 ] ||
		smoke_fail "change table"
	# the change was made in place, and its kernel work reported
	awk -F'\t' '$2 == "cgfence-kernel" && $3 > 0 { ok = 1 } END { exit !ok }' "$SMOKE_RES/change.tsv" ||
		smoke_fail "change.tsv: no in-place kernel figure for cgfence"
	grep -q '^== 5. Audit path' "$SMOKE_LOG" || smoke_fail "no audit placeholder"
}

@test "bench-smoke leaves no namespace, cgroup, bpffs pin or process behind" {
	id=$(sed -n 's/^run id: *//p' "$SMOKE_LOG")
	[ -n "$id" ] || smoke_fail "no run id in the output"
	run ip netns list
	[[ "$output" != *"$id"* ]] || smoke_fail "namespaces left: $output"
	[ ! -e "$(cgroup2_mount)/$id" ] || smoke_fail "cgroup left"
	[ ! -e "/sys/fs/bpf/$id" ] || smoke_fail "bpffs dir left"
	[ ! -e "/sys/fs/bpf/${id}_floor" ] || smoke_fail "the floor's programs left pinned"
	[ ! -e "/run/cgfence/$id" ] || smoke_fail "table mirrors left"
	! pgrep -f -- "--netns ${id}_" >/dev/null || smoke_fail "connbench still running"
}

@test "audit path: every burst row accounts for all its denials" {
	table=$(smoke_table "5. Audit path")
	for cpus in 1 2; do
		row=$(echo "$table" | awk -v c=$cpus '$1 == "after" && $2 == c && $3 == 1000')
		[ -n "$row" ] || smoke_fail "audit path: no row for a burst of 1000 from $cpus CPU(s)"
		# logged, undelivered, suppressed, two rates: numbers; then exact
		echo "$row" | awk '{ for (i = 4; i <= 8; i++) if ($i !~ /^[0-9]+$/) exit 1 }' ||
			smoke_fail "audit path: not a number in: $row"
		[[ "$row" == *" exact" ]] || smoke_fail "audit path: accounting does not add up: $row"
	done
}
