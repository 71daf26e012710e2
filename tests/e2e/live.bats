#!/usr/bin/env bats
# Live policies (issue #12): edits to a policy directory reach the running
# containers fenced from it, through this file's hookd (which watches every
# directory it has served) or `cgfence reload`. Real busybox containers
# under runc; the probe runs inside them with `runc exec`, against servers on
# loopback (the containers share the host's network namespace). Every new
# behaviour is waited for at most $WAIT s (the 1 s bar is the benchmark's,
# tests/bench/live_reload.sh). Needs root; runs in CI as root (nothing here
# skips itself).

load ../common
load e2e

bats_require_minimum_version 1.5.0

# seconds: far above the 1 s the issue promises (the benchmark's bar), so
# that only a bug fails; a wait ends as soon as what it waits for is true
WAIT=30

setup_file() {
	e2e_setup_file
}

teardown_file() {
	e2e_teardown_file
}

setup() {
	e2e_setup
}

teardown() {
	local id
	for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do
		runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
	done
	stop_servers
	assert_hookd_alive
}

# allow_ports NAME PORTS [SELECTOR-JSON]: the text of policy NAME: egress
# to 127.0.0.1 on those tcp ports (comma-separated) only.
allow_ports() {
	local selector=
	[ -z "${3:-}" ] || selector="\"selector\": $3, "
	printf '{"version": 1, "name": "%s", %s"egress": {"default": "deny", "rules": [{"action": "allow", "to": ["127.0.0.1"], "protocol": "tcp", "ports": [%s]}]}}\n' \
		"$1" "$selector" "$2"
}

# Broken texts of policy NAME, each with its error at a known place.
syntax_error() { # invalid JSON at 2:42
	printf '{"version": 1, "name": "%s",\n "egress": {"default": "deny", "rules": [}}\n' "$1"
}
host_bits_error() { # host bits set at 3:30
	printf '{"version": 1, "name": "%s",\n "egress": {"default": "deny", "rules": [\n  {"action": "allow", "to": ["10.0.0.1/8"]}]}}\n' "$1"
}
default_error() { # egress.default "maybe" at 2:24
	printf '{"version": 1, "name": "%s",\n "egress": {"default": "maybe"}}\n' "$1"
}

# in_place FILE TEXT: rewrites the file itself (same inode), as `>` does.
in_place() {
	local inode
	inode=$(stat -c %i "$1")
	printf '%s\n' "$2" >"$1"
	[ "$(stat -c %i "$1")" = "$inode" ]
}

# by_rename FILE TEXT: a new file renamed over it (or added), as editors
# and configuration managers write.
by_rename() {
	printf '%s\n' "$2" >"$1.new"
	mv -f "$1.new" "$1"
}

# start_container NAME ANNOTATIONS: a running container (sleep) fenced
# through hookd.
start_container() {
	new_bundle "$1" "$2" /bin/sleep 600
	if ! runc_run_detached "$1"; then
		echo "container $1 did not start: $(cat "$BATS_TEST_TMPDIR/$1.log")" >&2
		return 1
	fi
}

# says NAME WORD PROBE-ARGS...: the probe inside the running container
# prints WORD (ok, EPERM, ...).
says() {
	local got
	got=$(runc_cmd exec "$1" /probe "${@:3}" 2>&1) || true
	[ "$got" = "$2" ] && return 0
	echo "container $1: probe ${*:3}: got '$got', expected '$2'" >&2
	return 1
}

# enforces NAME ALLOWED-PORT DENIED-PORT: the container reaches the server
# on the first and gets EPERM for the second.
enforces() {
	says "$1" ok request tcp 127.0.0.1 "$2" && says "$1" EPERM connect tcp 127.0.0.1 "$3"
}

# records FILTER: the lifecycle records (JSON lines) matching a jq filter;
# none while there is no log.
records() {
	[ -e "$LIFECYCLE" ] || return 0
	jq -c "select($1)" "$LIFECYCLE"
}

count_records() { # FILTER
	records "$1" | grep -c . || true
}

has_records() { # N FILTER: at least N records match
	local n
	n=$(count_records "$2")
	[ "$n" -ge "$1" ] && return 0
	echo "$n records match $2, not $1; the log: $(cat "$LIFECYCLE" 2>/dev/null)" >&2
	return 1
}

of() { # EVENT NAME: filter for that event of the test's container NAME
	echo ".event == \"$1\" and .container_id == \"$(container_id "$2")\""
}

applied_id() { # NAME: the policy id its container was started with
	records "$(of applied "$1")" | tail -n 1 | jq -r .policy_id
}

# assert_record RECORD JQ-EXPRESSION [JQ-OPTIONS...]: the record (one JSON
# line) makes the expression true.
assert_record() {
	local record=$1 expr=$2
	shift 2
	if [ -z "$record" ] || ! jq -e "$@" "$expr" <<<"$record" >/dev/null; then
		echo "record '$record' does not satisfy: $expr" >&2
		return 1
	fi
}

