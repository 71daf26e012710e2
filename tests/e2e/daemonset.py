#!/usr/bin/env python3
"""The podman command line that runs one container of
deploy/kubernetes/cgfence.yaml as the kubelet would on a node: the pod's
privileges and PID namespace, its hostPath and ConfigMap volumes, its env
(downward API values given here) with $(VAR) expanded in command and args.
There is no kubelet here; this is what it does, spelled out.

  daemonset.py MANIFEST CONTAINER [--map NODE=TEST]... [--env K=V]...
               [--configmap DIR] [--pod-uid UID] [--pod-ip IP] [--prestop]

--map relocates a node path (a prefix) to a test directory, in hostPath
volumes, their mounts under /host and env values alike; hostPath
directories of type DirectoryOrCreate are made, as the kubelet makes them. Prints a JSON
object: {"podman": [run options...], "entrypoint": [...], "args": [...]}
or, with --prestop, the container's preStop command as a JSON array.
"""
import argparse
import json
import os
import re
import sys

import yaml


def relocate(path, maps):
    for node, test in maps:
        if path == node or path.startswith(node + "/"):
            return test + path[len(node):]
    return path


def expand(text, env):
    # Kubernetes' $(VAR) expansion; $$(VAR) stays literal.
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
                  text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("container")
    ap.add_argument("--map", action="append", default=[])
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--configmap")
    ap.add_argument("--pod-uid", default="")
    ap.add_argument("--pod-ip", default="127.0.0.1")
    ap.add_argument("--prestop", action="store_true")
    a = ap.parse_args()
    maps = [tuple(m.split("=", 1)) for m in a.map]
    overrides = dict(e.split("=", 1) for e in a.env)

    docs = [d for d in yaml.safe_load_all(open(a.manifest)) if d]
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    containers = pod.get("initContainers", []) + pod["containers"]
    c = next(c for c in containers if c["name"] == a.container)
    if a.prestop:
        print(json.dumps(c["lifecycle"]["preStop"]["exec"]["command"]))
        return

    fields = {"metadata.uid": a.pod_uid, "status.podIP": a.pod_ip}
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = relocate(expand(e["value"], env), maps)
        else:
            env[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
    env.update(overrides)

    opts = []
    if pod.get("hostPID"):
        opts.append("--pid=host")
    if c.get("securityContext", {}).get("privileged"):
        opts.append("--privileged")
    for k, v in env.items():
        opts += ["--env", f"{k}={v}"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for m in c.get("volumeMounts", []):
        if "subPath" in m:
            sys.exit(f"{a.container}: volume {m['name']} is mounted with subPath")
        v = volumes[m["name"]]
        target = m["mountPath"]
        if "hostPath" in v:
            node = v["hostPath"]["path"]
            source = relocate(node, maps)
            kind = v["hostPath"].get("type", "")
            # What the kubelet does for these types before the container starts.
            if kind == "DirectoryOrCreate":
                os.makedirs(source, mode=0o755, exist_ok=True)
            elif kind == "Directory" and not os.path.isdir(source):
                sys.exit(f"{a.container}: hostPath {source} is not a directory")
            if target == node:
                target = source
            elif target == "/host" + node:
                target = "/host" + source
        elif "configMap" in v:
            source = a.configmap
        else:
            sys.exit(f"{a.container}: volume {m['name']}: only hostPath and configMap are reproduced")
        flags = ["ro" if m.get("readOnly") else "rw"]
        prop = m.get("mountPropagation")
        if prop == "HostToContainer":
            flags.append("rslave")
        elif prop == "Bidirectional":
            flags.append("rshared")
        opts += ["--volume", f"{source}:{target}:{','.join(flags)}"]
    print(json.dumps({
        "podman": opts,
        "entrypoint": [expand(x, env) for x in c.get("command", [])],
        "args": [expand(x, env) for x in c.get("args", [])],
    }))


main()
