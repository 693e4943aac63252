#!/bin/sh
# Build virglrenderer (pins/common: the upstream 1.1.0 release archive) into
# build/virglrenderer-VERSION/install, for QEMU to build against
# (scripts/build-qemu.sh).  Debian 12's libvirglrenderer is 0.10.4, with
# which QEMU compiles its blob, hostmem, context-init and async-fence
# paths out (VIRGL_VERSION_MAJOR 0); Debian 13 users run 1.1.0.
#
# Only what QEMU's virtio-gpu-gl uses: no Venus (Vulkan), no video, no
# tests.  Once built, a second run only checks.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
dir=$top/build/virglrenderer-$VIRGL_VERSION
src=$dir/src
obj=$dir/build
prefix=$dir/install

say() { printf 'build virglrenderer: %s\n' "$*"; }

if [ -f "$prefix/.done" ]; then
	say "$VIRGL_VERSION in ${prefix#"$top"/}"
	exit 0
fi
"$top/scripts/fetch.sh" virglrenderer
rm -rf "$dir"
mkdir -p "$src"
tar -xzf "$top/build/cache/$VIRGL_TARBALL" -C "$src" --strip-components=1
cc=gcc
[ ! -x /usr/lib/ccache/gcc ] || cc=/usr/lib/ccache/gcc
say "meson setup (venus, video and tests off)"
CC=$cc meson setup "$obj" "$src" --prefix="$prefix" --libdir=lib \
	--buildtype=release -Dvenus=false -Dvideo=false -Dtests=false \
	>"$dir/setup.log" 2>&1 || { tail -30 "$dir/setup.log"; exit 1; }
ninja -C "$obj" install >"$dir/build.log" 2>&1 || { tail -30 "$dir/build.log"; exit 1; }
touch "$prefix/.done"
say "done: $VIRGL_VERSION in ${prefix#"$top"/}"