# assert_changed NAME POLICY PREVIOUS-POLICY PREVIOUS-ID SELECTED-BY SOURCE:
# the container's one "changed" record, with every field a user reads. The
# id may stay the same: a container alone on its policy has its tables
# changed in place, under their id (attach.c).
assert_changed() {
	local cg
	cg=$(container_cgroup "$1")
	[ "$(count_records "$(of changed "$1")")" -eq 1 ] || {
		echo "changed records of $1: $(records "$(of changed "$1")")" >&2
		return 1
	}
	assert_record "$(records "$(of changed "$1")")" \
		'.type == "lifecycle" and .source == $source and .cgroup == $cg
		and .cgroup_id == ($cgid | tonumber) and .policy == $policy
		and (.policy_id | test("^[0-9a-f]{8}$"))
		and .previous_policy == $previous and .previous_policy_id == $previous_id
		and .mode == "enforce" and .selected_by == $by' \
		--arg cg "$cg" --arg cgid "$(stat -c %i "$cg")" --arg policy "$2" \
		--arg previous "$3" --arg previous_id "$4" --arg by "$5" --arg source "$6"
}

changed_id() { # NAME: the policy id of its last "changed" record
	records "$(of changed "$1")" | tail -n 1 | jq -r .policy_id
}

# invalid_record FILE REGEX: the one policy-invalid record of FILE whose
# reason matches REGEX.
invalid_record() {
	records ".event == \"policy-invalid\" and .file == \"$1\"" | jq -c --arg re "$2" 'select(.reason | test($re))'
}

has_invalid_record() { # FILE REGEX
	[ -n "$(invalid_record "$1" "$2")" ] && return 0
	echo "no policy-invalid record of $1 matching $2; the log: $(cat "$LIFECYCLE" 2>/dev/null)" >&2
	return 1
}

# at FILE LINE:COL: a regex for a reason that starts with FILE:LINE:COL
# (FILE as a path or a name).
at() {
	local name
	name=$(basename "$1" | sed 's/\./\\./g')
	echo "^(.*/)?$name:$2: "
}

state_of() { # NAME: its STATE in `cgfence status --json`
	status_json | jq -r --arg id "$(container_id "$1")" '.[] | select(.container_id == $id) | .state'
}

state_is() { # NAME STATE
	local st
	st=$(state_of "$1")
	[ "$st" = "$2" ] && return 0
	echo "container $1: state '$st', not '$2'" >&2
	return 1
}

status_text() {
	"$CGFENCE" status --bpffs "$BPFFS" 2>&1 || true
}

# dir_error_shown TEXT: `cgfence status` prints the line of this test's
# policy directory with TEXT, saying the last good version serves.
dir_error_shown() {
	local out
	out=$(status_text)
	grep -F "policy directory $POLICY_DIR: " <<<"$out" | grep -F "$1" | grep -qF "(the last good version serves)" && return 0
	echo "status shows no error '$1' for $POLICY_DIR: $out" >&2
	return 1
}

no_dir_error_shown() {
	local out
	out=$(status_text)
	! grep -qF "policy directory $POLICY_DIR: " <<<"$out" && return 0
	echo "status still shows an error for $POLICY_DIR: $out" >&2
	return 1
}

reload() {
	"$CGFENCE" reload --policy-dir "$POLICY_DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" "$@"
}

# Two ports with as many digits (an in-place edit then keeps the size, the
# case where only the file's times tell), with a server on each.
two_servers() {
	A=$(random_port)
	B=$((A + 1))
	start_server tcp 127.0.0.1 "$A"
	start_server tcp 127.0.0.1 "$B"
}

@test "while edits are applied, a connection both versions allow never fails" {
	two_servers
	f="$POLICY_DIR/live-gap.json"
	printf '%s\n' "$(allow_ports live-gap "$A")" >"$f"
	start_container gap '{"cgfence.policy": "live-gap"}'
	# A second container on the policy: its tables are shared, and change
	# in place for both at once.
	start_container gap2 '{"cgfence.policy": "live-gap"}'
	enforces gap "$A" "$B"
	cg=$(container_cgroup gap)
	# Ten edits, each a real change of the tables (B allowed or not), each
	# applied before the next while connections to A go on.
	(
		for i in $(seq 5); do
			by_rename "$f" "$(allow_ports live-gap "$A,$B")"
			within $WAIT has_records $((2 * i - 1)) "$(of changed gap)"
			by_rename "$f" "$(allow_ports live-gap "$A")"
			within $WAIT has_records $((2 * i)) "$(of changed gap)"
		done
	) &
	editor=$!
	failures=0
	attempts=0
	while kill -0 $editor 2>/dev/null; do
		"$PROBE" --cgroup "$cg" request tcp 127.0.0.1 "$A" >/dev/null || failures=$((failures + 1))
		attempts=$((attempts + 1))
	done
	wait $editor
	echo "attempts=$attempts failures=$failures"
	[ "$attempts" -gt 20 ]
	[ "$failures" -eq 0 ]
	# The edits really were applied, to the last one.
	within $WAIT has_records 10 "$(of changed gap)"
	within $WAIT enforces gap "$A" "$B"
	enforces gap2 "$A" "$B"
	grep -q 'policies/\?: 2 containers, 2 changed.* 1 shared tables changed in place' "$HOOKD_SOCKET.log"
}

