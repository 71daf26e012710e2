#!/bin/bash
# make bench / make bench-smoke: cgfence against no policy, iptables (legacy
# and nf_tables backends) and nftables, side by side, as the rules grow.
#
#   tests/bench/bench.sh full|smoke
#
# Every system gets its own network namespace (so one system's netfilter
# hooks never tax another) and its own cgroup; the load generator
# (build/tests/connbench) runs its client in that cgroup and its server
# outside it, on loopback inside the namespace. Systems are interleaved
# round by round so machine noise hits all of them alike.
#
# Rule sets: N decoy destinations 127.100.0.2, .3, ... (all inside
# 127.100.0.0/15, sharing leading bits with the tested 127.100.0.1, so an
# LPM lookup walks deep) plus the tested destination 127.100.0.1:PORT,
# which is always matched last:
#   cgfence    N+1 addresses spread over min(N+1, 256) TCP rules, the tested
#              address last in the last rule (the LPM makes one rule with N
#              addresses and N rules equivalent; a direction holds at most
#              1024 rules)
#   iptables   OUTPUT -m cgroup --path CG -j chain; one ACCEPT rule per
#              destination (-d ADDR -p tcp --dport PORT), the tested one
#              last, then DROP; loaded with iptables-restore
#   nftables   socket cgroupv2 level L "CG" jump chain; ip daddr . tcp dport
#              @set accept; drop (a hash set of ipv4_addr . inet_service)
# Stateless by default (every egress packet of the fenced client is
# judged); CGFBENCH_CONNTRACK=1 puts "ESTABLISHED,RELATED accept" first in
# the iptables and nftables chains, so only SYNs walk them.
#
# At the largest size, none against cgfence only: UDP sendto on one socket,
# a new socket's first sendto, and DNS lookups as getaddrinfo makes them
# (connbench udp, udp-new, dns), then iperf3.
#
# Every ratio row also gives the median of the same-round ratios (the two
# systems of one round ran side by side) and their spread, min-max; a
# warning names each figure whose spread is wider than its effect.
#
# Results: one table per measurement on stdout, TSVs, a Markdown report and
# a plot under build/bench (smoke: build/bench-smoke; CGFBENCH_RESULTS=DIR
# elsewhere). CGFBENCH_SIZES and CGFBENCH_ROUNDS override the defaults.
# Everything created (namespaces, rules, cgroups, bpffs pins, processes)
# is removed on exit, also on SIGINT/SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
MODE=${1:-full}
OUT=${OUT:-build}
CGFENCE=$REPO/$OUT/cgfence
CONNBENCH=$REPO/$OUT/tests/connbench
FLOOR_OBJ=$REPO/$OUT/tests/floor.bpf.o
case $OUT in /*) CGFENCE=$OUT/cgfence CONNBENCH=$OUT/tests/connbench FLOOR_OBJ=$OUT/tests/floor.bpf.o ;; esac

case $MODE in
full)
	SIZES="0 1000 10000 100000" ROUNDS=5 ITER=4000 BUDGET_MS=1500
	UDP_ITER=20000 UDP_NEW_ITER=5000 DNS_ITER=3000 IPERF_SECS=3 IPERF_ROUNDS=5
	LOAD_SIZES="1000 10000 100000" LOAD_REPS=5 CHANGE_REPS=7
	RES=$OUT/bench
	;;
smoke)
	SIZES="0 1000" ROUNDS=2 ITER=200 BUDGET_MS=300
	UDP_ITER=500 UDP_NEW_ITER=200 DNS_ITER=100 IPERF_SECS=1 IPERF_ROUNDS=1
	LOAD_SIZES="1000" LOAD_REPS=1 CHANGE_REPS=2
	RES=$OUT/bench-smoke
	;;
*)
	echo "usage: $0 full|smoke" >&2
	exit 2
	;;
esac
SIZES=${CGFBENCH_SIZES:-$SIZES}
ROUNDS=${CGFBENCH_ROUNDS:-$ROUNDS}
CONNTRACK=${CGFBENCH_CONNTRACK:-0}
RES=${CGFBENCH_RESULTS:-$RES}
TOP=${SIZES##* } # UDP, iperf3 and the one-rule change run at the largest size

SYSTEMS="none cgfence iptl iptn nft"
ADDR=127.100.0.1
PORT=$((20000 + RANDOM % 20000))

die() {
	echo "bench: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (cgroups, namespaces, BPF, netfilter)"
[ -x "$CGFENCE" ] && [ -x "$CONNBENCH" ] && [ -f "$FLOOR_OBJ" ] || die "build first: make all"
tools/deps.sh

CGMOUNT=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
[ -n "$CGMOUNT" ] || die "no cgroup2 mount in /proc/self/mountinfo"
# nft resolves "socket cgroupv2" paths under /sys/fs/cgroup, xt_cgroup
# under the cgroup2 root: the same cgroup has two names.
case $CGMOUNT in
/sys/fs/cgroup) NFT_PREFIX= ;;
/sys/fs/cgroup/*) NFT_PREFIX=${CGMOUNT#/sys/fs/cgroup/}/ ;;
*) die "nft looks for cgroups under /sys/fs/cgroup, but cgroup2 is at $CGMOUNT" ;;
esac

ID=cgfbench_$$
CGREL=$ID # cgroups of this run, relative to the cgroup2 root
CGROOT=$CGMOUNT/$CGREL
BPFFS=/sys/fs/bpf/$ID
FLOOR_PINS=/sys/fs/bpf/${ID}_floor
TMP=
NETNS_MADE=
BG_PIDS=

# ---- cleanup, also when interrupted ----

cleanup() {
	local status=$? d pid ns
	set +e
	trap - EXIT INT TERM
	for pid in $BG_PIDS; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -d "$CGROOT" ]; then
		# Our cgroups only: whatever still runs in them is ours.
		echo 1 >"$CGROOT/cgroup.kill" 2>/dev/null
		for _ in $(seq 50); do
			grep -q 'populated 0' "$CGROOT/cgroup.events" && break
			sleep 0.1
		done
		find "$CGROOT" -depth -type d | while read -r d; do
			"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$d" >/dev/null 2>&1
			rmdir "$d" 2>/dev/null || echo "bench: could not remove $d" >&2
		done
	fi
	for ns in $NETNS_MADE; do
		ip netns del "$ns" 2>/dev/null || echo "bench: could not remove netns $ns" >&2
	done
	rm -rf "$BPFFS" "$FLOOR_PINS" "/run/cgfence/$ID"
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/cgfbench.XXXXXX)
mkdir -p "$RES" "$CGROOT"
rm -f "$RES"/*.tsv "$RES"/*.png "$RES"/report.md

netns_make() { # NAME
	ip netns add "$1"
	NETNS_MADE="$NETNS_MADE $1"
	ip -n "$1" link set lo up
}

# Runs a command in a namespace without "ip netns exec", which remounts
# /sys and so hides the cgroup tree from nft.
in_netns() { # NAME COMMAND...
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# Microseconds that a shell command line takes (exec included), run in a
# namespace or, with "-", here.
elapsed_us() { # NETNS|- COMMAND-LINE
	local ns=$1 cmd=$2
	local timer='s=$EPOCHREALTIME; eval "$1" >/dev/null; e=$EPOCHREALTIME; echo $((${e/./} - ${s/./}))'
	if [ "$ns" = - ]; then
		bash -c "$timer" _ "$cmd"
	else
		in_netns "$ns" bash -c "$timer" _ "$cmd"
	fi
}

# ---- rule sets ----

# cgfence_policy N NAME PROTO and the decoys: tests/bench/policy_gen.sh
. tests/bench/policy_gen.sh

iptables_rules() { # N CGPATH
	awk -v n="$1" -v cg="$2" -v port="$PORT" -v target="$ADDR" -v ct="$CONNTRACK" "$DECOY_AWK"'
	BEGIN {
		print "*filter"
		print ":cgfbench_fence - [0:0]"
		print "-A OUTPUT -m cgroup --path " cg " -j cgfbench_fence"
		if (ct)
			print "-A cgfbench_fence -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
		for (i = 0; i < n; i++)
			printf "-A cgfbench_fence -d %s/32 -p tcp -m tcp --dport %d -j ACCEPT\n", decoy(i), port
		printf "-A cgfbench_fence -d %s/32 -p tcp -m tcp --dport %d -j ACCEPT\n", target, port
		print "-A cgfbench_fence -j DROP"
		print "COMMIT"
	}'
}

nft_rules() { # N CGPATH LEVEL
	awk -v n="$1" -v cg="$2" -v level="$3" -v port="$PORT" -v target="$ADDR" -v ct="$CONNTRACK" "$DECOY_AWK"'
	BEGIN {
		print "flush ruleset"
		print "table inet cgfbench {"
		print "  set allowed {"
		print "    type ipv4_addr . inet_service"
		printf "    elements = {"
		for (i = 0; i < n; i++)
			printf " %s . %d,%s", decoy(i), port, i % 8 == 7 ? "\n" : ""
		printf " %s . %d }\n  }\n", target, port
		print "  chain output {"
		print "    type filter hook output priority filter; policy accept;"
		printf "    socket cgroupv2 level %d \"%s\" jump fence\n  }\n", level, cg
		print "  chain fence {"
		if (ct)
			print "    ct state established,related accept"
		print "    ip daddr . tcp dport @allowed accept"
		print "    drop"
		print "  }"
		print "}"
	}'
}

# "level" of socket cgroupv2: the depth of the cgroup below the root.
cgroup_level() { # RELPATH
	echo "$1" | awk -F/ '{ print NF }'
}

# Replaces a system's rules with the N-destination set (one atomic load).
load_system() { # SYSTEM N
	local sys=$1 n=$2 f
	case $sys in
	none) ;;
	cgfence)
		f=$TMP/cgfence_tcp_$n.json
		cgfence_policy "$n" "cgfbench-$n" tcp >"$f"
		"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGROOT/cgfence" --policy "$f" >/dev/null
		;;
	iptl | iptn)
		f=$TMP/iptables_$n.rules
		[ -f "$f" ] || iptables_rules "$n" "$CGREL/$sys" >"$f"
		# Both systems use the chain in their own namespace, same text
		# apart from the cgroup path.
		sed "s|--path $CGREL/[a-z]*|--path $CGREL/$sys|" "$f" >"$f.$sys"
		if [ "$sys" = iptl ]; then
			in_netns "${ID}_$sys" iptables-legacy-restore <"$f.$sys"
		else
			in_netns "${ID}_$sys" iptables-nft-restore <"$f.$sys"
		fi
		;;
	nft)
		f=$TMP/nft_$n.nft
		nft_rules "$n" "$NFT_PREFIX$CGREL/nft" "$(cgroup_level "$CGREL/nft")" >"$f"
		in_netns "${ID}_nft" nft -f "$f"
		;;
	esac
}

# ---- tables: aligned text on stdout, Markdown in report.md ----

# A display table is a TSV whose first line is the header.
show_table() { # TITLE FILE [NOTE]
	local title=$1 file=$2 note=${3:-}
	printf '\n== %s\n' "$title"
	# Numbers right-aligned, words left-aligned.
	awk -F'\t' '
		{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i)
			if (NR > 1 && $i !~ /^(-|[0-9.]+k?)$/) text[i] = 1 } nf[NR] = NF }
		END { for (r = 1; r <= NR; r++) { line = ""
			for (i = 1; i <= nf[r]; i++) line = line (i > 1 ? "  " : "") sprintf(text[i] ? "%-*s" : "%*s", w[i], cell[r, i])
			sub(/ +$/, "", line); print line } }
	' "$file"
	[ -n "$note" ] && printf '%s\n' "$note" | fold -s -w 100
	{
		printf '\n### %s\n\n' "$title"
		awk -F'\t' 'NR == FNR { if (FNR > 1) for (i = 1; i <= NF; i++) if ($i !~ /^(-|[0-9.]+k?)$/) text[i] = 1; next }
			{ line = "|"; for (i = 1; i <= NF; i++) line = line " " $i " |"; print line
			  if (FNR == 1) { line = "|"; for (i = 1; i <= NF; i++) line = line (text[i] ? "---|" : "---:|"); print line } }' "$file" "$file"
		[ -n "$note" ] && printf '\n%s\n' "$note"
	} >>"$RES/report.md"
	return 0
}

# ---- same-round ratios: what every ratio row also gives ----

# For each key, the ratio NUM/DEN of one value within each round (the two
# systems measured side by side, interleaved), then the median of those
# ratios and their spread: key...<TAB>median<TAB>min<TAB>max<TAB>rounds, keys
# in the order first seen. One lucky round moves the median of five by
# nothing and shows in the spread.
same_round_ratios() { # FILE KEY-COLUMNS(a,b) SYSTEM-COL ROUND-COL VALUE-COL NUM DEN
	awk -F'\t' -v OFS='\t' -v keys="$2" -v sc="$3" -v rc="$4" -v vc="$5" -v num="$6" -v den="$7" '
		NR == 1 { nk = split(keys, kc, ","); next }
		{ k = $kc[1]; for (i = 2; i <= nk; i++) k = k OFS $kc[i]
		  if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		  if (!((k, $rc) in inround)) { inround[k, $rc] = 1; rounds[k] = rounds[k] " " $rc }
		  if ($sc == num) a[k, $rc] = $vc
		  if ($sc == den) b[k, $rc] = $vc }
		END {
			for (j = 1; j <= n; j++) {
				k = order[j]; cnt = 0
				nr = split(rounds[k], rl, " ")
				for (i = 1; i <= nr; i++)
					if ((k, rl[i]) in a && (k, rl[i]) in b && b[k, rl[i]] > 0)
						v[++cnt] = a[k, rl[i]] / b[k, rl[i]]
				if (!cnt) continue
				for (x = 2; x <= cnt; x++) { t = v[x]; for (y = x - 1; y >= 1 && v[y] > t; y--) v[y + 1] = v[y]; v[y + 1] = t }
				med = cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
				printf "%s\t%.3f\t%.3f\t%.3f\t%d\n", k, med, v[1], v[cnt], cnt
			}
		}' "$1"
}

# "1.03 (1.01-1.05)": a same-round median and its spread, for a table cell.
ratio_cell() { # MEDIAN MIN MAX
	printf '%.2f (%.2f-%.2f)' "$1" "$2" "$3"
}

# A warning for every ratio whose rounds disagree by more than the effect
# it measures (max - min > |median - 1|): that figure cannot tell the two
# systems apart on this run. Lines "WHAT<TAB>median<TAB>min<TAB>max".
RATIO_WARNINGS=
ratio_warnings() { # FILE
	local w
	w=$(awk -F'\t' '{ effect = $2 > 1 ? $2 - 1 : 1 - $2 }
		$4 - $3 > effect + 0.0005 {
			printf "warning: %s: the rounds span %.2f-%.2f, more than the effect measured (median %.2f, %+.1f%%): on this run noise decides this figure\n", $1, $3, $4, $2, ($2 - 1) * 100 }' "$1")
	[ -z "$w" ] && return 0
	printf '%s\n' "$w" | fold -s -w 100
	printf '%s\n' "$w" | sed 's/^warning/\n**warning**/' >>"$RES/report.md"
	RATIO_WARNINGS="$RATIO_WARNINGS$w"$'\n'
}

