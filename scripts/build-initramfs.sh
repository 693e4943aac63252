#!/bin/sh
# Build the S3 test guest's initramfs for the base BASE (scripts/base.sh)
# in build/<linux tree>-guest/initramfs.cpio: busybox (static), rtcwake
# from util-linux with the C library it needs, guest/init and the guest
# programs compiled statically from guest/*.c against the guest kernel's
# uapi headers.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
out=$top/build/$LINUX_TREE-guest
root=$out/root
obj=$top/build/$LINUX_TREE-build

say() { printf 'build initramfs: %s\n' "$*"; }

# the guest programs use the guest kernel's own uapi headers (drm)
hdr=$obj/usr/include
make -s -C "$top/build/$LINUX_TREE" O="$obj" headers

rm -rf "$root"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
for c in "$top"/guest/*.c; do
	name=$(basename "$c" .c)
	gcc -static -O2 -Wall -Werror -I"$hdr" -o "$root/bin/$name" "$c"
done
# rtcwake is dynamically linked: bring its libraries, at the same paths
cp /usr/sbin/rtcwake "$root/bin/rtcwake"
for lib in $(ldd /usr/sbin/rtcwake | awk '/\//{ print ($3 ~ /^\//) ? $3 : $1 }'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
cp "$top/guest/init" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out/initramfs.cpio"
say "done: ${out#"$top"/}/initramfs.cpio ($(du -k "$out/initramfs.cpio" | cut -f1) KiB)"
