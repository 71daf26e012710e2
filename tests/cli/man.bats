#!/usr/bin/env bats
# The man pages (docs/man/) stay true to the binary and to the schema:
# every command of `cgfence --help` has its section in cgfence(8), with
# every option its `--help` names; every key of the policy language is in
# cgfence-policy(5); both render without a warning.

load ../common

MAN8="$REPO/docs/man/cgfence.8"
MAN5="$REPO/docs/man/cgfence-policy.5"

# The roff source as text: "\-" is how a man page writes "-".
man_text() {
	sed 's/\\-/-/g; s/\\f[BIRP]//g' "$1"
}

@test "every command of cgfence --help has a section in cgfence(8) with every option of its --help" {
	run "$CGFENCE" --help
	[ "$status" -eq 0 ]
	commands=$(echo "$output" | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
	[ "$(echo "$commands" | wc -l)" -ge 12 ]
	text=$(man_text "$MAN8")
	for c in $commands; do
		section=$(echo "$text" | awk -v c="$c" '
			/^\.SS / { inside = ($0 ~ "^\\.SS \"cgfence " c "( |\")") }
			inside')
		if [ -z "$section" ]; then
			echo "cgfence(8) has no section for '$c' (.SS \"cgfence $c ...\")" >&2
			return 1
		fi
		# cgfence set --help, with no subcommand, prints usage to stderr.
		help=$("$CGFENCE" "$c" --help 2>&1 || true)
		options=$(echo "$help" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u | grep -vx -- --help || true)
		for o in $options; do
			if ! grep -q -- "$o\b" <<<"$section"; then
				echo "cgfence(8), section $c: option $o of 'cgfence $c --help' is missing" >&2
				return 1
			fi
		done
	done
	# and the global options, and cgfence-hook's own
	for o in -v --verbose --version --help; do
		grep -q -- "^\.BR* .*$o\b" <<<"$text"
	done
	echo "$text" | awk '/^\.SS "cgfence-hook /, 0' | grep -q -- --socket
}

@test "every key of the policy language is in cgfence-policy(5)" {
	keys=$(jq -r '[.. | objects | .properties? // empty | keys[]] | unique[]' "$REPO/policies/cgfence-policy.schema.json")
	[ "$(echo "$keys" | wc -l)" -ge 20 ]
	text=$(sed 's/\\-/-/g' "$MAN5")
	for k in $keys; do
		if ! grep -qE -- "^\.(B|BR) (.* )?\"?\\\\?$(sed 's/\$/\\$/' <<<"$k")\b" <<<"$text"; then
			echo "cgfence-policy(5) does not describe the key '$k' (as a .B or .BR item)" >&2
			return 1
		fi
	done
}

@test "the man pages render without warnings" {
	for page in "$MAN8" "$MAN5"; do
		run sh -c 'LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null' sh "$page"
		echo "$page: $output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
		run sh -c 'LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$1" 2>/dev/null' sh "$page"
		[ "${#lines[@]}" -gt 50 ]
	done
}
