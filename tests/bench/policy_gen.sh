# The rule sets of the benchmarks (sourced by bench.sh and before_after.sh):
# N decoy destinations 127.100.0.2, .3, ... and the tested ADDR:PORT last.
# Needs ADDR and PORT set; bench.sh's iptables and nftables sets use DECOY_AWK too.

# The i-th decoy destination (i from 0), never the tested 127.100.0.1.
DECOY_AWK='function decoy(i,  a) { a = i + 2; return sprintf("127.%d.%d.%d", 100 + int(a / 65536), int(a / 256) % 256, a % 256) }'

cgfence_policy() { # N NAME PROTO
	awk -v n="$1" -v name="$2" -v proto="$3" -v port="$PORT" -v target="$ADDR" "$DECOY_AWK"'
	BEGIN {
		total = n + 1
		nrules = total < 256 ? total : 256
		printf "{\"version\": 1, \"name\": \"%s\",\n \"egress\": {\"default\": \"deny\", \"rules\": [\n", name
		idx = 0
		for (r = 0; r < nrules; r++) {
			cnt = int(total * (r + 1) / nrules) - int(total * r / nrules)
			printf "  {\"action\": \"allow\", \"protocol\": \"%s\", \"ports\": [%d], \"to\": [", proto, port
			for (k = 0; k < cnt; k++) {
				printf "%s\"%s\"", k ? ", " : "", idx == n ? target : decoy(idx)
				idx++
			}
			printf "]}%s\n", r < nrules - 1 ? "," : ""
		}
		print " ]}}"
	}'
}