# ---- the machine ----

machine_description() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	echo "kernel:    $(uname -r) ($(uname -m))"
	echo "cpu:       $cpu, $(nproc) CPUs$(grep -q hypervisor /proc/cpuinfo && echo ', virtual machine')"
	echo "memory:    $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "os:        $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "tools:     $(iptables-legacy --version), $(nft --version | cut -d' ' -f1-2), $(iperf3 --version | head -n 1 | cut -d' ' -f1-2)"
	echo "cgroup2:   $CGMOUNT"
	echo "load avg:  $(cut -d' ' -f1-3 /proc/loadavg) at start (other work on the machine adds noise)"
	echo "run id:    $ID"
	echo "mode:      $MODE: sizes $SIZES, $ROUNDS rounds, up to $ITER exchanges or ${BUDGET_MS} ms per system and round, conntrack $CONNTRACK"
}

# ---- 1. connection cost ----

# connbench targets "label=netns:cgroup" for the given systems.
targets() { # SYSTEM...
	local sys
	for sys in "$@"; do
		printf '%s=%s:%s ' "$sys" "${ID}_$sys" "$CGROOT/$sys"
	done
}

# Rotates the system list by one per round.
round_order() { # ROUND SYSTEM...
	local r=$1
	shift
	echo "$@" | awk -v r="$r" '{ for (i = 0; i < NF; i++) printf "%s ", $((i + r) % NF + 1); print "" }'
}

