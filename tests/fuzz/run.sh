#!/bin/bash
# Runs every fuzz harness: first over its kept inputs (the seed corpus and
# every past crash, tests/fuzz/regressions/NAME), then fuzzing for SECONDS
# from a working copy of the corpus in OUT/fuzz. A crash, leak, undefined
# behaviour or disagreement stops the run; libFuzzer writes the input to
# OUT/fuzz/crashes/NAME-*: keep it under tests/fuzz/regressions/NAME.
#
#   tests/fuzz/run.sh SECONDS       (make fuzz: FUZZ_SECONDS, default 60)
# Prints one line per harness: "fuzz NAME: N runs, cov C, ft F" and exits 1
# on any finding.
set -u
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
OUT=${OUT:-build}
status=0
mkdir -p "$OUT/fuzz/crashes"
for bin in "$OUT"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	work="$OUT/fuzz/corpus-$name"
	mkdir -p "$work"
	cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	# Every kept input once (a regression reproduces at once).
	kept=$(ls tests/fuzz/corpus/"$name"/* tests/fuzz/regressions/"$name"/* 2>/dev/null)
	if [ -n "$kept" ] && ! "$bin" $kept >"$OUT/fuzz/$name.kept.log" 2>&1; then
		echo "fuzz $name: a kept input fails (see $OUT/fuzz/$name.kept.log)"
		status=1
		continue
	fi
	if ! "$bin" -max_total_time="$SECONDS_EACH" -dict=tests/fuzz/json.dict \
		-artifact_prefix="$OUT/fuzz/crashes/$name-" -print_final_stats=1 \
		"$work" >"$OUT/fuzz/$name.log" 2>&1; then
		echo "fuzz $name: FOUND something (see $OUT/fuzz/$name.log, $OUT/fuzz/crashes/)"
		status=1
		continue
	fi
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/fuzz/$name.log" | grep -o '[0-9]*$')
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$OUT/fuzz/$name.log" | tail -n 1)
	echo "fuzz $name: ${runs:-?} runs in ${SECONDS_EACH}s, $cov, nothing found"
done
exit $status