@test "an edit in place reaches the running container within the wait, as one changed record" {
	two_servers
	f="$POLICY_DIR/live-ip.json"
	printf '%s\n' "$(allow_ports live-ip "$A")" >"$f"
	start_container ip '{"cgfence.policy": "live-ip"}'
	enforces ip "$A" "$B"
	first=$(applied_id ip)
	size=$(stat -c %s "$f")

	in_place "$f" "$(allow_ports live-ip "$B")"
	[ "$(stat -c %s "$f")" = "$size" ]
	within $WAIT enforces ip "$B" "$A"
	within $WAIT has_records 1 "$(of changed ip)"
	assert_changed ip live-ip live-ip "$first" annotation hookd
	[ "$(state_of ip)" = ok ]
	[ "$(count_records '.event == "policy-invalid"')" -eq 0 ]
}

@test "an edit by rename reaches the running container; the next container gets the same version" {
	two_servers
	f="$POLICY_DIR/live-mv.json"
	printf '%s\n' "$(allow_ports live-mv "$A")" >"$f"
	start_container mv '{"cgfence.policy": "live-mv"}'
	enforces mv "$A" "$B"
	first=$(applied_id mv)

	by_rename "$f" "$(allow_ports live-mv "$B")"
	within $WAIT enforces mv "$B" "$A"
	within $WAIT has_records 1 "$(of changed mv)"
	assert_changed mv live-mv live-mv "$first" annotation hookd
	start_container mv2 '{"cgfence.policy": "live-mv"}'
	enforces mv2 "$B" "$A"
	[ "$(applied_id mv2)" = "$(changed_id mv)" ]
	# Still one record: the next container changed nothing for the first.
	[ "$(count_records "$(of changed mv)")" -eq 1 ]
}

@test "a container no policy applied to gets one added later" {
	two_servers
	start_container free '{"app": "free"}'
	says free ok request tcp 127.0.0.1 "$B"
	within $WAIT has_records 1 "$(of unconfined free)"
	printf '%s\n' "$(allow_ports default "$A")" >"$POLICY_DIR/default.json.new"
	mv "$POLICY_DIR/default.json.new" "$POLICY_DIR/default.json"
	within $WAIT enforces free "$A" "$B"
	within $WAIT has_records 1 "$(of changed free)"
	assert_record "$(records "$(of changed free)")" \
		'.policy == "default" and .selected_by == "default" and .previous_policy == null'
	rm "$POLICY_DIR/default.json"
}

@test "a policy directory moved away and made anew is watched again" {
	two_servers
	printf '%s\n' "$(allow_ports live-re "$A")" >"$POLICY_DIR/live-re.json"
	start_container re '{"cgfence.policy": "live-re"}'
	enforces re "$A" "$B"
	# Replaced as a whole: inotify's watch stays on the old directory.
	mv "$POLICY_DIR" "$POLICY_DIR.old"
	mkdir "$POLICY_DIR"
	printf '%s\n' "$(allow_ports live-re "$B")" >"$POLICY_DIR/live-re.json"
	within $WAIT enforces re "$B" "$A"
	# And edits of the new directory reach the container too.
	by_rename "$POLICY_DIR/live-re.json" "$(allow_ports live-re "$A")"
	within $WAIT enforces re "$A" "$B"
	[ "$(count_records "$(of changed re)")" -eq 2 ]
	rm -rf "$POLICY_DIR.old"
}

@test "a Kubernetes ConfigMap swap of ..data is one change, for the containers of the policy that changed" {
	two_servers
	# As the kubelet mounts a ConfigMap: each NAME.json -> ..data/NAME.json,
	# ..data -> ..TIMESTAMP/.
	v1="..2026_12_01_08_00_00.123"
	mkdir "$POLICY_DIR/$v1"
	allow_ports live-cm-a "$A" >"$POLICY_DIR/$v1/live-cm-a.json"
	allow_ports live-cm-b "$A" >"$POLICY_DIR/$v1/live-cm-b.json"
	ln -s "$v1" "$POLICY_DIR/..data"
	ln -s ..data/live-cm-a.json "$POLICY_DIR/live-cm-a.json"
	ln -s ..data/live-cm-b.json "$POLICY_DIR/live-cm-b.json"
	start_container cma '{"cgfence.policy": "live-cm-a"}'
	start_container cmb '{"cgfence.policy": "live-cm-b"}'
	enforces cma "$A" "$B"
	enforces cmb "$A" "$B"
	first=$(applied_id cma)

	# The kubelet's update: a new ..TIMESTAMP, a ..data_tmp symlink to it
	# renamed over ..data. Only live-cm-a differs.
	v2="..2026_12_01_08_05_00.456"
	mkdir "$POLICY_DIR/$v2"
	allow_ports live-cm-a "$B" >"$POLICY_DIR/$v2/live-cm-a.json"
	cp "$POLICY_DIR/$v1/live-cm-b.json" "$POLICY_DIR/$v2/live-cm-b.json"
	ln -s "$v2" "$POLICY_DIR/..data_tmp"
	mv -T "$POLICY_DIR/..data_tmp" "$POLICY_DIR/..data"
	within $WAIT enforces cma "$B" "$A"
	within $WAIT has_records 1 "$(of changed cma)"
	assert_changed cma live-cm-a live-cm-a "$first" annotation hookd
	enforces cmb "$A" "$B"
	[ "$(count_records "$(of changed cmb)")" -eq 0 ]

	# The kubelet then removes the old version: nothing changes. A later
	# update of live-cm-b is the mark that hookd has seen the removal.
	rm -rf "${POLICY_DIR:?}/$v1"
	v3="..2026_12_01_08_10_00.789"
	mkdir "$POLICY_DIR/$v3"
	cp "$POLICY_DIR/$v2/live-cm-a.json" "$POLICY_DIR/$v3/live-cm-a.json"
	allow_ports live-cm-b "$B" >"$POLICY_DIR/$v3/live-cm-b.json"
	ln -s "$v3" "$POLICY_DIR/..data_tmp"
	mv -T "$POLICY_DIR/..data_tmp" "$POLICY_DIR/..data"
	rm -rf "${POLICY_DIR:?}/$v2"
	within $WAIT enforces cmb "$B" "$A"
	within $WAIT has_records 1 "$(of changed cmb)"
	enforces cma "$B" "$A"
	[ "$(count_records "$(of changed cma)")" -eq 1 ]
	[ "$(count_records '.event == "policy-invalid" or .event == "kept"')" -eq 0 ]
	[ "$(state_of cma)" = ok ]
}

