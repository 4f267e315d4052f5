#!/bin/sh
# Unpacks Debian's busybox-static for i386 into build/busybox-i386 (a root
# file system with /bin/busybox and its applet links), for `kmemsim run
# --root build/busybox-i386 /bin/busybox ...` and test/linux/busybox.test.ts.
# Needs apt-get and, once, as root: dpkg --add-architecture i386 && apt-get update.
set -e
cd "$(dirname "$0")/.."
dest=build/busybox-i386
[ -x "$dest/bin/busybox" ] && exit 0
if [ "$(id -u)" = 0 ] && ! dpkg --print-foreign-architectures | grep -qx i386; then
  dpkg --add-architecture i386
  apt-get update </dev/null >/dev/null
fi
tmp=$(mktemp -d)
(cd "$tmp" && apt-get download busybox-static:i386 </dev/null >/dev/null) || {
  echo "fetch-busybox: apt-get download busybox-static:i386 failed (as root: dpkg --add-architecture i386 && apt-get update)" >&2
  exit 1
}
mkdir -p "$dest"
dpkg-deb -x "$tmp"/busybox-static_*_i386.deb "$dest"
rm -rf "$tmp"
echo "fetch-busybox: $dest/bin/busybox"
