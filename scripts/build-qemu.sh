#!/bin/sh
# Configure (once) and build QEMU for the base BASE (scripts/base.sh):
# from build/<qemu tree> in build/<qemu tree>-build.
#
# The configuration is the smallest that serves the series and its tests:
#   x86_64-softmmu only; TCG and KVM; OpenGL, virglrenderer, SDL (the GL
#   display for virtio-gpu-gl), pixman, slirp (user networking); no docs;
#   no downloads (subprojects) and no firmware blobs installed (the +ds
#   source ships none: the SeaBIOS the harness builds, and Debian's
#   seabios, ipxe-qemu and qemu-system-data for the rest, are linked in
#   below).
# virglrenderer is the pinned 1.1.0 (scripts/build-virgl.sh), found with
#   pkg-config and linked with an rpath, so that QEMU's blob, hostmem,
#   context-init and async-fence code is built (VIRGL_VERSION_MAJOR 1).
# --python=/usr/bin/python3: a python3 earlier on PATH (pyenv, a venv) must
# not shadow Debian's, whose meson and modules the build uses.
# ccache: QEMU's configure hands meson a plain 'cc', so ask for it here.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
src=$top/build/$QEMU_TREE
# QEMU_BUILD_DIR, QEMU_EXTRA_CONFIGURE and QEMU_CC serve other builds of
# the same tree (scripts/check-asan.sh).  PRISTINE=1 builds the base
# without the series, from a worktree at 'base', in
# build/<qemu tree>-pristine-build (check-known, bench).
obj=${QEMU_BUILD_DIR:-$top/build/$QEMU_TREE-build}
if [ "${PRISTINE:-}" = 1 ]; then
	src=$top/build/$QEMU_TREE-pristine
	obj=$top/build/$QEMU_TREE-pristine-build
	if [ "$(git -C "$src" rev-parse HEAD 2>/dev/null)" != \
	     "$(git -C "$top/build/$QEMU_TREE" rev-parse base)" ]; then
		rm -rf "$src" "$obj"
		git -C "$top/build/$QEMU_TREE" worktree prune
		git -C "$top/build/$QEMU_TREE" worktree add -q --detach "$src" base
	fi
fi
jobs=${JOBS:-$(nproc)}
virgl=$top/build/virglrenderer-$VIRGL_VERSION/install

say() { printf 'build qemu: %s\n' "$*"; }

CONFIGURE_FLAGS="--target-list=x86_64-softmmu --without-default-features
	--enable-kvm --enable-tcg --enable-opengl --enable-virglrenderer
	--enable-sdl --enable-pixman --enable-slirp --disable-docs
	--disable-download --disable-install-blobs
	--python=/usr/bin/python3"

"$top/scripts/build-virgl.sh"
PKG_CONFIG_PATH=$virgl/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH

cc=${QEMU_CC:-gcc}
if [ -x "/usr/lib/ccache/$cc" ]; then
	cc=/usr/lib/ccache/$cc
	# One cache for every clone of the project: paths below the project
	# are hashed relative to it, and the working directory is left out
	# (it only names the folder in the debug info).
	CCACHE_BASEDIR=$top
	CCACHE_NOHASHDIR=1
	export CCACHE_BASEDIR CCACHE_NOHASHDIR
	ccache -M 5G >/dev/null 2>&1 || true
fi

flags="$CONFIGURE_FLAGS --cc=$cc --extra-ldflags=-Wl,-rpath,$virgl/lib${QEMU_EXTRA_CONFIGURE:+ $QEMU_EXTRA_CONFIGURE}"
stamp=$obj/.configure-flags
if [ ! -f "$obj/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$flags" ]; then
	say "configure (out of tree, in ${obj#"$top"/})"
	rm -rf "$obj"
	mkdir -p "$obj"
	# shellcheck disable=SC2086 # the flags are words
	(cd "$obj" && "$src/configure" $flags) >"$obj.configure.log" 2>&1 || {
		tail -40 "$obj.configure.log" >&2
		say "configure failed; full log in ${obj#"$top"/}.configure.log"
		exit 1
	}
	echo "$flags" >"$stamp"
fi
grep -q "define VIRGL_VERSION_MAJOR 1" "$obj/config-host.h" || {
	say "configure did not find virglrenderer $VIRGL_VERSION (${virgl#"$top"/}):"
	grep VIRGL_VERSION "$obj/config-host.h" >&2 || true
	exit 1
}

# --suite NAME: what meson's test suite NAME needs (its tests and what
# they depend on, from meson's introspection) instead of ninja's default
# 'all': 'make check' builds the x86_64 qtests without the unit tests,
# tools and test programs it does not run (1,900 of 2,625 steps).
if [ "${1:-}" = --suite ]; then
	suite=${2:?build qemu: --suite needs a meson test suite name}
	shift 2
	targets=$("$obj/pyvenv/bin/meson" introspect --tests --targets "$obj" |
		/usr/bin/python3 -c '
import json, os, sys
suite, obj = sys.argv[1], sys.argv[2]
intro = json.load(sys.stdin)
files = {t["id"]: t["filename"] for t in intro["targets"]}
out = set()
for test in intro["tests"]:
    if any(s.split(":")[-1] == suite for s in test["suite"]):
        out.add(test["cmd"][0])
        for dep in test.get("depends", []):
            out.update(files.get(dep, []))
if not out:
    sys.exit(f"build qemu: meson lists no test in suite {suite}")
print("\n".join(sorted(os.path.relpath(f, obj) for f in out)))
' "$suite" "$obj")
	# shellcheck disable=SC2086 # one target a word
	set -- $targets "$@"
	say "suite $suite: $# targets"
fi

say "ninja -j$jobs ${*:-(all)}"
# Not on a terminal ninja prints a line a step: keep every 200th one and
# everything else (warnings, errors), so a log shows progress, not a flood.
# A step that failed fails the build even if ninja's status says otherwise
# (seen when meson regenerated build.ninja half way).
rm -f "$obj/.ninja-failed"
{ ninja -C "$obj" -j"$jobs" "$@"; echo $? >"$obj/.ninja-status"; } 2>&1 | awk -v failed="$obj/.ninja-failed" '
	/^\[[0-9]+\/[0-9]+\]/ { n++; if (n % 200 == 1) { print "build qemu: " $1; fflush() } next }
	/^FAILED: |^ninja: build stopped/ { print "" > failed }
	{ print; fflush() }
	END { if (n) print "build qemu: " n " steps" }'
if [ "$(cat "$obj/.ninja-status")" != 0 ] || [ -e "$obj/.ninja-failed" ]; then
	say "build failed"
	exit 1
fi

# Firmware, where the build tree's binary looks: the SeaBIOS the harness
# builds (bios.bin, bios-256k.bin, bios-microvm.bin: scripts/build-firmware.sh),
# then the rest from Debian's packages (VGA BIOSes, iPXE option ROMs, ...).
"$top/scripts/build-firmware.sh"
fw=$obj/qemu-bundle/usr/local/share/qemu
mkdir -p "$fw"
for f in "$top"/build/firmware/seabios/*.bin; do
	ln -sfn "$f" "$fw/"
done
for f in /usr/share/seabios/*.bin /usr/share/qemu/*.bin /usr/share/qemu/*.rom \
	 /usr/lib/ipxe/qemu/*.rom; do
	[ -e "$f" ] || continue
	[ -e "$fw/$(basename "$f")" ] || ln -s "$f" "$fw/"
done
say "done: ${obj#"$top"/}/qemu-system-x86_64 (base $BASE)"
