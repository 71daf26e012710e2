#!/usr/bin/env bats
# make deb, installed on this machine with apt-get: a runc container (with
# the installed hooks.d entry as its hooks) and a podman one (podman finds
# the installed hooks.d file itself) go through the installed OCI hook and
# hookd, started as the installed units start them (no systemd here: their
# ExecStart by hand), and are fenced; removing and purging the package leaves nothing but the admin's policies
# and logs. The host is put back as it was, also when a test fails
# (teardown_file): the package is purged, and whatever the test added to
# /etc/cgfence, /var/log/cgfence, /run/cgfence and /sys/fs/bpf/cgfence goes.
# The installed hooks.d file sends every podman or CRI-O container on the
# host through cgfence, so the package stays installed only for the few
# seconds the tests need.

load ../common
load e2e

HOOKS_FILE=/usr/share/containers/oci/hooks.d/cgfence.json
UNITS=/lib/systemd/system
# What the package and its maintainer scripts touch, for the before/after
# file lists (dpkg -L is checked on its own).
WATCHED="/etc/cgfence /etc/systemd /etc/logrotate.d /usr/share/cgfence /usr/share/doc/cgfence
/usr/share/containers /lib/systemd/system /var/lib/systemd /usr/bin/cgfence /usr/bin/cgfence-hook
/usr/share/man/man5 /usr/share/man/man8"
# Directories the installed cgfence uses at run time, put back by teardown.
RUNTIME_DIRS="/etc/cgfence /var/log/cgfence /run/cgfence /sys/fs/bpf/cgfence"

file_list() {
	# shellcheck disable=SC2086
	find $WATCHED 2>/dev/null | sort
}

setup_file() {
	export DEB_STATE="$BATS_FILE_TMPDIR/state"
	mkdir -p "$DEB_STATE"
	# Never take over a host where cgfence is installed or running for real.
	if dpkg-query -W -f='${Status}' cgfence 2>/dev/null | grep -q installed ||
		[ -e "$HOOKS_FILE" ] || [ -e /run/cgfence/hookd.sock ] || [ -e /sys/fs/bpf/cgfence ]; then
		echo "cgfence is installed or running on this host (package, $HOOKS_FILE," \
			"/run/cgfence/hookd.sock or /sys/fs/bpf/cgfence): deb.bats would change it" >&2
		return 1
	fi
	local d
	for d in $RUNTIME_DIRS; do
		if [ -e "$d" ]; then
			find "$d" | sort >"$DEB_STATE/$(echo "$d" | tr / _).list"
			find "$d" -type d -printf '%m %p\n' >"$DEB_STATE/$(echo "$d" | tr / _).dirs"
		fi
	done
	stat -c %s /var/log/cgfence/audit.jsonl >"$DEB_STATE/log-size" 2>/dev/null || true
	file_list >"$DEB_STATE/before.list"
	# From here on teardown_file undoes what the tests do (not before: a
	# host refused above is left alone).
	touch "$DEB_STATE/owned"

	run make -C "$REPO" --no-print-directory deb OUT="$OUT"
	if [ "$status" -ne 0 ]; then
		echo "make deb failed: $output" >&2
		return 1
	fi
	export DEB_FILE
	DEB_FILE=$(ls "$OUT"/deb/cgfence_*.deb)
	# The package's paths that are not on the host yet: none may stay.
	dpkg-deb --fsys-tarfile "$DEB_FILE" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^/\?$' |
		while read -r path; do
			[ -e "$path" ] || [ -L "$path" ] || echo "$path"
		done >"$DEB_STATE/new-paths.list"

	export RUNC_ROOT="$BATS_FILE_TMPDIR/runc-root"
	export ROOTFS="$BATS_FILE_TMPDIR/rootfs"
	export TEST_ID="cgfdeb$$_$RANDOM"
	export ADMIN_POLICY="/etc/cgfence/policies/$TEST_ID.json"
	build_rootfs "$ROOTFS"
	export IMAGE="localhost/cgfence-deb:$TEST_ID"
	tar -C "$ROOTFS" -cf "$BATS_FILE_TMPDIR/rootfs.tar" .
	podman import "$BATS_FILE_TMPDIR/rootfs.tar" "$IMAGE" >/dev/null
}

# Kills a process started by start_unit (its pid file), and waits for it.
stop_unit() {
	local pidfile="$DEB_STATE/$1.pid" pid
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	kill -TERM "$pid" 2>/dev/null || true
	within 30 eval '! kill -0 "$pid" 2>/dev/null' || true
	rm -f "$pidfile"
}