# One connbench run over several systems, taking turns in 2 ms slices;
# appends "PREFIX<TAB>system<TAB>round<TAB>n<TAB>p50<TAB>p99" lines.
interleaved_run() { # PREFIX ROUND FILE CONNBENCH-ARGS... -- SYSTEM...
	local prefix=$1 round=$2 file=$3 args=() out
	shift 3
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	out=$("$CONNBENCH" "${args[@]}" $(targets $(round_order "$round" "$@"))) ||
		die "connbench ${args[*]} failed (is the allowed flow blocked?)"
	echo "$out" | sed -E "s/^target=([a-z]+) mode=[a-z-]+ n=([0-9]+) p50_ns=([0-9]+) p99_ns=([0-9]+).*/$prefix\t\1\t$round\t\2\t\3\t\4/" >>"$file"
}

bench_connect() { # N
	local n=$1 sys r
	for sys in $SYSTEMS; do
		load_system "$sys" "$n"
	done
	# A check that every system lets the allowed flow through.
	"$CONNBENCH" --warmup 0 tcp "$ADDR" "$PORT" 20 $(targets $SYSTEMS) >/dev/null ||
		die "a system blocks the allowed flow at $n rules"
	for r in $(seq "$ROUNDS"); do
		interleaved_run "$n" "$r" "$RES/connect_rounds.tsv" \
			--budget-ms "$BUDGET_MS" tcp "$ADDR" "$PORT" "$ITER" -- $SYSTEMS
	done
	printf '  %s rules: done\n' "$n" >&2
}

# connect.tsv: best-of-rounds p50 (the minimum of the per-round medians)
# and the median of the per-round p99s.
connect_summary() {
	printf 'rules\tsystem\tp50_ns\tp99_ns\trounds\tsamples\n' >"$RES/connect.tsv"
	tail -n +2 "$RES/connect_rounds.tsv" | sort -t$'\t' -k1,1n -k2,2 -k6,6n | awk -F'\t' -v OFS='\t' '
		function flush() { if (key != "") print rules, sys, best, p99[int((cnt + 1) / 2)], cnt, samples }
		{ k = $1 SUBSEP $2
		  if (k != key) { flush(); key = k; rules = $1; sys = $2; cnt = 0; best = ""; samples = 0 }
		  p99[++cnt] = $6; samples += $4; if (best == "" || $5 < best) best = $5 }
		END { flush() }' >>"$RES/connect.tsv"
}

