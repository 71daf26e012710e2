#!/bin/sh
# make image: the agent's OCI image, built offline with podman from this
# build (deploy/image/Containerfile, FROM scratch). Its files:
#   /opt/cgfence/libexec/cgfence   the build's binary
#   /opt/cgfence/lib/              the libraries it needs or dlopens, loader included
#   /opt/cgfence/bin/cgfence       runs it with those (deploy/image/bundled.sh)
#   /opt/cgfence/bin/nsenter       util-linux's, the same way
#   /opt/cgfence/bin/cgfence-hook  the static hook client
#   /opt/cgfence/bin/cgfence-node  install/uninstall on a node (deploy/image/)
#   /bin/busybox                   the shell, cp, mv for cgfence-node
# Usage: tools/build_image.sh TAG... (OUT names the build directory).
set -eu
[ $# -ge 1 ] || {
	echo 'usage: tools/build_image.sh TAG...' >&2
	exit 2
}
out=${OUT:-build}
ctx=$out/image
root=$ctx/rootfs
opt=$root/opt/cgfence

rm -rf "$ctx"
mkdir -p "$opt/bin" "$opt/lib" "$opt/libexec" "$root/bin" "$root/tmp" "$root/etc"
cp "$out/cgfence-hook" "$opt/bin/cgfence-hook"
cp deploy/image/cgfence-node "$opt/bin/cgfence-node"
chmod 0755 "$opt/bin/cgfence-node"

# The libraries FILE needs, as paths: ldd's lines are "libx.so.1 =>
# /lib/.../libx.so.1 (0x...)" and the loader's "/lib64/ld-linux-x86-64.so.2
# (0x...)".
needed() {
	ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# Libraries FILE opens with dlopen(3) (libmicrohttpd for --metrics), which
# ldd does not list: the sonames FILE names, where ldconfig knows them.
dlopened() {
	for soname in $(strings -a "$1" | grep -E '^lib[A-Za-z0-9_+-]+\.so\.[0-9]+$' | sort -u); do
		path=$(ldconfig -p | awk -v n="$soname" '$1 == n && $NF ~ /^\// { print $NF; exit }')
		[ -n "$path" ] || {
			echo "build_image: $1 opens $soname, which this host lacks (make deps)" >&2
			exit 1
		}
		echo "$path"
	done
}

# bundle NAME BINARY: BINARY as libexec/NAME, the libraries it needs in
# lib/ (under their own names), and bin/NAME running it with them.
bundle() {
	loader=
	cp "$2" "$opt/libexec/$1"
	extra=$(dlopened "$2") || exit 1
	for lib in $( (needed "$2"; for d in $extra; do echo "$d"; needed "$d"; done) | sort -u); do
		cp -L "$lib" "$opt/lib/${lib##*/}"
		case "${lib##*/}" in ld-linux*) loader=${lib##*/} ;; esac
	done
	[ -n "$loader" ] || {
		echo "build_image: ldd named no dynamic loader for $2" >&2
		exit 1
	}
	# The loader under the binary's name: the process is then called NAME
	# (comm: ps, pgrep, the kernel's audit records), not ld-linux.
	mkdir -p "$opt/libexec/loader"
	ln -sf "../../lib/$loader" "$opt/libexec/loader/$1"
	sed "s|@NAME@|$1|g" deploy/image/bundled.sh >"$opt/bin/$1"
	chmod 0755 "$opt/bin/$1"
}
bundle cgfence "$out/cgfence"
# busybox's nsenter has no cgroup namespace option; util-linux's has.
bundle nsenter "$(command -v nsenter)"
"$opt/bin/cgfence" --version | awk 'NR == 1 { print $2 }' >"$opt/VERSION"
cp /bin/busybox "$root/bin/busybox"
for applet in sh cat cp ln mv rm mkdir stat chmod; do
	ln -s busybox "$root/bin/$applet"
done
# cgfence's own messages name users nowhere, but libc asks for these.
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
chmod 1777 "$root/tmp"
cp deploy/image/Containerfile "$ctx/Containerfile"
tags=
for tag in "$@"; do
	tags="$tags -t $tag"
done
# shellcheck disable=SC2086 # one word per -t and tag
podman build --quiet --pull=never --network=none $tags -f "$ctx/Containerfile" "$ctx" >/dev/null
echo "image $*: $(du -sh "$root" | cut -f1) ($(cat "$opt/VERSION"))"