@test "set add on a ConfigMap-mounted sets/ is refused, naming the file, and the layout is intact; the ConfigMap's update applies" {
	A=$(random_port)
	start_server tcp 127.0.0.1 "$A"
	start_server tcp 127.0.0.2 "$A"
	# sets/ as the kubelet mounts a ConfigMap of set files.
	sets="$POLICY_DIR/sets"
	v1="..2026_12_01_09_00_00.123"
	mkdir -p "$sets/$v1"
	printf '127.0.0.1\n' >"$sets/$v1/cm-ok.txt"
	ln -s "$v1" "$sets/..data"
	ln -s ..data/cm-ok.txt "$sets/cm-ok.txt"
	printf '{"version": 1, "name": "live-cm-set", "egress": {"default": "deny", "rules": [{"action": "allow", "to": ["@cm-ok"], "protocol": "tcp"}]}}\n' >"$POLICY_DIR/live-cm-set.json"
	start_container cms '{"cgfence.policy": "live-cm-set"}'
	says cms ok request tcp 127.0.0.1 "$A"
	says cms EPERM connect tcp 127.0.0.2 "$A"
	listing=$(ls -lA "$sets" "$sets/$v1")

	run "$CGFENCE" set add cm-ok 127.0.0.2 --policy-dir "$POLICY_DIR" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"set cm-ok: $sets/cm-ok.txt is a symbolic link (to ..data/cm-ok.txt): set add changes only a regular file; change the file it leads to (for a Kubernetes ConfigMap, the ConfigMap)"* ]]
	[ "$(ls -lA "$sets" "$sets/$v1")" = "$listing" ]
	[ "$(cat "$sets/cm-ok.txt")" = 127.0.0.1 ]
	says cms EPERM connect tcp 127.0.0.2 "$A"

	# The way to change it: the ConfigMap (the kubelet swaps ..data).
	v2="..2026_12_01_09_05_00.456"
	mkdir "$sets/$v2"
	printf '127.0.0.1\n127.0.0.2\n' >"$sets/$v2/cm-ok.txt"
	ln -s "$v2" "$sets/..data_tmp"
	mv -T "$sets/..data_tmp" "$sets/..data"
	within $WAIT says cms ok request tcp 127.0.0.2 "$A"
	says cms ok request tcp 127.0.0.1 "$A"
}

@test "a syntax error changes nothing: the last good version serves running and new containers; the error shows with its position" {
	two_servers
	f="$POLICY_DIR/live-syn.json"
	printf '%s\n' "$(allow_ports live-syn "$A")" >"$f"
	start_container syn '{"cgfence.policy": "live-syn"}'
	enforces syn "$A" "$B"
	good=$(applied_id syn)

	in_place "$f" "$(syntax_error live-syn)"
	within $WAIT has_invalid_record "$f" "$(at "$f" 2:42)invalid JSON"
	assert_record "$(invalid_record "$f" "$(at "$f" 2:42)")" \
		'.type == "lifecycle" and .source == "hookd" and .policy_dir == $dir' --arg dir "$POLICY_DIR"
	enforces syn "$A" "$B"
	[ "$(count_records "$(of changed syn)")" -eq 0 ]
	dir_error_shown "live-syn.json:2:42: invalid JSON"
	[ "$(state_of syn)" = ok ]

	# A new container naming it starts, with the last good version.
	start_container syn2 '{"cgfence.policy": "live-syn"}'
	enforces syn2 "$A" "$B"
	[ "$(applied_id syn2)" = "$good" ]

	# reload sees the same error; it is recorded once, not on every pass.
	run --separate-stderr reload
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" == *"live-syn.json:2:42: invalid JSON"* ]]
	[ "$(count_records '.event == "policy-invalid"')" -eq 1 ]

	# Fixed: both containers take the new version.
	by_rename "$f" "$(allow_ports live-syn "$B")"
	within $WAIT enforces syn "$B" "$A"
	within $WAIT enforces syn2 "$B" "$A"
	within $WAIT has_records 1 "$(of changed syn2)"
	assert_changed syn live-syn live-syn "$good" annotation hookd
	assert_changed syn2 live-syn live-syn "$good" annotation hookd
	within $WAIT no_dir_error_shown
}

