#!/bin/bash
# What one node pays for cgfence at rest (docs/fleet.md): the kernel memory
# of the pinned maps (bytes_memlock, as `bpftool map show` prints it) with
# no policy, then with CGROUPS cgroups fenced by POLICIES distinct small
# policies; the CPU time and resident memory of an idle hookd and daemon
# over IDLE seconds with those cgroups fenced; and the size of the audit
# records one denial, one lifecycle event and one stats report write.
# Private bpffs directory, cgroup tree, socket and log.
#
#   tests/bench/node_cost.sh [CGROUPS [POLICIES [IDLE]]]   (root; default 100 10 30)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(cd "${OUT:-build}" && pwd)
CGFENCE=$OUT/cgfence
PROBE=$OUT/tests/probe
CGROUPS=${1:-100}
POLICIES=${2:-10}
IDLE=${3:-30}
[ "$(id -u)" -eq 0 ] || { echo "node_cost.sh needs root (cgroups, BPF)" >&2; exit 1; }
for tool in bpftool jq awk; do
	command -v $tool >/dev/null || { echo "node_cost.sh needs $tool (make deps)" >&2; exit 1; }
done

ID=cgfnode$$
WORK=$(mktemp -d /tmp/cgfence-nodecost.XXXXXX)
BPFFS=/sys/fs/bpf/$ID
CGP="$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)/$ID"
LOG=$WORK/audit.jsonl
PIDS=()
cleanup() {
	local cg pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for cg in "$CGP"/cg*; do
		[ -d "$cg" ] || continue
		"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$cg" >/dev/null 2>&1 || true
		rmdir "$cg" 2>/dev/null || true
	done
	rmdir "$CGP" 2>/dev/null || true
	rm -rf "$BPFFS" "/run/cgfence/$ID"
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

memlock_sum() {
	local total=0 id
	for id in "$@"; do
		total=$((total + $(bpftool map show id "$id" -j | jq .bytes_memlock)))
	done
	echo $total
}

# The compiled policies' tables, which the map-in-maps point to.
inner_map_ids() { # OUTER-MAP-NAME
	bpftool map dump pinned "$BPFFS/obj/map_$1" -j | jq '
		def hex: ascii_downcase | explode
			| reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));
		.[].value | map(ltrimstr("0x")) | reverse | join("") | hex'
}

pinned_map_ids() {
	local f
	for f in "$BPFFS"/obj/map_*; do
		bpftool map show pinned "$f" -j | jq .id
	done
}

kib() {
	awk -v b="$1" 'BEGIN { printf "%.0f KiB", b / 1024 }'
}

# A shop-like policy NAME: 10 egress rules (a CIDR, ports), DNS, ingress
# on one port, the standard devices.
policy() {
	local i rules=
	for i in $(seq 1 10); do
		rules="$rules{\"action\": \"allow\", \"to\": [\"10.$2.$i.0/24\"], \"protocol\": \"tcp\", \"ports\": [443, \"8000-8100\"]},"
	done
	printf '{"version": 1, "name": "%s", "egress": {"default": "deny", "rules": [%s
	  {"action": "allow", "to": ["10.96.0.10"], "protocol": "udp", "ports": [53]}]},
	  "ingress": {"default": "deny", "rules": [{"action": "allow", "protocol": "tcp", "ports": [8080]}]},
	  "devices": {"default": "deny", "rules": [{"action": "allow", "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}}\n' \
		"$1" "$rules" >"$WORK/$1.json"
}

# CPU time (user + system, clock ticks) and VmRSS (KiB) of a process.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

mkdir -p "$CGP"
for p in $(seq 1 "$POLICIES"); do
	policy "shop$p" "$p"
done

# The state with nothing fenced: the programs' own maps.
mkdir -p "$CGP/cg0"
"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGP/cg0" --policy "$WORK/shop1.json" >/dev/null 2>&1
"$CGFENCE" detach --bpffs "$BPFFS" --cgroup "$CGP/cg0" >/dev/null
rmdir "$CGP/cg0"
fixed=$(memlock_sum $(pinned_map_ids))

"$CGFENCE" daemon --bpffs "$BPFFS" --log "$LOG" --stats-interval 10 2>"$WORK/daemon.err" &
DAEMON=$!
PIDS+=($DAEMON)
"$CGFENCE" hookd --socket "$WORK/hookd.sock" --bpffs "$BPFFS" --lifecycle-log "$LOG" 2>"$WORK/hookd.err" &
HOOKD=$!
PIDS+=($HOOKD)
for _ in $(seq 100); do
	[ -S "$WORK/hookd.sock" ] && grep -q '"event":"started"' "$LOG" 2>/dev/null && break
	sleep 0.05
done

for i in $(seq 1 "$CGROUPS"); do
	mkdir -p "$CGP/cg$i"
	"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGP/cg$i" \
		--policy "$WORK/shop$(((i - 1) % POLICIES + 1)).json" >/dev/null 2>&1
done
all=$(memlock_sum $(pinned_map_ids))
tables=$(($(memlock_sum $(inner_map_ids cgf_lpm)) + $(memlock_sum $(inner_map_ids cgf_classes))))

# Idle: nothing starts, nothing is denied.
sleep 1
h0=$(cpu_ticks $HOOKD) d0=$(cpu_ticks $DAEMON)
sleep "$IDLE"
h1=$(cpu_ticks $HOOKD) d1=$(cpu_ticks $DAEMON)
hz=$(getconf CLK_TCK)

# One denial (a connect to a port of 10.1.1.1 no rule allows, from cg1,
# which fails at once) and its stats report.
sh -c "echo \$\$ >$CGP/cg1/cgroup.procs; exec $PROBE connect tcp 10.1.1.1 9" >/dev/null || true
for _ in $(seq 150); do
	grep -q '"type":"stats"' <(grep -v '"event":"started"' "$LOG") 2>/dev/null &&
		grep -q '"type":"deny"' "$LOG" && break
	sleep 0.1
done
line_bytes() { # TYPE
	jq -c "select(.type == \"$1\")" "$LOG" | head -n 1 | wc -c
}
"$CGFENCE" apply --without-bpf-lsm --bpffs "$BPFFS" --cgroup "$CGP/cg1" --policy "$WORK/shop2.json" \
	--lifecycle-log "$LOG" >/dev/null 2>&1 || true

echo "kernel $(uname -r), $(nproc) CPUs; $CGROUPS cgroups fenced by $POLICIES policies (12 egress rules, 1 ingress, 1 device rule each)"
echo "pinned maps, nothing fenced:     $(kib "$fixed")"
echo "pinned maps, $CGROUPS cgroups:       $(kib $((all + tables))) (compiled tables $(kib "$tables"), $(kib $((tables / POLICIES))) per policy)"
awk -v h=$((h1 - h0)) -v d=$((d1 - d0)) -v hz="$hz" -v s="$IDLE" 'BEGIN {
	printf "idle CPU over %d s:          hookd %.3f %% of one CPU, daemon %.3f %% (clock ticks of %d ms)\n",
		s, 100 * h / hz / s, 100 * d / hz / s, 1000 / hz }'
echo "resident memory:              hookd $(rss_kib $HOOKD) KiB, daemon $(rss_kib $DAEMON) KiB"
echo "audit record sizes (bytes, JSON line): deny $(line_bytes deny), stats $(line_bytes stats), lifecycle $(line_bytes lifecycle)"