connect_table() { # p50_ns|p99_ns FILE
	local col=$1
	awk -F'\t' -v col="$col" -v systems="$SYSTEMS" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		{ v[$1, $2] = $c; if (!($1 in seen)) { seen[$1] = 1; order[++nr] = $1 } }
		function us(x) { return x == "" ? "-" : sprintf("%.1f", x / 1000) }
		function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }
		function rules(n) { return n >= 1000 && n % 1000 == 0 ? n / 1000 "k" : n }
		BEGIN { ns = split(systems, s, " ")
			lab["none"] = "none"; lab["cgfence"] = "cgfence"; lab["iptl"] = "iptables-legacy"; lab["iptn"] = "iptables-nft"; lab["nft"] = "nftables" }
		END {
			line = "rules"; for (i = 1; i <= ns; i++) line = line "\t" lab[s[i]] " (us)"
			print line "\tcgfence/none\tiptables-legacy/cgfence\tiptables-nft/cgfence\tnftables/cgfence"
			for (r = 1; r <= nr; r++) {
				n = order[r]; line = rules(n)
				for (i = 1; i <= ns; i++) line = line "\t" us(v[n, s[i]])
				cg = v[n, "cgfence"]
				print line "\t" ratio(cg, v[n, "none"]) "\t" ratio(v[n, "iptl"], cg) "\t" ratio(v[n, "iptn"], cg) "\t" ratio(v[n, "nft"], cg)
			}
		}' "$RES/connect.tsv" >"$2"
}

connect_plot() {
	local dat=$TMP/connect.dat sys
	: >"$dat"
	for sys in $SYSTEMS; do
		# log-x has no 0: the 0-rule point is drawn at x=100, labelled "0".
		awk -F'\t' -v s="$sys" 'NR > 1 && $2 == s { printf "%d %.3f\n", $1 == 0 ? 100 : $1, $3 / 1000 }' \
			"$RES/connect.tsv" >>"$dat"
		printf '\n\n' >>"$dat"
	done
	gnuplot <<EOF
set terminal pngcairo size 900,560 font "sans,11"
set output "$RES/connect-cost.png"
set title "TCP connect + 1-byte request/reply + close from a fenced cgroup (p50, best of $ROUNDS rounds)"
set xlabel "rules (allowed destination matched last)"
set ylabel "microseconds per connection (log)"
set logscale xy
set xtics ("0" 100, "1k" 1000, "10k" 10000, "100k" 100000)
set xrange [70:150000]
set key top left
set grid
plot for [i=0:4] "$dat" index i using 1:2 with linespoints lw 2 pt 7 \
	title word("none cgfence iptables-legacy iptables-nft nftables", i + 1)
EOF
}

# The same-round ratios of the p50s, per rule count, and their warnings.
connect_ratio_table() { # TABLE-FILE WARNINGS-FILE
	local pair num den lab
	for pair in cgfence/none iptl/cgfence iptn/cgfence nft/cgfence; do
		num=${pair%/*} den=${pair#*/}
		same_round_ratios "$RES/connect_rounds.tsv" 1 2 3 5 "$num" "$den" >"$TMP/ratio_$num"
	done
	awk -F'\t' '
		FNR == 1 { f++ }
		{ cell[f, $1] = sprintf("%.2f (%.2f-%.2f)", $2, $3, $4); if (f == 1) order[++n] = $1 }
		function rules(x) { return x >= 1000 && x % 1000 == 0 ? x / 1000 "k" : x }
		function c(i, k) { return (i, k) in cell ? cell[i, k] : "-" }
		END { print "rules\tcgfence/none\tiptables-legacy/cgfence\tiptables-nft/cgfence\tnftables/cgfence"
		      for (r = 1; r <= n; r++) print rules(order[r]) "\t" c(1, order[r]) "\t" c(2, order[r]) "\t" c(3, order[r]) "\t" c(4, order[r]) }' \
		"$TMP/ratio_cgfence" "$TMP/ratio_iptl" "$TMP/ratio_iptn" "$TMP/ratio_nft" >"$1"
	: >"$2"
	for pair in cgfence/none iptl/cgfence iptn/cgfence nft/cgfence; do
		num=${pair%/*}
		case $pair in iptl/*) lab=iptables-legacy/cgfence ;; iptn/*) lab=iptables-nft/cgfence ;; nft/*) lab=nftables/cgfence ;; *) lab=$pair ;; esac
		awk -F'\t' -v OFS='\t' -v lab="$lab" '{ r = $1 >= 1000 && $1 % 1000 == 0 ? $1 / 1000 "k" : $1
			print lab " at " r " rules (connection p50)", $2, $3, $4 }' "$TMP/ratio_$num" >>"$2"
	done
}

# ---- the hooks' floor: what the kernel charges for running programs ----

# A cgroup "floor", in a namespace of its own: tests/bench/floor.sh.
. tests/bench/floor.sh

# The TCP connection at the largest size, cgfence's TCP policy loaded.
bench_floor_tcp() {
	local r
	for r in $(seq "$ROUNDS"); do
		interleaved_run "tcp	$TOP" "$r" "$RES/floor_rounds.tsv" \
			--budget-ms "$BUDGET_MS" tcp "$ADDR" "$PORT" "$ITER" -- none floor cgfence
	done
}

# Per workload: floor/none, cgfence/none and cgfence/floor of the same
# rounds (tcp from bench_floor_tcp, the datagram ones from bench_udp).
floor_table() {
	local pair
	for pair in floor/none cgfence/none cgfence/floor; do
		same_round_ratios "$RES/floor_rounds.tsv" 1 3 4 6 "${pair%/*}" "${pair#*/}" >"$TMP/floor_${pair%/*}_${pair#*/}"
	done
	awk -F'\t' -v OFS='\t' '
		FNR == 1 { f++ }
		{ cell[f, $1] = sprintf("%.3f (%.3f-%.3f)", $2, $3, $4); if (f == 1) order[++n] = $1 }
		function c(i, k) { return (i, k) in cell ? cell[i, k] : "-" }
		END {
			name["tcp"] = "TCP connection"; name["udp"] = "UDP sendto, same socket"
			name["udp-new"] = "UDP sendto, first on a new socket"; name["dns"] = "DNS lookup"
			print "workload\tfloor/none (the kernel hooks)\tcgfence/none\tcgfence/floor (cgfence programs)"
			for (r = 1; r <= n; r++) print name[order[r]] "\t" c(1, order[r]) "\t" c(2, order[r]) "\t" c(3, order[r])
		}' "$TMP/floor_floor_none" "$TMP/floor_cgfence_none" "$TMP/floor_cgfence_floor" >"$TMP/floor.table"
	awk -F'\t' -v OFS='\t' '{ print "cgfence/floor, " $1 " (p50)", $2, $3, $4 }' "$TMP/floor_cgfence_floor" >"$TMP/floor_ratio.warn"
}