@test "a semantic error changes nothing, each distinct error is recorded once, unrelated containers start" {
	two_servers
	f="$POLICY_DIR/live-sem.json"
	printf '%s\n' "$(allow_ports live-sem "$A")" >"$f"
	printf '%s\n' "$(allow_ports live-other "$A")" >"$POLICY_DIR/live-other.json"
	start_container sem '{"cgfence.policy": "live-sem"}'
	enforces sem "$A" "$B"
	good=$(applied_id sem)

	by_rename "$f" "$(host_bits_error live-sem)"
	within $WAIT has_invalid_record "$f" "$(at "$f" 3:30)egress.rules\[0\].to\[0\]: 10.0.0.1/8 has host bits set"
	assert_record "$(invalid_record "$f" "$(at "$f" 3:30)")" \
		'.source == "hookd" and .policy_dir == $dir' --arg dir "$POLICY_DIR"
	enforces sem "$A" "$B"
	dir_error_shown "live-sem.json:3:30: egress.rules[0].to[0]: 10.0.0.1/8 has host bits set"

	# Another container of the directory starts; so does one naming the
	# broken policy, with its last good version.
	start_container other '{"cgfence.policy": "live-other"}'
	enforces other "$A" "$B"
	start_container sem2 '{"cgfence.policy": "live-sem"}'
	[ "$(applied_id sem2)" = "$good" ]

	# Another error is another record; the first is not repeated.
	by_rename "$f" "$(default_error live-sem)"
	within $WAIT has_invalid_record "$f" "$(at "$f" 2:24)egress.default"
	within $WAIT dir_error_shown "live-sem.json:2:24: egress.default"
	[ "$(count_records '.event == "policy-invalid"')" -eq 2 ]
	enforces sem "$A" "$B"
	[ "$(count_records '.event == "changed"')" -eq 0 ]

	by_rename "$f" "$(allow_ports live-sem "$B")"
	within $WAIT enforces sem "$B" "$A"
	within $WAIT enforces sem2 "$B" "$A"
	within $WAIT has_records 1 "$(of changed sem2)"
	assert_changed sem live-sem live-sem "$good" annotation hookd
	enforces other "$A" "$B"
	within $WAIT no_dir_error_shown
}

@test "a policy never once valid is refused for containers that name it; other containers of the directory start" {
	two_servers
	f="$POLICY_DIR/live-never.json"
	host_bits_error live-never >"$f"
	printf '%s\n' "$(allow_ports live-fine "$A")" >"$POLICY_DIR/live-fine.json"
	printf '%s\n' "$(allow_ports default "$A")" >"$POLICY_DIR/default.json"

	new_bundle never '{"cgfence.policy": "live-never"}' /bin/sleep 600
	run runc_run_detached never
	[ "$status" -ne 0 ]
	run cat "$BATS_TEST_TMPDIR/never.log"
	[[ "$output" == *"container $(container_id never): policy "*"live-never"*" is invalid: "*"live-never.json:3:30: "*"host bits set"* ]]
	[ "$(runc_cmd state never 2>/dev/null | jq -r .status)" != running ]
	[ "$(count_records "$(of applied never)")" -eq 0 ]

	# Neither a container naming another policy nor one taking the
	# default is held up by the broken file.
	start_container fine '{"cgfence.policy": "live-fine"}'
	enforces fine "$A" "$B"
	start_container plain '{}'
	enforces plain "$A" "$B"
	assert_record "$(records "$(of applied plain)")" '.policy == "default" and .selected_by == "default"'

	# Once valid, it serves.
	by_rename "$f" "$(allow_ports live-never "$B")"
	start_container never2 '{"cgfence.policy": "live-never"}'
	enforces never2 "$B" "$A"
}

