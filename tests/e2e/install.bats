#!/usr/bin/env bats
# make install: binary, hooks.d file pointing at it, example policies.

load ../common

install_to() {
	make -C "$REPO" --no-print-directory install DESTDIR="$1" PREFIX=/opt/cgf OUT="$OUT"
}

@test "make install puts the binaries, the hooks.d file, the units and the example policies in place, keeping an admin's policies" {
	dest="$BATS_TEST_TMPDIR/dest"
	run install_to "$dest"
	[ "$status" -eq 0 ]
	[ -x "$dest/opt/cgf/bin/cgfence" ]
	[ -x "$dest/opt/cgf/bin/cgfence-hook" ]
	hook="$dest/usr/share/containers/oci/hooks.d/cgfence.json"
	[ "$(jq -r .hook.path "$hook")" = /opt/cgf/bin/cgfence-hook ]
	[ "$(jq -c .hook.args "$hook")" = '["cgfence-hook"]' ]
	[ "$(jq -c .hook.env "$hook")" = '[]' ]
	[ "$(jq -c .when "$hook")" = '{"always":true}' ]
	[ "$(jq -c .stages "$hook")" = '["createRuntime","poststop"]' ]
	[ "$(stat -c %a "$hook")" = 644 ]
	grep -qx 'ExecStart=/opt/cgf/bin/cgfence hookd --socket /run/cgfence/hookd.sock' \
		"$dest/lib/systemd/system/cgfence-hookd.service"
	grep -q '^ExecStart=/opt/cgf/bin/cgfence daemon ' "$dest/lib/systemd/system/cgfence-daemon.service"
	[ -s "$dest/etc/logrotate.d/cgfence" ]
	[ -s "$dest/opt/cgf/share/man/man8/cgfence.8" ]
	[ -s "$dest/opt/cgf/share/man/man5/cgfence-policy.5" ]
	cmp "$REPO/policies/cgfence-policy.schema.json" "$dest/opt/cgf/share/cgfence/cgfence-policy.schema.json"
	# The examples' "$schema" finds it beside them; it is no policy there.
	[ "$(readlink "$dest/etc/cgfence/policies/cgfence-policy.schema.json")" = /opt/cgf/share/cgfence/cgfence-policy.schema.json ]
	run "$dest/opt/cgf/bin/cgfence" check "$dest/etc/cgfence/policies"
	[ "$status" -eq 0 ]
	[[ "$output" == *'get "default"'* ]]
	[[ "$output" == *"policies: 6 policies"* ]]

	echo '{"version": 1, "name": "default"}' >"$dest/etc/cgfence/policies/default.json"
	run install_to "$dest"
	[ "$status" -eq 0 ]
	[ "$(jq -c . "$dest/etc/cgfence/policies/default.json")" = '{"version":1,"name":"default"}' ]
}