# ---- 2. UDP sendto and iperf3 (none vs cgfence at the largest size) ----

bench_udp() {
	local f=$TMP/cgfence_udp_$TOP.json r mode iter
	cgfence_policy "$TOP" "cgfbench-udp-$TOP" udp >"$f"
	"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGROOT/cgfence" --policy "$f" >/dev/null
	printf 'mode\trules\tsystem\tround\tn\tp50_ns\tp99_ns\n' >"$RES/udp_rounds.tsv"
	for r in $(seq "$ROUNDS"); do
		for mode in udp udp-new dns; do
			case $mode in udp) iter=$UDP_ITER ;; udp-new) iter=$UDP_NEW_ITER ;; dns) iter=$DNS_ITER ;; esac
			interleaved_run "$mode	$TOP" "$r" "$RES/udp_rounds.tsv" \
				--budget-ms "$BUDGET_MS" "$mode" "$ADDR" "$PORT" "$iter" -- none cgfence floor
		done
	done
	# udp.tsv: per mode and system, the median of the rounds' p50s and
	# p99s; then the same-round ratios of the p50s.
	printf 'mode\trules\tsystem\tp50_ns\tp99_ns\n' >"$RES/udp.tsv"
	tail -n +2 "$RES/udp_rounds.tsv" | sort -t$'\t' -k1,1 -k3,3 | awk -F'\t' -v OFS='\t' '
		function med(v, n,  x, y, t) { for (x = 2; x <= n; x++) { t = v[x]; for (y = x - 1; y >= 1 && v[y] > t; y--) v[y + 1] = v[y]; v[y + 1] = t }
			return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
		function flush() { if (key != "") print mode, rules, sys, int(med(p50, cnt)), int(med(p99, cnt)) }
		{ k = $1 SUBSEP $3
		  if (k != key) { flush(); key = k; mode = $1; rules = $2; sys = $3; cnt = 0 }
		  cnt++; p50[cnt] = $6; p99[cnt] = $7 }
		END { flush() }' >>"$RES/udp.tsv"
	same_round_ratios "$RES/udp_rounds.tsv" 1 3 4 6 cgfence none >"$TMP/udp_ratio"
	same_round_ratios "$RES/udp_rounds.tsv" 1 3 4 7 cgfence none >"$TMP/udp_ratio99"
	awk -F'\t' -v OFS='\t' 'BEGIN { print "mode\tmedian\tmin\tmax\trounds" } 1' "$TMP/udp_ratio" >"$RES/udp_ratios.tsv"
	awk -F'\t' -v rounds="$ROUNDS" '
		FILENAME ~ /udp_ratio99$/ { r99[$1] = sprintf("%.2f", $2); next }
		FILENAME ~ /udp_ratio$/ { r50[$1] = sprintf("%.2f", $2); spread[$1] = sprintf("%.2f-%.2f", $3, $4); next }
		FNR > 1 { p50[$1, $3] = $4; p99[$1, $3] = $5; rules = $2 }
		END {
			print "workload\trules\tnone p50 (ns)\tcgfence p50 (ns)\tcgfence/none p50\tspread of " rounds " rounds\tnone p99 (ns)\tcgfence p99 (ns)\tcgfence/none p99"
			split("udp udp-new dns", m, " ")
			name["udp"] = "sendto, same socket, same peer"; name["udp-new"] = "sendto, first on a new socket"
			name["dns"] = "DNS lookup, new socket each (A+AAAA)"
			for (i = 1; i <= 3; i++)
				print name[m[i]] "\t" rules "\t" p50[m[i], "none"] "\t" p50[m[i], "cgfence"] "\t" r50[m[i]] "\t" spread[m[i]] "\t" p99[m[i], "none"] "\t" p99[m[i], "cgfence"] "\t" r99[m[i]]
		}' "$TMP/udp_ratio" "$TMP/udp_ratio99" "$RES/udp.tsv" >"$TMP/udp.table"
	awk -F'\t' -v OFS='\t' '{ n = $1 == "udp" ? "UDP same socket" : $1 == "udp-new" ? "UDP new socket" : "DNS lookup"
		print "cgfence/none, " n " (p50)", $2, $3, $4 }' "$TMP/udp_ratio" >"$TMP/udp_ratio.warn"
}

iperf_run() { # SYSTEM -> Gbit/s
	local sys=$1 pid json
	in_netns "${ID}_$sys" iperf3 -s -1 -B "$ADDR" -p "$PORT" >/dev/null 2>&1 &
	pid=$!
	BG_PIDS="$BG_PIDS $pid"
	for _ in $(seq 50); do
		in_netns "${ID}_$sys" ss -Hltn "sport = :$PORT" | grep -q . && break
		sleep 0.05
	done
	json=$(in_netns "${ID}_$sys" sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ \
		"$CGROOT/$sys" iperf3 -c "$ADDR" -p "$PORT" -t "$IPERF_SECS" -J) ||
		die "iperf3 failed for $sys: $(echo "$json" | jq -r .error 2>/dev/null)"
	wait "$pid" 2>/dev/null || true
	echo "$json" | jq -r '.end.sum_received.bits_per_second / 1e9'
}