@test "a new selector takes over a running container, a changed one too, and selection is run again for every container" {
	two_servers
	printf '%s\n' "$(allow_ports default "$A")" >"$POLICY_DIR/default.json"
	start_container blue '{"e2e.cgfence/team": "blue"}'
	start_container red '{"e2e.cgfence/team": "red"}'
	enforces blue "$A" "$B"
	enforces red "$A" "$B"
	default_id=$(applied_id blue)
	assert_record "$(records "$(of applied blue)")" '.policy == "default" and .selected_by == "default"'

	# A new policy whose selector matches blue: blue moves to it.
	f="$POLICY_DIR/live-team.json"
	by_rename "$f" "$(allow_ports live-team "$B" '{"e2e.cgfence/team": "blue"}')"
	within $WAIT enforces blue "$B" "$A"
	within $WAIT has_records 1 "$(of changed blue)"
	assert_changed blue live-team default "$default_id" selector hookd
	enforces red "$A" "$B"
	[ "$(count_records "$(of changed red)")" -eq 0 ]
	team_id=$(changed_id blue)

	# Its selector changed to red: red moves to it, blue back to default.
	by_rename "$f" "$(allow_ports live-team "$B" '{"e2e.cgfence/team": "red"}')"
	within $WAIT enforces red "$B" "$A"
	within $WAIT enforces blue "$A" "$B"
	within $WAIT has_records 1 "$(of changed red)"
	within $WAIT has_records 2 "$(of changed blue)"
	assert_changed red live-team default "$default_id" selector hookd
	assert_record "$(records "$(of changed blue)" | tail -n 1)" \
		'.source == "hookd" and .policy == "default" and .policy_id == $d
		and .previous_policy == "live-team" and .previous_policy_id == $t and .selected_by == "default"' \
		--arg d "$default_id" --arg t "$team_id"
	[ "$(state_of blue)" = ok ]
	[ "$(state_of red)" = ok ]
}

@test "two selectors now matching one container change nothing, and say which files" {
	two_servers
	f1="$POLICY_DIR/live-sel.json"
	f2="$POLICY_DIR/live-sel2.json"
	printf '%s\n' "$(allow_ports live-sel "$A" '{"e2e.cgfence/team": "green"}')" >"$f1"
	start_container green '{"e2e.cgfence/team": "green"}'
	enforces green "$A" "$B"
	good=$(applied_id green)
	assert_record "$(records "$(of applied green)")" '.policy == "live-sel" and .selected_by == "selector"'

	by_rename "$f2" "$(allow_ports live-sel2 "$B" '{"e2e.cgfence/team": "green"}')"
	within $WAIT has_records 1 '.event == "policy-invalid"'
	assert_record "$(records '.event == "policy-invalid"')" \
		'.source == "hookd" and .policy_dir == $dir and (.file == $f1 or .file == $f2)
		and (.file as $f | .reason | startswith($f) or startswith($f | split("/") | last))
		and (.reason | test("selector")) and (.reason | test("live-sel([^2]|$)"))
		and (.reason | test("live-sel2"))' \
		--arg dir "$POLICY_DIR" --arg f1 "$f1" --arg f2 "$f2"
	enforces green "$A" "$B"
	[ "$(count_records "$(of changed green)")" -eq 0 ]
	within $WAIT dir_error_shown "selector"

	# A new container of that team starts, with what served before.
	start_container green2 '{"e2e.cgfence/team": "green"}'
	enforces green2 "$A" "$B"
	assert_record "$(records "$(of applied green2)")" '.policy == "live-sel" and .policy_id == $g' --arg g "$good"

	# The second file gone, the directory is good again: nothing to change.
	rm "$f2"
	within $WAIT no_dir_error_shown
	enforces green "$A" "$B"
	[ "$(count_records '.event == "changed" or .event == "kept"')" -eq 0 ]
}

@test "a removed policy file: its containers keep their last version, flagged kept; added back, it applies" {
	two_servers
	f="$POLICY_DIR/live-rm.json"
	printf '%s\n' "$(allow_ports live-rm "$A")" >"$f"
	start_container rm '{"cgfence.policy": "live-rm"}'
	enforces rm "$A" "$B"
	good=$(applied_id rm)
	[ "$(state_of rm)" = ok ]

	rm "$f"
	within $WAIT has_records 1 "$(of kept rm)"
	assert_record "$(records "$(of kept rm)")" \
		'.type == "lifecycle" and .source == "hookd" and .policy == "live-rm" and .policy_id == $g' \
		--arg g "$good"
	enforces rm "$A" "$B"
	[ "$(count_records "$(of changed rm)")" -eq 0 ]
	within $WAIT state_is rm kept
	run "$CGFENCE" status --bpffs "$BPFFS"
	[[ "$output" == *"$(container_id rm) "*"live-rm"*" kept "* ]]

	# Added back, with other rules: applied, and no longer kept.
	by_rename "$f" "$(allow_ports live-rm "$B")"
	within $WAIT enforces rm "$B" "$A"
	within $WAIT has_records 1 "$(of changed rm)"
	assert_changed rm live-rm live-rm "$good" annotation hookd
	[ "$(state_of rm)" = ok ]
	[ "$(count_records "$(of kept rm)")" -eq 1 ]
	# The kept record said which file went away (checked last, so that a
	# vaguer reason does not hide the rest).
	assert_record "$(records "$(of kept rm)")" '.reason | contains("live-rm.json")'
}

