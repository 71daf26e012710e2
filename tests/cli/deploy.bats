#!/usr/bin/env bats
# What deploy/kubernetes/ must keep: the DaemonSet's privileges, every node
# path it uses and none more, the policies mounted whole (no subPath), the
# metrics on the pod's address and a named port, no API access, and
# policies that pass cgfence check. tests/e2e/agent.bats runs it.

setup() {
	CGFENCE=${OUT:-build}/cgfence
	DIR=$(mktemp -d)
}

teardown() {
	rm -rf "$DIR"
}

# manifest PYTHON: runs PYTHON with ds (the DaemonSet), pod (its pod
# spec) and containers (init ones first) from deploy/kubernetes/cgfence.yaml.
manifest() {
	python3 -c "import sys, yaml
docs = [d for d in yaml.safe_load_all(open('deploy/kubernetes/cgfence.yaml')) if d]
ds = [d for d in docs if d['kind'] == 'DaemonSet'][0]
pod = ds['spec']['template']['spec']
containers = {c['name']: c for c in pod.get('initContainers', []) + pod['containers']}
kinds = sorted(d['kind'] for d in docs)
$1"
}

@test "the DaemonSet: host PID namespace, privileged containers, the node paths it needs and no others" {
	run manifest "
assert pod['hostPID'] is True, 'hostPID'
assert not pod.get('hostNetwork'), 'hostNetwork: the metrics must not listen on the node'
assert sorted(containers) == ['daemon', 'hookd', 'install'], sorted(containers)
for name, c in containers.items():
    assert c['securityContext']['privileged'] is True, name
paths = sorted(v['hostPath']['path'] for v in pod['volumes'] if 'hostPath' in v)
print(' '.join(paths))
mounted = {m['name'] for c in containers.values() for m in c.get('volumeMounts', [])}
unused = [v['name'] for v in pod['volumes'] if v['name'] not in mounted]
assert not unused, unused
"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "/etc/containers/oci/hooks.d /opt/cgfence /run/cgfence /sys/fs/bpf /sys/fs/cgroup /var/lib/kubelet/pods /var/log/cgfence" ]
}

