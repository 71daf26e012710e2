#!/usr/bin/env bats
# make install: binary, hooks.d file pointing at it, example policies.

load ../helpers

install_to() {
	make -C "$REPO" --no-print-directory install DESTDIR="$1" PREFIX=/opt/cgf OUT="$OUT"
}

@test "make install puts the binary, the hooks.d file and the example policies in place, keeping an admin's policies" {
	dest="$BATS_TEST_TMPDIR/dest"
	run install_to "$dest"
	[ "$status" -eq 0 ]
	[ -x "$dest/opt/cgf/bin/cgfence" ]
	hook="$dest/usr/share/containers/oci/hooks.d/cgfence.json"
	[ "$(jq -r .hook.path "$hook")" = /opt/cgf/bin/cgfence ]
	[ "$(jq -c .hook.args "$hook")" = '["cgfence","hook"]' ]
	[ "$(jq -c .hook.env "$hook")" = '[]' ]
	[ "$(jq -c .when "$hook")" = '{"always":true}' ]
	[ "$(jq -c .stages "$hook")" = '["createRuntime","poststop"]' ]
	[ "$(stat -c %a "$hook")" = 644 ]
	run "$dest/opt/cgf/bin/cgfence" check "$dest/etc/cgfence/policies"
	[ "$status" -eq 0 ]
	[[ "$output" == *'get "default"'* ]]

	echo '{"version": 1, "name": "default"}' >"$dest/etc/cgfence/policies/default.json"
	run install_to "$dest"
	[ "$status" -eq 0 ]
	[ "$(jq -c . "$dest/etc/cgfence/policies/default.json")" = '{"version":1,"name":"default"}' ]
}