@test "a symlink leading outside the policy directory is refused and never applied" {
	two_servers
	outside="$BATS_TEST_TMPDIR/outside"
	mkdir "$outside"
	allow_ports live-out "$B" >"$outside/live-out.json"
	allow_ports live-ln "$B" >"$outside/live-ln.json"
	ln -s "$outside/live-out.json" "$POLICY_DIR/live-out.json"
	f="$POLICY_DIR/live-ln.json"
	printf '%s\n' "$(allow_ports live-ln "$A")" >"$f"

	# Never valid: a container naming it is refused.
	new_bundle out '{"cgfence.policy": "live-out"}' /bin/sleep 600
	run runc_run_detached out
	[ "$status" -ne 0 ]
	run cat "$BATS_TEST_TMPDIR/out.log"
	[[ "$output" == *"container $(container_id out): "*"live-out"*"leads outside the policy directory"* ]]
	[ "$(count_records "$(of applied out)")" -eq 0 ]
	# The same through a ConfigMap's ..data leading out (relative, via ..).
	allow_ports live-via "$B" >"$outside/live-via.json"
	ln -s ../outside "$POLICY_DIR/..data"
	ln -s ..data/live-via.json "$POLICY_DIR/live-via.json"
	new_bundle via '{"cgfence.policy": "live-via"}' /bin/sleep 600
	run runc_run_detached via
	[ "$status" -ne 0 ]
	run cat "$BATS_TEST_TMPDIR/via.log"
	[[ "$output" == *"container $(container_id via): "*"live-via"*"leads outside the policy directory"* ]]

	start_container ln '{"cgfence.policy": "live-ln"}'
	enforces ln "$A" "$B"
	# Replaced by a symlink out of the directory (relative, through ..):
	# the rules out there are never applied.
	ln -s ../outside/live-ln.json "$f.new"
	mv -T "$f.new" "$f"
	within $WAIT has_invalid_record "$f" "leads outside the policy directory"
	assert_record "$(invalid_record "$f" "leads outside the policy directory")" \
		'.source == "hookd" and .policy_dir == $dir' --arg dir "$POLICY_DIR"
	enforces ln "$A" "$B"
	[ "$(count_records "$(of changed ln)")" -eq 0 ]
	dir_error_shown "leads outside the policy directory"
	run --separate-stderr reload
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"live-ln.json"*"leads outside the policy directory"* ]]
	enforces ln "$A" "$B"
}

@test "20 edits in a burst: the final version wins, whole, and the records form one chain" {
	base=$(random_port)
	# Version V allows base+V and base+100+V. A server on the ports of
	# versions 0 and 20; an allowed port without one answers ECONNREFUSED.
	for p in $base $((base + 100)) $((base + 20)) $((base + 120)); do
		start_server tcp 127.0.0.1 "$p"
	done
	version() { allow_ports live-burst "$((base + $1)), $((base + 100 + $1))"; }
	ports=$(seq "$base" $((base + 20)); seq $((base + 100)) $((base + 120)))
	# scan NAME V: every port of every version, tried from inside the
	# container, gives what version V alone allows.
	scan() {
		local got want p
		got=$(runc_cmd exec "$1" /bin/sh -c \
			'for p in "$@"; do echo "$p $(/probe --timeout-ms 500 connect tcp 127.0.0.1 $p)"; done' sh $ports 2>&1) || true
		want=$(for p in $ports; do
			case $p in
			$((base + $2)) | $((base + 100 + $2))) [ "$2" = 0 ] || [ "$2" = 20 ] && echo "$p ok" || echo "$p ECONNREFUSED" ;;
			*) echo "$p EPERM" ;;
			esac
		done)
		[ "$got" = "$want" ] && return 0
		diff <(echo "$want") <(echo "$got") >&2
		return 1
	}
	f="$POLICY_DIR/live-burst.json"
	printf '%s\n' "$(version 0)" >"$f"
	start_container burst '{"cgfence.policy": "live-burst"}'
	scan burst 0
	first=$(applied_id burst)

	for v in $(seq 1 20); do
		by_rename "$f" "$(version "$v")"
	done
	within $WAIT scan burst 20
	within $WAIT has_records 1 "$(of changed burst)"
	start_container burst2 '{"cgfence.policy": "live-burst"}'
	scan burst2 20
	final=$(applied_id burst2)
	# However many passes the burst took, each record follows the one
	# before and the last is the final version.
	records "$(of changed burst)" | jq -s -e --arg first "$first" --arg final "$final" '
		. as $r | length >= 1 and length <= 20
		and $r[0].previous_policy_id == $first and $r[-1].policy_id == $final
		and ([range(1; length) | $r[.].previous_policy_id == $r[. - 1].policy_id] | all)
		and all(.[]; .source == "hookd" and .policy == "live-burst")' || {
		records "$(of changed burst)" >&2
		false
	}
	[ "$(count_records '.event == "policy-invalid"')" -eq 0 ]
	[ "$(state_of burst)" = ok ]
}

hookd_listening() { # N: hookd's log says "listening" more than N times
	[ "$(grep -c 'hookd: listening on' "$HOOKD_SOCKET.log")" -gt "$1" ]
}

# kill_hookd SIGNAL: the file's hookd gets SIGNAL; returns once it has gone.
kill_hookd() {
	local pid
	pid=$(cat "$HOOKD_SOCKET.pid")
	kill "-$1" "$pid"
	within $WAIT hookd_gone "$pid"
}

