#!/bin/sh
# make deb: the Debian package, built offline with debhelper from a copy of
# the source tree in $OUT/deb/cgfence (the tree itself stays clean), with
# contrib/debian/ as its debian/. The copy's build/ is kept between runs,
# so a second `make deb` rebuilds only what changed. Prints the .deb.
set -eu
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
DEB_DIR=$OUT/deb
SRC=$DEB_DIR/cgfence

# A Debian version sorts by the commit's time: 0~gitYYYYMMDDhhmmss.HASH
# (+dirty when the tree has changes); --version prints git's description.
upstream=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
when=$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null || date -u +%Y%m%d%H%M%S)
hash=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
version=${DEB_VERSION:-0~git$when.$hash}
case $upstream in *-dirty) version=$version+dirty ;; esac

mkdir -p "$SRC"
# The kept build/ is reused only while the Makefile and debian/rules (the
# flags) are the ones it was built with: make does not track them.
stamp=$(cat Makefile contrib/debian/rules | sha256sum | cut -d' ' -f1)
if [ "$(cat "$SRC/build/.make-deb-stamp" 2>/dev/null)" != "$stamp" ]; then
	rm -rf "$SRC/build"
	mkdir -p "$SRC/build"
	echo "$stamp" >"$SRC/build/.make-deb-stamp"
fi
# Everything of the copy but its build/ goes: a file removed here must not
# stay there. Tracked and untracked files (not ignored ones) are copied,
# with their times, so make in the copy sees what changed.
find "$SRC" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf - | tar -C "$SRC" -xf -
else
	# A release tarball: everything but the build output.
	tar --exclude=./build --exclude="./$OUT" -cf - . | tar -C "$SRC" -xf -
fi
rm -rf "$SRC/debian"
cp -r contrib/debian "$SRC/debian"
echo "$upstream" >"$SRC/debian/cgfence-version"
{
	echo "cgfence ($version) unstable; urgency=medium"
	echo
	echo "  * Built from $upstream."
	echo
	echo " -- cgfence developers <cgfence-devel@example.org>  $(date -R -u)"
} >"$SRC/debian/changelog"

rm -f "$DEB_DIR"/cgfence_*.deb "$DEB_DIR"/cgfence-dbgsym_* "$DEB_DIR"/cgfence_*.buildinfo "$DEB_DIR"/cgfence_*.changes
(cd "$SRC" && dpkg-buildpackage -us -uc -b >../build.log 2>&1) || {
	tail -n 30 "$DEB_DIR/build.log" >&2
	echo "make deb: dpkg-buildpackage failed; the whole log is $DEB_DIR/build.log" >&2
	exit 1
}
ls "$DEB_DIR"/cgfence_*.deb
