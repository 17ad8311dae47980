#!/usr/bin/env bash
# Build a Raspberry Pi stand-in userland once per machine and cache it.
#
#   tools/build_standin.sh arm64|armhf [--force|--print-tarball]
#
# Writes $CACHE/bookworm-ARCH-TAG.tar.gz (CACHE defaults to
# /var/cache/bnnkit-standins): a Debian bookworm --variant=minbase userland
# of ARCH with python3, numpy and cffi, as 64-bit (arm64) or 32-bit (armhf)
# Raspberry Pi OS has them; arm64 also has python3-opencv (its Depends only),
# for the remote classification demo. The deploy tests unpack it under
# /var/lib/bnnkit-standins/ARCH and serve it through sshd's ChrootDirectory,
# with qemu-user-static running its programs (binfmt_misc, F flag). TAG hashes
# the suite and package list, so a cache built from another list is not used
# but rebuilt (and the old tarball removed); --print-tarball prints the path
# (no root needed; tests/pi_standin.py asks for it).
#
# Idempotent: an existing tarball is kept unless --force. Needs root,
# debootstrap, qemu-user-static and the Debian mirror (BNNKIT_DEBIAN_MIRROR
# overrides the one from /etc/apt). Cost on 2 cores (debootstrap's second
# stage runs emulated): armhf about 4-7 minutes, ~75 MB compressed; arm64
# about 14 minutes, ~320 MB compressed, ~950 MB unpacked (python3-opencv's
# Depends are ~420 packages, 210 MB of .debs: Qt5, VTK, GDAL, ffmpeg, ...).
set -euo pipefail

ARCH=${1:-}
MODE=${2:-}
case "$ARCH" in
    arm64) QEMU=aarch64 ;;
    armhf) QEMU=arm ;;
    *) echo "usage: $0 arm64|armhf [--force|--print-tarball]" >&2; exit 2 ;;
esac
case "$MODE" in
    ""|--force|--print-tarball) ;;
    *) echo "usage: $0 arm64|armhf [--force|--print-tarball]" >&2; exit 2 ;;
esac
SUITE=bookworm
PACKAGES=python3,python3-numpy,python3-cffi,python3-ply
CHECK='import numpy, cffi; print("python3 ok: numpy", numpy.__version__, "cffi", cffi.__version__)'
if [ "$ARCH" = arm64 ]; then        # the remote demo's device: OpenCV as on a Pi running it
    PACKAGES=$PACKAGES,python3-opencv
    CHECK="$CHECK; import cv2; print('cv2', cv2.__version__)"
fi
CACHE=${BNNKIT_STANDIN_CACHE:-/var/cache/bnnkit-standins}
TAG=$(printf '%s %s' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-8)
TARBALL=$CACHE/$SUITE-$ARCH-$TAG.tar.gz
if [ "$MODE" = --print-tarball ]; then
    echo "$TARBALL"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "$0: must run as root (debootstrap, binfmt_misc)" >&2; exit 1; }
mkdir -p "$CACHE"
# One build per ARCH at a time: a second caller (e.g. the test fixture while
# CI builds in the background) waits here, then finds the tarball.
exec 9>"$CACHE/.build-$ARCH.lock"
flock 9
if [ -s "$TARBALL" ] && [ "$MODE" != "--force" ]; then
    echo "$TARBALL exists (use --force to rebuild)"
    exit 0
fi
for tool in debootstrap qemu-$QEMU-static; do
    command -v "$tool" >/dev/null || {
        echo "$0: $tool not found; apt-get install debootstrap qemu-user-static" >&2; exit 1; }
done

MIRROR=${BNNKIT_DEBIAN_MIRROR:-}
if [ -z "$MIRROR" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$MIRROR" ] && [ -f /etc/apt/sources.list ]; then
    MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
fi
MIRROR=${MIRROR:-http://deb.debian.org/debian}

# binfmt_misc with the F flag: the kernel opens the interpreter at
# registration, so it also runs inside the chroot. Register only if nothing
# with the F flag handles ARCH yet, and unregister only what we registered.
BINFMT=/proc/sys/fs/binfmt_misc
# (the arm64 and armhf builds may start together: the loser of the mount race is fine)
mountpoint -q $BINFMT || mount -t binfmt_misc binfmt_misc $BINFMT 2>/dev/null || mountpoint -q $BINFMT
registered=""
has_handler() {
    local f
    for f in $BINFMT/*; do
        [ -f "$f" ] || continue
        grep -q "^interpreter .*qemu-$QEMU" "$f" 2>/dev/null &&
            grep -q '^enabled' "$f" && grep -q '^flags:.*F' "$f" && return 0
    done
    return 1
}
if ! has_handler; then
    magic=$(awk '/^magic/{print $2}' /usr/share/binfmts/qemu-$QEMU)
    mask=$(awk '/^mask/{print $2}' /usr/share/binfmts/qemu-$QEMU)
    registered=bnnkit-build-$QEMU
    echo ":$registered:M::$magic:$mask:/usr/bin/qemu-$QEMU-static:F" > $BINFMT/register
fi

WORK=$(mktemp -d "$CACHE/build-$ARCH.XXXXXX")
cleanup() {
    [ -n "$registered" ] && [ -e "$BINFMT/$registered" ] && echo -1 > "$BINFMT/$registered"
    for m in proc dev/pts; do mountpoint -q "$WORK/root/$m" && umount "$WORK/root/$m"; done
    rm -rf "$WORK"
}
trap cleanup EXIT

ROOT=$WORK/root
start=$(date +%s)
echo "debootstrap $SUITE $ARCH from $MIRROR into $ROOT (emulated second stage, minutes)"
debootstrap --arch="$ARCH" --variant=minbase --include="$PACKAGES" \
    "$SUITE" "$ROOT" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORK/debootstrap.log" >&2
    [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
    echo "$0: debootstrap failed" >&2; exit 1; }

# As on a Pi: apt sources, a hostname, root's home; no package caches.
echo "deb $MIRROR $SUITE main" > "$ROOT/etc/apt/sources.list"
echo "pi-standin-$ARCH" > "$ROOT/etc/hostname"
mkdir -p "$ROOT/root" && chmod 700 "$ROOT/root"
chroot "$ROOT" /usr/bin/python3 -c "$CHECK"
echo "$PACKAGES" > "$ROOT/etc/bnnkit-standin-packages"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT/debootstrap"

tar -C "$ROOT" --numeric-owner -czf "$WORK/out.tar.gz" .
mv -f "$WORK/out.tar.gz" "$TARBALL"
for old in "$CACHE/$SUITE-$ARCH.tar.gz" "$CACHE/$SUITE-$ARCH"-*.tar.gz; do   # other lists
    if [ -e "$old" ] && [ "$old" != "$TARBALL" ]; then rm -f "$old"; fi
done
echo "built $TARBALL ($(du -h "$TARBALL" | cut -f1)) in $(( $(date +%s) - start )) s"
