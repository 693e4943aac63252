#!/bin/sh
# Install, with apt-get, every Debian package that the build, the tests and
# the demo need.  This file is the one place they are listed.
#
# On Debian 12 (bookworm) QEMU 10.0 needs meson >= 1.5, which only
# bookworm-backports has: the backports suite is enabled from the Debian
# mirror this machine already uses, pinned so that only meson comes from it.
# On Debian 13 (trixie) and later nothing extra is needed.
#
# Idempotent: when everything is installed it only checks and returns.
#
# deps.sh --check installs nothing: it checks that every program the
# harness runs (PROGRAMS below) is on this machine, and that its package is
# one this file installs, so that a bare Debian never meets a missing tool
# half way through a run.  'make check' runs it first.
set -eu

# Building virglrenderer 1.1.0 (scripts/build-virgl.sh) and QEMU against it
# (minimal configure, see scripts/build-qemu.sh).  Debian's own
# libvirglrenderer-dev is not used: bookworm's 0.10.4 compiles QEMU's blob,
# hostmem and context-init paths out.
BUILD_QEMU="meson ninja-build pkgconf gcc make flex bison python3-venv ccache
	libglib2.0-dev zlib1g-dev libpixman-1-dev libepoxy-dev
	libsdl2-dev libgbm-dev libdrm-dev libslirp-dev"
# The sanitizer and fuzzing build (scripts/build-qemu-asan.sh: clang with
# ASan, UBSan and libFuzzer, whose runtimes are in libclang-rt-dev).  The
# runtimes name functions and lines in their reports with llvm-symbolizer
# (package llvm); without it a report is a list of addresses.
BUILD_ASAN="clang libclang-rt-dev llvm"
# Fetching and unpacking the pinned sources, maintaining the patch trees.
SOURCES="git dpkg-dev xz-utils ca-certificates perl"
# QEMU's scripts/update-linux-headers.sh (tests/spec checks QEMU's header
# patch against it)
HEADERS="rsync"
# Building the guest kernel and its initramfs.
BUILD_LINUX="bc cpio libelf-dev busybox-static util-linux"
# Running QEMU from the build tree: firmware (the harness builds SeaBIOS
# itself, scripts/build-firmware.sh; Debian's seabios package gives the
# VGA BIOSes and the e2e case of Debian's own SeaBIOS), the GL display,
# screenshots.
RUNTIME="seabios qemu-system-data ipxe-qemu xvfb xauth libgl1-mesa-dri
	x11-apps x11-utils netpbm"
# QEMU's qtests: cdrom-test makes ISO images with xorrisofs.
QTESTS="xorriso"
# The harness's own tests (pytest-timeout: a guest that hangs fails its
# test instead of stopping the run; pytest-xdist: two guests at a time);
# plots of the soak and the benchmark.
TESTS="python3 python3-pytest python3-pytest-timeout python3-pytest-xdist
	python3-matplotlib"
# 'make fresh-debian': a bare Debian root to run the README's commands in;
# the Debian guest of the end-to-end tests (scripts/build-debian-guest.sh:
# debootstrap, and mke2fs for its disk image).
FRESH="debootstrap e2fsprogs"

# The virtio spec's PDF (make spec-pdf, the spec's own makepdf.sh with
# xelatex): only with 'deps.sh spec-pdf', about 250 MB to download.
SPEC_PDF="texlive-xetex texlive-latex-extra texlive-fonts-recommended lmodern
	fonts-liberation"

# Every program the harness runs, with the package that provides it (the
# package must be in one of the lists above).  Keep this in step with the
# scripts: 'deps.sh --check' is only as good as this table.
PROGRAMS="
git:git dpkg-source:dpkg-dev dpkg-deb:dpkg apt-get:apt xz:xz-utils
perl:perl gcc:gcc make:make ninja:ninja-build pkg-config:pkgconf
flex:flex bison:bison bc:bc cpio:cpio busybox:busybox-static
rtcwake:util-linux unshare:util-linux mount:mount ldd:libc-bin
xvfb-run:xvfb Xvfb:xvfb xauth:xauth xwd:x11-apps xwininfo:x11-utils
xprop:x11-utils xwdtopnm:netpbm pnmtopng:netpbm pngtopnm:netpbm
ppmtoppm:netpbm xorrisofs:xorriso python3:python3 rsync:rsync
clang:clang clang++:clang llvm-symbolizer:llvm dpkg-query:dpkg
debootstrap:debootstrap chroot:coreutils mke2fs:e2fsprogs
"
# Python modules the harness imports, with their packages
PYMODULES="pytest:python3-pytest pytest_timeout:python3-pytest-timeout
	xdist:python3-pytest-xdist matplotlib:python3-matplotlib"
