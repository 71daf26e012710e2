# The hooks' floor (sourced by bench.sh and million.sh): a cgroup fenced
# by programs that do nothing on every hook cgfence attaches
# (tests/bench/floor.bpf.c). Beside none and cgfence in the same rounds,
# floor/none is the kernel's own cost of a program at each hook, and
# cgfence/floor what cgfence's programs add.

# floor_attach OBJECT PIN-DIR CGROUP: loads and pins the programs under
# PIN-DIR (the caller removes it), attaches them to CGROUP.
floor_attach() {
	local obj=$1 pins=$2 cg=$3 p type
	bpftool prog loadall "$obj" "$pins" >/dev/null
	for p in connect4 connect6 sendmsg4 egress ingress sock_create setsockopt dev; do
		type=$p
		[ "$p" = dev ] && type=device
		bpftool cgroup attach "$cg" "$type" pinned "$pins/floor_$p" multi
	done
}
