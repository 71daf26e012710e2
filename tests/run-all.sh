#!/bin/bash
# Runs every test suite and prints one closing line "check: N passed, N failed".
# Unit tests need no root; kernel tests run as root on the real kernel.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
passed=0
failed=0

count_unit() { # test binary
	local out line
	out=$("$1" 2>&1)
	echo "$out" | tail -n 20
	line=$(echo "$out" | grep -E '^[a-z0-9_]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	if [ -z "$line" ]; then
		echo "$1: no result line (crashed?)"
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
	failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')))
}

count_bats() { # bats file
	local out
	out=$(bats --tap "$1" 2>&1)
	echo "$out"
	passed=$((passed + $(echo "$out" | grep -c '^ok ')))
	failed=$((failed + $(echo "$out" | grep -c '^not ok ')))
}

echo "== format"
if tools/check_format.sh; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

echo "== fuzz harnesses: kept inputs, then 5 seconds each (make fuzz: longer)"
while read -r line; do
	echo "$line"
	case $line in
	*"nothing found") passed=$((passed + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done < <(OUT=$OUT tests/fuzz/run.sh 5)

echo "== unit tests"
for t in "$OUT"/tests/test_*; do
	[ -x "$t" ] && count_unit "$t"
done
echo "== unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
for t in "$OUT"/sanitize/tests/test_*; do
	[ -x "$t" ] && count_unit "$t"
done
for suite in tests/cli/*.bats; do
	echo "== $suite"
	count_bats "$suite"
done

if [ "$(id -u)" -ne 0 ]; then
	echo "kernel and end-to-end tests need root: run 'make check' as root" >&2
	failed=$((failed + 1))
else
	for suite in tests/kernel/*.bats tests/e2e/*.bats; do
		[ -f "$suite" ] || continue
		echo "== $suite"
		count_bats "$suite"
	done
fi
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
