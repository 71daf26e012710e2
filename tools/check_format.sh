#!/bin/sh
# The C sources agree with .clang-format (make format rewrites them):
# prints each file that does not and exits 1 if any.
set -u
cd "$(dirname "$0")/.."
bad=0
for f in enforcer/*/*.[ch] bpf/*.[ch] include/*.h tests/unit/*.[ch] tests/fuzz/*.c tests/probes/*.[ch] tests/bench/*.c tools/*.c; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "format: $f differs from .clang-format (make format)"
		bad=1
	fi
done
exit $bad