# Removes what the test added below DIR (and DIR, if it was not there),
# and makes again the directories that were there (the package's prerm
# removes the state directories /sys/fs/bpf/cgfence and /run/cgfence/cgfence).
restore_dir() {
	local dir=$1 list dirs mode path
	list="$DEB_STATE/$(echo "$dir" | tr / _).list"
	dirs="$DEB_STATE/$(echo "$dir" | tr / _).dirs"
	if [ ! -f "$list" ]; then
		rm -rf "$dir"
		return 0
	fi
	if [ -e "$dir" ]; then
		find "$dir" -depth | while read -r path; do
			grep -qxF "$path" "$list" || rm -rf "$path"
		done
	fi
	while read -r mode path; do
		[ -d "$path" ] || install -d -m "$mode" "$path"
	done <"$dirs"
}

teardown_file() {
	local id d
	[ -f "$DEB_STATE/owned" ] || return 0
	for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do
		runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
	done
	podman rm -f --filter "name=^$TEST_ID" >/dev/null 2>&1 || true
	podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
	stop_unit hookd
	stop_unit daemon
	if dpkg-query -W -f='${Status}' cgfence 2>/dev/null | grep -q 'ok installed\|config-files'; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=600 cgfence >/dev/null 2>&1 || true
	fi
	if [ -f "$DEB_STATE/log-size" ] && [ -f /var/log/cgfence/audit.jsonl ]; then
		truncate -s "$(cat "$DEB_STATE/log-size")" /var/log/cgfence/audit.jsonl
	fi
	for d in $RUNTIME_DIRS; do
		restore_dir "$d"
	done
}

# start_unit NAME: the installed cgfence-NAME.service's ExecStart, in the
# background, as systemd would start it (with -v, so that hookd logs each
# request it serves; LogsDirectory= made as systemd makes it).
start_unit() {
	local name=$1 unit="$UNITS/cgfence-$1.service" exec logs_dir mode bin
	exec=$(sed -n 's/^ExecStart=//p' "$unit")
	[ -n "$exec" ]
	logs_dir=$(sed -n 's/^LogsDirectory=//p' "$unit")
	mode=$(sed -n 's/^LogsDirectoryMode=//p' "$unit")
	if [ -n "$logs_dir" ] && [ ! -d "/var/log/$logs_dir" ]; then
		install -d -m "${mode:-0755}" "/var/log/$logs_dir"
	fi
	set -- $exec
	bin=$1
	shift
	"$bin" -v "$@" 2>>"$DEB_STATE/$name.log" &
	echo $! >"$DEB_STATE/$name.pid"
}

# The servers of a test end with it, passed or failed.
teardown() {
	stop_servers
}