# Only for 'deps.sh spec-pdf'
PROGRAMS_SPEC_PDF="xelatex:texlive-xetex"

PACKAGES="$BUILD_QEMU $BUILD_ASAN $SOURCES $HEADERS $BUILD_LINUX $RUNTIME
	$QTESTS $TESTS $FRESH"
check=
case ${1:-} in
spec-pdf) PACKAGES="$PACKAGES $SPEC_PDF"; PROGRAMS="$PROGRAMS $PROGRAMS_SPEC_PDF" ;;
--check) check=1 ;;
"") ;;
*) echo "usage: deps.sh [spec-pdf|--check]" >&2; exit 2 ;;
esac
MESON_MIN=1.5

say() { printf 'deps: %s\n' "$*"; }

installed() {
	[ "$(dpkg-query -W -f '${Status}' "$1" 2>/dev/null)" = \
		"install ok installed" ]
}

meson_ok() {
	v=$(dpkg-query -W -f '${Version}' meson 2>/dev/null) || return 1
	dpkg --compare-versions "$v" ge "$MESON_MIN"
}

# --check: every program present, and provided by a package listed here
check_programs() {
	bad=0
	for entry in $PROGRAMS; do
		prog=${entry%%:*} pkg=${entry#*:}
		case " $(echo $PACKAGES $SPEC_PDF) " in
		*" $pkg "*) ;;
		# packages every Debian has (priority required)
		*)
			case $pkg in
			dpkg|apt|mount|libc-bin|coreutils) ;;
			*) say "$prog: its package $pkg is not in the lists"; bad=1 ;;
			esac ;;
		esac
		# sbin folders are not on every user's PATH
		PATH=$PATH:/usr/sbin:/sbin command -v "$prog" >/dev/null 2>&1 ||
			{ say "missing: $prog (package $pkg): run 'make deps'"; bad=1; }
	done
	for entry in $PYMODULES; do
		mod=${entry%%:*} pkg=${entry#*:}
		/usr/bin/python3 -c "import $mod" 2>/dev/null ||
			{ say "missing: python module $mod (package $pkg): run 'make deps'"; bad=1; }
	done
	[ "$bad" = 0 ] || return 1
	say "all $(echo $PROGRAMS | wc -w) programs and $(echo $PYMODULES | wc -w) python modules present"
}
if [ -n "$check" ]; then
	check_programs
	exit
fi

. /etc/os-release
codename=${VERSION_CODENAME:-unknown}

missing=
for p in $PACKAGES; do
	installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ] && meson_ok; then
	say "all $(echo $PACKAGES | wc -w) packages installed (Debian $codename)"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	say "missing:$missing"
	say "run 'make deps' as root (it uses apt-get)"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ "$codename" = bookworm ]; then
	src=/etc/apt/sources.list.d/qemu-freeze-mode-backports.sources
	pin=/etc/apt/preferences.d/qemu-freeze-mode-backports
	if [ ! -f "$src" ]; then
		mirror=$("$(dirname "$0")/debian-mirror.sh")
		say "enabling bookworm-backports from $mirror (meson only)"
		cat >"$src" <<-SRC
		# Written by qemu-freeze-mode's 'make deps': QEMU 10.0 needs meson >= $MESON_MIN.
		Types: deb
		URIs: $mirror
		Suites: bookworm-backports
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		SRC
		cat >"$pin" <<-PIN
		# Written by qemu-freeze-mode's 'make deps': take only meson from
		# bookworm-backports, never upgrade anything else from it.
		Package: *
		Pin: release n=bookworm-backports
		Pin-Priority: 100

		Package: meson
		Pin: release n=bookworm-backports
		Pin-Priority: 500
		PIN
	fi
elif [ "$codename" != trixie ]; then
	say "warning: tested on Debian 12 and 13, this is '$codename'"
fi

say "apt-get update"
apt-get update -q
say "installing:$missing"
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -q --no-install-recommends $PACKAGES
meson_ok || { say "meson >= $MESON_MIN could not be installed"; exit 1; }
say "done"