bench_iperf() {
	local r sys
	load_system cgfence "$TOP"
	printf 'rules\tsystem\tround\tgbit_s\n' >"$RES/iperf_rounds.tsv"
	for r in $(seq "$IPERF_ROUNDS"); do
		for sys in $( ((r % 2)) && echo none cgfence || echo cgfence none); do
			printf '%s\t%s\t%s\t%.2f\n' "$TOP" "$sys" "$r" "$(iperf_run "$sys")" >>"$RES/iperf_rounds.tsv"
		done
	done
	printf 'rules\tsystem\tgbit_s\tmin_gbit_s\tmax_gbit_s\n' >"$RES/iperf.tsv"
	tail -n +2 "$RES/iperf_rounds.tsv" | sort -t$'\t' -k2,2 -k4,4n | awk -F'\t' -v OFS='\t' '
		function flush() { if (sys != "") print rules, sys, v[int((cnt + 1) / 2)], v[1], v[cnt] }
		$2 != sys { flush(); sys = $2; rules = $1; cnt = 0 }
		{ v[++cnt] = $4 }
		END { flush() }' >>"$RES/iperf.tsv"
	same_round_ratios "$RES/iperf_rounds.tsv" 1 2 3 4 cgfence none >"$TMP/iperf_ratio"
	awk -F'\t' -v OFS='\t' '{ print "cgfence/none, iperf3 throughput", $2, $3, $4 }' "$TMP/iperf_ratio" >"$TMP/iperf_ratio.warn"
	awk -F'\t' 'FILENAME ~ /iperf_ratio$/ { ratio = sprintf("%.2f", $2); spread = sprintf("%.2f-%.2f", $3, $4); next }
		FNR > 1 { g[$2] = $3; range[$2] = $4 "-" $5; rules = $1 }
		END { print "rules\tnone (Gbit/s)\tcgfence (Gbit/s)\tcgfence/none\tspread\tnone, all rounds\tcgfence, all rounds"
		      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rules, g["none"], g["cgfence"], ratio, spread, range["none"], range["cgfence"] }' \
		"$TMP/iperf_ratio" "$RES/iperf.tsv" >"$TMP/iperf.table"
}

# ---- 3. load time, and changing one rule ----

bench_load() {
	local n rep sys us f cg
	for sys in iptl iptn nft; do
		netns_make "${ID}_load_$sys"
	done
	printf 'rules\tsystem\trep\tms\n' >"$RES/load_rounds.tsv"
	for n in $LOAD_SIZES; do
		f=$TMP/iptables_load_$n.rules
		iptables_rules "$n" "$CGREL/iptl" >"$f"
		nft_rules "$n" "$NFT_PREFIX$CGREL/nft" "$(cgroup_level "$CGREL/nft")" | grep -v '^flush ruleset' >"$TMP/nft_load_$n.nft"
		for rep in $(seq "$LOAD_REPS"); do
			# A new name each time: identical policies share tables.
			cgfence_policy "$n" "cgfbench-load-$n-$rep" tcp >"$TMP/cgfence_load.json"
			cg=$CGROOT/load_${n}_$rep
			mkdir "$cg"
			us=$(elapsed_us - "'$CGFENCE' apply --without-bpf-lsm --bpffs '$BPFFS' --cgroup '$cg' --policy '$TMP/cgfence_load.json'")
			printf '%s\tcgfence\t%s\t%s\n' "$n" "$rep" "$us" >>"$RES/load_rounds.tsv"
			"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg" >/dev/null
			rmdir "$cg"

			for sys in iptl iptn; do
				local tool=iptables-legacy-restore
				[ "$sys" = iptn ] && tool=iptables-nft-restore
				printf '*filter\nCOMMIT\n' | in_netns "${ID}_load_$sys" $tool
				us=$(elapsed_us "${ID}_load_$sys" "$tool <'$f'")
				printf '%s\t%s\t%s\t%s\n' "$n" "$sys" "$rep" "$us" >>"$RES/load_rounds.tsv"
			done
			in_netns "${ID}_load_nft" nft flush ruleset
			us=$(elapsed_us "${ID}_load_nft" "nft -f '$TMP/nft_load_$n.nft'")
			printf '%s\tnft\t%s\t%s\n' "$n" "$rep" "$us" >>"$RES/load_rounds.tsv"
		done
	done
	printf '*filter\nCOMMIT\n' | in_netns "${ID}_load_iptl" iptables-legacy-restore
	printf '*filter\nCOMMIT\n' | in_netns "${ID}_load_iptn" iptables-nft-restore
	in_netns "${ID}_load_nft" nft flush ruleset

	# Median of the repetitions, in milliseconds.
	printf 'rules\tsystem\tms\n' >"$RES/load.tsv"
	tail -n +2 "$RES/load_rounds.tsv" | sort -t$'\t' -k1,1n -k2,2 -k4,4n | awk -F'\t' -v OFS='\t' '
		function flush() { if (key != "") printf "%s\t%s\t%.1f\n", rules, sys, v[int((cnt + 1) / 2)] / 1000 }
		{ k = $1 SUBSEP $2; if (k != key) { flush(); key = k; rules = $1; sys = $2; cnt = 0 } v[++cnt] = $4 }
		END { flush() }' >>"$RES/load.tsv"
	awk -F'\t' '
		NR > 1 { v[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++nr] = $1 } }
		function r(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
		function rules(n) { return n >= 1000 && n % 1000 == 0 ? n / 1000 "k" : n }
		END {
			print "rules\tcgfence apply (ms)\tiptables-legacy-restore (ms)\tiptables-nft-restore (ms)\tnft -f (ms)\tiptables-legacy/cgfence\tiptables-nft/cgfence\tnft/cgfence"
			for (i = 1; i <= nr; i++) { n = order[i]; c = v[n, "cgfence"]
				print rules(n) "\t" c "\t" v[n, "iptl"] "\t" v[n, "iptn"] "\t" v[n, "nft"] "\t" r(v[n, "iptl"], c) "\t" r(v[n, "iptn"], c) "\t" r(v[n, "nft"], c) }
		}' "$RES/load.tsv" >"$TMP/load.table"
}

