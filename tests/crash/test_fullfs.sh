#!/bin/sh
# test_fullfs.sh - a real full filesystem: mount a 16 MiB tmpfs, put the
# store's data on it next to a ballast file, write until the store refuses
# for lack of space (reads must go on), delete the ballast, and check that
# writes resume by themselves and nothing acknowledged was lost.
# Exits 77 (skip) where it cannot mount (not root, no mount namespace).
# usage: test_fullfs.sh PATH/TO/sf_crashtest
set -u
BIN="$1"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sf_fullfs.XXXXXX")
cleanup() {
	umount "$tmp/mnt" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/mnt"
if ! mount -t tmpfs -o size=16m tmpfs "$tmp/mnt" 2>/dev/null; then
	echo "SKIP: cannot mount a tmpfs here"
	exit 77
fi
# ballast: most of the space, leaving a few MiB for the store
dd if=/dev/zero of="$tmp/mnt/ballast" bs=1M count=13 status=none
"$BIN" fill "$tmp/mnt/data" "$tmp/mnt/ballast"
