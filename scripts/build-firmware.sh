#!/bin/sh
# The firmware of pins/common, in build/firmware/:
#
# - seabios/: SeaBIOS built as QEMU builds the blobs it bundles
#   (roms/Makefile, 'make bios'): the tree build/seabios (the upstream
#   release with patches/seabios) with each of the QEMU tree's
#   roms/config.seabios-128k, -256k and -microvm, giving bios.bin,
#   bios-256k.bin and bios-microvm.bin.  scripts/build-qemu.sh links them
#   where the QEMU it builds looks for firmware, before Debian's own.
# - ovmf/: Debian's OVMF package unpacked as it is (OVMF_CODE_4M.fd and
#   the variable store template OVMF_VARS_4M.fd), for UEFI guests.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
src=$top/build/seabios
obj=$top/build/seabios-build
out=$top/build/firmware/seabios
roms=$top/build/$QEMU_TREE/roms

say() { printf 'build firmware: %s\n' "$*"; }

"$top/scripts/tree.sh" seabios
[ -f "$roms/config.seabios-256k" ] ||
	{ say "no $roms/config.seabios-256k: run 'make tree' first"; exit 1; }
mkdir -p "$out"
# SeaBIOS names its build after 'git describe --tags' of the tree it is
# built in, and that string is in the image: a tag the harness sets
# (series/seabios) made it longer, which moved what the BIOS allocates
# and failed bios-tables-test's q35/dimmpxm (its NVDIMM SSDT).  Build
# from a copy without git, whose .version gives a fixed name: the Debian
# version and the number of patches, e.g. 1.17.0-1-2-qemu-freeze-mode.
head=$(git -C "$src" rev-parse HEAD)
npatches=$(git -C "$src" rev-list --count base..HEAD)
copy=$obj/src
if [ "$(cat "$copy/.head" 2>/dev/null)" != "$head" ]; then
	# a new copy's files carry the commit's time: build afresh
	rm -rf "$obj"
	mkdir -p "$copy"
	git -C "$src" archive HEAD | tar -x -C "$copy"
	echo "$SEABIOS_VERSION-$npatches" >"$copy/.version"
	echo "$head" >"$copy/.head"
fi
src=$copy
for cfg in 128k:bios.bin 256k:bios-256k.bin microvm:bios-microvm.bin; do
	name=${cfg%%:*}
	blob=${cfg#*:}
	b=$obj/seabios-$name
	mkdir -p "$b"
	# a configuration that changed starts from scratch, as in roms/Makefile
	if ! cmp -s "$roms/config.seabios-$name" "$b/config.seabios"; then
		rm -rf "$b"
		mkdir -p "$b"
		cp "$roms/config.seabios-$name" "$b/.config"
		make -s -C "$src" KCONFIG_CONFIG="$b/.config" OUT="$b/" \
			oldnoconfig >"$b.log" 2>&1 ||
			{ cat "$b.log" >&2; say "oldnoconfig $name failed"; exit 1; }
		cp "$roms/config.seabios-$name" "$b/config.seabios"
	fi
	make -C "$src" -j"${JOBS:-$(nproc)}" EXTRAVERSION=-qemu-freeze-mode \
		KCONFIG_CONFIG="$b/.config" OUT="$b/" all >"$b.log" 2>&1 ||
		{ tail -30 "$b.log" >&2; say "$name failed; log in ${b#"$top"/}.log"; exit 1; }
	# replaced only when it changed (and then whole): a build that is
	# up to date writes nothing, so that builds may run side by side
	cmp -s "$b/bios.bin" "$out/$blob" || {
		cp "$b/bios.bin" "$out/$blob.$$.tmp"
		mv "$out/$blob.$$.tmp" "$out/$blob"
	}
done
say "SeaBIOS $SEABIOS_VERSION + $npatches patches: ${out#"$top"/}/"

"$top/scripts/fetch.sh" ovmf
ovmf=$top/build/firmware/ovmf
deb=$top/build/cache/${OVMF_PACKAGE}_${OVMF_VERSION}_all.deb
if [ "$(cat "$ovmf/.from" 2>/dev/null)" != "$OVMF_VERSION" ]; then
	rm -rf "$ovmf" "$ovmf.new"
	mkdir -p "$ovmf.new/pkg"
	dpkg-deb -x "$deb" "$ovmf.new/pkg"
	for f in OVMF_CODE_4M.fd OVMF_VARS_4M.fd; do
		mv "$ovmf.new/pkg/usr/share/OVMF/$f" "$ovmf.new/$f"
	done
	rm -rf "$ovmf.new/pkg"
	echo "$OVMF_VERSION" >"$ovmf.new/.from"
	mv "$ovmf.new" "$ovmf"
fi
say "OVMF $OVMF_VERSION: ${ovmf#"$top"/}/"