@test "apt-get install puts the package in place: binaries, hook, units, logrotate, man pages, policies as conffiles" {
	cd "$(dirname "$DEB_FILE")"
	run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		-o DPkg::Lock::Timeout=600 "./$(basename "$DEB_FILE")"
	echo "$output"
	[ "$status" -eq 0 ]
	dpkg -L cgfence >"$DEB_STATE/dpkg-L.list"
	[ "$(command -v cgfence)" = /usr/bin/cgfence ]
	[ -x /usr/bin/cgfence-hook ]
	[ "$(jq -r .hook.path "$HOOKS_FILE")" = /usr/bin/cgfence-hook ]
	grep -qx 'ExecStart=/usr/bin/cgfence hookd --socket /run/cgfence/hookd.sock' "$UNITS/cgfence-hookd.service"
	grep -q '^ExecStart=/usr/bin/cgfence daemon ' "$UNITS/cgfence-daemon.service"
	[ -f /etc/logrotate.d/cgfence ]
	[ "$(man -w cgfence)" = /usr/share/man/man8/cgfence.8.gz ]
	[ "$(man -w cgfence-policy)" = /usr/share/man/man5/cgfence-policy.5.gz ]
	[ -n "$(man -w cgfence-hook)" ]
	# every example policy and set is a conffile, and so is logrotate's file
	conffiles=$(dpkg-query -W -f='${Conffiles}\n' cgfence | awk 'NF { print $1 }' | sort)
	expected=$( (for f in "$REPO"/policies/*.json "$REPO"/policies/sets/*.txt; do
		case $f in *.schema.json) continue ;; esac
		echo "/etc/cgfence/policies/${f#"$REPO"/policies/}"
	done; echo /etc/logrotate.d/cgfence) | sort)
	[ "$conffiles" = "$expected" ]
	# hookd and the daemon are enabled for boot (the reload path unit is not)
	[ -L /etc/systemd/system/multi-user.target.wants/cgfence-hookd.service ]
	[ -L /etc/systemd/system/multi-user.target.wants/cgfence-daemon.service ]
	[ ! -e /etc/systemd/system/multi-user.target.wants/cgfence-reload.path ]
	run cgfence check /etc/cgfence/policies
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(readlink /etc/cgfence/policies/cgfence-policy.schema.json)" = /usr/share/cgfence/cgfence-policy.schema.json ]
	[ -s /usr/share/cgfence/cgfence-policy.schema.json ]
	# lintian finds no error in the package
	run lintian "$DEB_FILE"
	echo "$output"
	! grep -q '^E: ' <<<"$output"
}

@test "runc and podman containers go through the installed hook and hookd: the denied connection fails with EPERM, the allowed one works, the daemon logs the denial" {
	[ -x /usr/bin/cgfence ]
	ok=$(random_port)
	bad=$((ok + 1))
	start_server tcp 127.0.0.1 $ok
	start_server tcp 127.0.0.1 $bad
	# The admin's own policy (purge must leave it).
	printf '{"version": 1, "name": "%s", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["127.0.0.1"], "protocol": "tcp", "ports": [%d]}]}}\n' \
		"$TEST_ID" "$ok" >"$ADMIN_POLICY"
	log_start=$(($(stat -c %s /var/log/cgfence/audit.jsonl 2>/dev/null || echo 0) + 1))
	start_unit hookd
	start_unit daemon
	within 30 eval '[ -S /run/cgfence/hookd.sock ] &&
		tail -c +"$log_start" /var/log/cgfence/audit.jsonl 2>/dev/null | grep -q "\"event\":\"started\""'

	# A bundle whose hooks are the installed hooks.d entry, at its stages.
	bundle="$BATS_TEST_TMPDIR/bundle"
	mkdir -p "$bundle"
	runc spec --bundle "$bundle"
	jq --arg rootfs "$ROOTFS" --arg policy "$TEST_ID" --slurpfile hooks "$HOOKS_FILE" \
		--arg cmd "/probe request tcp 127.0.0.1 $ok; /probe connect tcp 127.0.0.1 $bad; true" \
		'.root = {"path": $rootfs, "readonly": true}
		| .process.terminal = false
		| .process.args = ["/bin/sh", "-c", $cmd]
		| .linux.namespaces |= map(select(.type != "network"))
		| .annotations = {"cgfence.policy": $policy}
		| .hooks = (reduce $hooks[0].stages[] as $s ({}; .[$s] = [$hooks[0].hook]))' \
		<"$bundle/config.json" >"$bundle/config.json.new"
	mv "$bundle/config.json.new" "$bundle/config.json"
	[ "$(jq -r '.hooks.createRuntime[0].path' "$bundle/config.json")" = /usr/bin/cgfence-hook ]
	[ "$(jq -r '.hooks.poststop[0].path' "$bundle/config.json")" = /usr/bin/cgfence-hook ]

	run runc --root "$RUNC_ROOT" run --bundle "$bundle" "$TEST_ID"
	echo "container: $output"
	[ "$status" -eq 0 ]
	[ "$output" = $'ok\nEPERM' ]
	# the denied server answers an unfenced probe: the fence refused it
	assert_probe ok request tcp 127.0.0.1 $bad
	# hookd served both stages (not cgfence-hook's fallback)
	within 30 eval '[ "$(grep -c "hookd: request of pid [0-9]*: exit status" "$DEB_STATE/hookd.log")" -ge 2 ]'
	[ "$(grep -c 'hookd: request of pid [0-9]*: exit status 0' "$DEB_STATE/hookd.log")" -eq 2 ]
	# podman finds the installed hooks.d file by itself (no --hooks-dir)
	run podman --runtime runc run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
		--network host --annotation "cgfence.policy=$TEST_ID" --name "$TEST_ID-podman" "$IMAGE" \
		/bin/sh -c "/probe request tcp 127.0.0.1 $ok; /probe connect tcp 127.0.0.1 $bad; true"
	echo "podman: $output"
	[ "$status" -eq 0 ]
	[ "$output" = $'ok\nEPERM' ]
	within 30 eval '[ "$(grep -c "hookd: request of pid [0-9]*: exit status" "$DEB_STATE/hookd.log")" -ge 4 ]'
	[ "$(grep -c 'hookd: request of pid [0-9]*: exit status 0' "$DEB_STATE/hookd.log")" -eq 4 ]
	# the lifecycle records and the daemon's denial, in the installed log
	within 30 eval '[ "$(tail -c +"$log_start" /var/log/cgfence/audit.jsonl | grep -c "\"type\":\"deny\"")" -ge 2 ]'
	records=$(tail -c +"$log_start" /var/log/cgfence/audit.jsonl)
	echo "$records"
	jq -s -e --arg id "$TEST_ID" 'any(.[]; .event == "applied" and .container_id == $id and .policy == $id)' <<<"$records"
	jq -s -e --arg id "$TEST_ID" 'any(.[]; .event == "removed" and .container_id == $id)' <<<"$records"
	jq -s -e --arg id "$TEST_ID" --argjson port "$bad" \
		'any(.[]; .type == "deny" and .container_id == $id and .policy == $id and .dst == "127.0.0.1" and .dport == $port and .rule == "egress.default")' \
		<<<"$records"
	# and the podman container's denial, under its own id
	[ "$(jq -s --arg id "$TEST_ID" --argjson port "$bad" \
		'[.[] | select(.type == "deny" and .policy == $id and .dport == $port and .container_id != $id
			and (.container_id | test("^[0-9a-f]{64}$")))] | length' <<<"$records")" -eq 1 ]
}

@test "apt-get remove keeps the conffiles; purge leaves nothing but the admin's policies and logs" {
	[ -f "$DEB_STATE/dpkg-L.list" ]
	# dpkg -L of the installed package is what the .deb holds
	diff <(grep -v '^/\.$' "$DEB_STATE/dpkg-L.list" | sort) \
		<(dpkg-deb --fsys-tarfile "$DEB_FILE" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^/\?$' | sort)
	# what systemd's prerm would do: stop the services
	stop_unit hookd
	stop_unit daemon
	[ ! -e /run/cgfence/hookd.sock ]

	run env DEBIAN_FRONTEND=noninteractive apt-get remove -y -o DPkg::Lock::Timeout=600 cgfence
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e /usr/bin/cgfence ]
	[ ! -e "$HOOKS_FILE" ]
	[ ! -e "$UNITS/cgfence-hookd.service" ]
	[ -f /etc/cgfence/policies/default.json ]
	[ -f /etc/logrotate.d/cgfence ]
	[ "$(dpkg-query -W -f='${Status}' cgfence)" = "deinstall ok config-files" ]
	# no container is fenced any more: the pinned programs and maps went too
	[ ! -e /sys/fs/bpf/cgfence ]
	[ ! -e /run/cgfence/cgfence ]

	run env DEBIAN_FRONTEND=noninteractive apt-get purge -y -o DPkg::Lock::Timeout=600 cgfence
	echo "$output"
	[ "$status" -eq 0 ]
	run dpkg-query -W -f='${Status}' cgfence
	[ "$status" -ne 0 ] || [ "$output" = "unknown ok not-installed" ]
	[ -z "$(ls /var/lib/dpkg/info/cgfence.* 2>/dev/null)" ]
	# The admin's policy is all that is left of /etc/cgfence, and the log stays.
	[ "$(find /etc/cgfence -type f)" = "$ADMIN_POLICY" ]
	[ -s /var/log/cgfence/audit.jsonl ]
	# Of everything the package brought, only the directories holding the
	# admin's policy remain.
	[ "$(wc -l <"$DEB_STATE/new-paths.list")" -ge 20 ]
	while read -r path; do
		case $path in /etc/cgfence | /etc/cgfence/policies) continue ;; esac
		if [ -e "$path" ] || [ -L "$path" ]; then
			echo "left behind: $path" >&2
			return 1
		fi
	done <"$DEB_STATE/new-paths.list"
	# and nothing else changed where the package and its scripts write
	file_list >"$DEB_STATE/after.list"
	run diff "$DEB_STATE/before.list" "$DEB_STATE/after.list"
	echo "$output"
	added=$(comm -13 "$DEB_STATE/before.list" "$DEB_STATE/after.list")
	removed=$(comm -23 "$DEB_STATE/before.list" "$DEB_STATE/after.list")
	[ -z "$removed" ]
	expected=$(printf '/etc/cgfence\n/etc/cgfence/policies\n%s\n' "$ADMIN_POLICY" |
		grep -vxF -f "$DEB_STATE/before.list" || true)
	[ "$added" = "$expected" ]
}