# Runs at the largest size with the systems loaded: one more destination
# (iptables -I, nft add element) or one address changed (cgfence re-apply).
bench_change() {
	local rep us a f start out kus
	printf 'rules\tsystem\trep\tus\n' >"$RES/change_rounds.tsv"
	a=$TMP/cgfence_tcp_$TOP.json
	# Every change is a new policy, one address away from the one before:
	# cgfence keeps the tables of policies it saw, so going back and forth
	# between two would only measure finding them again.
	for rep in $(seq "$CHANGE_REPS"); do
		f=$TMP/cgfence_change_$rep.json
		if [ "$TOP" -eq 0 ]; then # no decoy to move: add a port to the only rule
			sed "s/\"ports\": \[$PORT\]/\"ports\": [$PORT, $rep]/" "$a" >"$f"
		else # move decoy number rep to 127.200.0.rep
			awk -v rep="$rep" -v old="\"$(awk "$DECOY_AWK"' BEGIN { print decoy(ARGV[1] - 1) }' "$rep")\"" \
				'!done && (i = index($0, old)) { $0 = substr($0, 1, i - 1) "\"127.200.0." rep "\"" substr($0, i + length(old)); done = 1 } 1' "$a" >"$f"
		fi
		cmp -s "$a" "$f" && die "could not derive a one-rule change of $a"
		a=$f
		# The cgroup is alone on its policy, so cgfence changes it in place
		# and reports the kernel work of the change (writes and flip).
		start=$(date +%s%N)
		out=$("$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGROOT/cgfence" --policy "$f")
		us=$((($(date +%s%N) - start) / 1000))
		printf '%s\tcgfence\t%s\t%s\n' "$TOP" "$rep" "$us" >>"$RES/change_rounds.tsv"
		kus=$(echo "$out" | sed -n 's/.*, \([0-9]*\)\(\.[0-9]*\)\{0,1\} us in the kernel.*/\1/p')
		[ -n "$kus" ] && printf '%s\tcgfence-kernel\t%s\t%s\n' "$TOP" "$rep" "$kus" >>"$RES/change_rounds.tsv"
		us=$(elapsed_us - "'$CGFENCE' check '$f'")
		printf '%s\tcgfence-check\t%s\t%s\n' "$TOP" "$rep" "$us" >>"$RES/change_rounds.tsv"
		us=$(elapsed_us "${ID}_iptl" "iptables-legacy -w -I cgfbench_fence 1 -d 127.200.1.$rep/32 -p tcp --dport $PORT -j ACCEPT")
		printf '%s\tiptl\t%s\t%s\n' "$TOP" "$rep" "$us" >>"$RES/change_rounds.tsv"
		us=$(elapsed_us "${ID}_iptn" "iptables-nft -w -I cgfbench_fence 1 -d 127.200.1.$rep/32 -p tcp --dport $PORT -j ACCEPT")
		printf '%s\tiptn\t%s\t%s\n' "$TOP" "$rep" "$us" >>"$RES/change_rounds.tsv"
		us=$(elapsed_us "${ID}_nft" "nft add element inet cgfbench allowed '{ 127.200.1.$rep . $PORT }'")
		printf '%s\tnft\t%s\t%s\n' "$TOP" "$rep" "$us" >>"$RES/change_rounds.tsv"
		us=$(elapsed_us - /bin/true)
		printf '%s\tnoop\t%s\t%s\n' "$TOP" "$rep" "$us" >>"$RES/change_rounds.tsv"
	done
	printf 'rules\tsystem\tmedian_us\tmin_us\n' >"$RES/change.tsv"
	tail -n +2 "$RES/change_rounds.tsv" | sort -t$'\t' -k2,2 -k4,4n | awk -F'\t' -v OFS='\t' '
		function flush() { if (sys != "") print rules, sys, v[int((cnt + 1) / 2)], v[1] }
		$2 != sys { flush(); sys = $2; rules = $1; cnt = 0 }
		{ v[++cnt] = $4 }
		END { flush() }' >>"$RES/change.tsv"
	awk -F'\t' '
		NR > 1 { med[$2] = $3; mn[$2] = $4; rules = $1 }
		function ms(x) { return sprintf("%.3f", x / 1000) }
		END {
			print "system\tchange of one rule at " rules " rules\tmedian (ms)\tmin (ms)\t/ cgfence"
			split("cgfence cgfence-kernel iptl iptn nft cgfence-check noop", s, " ")
			what["cgfence"] = "cgfence apply (one address changed), whole command"
			what["cgfence-kernel"] = "  of which kernel work: trie and mask writes + flip"
			what["iptl"] = "iptables-legacy -I (one rule added)"
			what["iptn"] = "iptables-nft -I (one rule added)"
			what["nft"] = "nft add element (one element added)"
			what["cgfence-check"] = "for scale: cgfence check (parse + validate only)"
			what["noop"] = "for scale: exec of /bin/true"
			lab["cgfence"] = "cgfence"; lab["iptl"] = "iptables-legacy"; lab["iptn"] = "iptables-nft"; lab["nft"] = "nftables"
			lab["cgfence-check"] = "cgfence"; lab["noop"] = "-"; lab["cgfence-kernel"] = "cgfence"
			for (i = 1; i <= 7; i++) {
				if (!(s[i] in med)) { print lab[s[i]] "\t" what[s[i]] " (not in place: rebuilt)\t-\t-\t-"; continue }
				print lab[s[i]] "\t" what[s[i]] "\t" ms(med[s[i]]) "\t" ms(mn[s[i]]) "\t" (med["cgfence"] ? sprintf("%.3f", med[s[i]] / med["cgfence"]) : "-")
			}
		}' "$RES/change.tsv" >"$TMP/change.table"
}

# ---- 4. container start (tests/bench/hook_overhead.sh) ----

bench_hook() {
	local script=tests/bench/hook_overhead.sh
	printf '\n### Container start with and without the cgfence hook\n\n' >>"$RES/report.md"
	if [ "$MODE" = smoke ]; then
		echo "(not run in smoke mode)" | tee -a "$RES/report.md"
	elif [ -x "$script" ]; then
		printf '\n== Container start (%s)\n' "$script"
		CGFBENCH_MODE=$MODE CGFBENCH_OUT=$RES "$script" | tee "$RES/hook_overhead.txt" ||
			echo "FAILED: $script exited with an error; no figure." | tee -a "$RES/hook_overhead.txt"
		{ echo '```'; cat "$RES/hook_overhead.txt"; echo '```'; } >>"$RES/report.md"
	else
		printf '\n== Container start with and without the cgfence hook\n'
		echo "NOT MEASURED: $script does not exist yet (being written with the OCI hook)." |
			tee -a "$RES/report.md"
	fi
}

# ---- main ----

{
	echo "# cgfence benchmark ($MODE)"
	echo
	echo '```'
	machine_description
	echo '```'
} >"$RES/report.md"
echo "== Machine"
machine_description | tee "$RES/machine.txt"

for sys in $SYSTEMS floor; do
	netns_make "${ID}_$sys"
	mkdir "$CGROOT/$sys"
done
floor_attach "$FLOOR_OBJ" "$FLOOR_PINS" "$CGROOT/floor"

printf 'rules\tsystem\tround\tn\tp50_ns\tp99_ns\n' >"$RES/connect_rounds.tsv"
echo "running: connection cost at $SIZES rules ($ROUNDS rounds)" >&2
for n in $SIZES; do
	bench_connect "$n"