# A new hookd, the file's from now on (start_hookd's, told this test's
# state and log: at start it adopts the policy directories of the
# containers recorded there); returns once it listens.
start_new_hookd() {
	local listening
	listening=$(grep -c 'hookd: listening on' "$HOOKD_SOCKET.log")
	"$CGFENCE" -v hookd --socket "$HOOKD_SOCKET" --bpffs "$BPFFS" --lifecycle-log "$LIFECYCLE" \
		2>>"$HOOKD_SOCKET.log" >/dev/null 3>&- &
	echo $! >"$HOOKD_SOCKET.pid"
	within $WAIT hookd_listening "$listening"
}

@test "hookd restarting while an edit happens applies it once it is back, once" {
	two_servers
	f="$POLICY_DIR/live-hr.json"
	printf '%s\n' "$(allow_ports live-hr "$A")" >"$f"
	start_container hr '{"cgfence.policy": "live-hr"}'
	enforces hr "$A" "$B"
	first=$(applied_id hr)

	# Edited while no hookd runs (stopped the normal way): the new one
	# finds the container recorded, watches its directory and applies it.
	kill_hookd TERM
	by_rename "$f" "$(allow_ports live-hr "$B")"
	start_new_hookd
	within $WAIT enforces hr "$B" "$A"
	within $WAIT has_records 1 "$(of changed hr)"
	assert_changed hr live-hr live-hr "$first" annotation hookd

	# Killed right after the edit, within its debounce.
	in_place "$f" "$(allow_ports live-hr "$A")"
	kill_hookd KILL
	start_new_hookd
	within $WAIT enforces hr "$A" "$B"
	within $WAIT has_records 2 "$(of changed hr)"

	# And the new hookd watches on: the next edit arrives too.
	by_rename "$f" "$(allow_ports live-hr "$B")"
	within $WAIT enforces hr "$B" "$A"
	within $WAIT has_records 3 "$(of changed hr)"
	records "$(of changed hr)" | jq -s -e --arg first "$first" '
		. as $r | length == 3 and $r[0].previous_policy_id == $first
		and ([range(1; length) | $r[.].previous_policy_id == $r[. - 1].policy_id] | all)
		and all(.[]; .source == "hookd" and .policy == "live-hr")' || {
		records "$(of changed hr)" >&2
		false
	}
	[ "$(state_of hr)" = ok ]
}

# direct_bundle NAME ANNOTATIONS CMD...: a bundle whose hooks run `cgfence
# hook` itself: no hookd serves it, so none watches its directory.
direct_bundle() {
	local cfg="$BATS_TEST_TMPDIR/bundles/$1/config.json" args
	new_bundle "$@"
	args=$(jq -cn --arg p "$POLICY_DIR" --arg b "$BPFFS" --arg l "$LIFECYCLE" \
		'["cgfence", "hook", "--policy-dir", $p, "--bpffs", $b, "--lifecycle-log", $l]')
	jq --arg c "$CGFENCE" --argjson a "$args" \
		'.hooks.createRuntime[0] += {"path": $c, "args": ($a + ["createRuntime"])}
		| .hooks.poststop[0] += {"path": $c, "args": ($a + ["poststop"])}' "$cfg" >"$cfg.new"
	mv "$cfg.new" "$cfg"
}

@test "cgfence reload applies an edit on demand, without hookd, and says what changed" {
	run "$CGFENCE" reload --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: cgfence reload"* ]]
	run "$CGFENCE" reload --no-such-option
	[ "$status" -eq 2 ]

	two_servers
	f="$POLICY_DIR/live-rl.json"
	printf '%s\n' "$(allow_ports live-rl "$A")" >"$f"
	served=$(hookd_served)
	direct_bundle rl '{"cgfence.policy": "live-rl"}' /bin/sleep 600
	runc_run_detached rl
	[ "$(hookd_served)" -eq "$served" ]
	enforces rl "$A" "$B"
	first=$(applied_id rl)

	by_rename "$f" "$(allow_ports live-rl "$B")"
	run --separate-stderr reload
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	new=$(changed_id rl)
	old_version=$(records "$(of applied rl)" | jq -r .version)
	new_version=$(records "$(of changed rl)" | jq -r .version)
	[ "$old_version" != "$new_version" ]
	[ "$(records "$(of changed rl)" | jq -r .previous_version)" = "$old_version" ]
	assert_output_is "$(container_id rl): live-rl (id $first, version $old_version) -> live-rl (id $new, version $new_version)"
	# reload returns once applied: no wait.
	enforces rl "$B" "$A"
	assert_changed rl live-rl live-rl "$first" annotation reload

	# Nothing more to do: no line, no record.
	run --separate-stderr reload
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(count_records "$(of changed rl)")" -eq 1 ]

	# A broken file: exit 1, the error with its position, nothing changes.
	in_place "$f" "$(syntax_error live-rl)"
	run --separate-stderr reload
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" == *"live-rl.json:2:42: invalid JSON"* ]]
	enforces rl "$B" "$A"
	assert_record "$(invalid_record "$f" "$(at "$f" 2:42)")" \
		'.source == "reload" and .policy_dir == $dir' --arg dir "$POLICY_DIR"
	[ "$(count_records "$(of changed rl)")" -eq 1 ]
	dir_error_shown "live-rl.json:2:42: invalid JSON"
}
