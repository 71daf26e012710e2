#!/bin/sh
# @NAME@ as the agent image and its node copy ship it: the binary runs with
# the libraries it was built against (lib/, loader included), so that the
# copy works on any node, whatever its own libraries. cgfence-hook runs
# bin/cgfence (the `cgfence` next to it) when no hookd listens.
# libexec/loader/@NAME@ is the loader, named so that the process is.
d=${0%/bin/*}
exec "$d/libexec/loader/@NAME@" --library-path "$d/lib" --argv0 @NAME@ "$d/libexec/@NAME@" "$@"