done
connect_summary
CONNECT_NOTE="iptables and nftables $( ((CONNTRACK)) && echo 'stateful (ESTABLISHED accepted first: only SYNs walk the chain)' || echo 'stateless (every egress packet of the fenced client is judged)'). Within a round the systems take turns in 2 ms slices; each gets up to $ITER exchanges or ${BUDGET_MS} ms. p50: the best of $ROUNDS rounds' medians; p99: the median of the rounds' p99s. 0 rules: only the allowed destination (the hooks and the match are in place)."
connect_table p50_ns "$TMP/connect_p50.table"
connect_table p99_ns "$TMP/connect_p99.table"
show_table "1. Connection cost, p50 (TCP connect + 1-byte request/reply + close)" "$TMP/connect_p50.table" "$CONNECT_NOTE"
connect_ratio_table "$TMP/connect_ratio.table" "$TMP/connect_ratio.warn"
show_table "1. Connection cost, same-round ratios of the p50s: median (min-max) of $ROUNDS rounds" "$TMP/connect_ratio.table" \
	"Each round measures every system side by side (interleaved slices): its ratio compares two systems under the same machine noise. The median of those ratios, and their spread, is what a figure is worth; a warning follows wherever the spread is wider than the effect."
ratio_warnings "$TMP/connect_ratio.warn"
show_table "1. Connection cost, p99" "$TMP/connect_p99.table"
connect_plot
printf '\nplot: %s\n' "$RES/connect-cost.png"
printf '\n![connection cost against rule count](connect-cost.png)\n' >>"$RES/report.md"

echo "running: the hooks' floor, TCP at $TOP rules" >&2
printf 'mode\trules\tsystem\tround\tn\tp50_ns\tp99_ns\n' >"$RES/floor_rounds.tsv"
bench_floor_tcp
echo "running: one-rule change at $TOP rules" >&2
bench_change
echo "running: UDP sendto and iperf3 at $TOP rules" >&2
bench_iperf
bench_udp
show_table "2. UDP: sendto of 1 byte, and DNS lookups, ns" "$TMP/udp.table" \
	"p50 and p99: the median of $ROUNDS rounds' figures; cgfence/none p50: the median of the same-round ratios, with their spread. 'same socket': unconnected sendto, always the same socket and peer. 'first on a new socket': a fresh socket and its first sendto (timed), the peer the same every time. cgfence judges a UDP peer once per cgroup and policy, not once per socket, so both measure the kept verdict; the first datagram to a new peer pays the judgement (two LPM lookups) and the insert. 'DNS lookup': what getaddrinfo(AF_UNSPEC) does on the wire (new socket connected to a resolver on loopback, A and AAAA queries in one sendmmsg, both answers, close), the whole lookup timed; the resolver is connbench's, outside the fence."
ratio_warnings "$TMP/udp_ratio.warn"
tail -n +2 "$RES/udp_rounds.tsv" >>"$RES/floor_rounds.tsv"
floor_table
show_table "2. The hooks' floor: programs that do nothing on the same hooks, same rounds (median (min-max) of $ROUNDS)" "$TMP/floor.table" \
	"floor: a cgroup with a program that returns 'allow' on every hook cgfence attaches (tests/bench/floor.bpf.c), run beside none and cgfence in the same interleaved rounds. floor/none is what the kernel charges for running a program at those hooks at all; cgfence/floor is what cgfence's programs add to that: the part cgfence can still reduce. TCP: section 1's workload at $TOP rules; the others: this section's."
ratio_warnings "$TMP/floor_ratio.warn"
show_table "2. TCP bulk throughput, iperf3 -t $IPERF_SECS, one stream on loopback (median of $IPERF_ROUNDS)" "$TMP/iperf.table" \
	"cgfence/none: the median of the same-round ratios (each round runs both, alternating who goes first), with their spread."
ratio_warnings "$TMP/iperf_ratio.warn"

echo "running: load time at $LOAD_SIZES rules" >&2
bench_load
show_table "3. Loading a policy into an empty system (median of $LOAD_REPS)" "$TMP/load.table" \
	"cgfence apply: parse, compile, create and fill the maps, attach the programs (the BPF object is already loaded). Wall time of the command, process start included."
show_table "3. Changing one rule in a $TOP-destination policy (median of $CHANGE_REPS)" "$TMP/change.table" \
	"cgfence changes a policy that only this cgroup runs in place: it parses and compiles the new file, writes only the trie entries and class masks that differ into the inactive bank, and flips the bank with one header update (atomic for the cgroup). Whole command: wall time, process start and JSON parsing included; kernel work: from the first write to the flip, as cgfence apply reports it."

bench_hook

# ---- 5. audit path (tests/bench/audit_rate.sh) ----

bench_audit() {
	local bursts="10000 100000 1000000" rounds=3
	# The daemon before the audit path's work (issue 16), for the
	# before/after rows; AUDIT_BEFORE= runs this build alone.
	local before=${AUDIT_BEFORE-047fa84}

	if [ "$MODE" = smoke ]; then
		bursts="1000" rounds=1 before=
	fi
	if [ -n "$before" ] && ! git cat-file -e "$before^{commit}" 2>/dev/null; then
		echo "audit path: $before is not in this checkout; no before rows"
		before=
	fi
	printf '\n== 5. Audit path (denials per second written by the daemon)\n'
	printf '\n### 5. Audit path\n\n' >>"$RES/report.md"
	: >"$TMP/audit_ratio.warn"
	OUT=$OUT ROUNDS=$rounds BEFORE=$before RATIO_TSV="$TMP/audit_ratio.warn" \
		tests/bench/audit_rate.sh $bursts | tee "$RES/audit_rate.txt" ||
		echo "FAILED: tests/bench/audit_rate.sh exited with an error; no figure." |
			tee -a "$RES/audit_rate.txt"
	{ echo '```'; cat "$RES/audit_rate.txt"; echo '```'; } >>"$RES/report.md"
	ratio_warnings "$TMP/audit_ratio.warn"
}

bench_audit

if [ -n "$RATIO_WARNINGS" ]; then
	printf '\n%d ratio figure(s) of this run are within their rounds'"'"' noise (warnings above): re-run them on a quieter machine, or with more rounds (CGFBENCH_ROUNDS).\n' \
		"$(printf '%s' "$RATIO_WARNINGS" | grep -c '^warning')" | tee -a "$RES/report.md"
fi
printf '\nresults: %s\n' "$RES"