@test "the DaemonSet: each container mounts what it uses, under the paths cgfence-node and the daemon expect" {
	run manifest "
def mounts(name):
    vols = {v['name']: v for v in pod['volumes']}
    out = {}
    for m in containers[name].get('volumeMounts', []):
        v = vols[m['name']]
        src = v['hostPath']['path'] if 'hostPath' in v else 'configMap:' + v['configMap']['name']
        out[m['mountPath']] = src
    return out
env = {e['name']: e.get('value') for e in containers['install']['env']}
host = lambda p: '/host' + p
i = mounts('install')
assert i[host(env['NODE_DIR'])] == env['NODE_DIR'], i
assert i[host(env['HOOKS_DIR'])] == env['HOOKS_DIR'], i
assert i[host(env['RUN_DIR'])] == env['RUN_DIR'], i
assert i[host(env['KUBELET_DIR'] + '/pods')] == env['KUBELET_DIR'] + '/pods', i
assert i[env['POLICY_MOUNT']] == 'configMap:cgfence-policies', i
vol = [m for m in containers['install']['volumeMounts'] if m['mountPath'] == env['POLICY_MOUNT']][0]
assert vol['name'] == env['POLICY_VOLUME'], vol
# the directory the kubelet keeps the volume in is named after its kind
kind = [k for k in ('configMap', 'projected') if k in [v for v in pod['volumes'] if v['name'] == vol['name']][0]]
plugins = {'configMap': 'kubernetes.io~configmap', 'projected': 'kubernetes.io~projected'}
assert env['POLICY_VOLUME_PLUGIN'] == plugins[kind[0]], env['POLICY_VOLUME_PLUGIN']
h = mounts('hookd')
for p in ('NODE_DIR', 'HOOKS_DIR', 'RUN_DIR'):
    assert h[host(env[p])] == env[p], (p, h)
d = mounts('daemon')
assert d['/sys/fs/bpf'] == '/sys/fs/bpf' and env['BPFFS'].startswith('/sys/fs/bpf/'), d
assert d['/var/log/cgfence'] == '/var/log/cgfence' and env['LOG'].startswith('/var/log/cgfence/'), d
assert d['/run/cgfence'] == '/run/cgfence', d
bpf = [m for m in containers['daemon']['volumeMounts'] if m['mountPath'] == '/sys/fs/bpf'][0]
assert bpf.get('mountPropagation') == 'HostToContainer', bpf
# hookd and the daemon use the same state and log as the hook
assert containers['hookd']['env'] == containers['install']['env']
denv = {e['name']: e.get('value') for e in containers['daemon']['env']}
assert denv['BPFFS'] == env['BPFFS'] and denv['LOG'] == env['LOG'], denv
assert containers['hookd']['lifecycle']['preStop']['exec']['command'] == ['/opt/cgfence/bin/cgfence-node', 'uninstall']
"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the policies: the whole ConfigMap, never a subPath, read-only" {
	run manifest "
cm = [v for v in pod['volumes'] if 'configMap' in v]
assert [v['configMap']['name'] for v in cm] == ['cgfence-policies'], cm
assert 'items' not in cm[0]['configMap'], 'items: every key of the ConfigMap is a policy'
for name, c in containers.items():
    for m in c.get('volumeMounts', []):
        assert 'subPath' not in m and 'subPathExpr' not in m, (name, m)
        if m['name'] == cm[0]['name']:
            assert m.get('readOnly') is True, m
cmdoc = yaml.safe_load(open('deploy/kubernetes/policies-configmap.yaml'))
assert cmdoc['kind'] == 'ConfigMap' and cmdoc['metadata']['name'] == 'cgfence-policies'
assert cmdoc['metadata']['namespace'] == ds['metadata']['namespace']
"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the metrics: on the pod's own address, through a named port; no API access, so no RBAC" {
	run manifest "
d = containers['daemon']
args = d['args']
addr = args[args.index('--metrics') + 1]
env = {e['name']: e for e in d['env']}
assert env['POD_IP']['valueFrom']['fieldRef']['fieldPath'] == 'status.podIP', env['POD_IP']
port = [p for p in d['ports'] if p['name'] == 'metrics']
assert len(port) == 1 and addr == '\$(POD_IP):%d' % port[0]['containerPort'], (addr, port)
assert not any('hostPort' in p for c in containers.values() for p in c.get('ports', []))
assert pod.get('automountServiceAccountToken') is False, 'nothing talks to the API server'
assert kinds == ['DaemonSet'], kinds
"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the ConfigMap's policies pass cgfence check as a directory" {
	python3 - "$DIR" <<-'PY'
		import sys, yaml
		cm = yaml.safe_load(open("deploy/kubernetes/policies-configmap.yaml"))
		for key, text in cm["data"].items():
		    open(f"{sys.argv[1]}/{key}", "w").write(text)
	PY
	run "$CGFENCE" check "$DIR"
	[ "$status" -eq 0 ]
	[[ "$output" == *"2 policies, 1 with a selector"* ]]
}

@test "the commands the manifest runs are commands cgfence has" {
	run manifest "
print(' '.join(containers['daemon']['args']))
print(' '.join(containers['hookd']['args']))
"
	[ "$status" -eq 0 ]
	daemon_args=${lines[0]} hookd_args=${lines[1]}
	run "$CGFENCE" daemon --help
	for opt in $(echo "$daemon_args" | grep -o -- '--[a-z-]*'); do
		[[ "$output" == *"$opt"* ]] || { echo "cgfence daemon has no $opt" >&2; false; }
	done
	run "$CGFENCE" hookd --help
	for opt in $(echo "$hookd_args" | grep -o -- '--[a-z-]*'); do
		[[ "$output" == *"$opt"* ]] || { echo "cgfence hookd has no $opt" >&2; false; }
	done
}
