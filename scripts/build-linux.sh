#!/bin/sh
# Build the guest kernel for the base BASE (scripts/base.sh), from
# build/<linux tree> in build/<linux tree>-build: 'make tinyconfig' plus
# guest/kernel.config, then bzImage.
# LINUX_OBJ builds the tree somewhere else (the kernel without the series:
# scripts/build-guest.sh).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
src=$top/build/$LINUX_TREE
obj=${LINUX_OBJ:-$top/build/$LINUX_TREE-build}
frag=$top/guest/kernel.config
jobs=${JOBS:-$(nproc)}

say() { printf 'build linux: %s\n' "$*"; }

mkdir -p "$obj"
if [ ! -f "$obj/.config" ] || [ "$frag" -nt "$obj/.config" ]; then
	say "configure: tinyconfig + guest/kernel.config"
	make -s -C "$src" O="$obj" tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
		"$frag" >/dev/null
	make -s -C "$src" O="$obj" olddefconfig >/dev/null
	# every option asked for must have made it
	missing=$(grep -E '^CONFIG_|^# CONFIG_.* is not set' "$frag" |
		while read -r line; do
			case $line in
			"# CONFIG_"*)
				opt=${line#\# }; opt=${opt%% *}
				! grep -q "^$opt=" "$obj/.config" || echo "$line" ;;
			*)
				grep -qx "$line" "$obj/.config" || echo "$line" ;;
			esac
		done)
	if [ -n "$missing" ]; then
		say "options that did not take: $missing"
		exit 1
	fi
fi
say "make -j$jobs bzImage"
rm -f "$obj/.make-status"
# ccache, as for QEMU: a second clone or a rebuilt tree costs little
export CCACHE_BASEDIR="$top" CCACHE_NOHASHDIR=true
cc=gcc
[ ! -x /usr/lib/ccache/gcc ] || cc=/usr/lib/ccache/gcc
{ make -C "$src" O="$obj" -j"$jobs" CC="$cc" bzImage; echo $? >"$obj/.make-status"; } 2>&1 |
	awk '/[Ee]rror|[Ww]arning:/ { print; fflush(); next }
	     { n++; if (n % 300 == 1) { print "build linux: " n " steps"; fflush() } }'
[ "$(cat "$obj/.make-status")" = 0 ] || { say "make failed"; exit 1; }
say "done: ${obj#"$top"/}/arch/x86/boot/bzImage"
