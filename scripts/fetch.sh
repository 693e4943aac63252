#!/bin/sh
# fetch.sh qemu|linux|virtio-spec|virglrenderer|seabios|ovmf
#
# Bring the pinned source of one component of the base BASE (pins/$BASE,
# default primary) into build/cache/ once, and check every file against
# SHA256SUMS.  Debian sources come through a project-local apt
# configuration (build/apt/) that adds the suites the pins name (trixie,
# trixie-backports, sid) from the mirror this machine's apt already uses;
# the system's own sources stay untouched.  A cached file whose checksum
# does not match is never used nor replaced silently: the run stops and
# says so.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
cache=$top/build/cache
apt_dir=$top/build/apt
mkdir -p "$cache"

say() { printf 'fetch: %s\n' "$*"; }
die() { printf 'fetch: error: %s\n' "$*" >&2; exit 1; }

expected_sum() {
	awk -v f="$1" '$2 == f { print $1 }' "$top/SHA256SUMS"
}

# verify FILE: the file in the cache must have the sum SHA256SUMS gives.
verify() {
	want=$(expected_sum "$1")
	[ -n "$want" ] || die "$1 has no entry in SHA256SUMS"
	got=$(sha256sum "$cache/$1" | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		die "checksum mismatch for build/cache/$1
  expected sha256 $want (SHA256SUMS)
  got      sha256 $got
The file is damaged or is not the pinned one.  Delete it to download it
again: rm build/cache/$1"
	fi
}

# Files of a component, as listed in SHA256SUMS: the names that begin
# with PREFIX.
files_of() {
	awk -v p="$1" 'index($2, p) == 1 { print $2 }' "$top/SHA256SUMS"
}

# all_cached PREFIX: true when every file named so is in the cache.
all_cached() {
	for f in $(files_of "$1"); do
		[ -f "$cache/$f" ] || return 1
	done
}

# Every suite any base's pins name, so that switching bases never needs
# other lists
apt_suites() {
	for f in "$top"/pins/*; do
		# shellcheck disable=SC1090 # the pins, one by one
		(. "$f"; echo "${QEMU_SUITE:-} ${LINUX_SUITE:-} ${SEABIOS_SUITE:-} ${OVMF_SUITE:-}")
	done | tr ' ' '\n' | sed '/^$/d' | sort -u
}

apt_setup() {
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
	mirror=$("$top/scripts/debian-mirror.sh")
	for suite in $(apt_suites); do
		echo "deb $mirror $suite main"
		echo "deb-src $mirror $suite main"
	done >"$apt_dir/sources.list.new"
	cat >"$apt_dir/apt.conf" <<-CONF
	Dir::Etc::SourceList "$apt_dir/sources.list";
	Dir::Etc::SourceParts "$apt_dir/sources.list.d";
	Dir::Etc::Preferences "$apt_dir/preferences";
	Dir::Etc::PreferencesParts "$apt_dir/preferences.d";
	Dir::State::Lists "$apt_dir/lists";
	Dir::Cache "$apt_dir/cache";
	APT::Sandbox::User "root";
	CONF
	mkdir -p "$apt_dir/sources.list.d" "$apt_dir/preferences.d"
	export APT_CONFIG="$apt_dir/apt.conf"
	if ! cmp -s "$apt_dir/sources.list.new" "$apt_dir/sources.list" 2>/dev/null; then
		mv "$apt_dir/sources.list.new" "$apt_dir/sources.list"
		apt_update
	else
		rm -f "$apt_dir/sources.list.new"
	fi
}

apt_update() {
	say "apt-get update (project-local lists in build/apt/)"
	apt-get update -q >"$apt_dir/update.log" 2>&1 ||
		{ cat "$apt_dir/update.log" >&2; die "apt-get update failed"; }
}

# apt_fetch CMD...: run an apt download in a scratch folder; refresh the
# lists once if the pinned version is not found in the ones we have.
apt_fetch() {
	tmp=$cache/tmp
	rm -rf "$tmp"; mkdir -p "$tmp"
	if ! (cd "$tmp" && "$@") >"$tmp/.log" 2>&1; then
		apt_update
		if ! (cd "$tmp" && "$@") >"$tmp/.log" 2>&1; then
			cat "$tmp/.log" >&2
			return 1
		fi
	fi
	# not $f: the callers' own variable
	for got in "$tmp"/*; do
		mv "$got" "$cache/"
	done
	rm -rf "$tmp"
}

missing_pin() {
	die "$1 version $2 is not in Debian $3 on this machine's mirror any more.
The pin in pins/$BASE must be bumped: set the new version there, replace
its sums in SHA256SUMS, run 'make tree' and rebase the series (README.rst,
'Moving to a new base').  No other version is taken in its place."
}

fetch_qemu() {
	# qemu_10.2.2+ds-1.dsc, qemu_10.2.2+ds.orig.tar.xz, ...debian.tar.xz
	v=$(noepoch "$QEMU_VERSION")
	re="${QEMU_SOURCE}_${v%-*}"
	if ! all_cached "$re"; then
		apt_setup
		say "downloading source package $QEMU_SOURCE $QEMU_VERSION"
		apt_fetch apt-get source -q --download-only \
			"$QEMU_SOURCE=$QEMU_VERSION" ||
			missing_pin "source package $QEMU_SOURCE" "$QEMU_VERSION" "$QEMU_SUITE"
	fi
	[ -n "$(files_of "$re")" ] || die "SHA256SUMS has no files of $QEMU_SOURCE $QEMU_VERSION"
	for f in $(files_of "$re"); do verify "$f"; done
	say "qemu $QEMU_VERSION: sha256 verified"
}

fetch_linux() {
	f=${LINUX_PACKAGE}_${LINUX_VERSION}_all.deb
	if [ ! -f "$cache/$f" ]; then
		apt_setup
		say "downloading $LINUX_PACKAGE $LINUX_VERSION (150 MB)"
		apt_fetch apt-get download -q "$LINUX_PACKAGE=$LINUX_VERSION" ||
			missing_pin "package $LINUX_PACKAGE" "$LINUX_VERSION" "$LINUX_SUITE"
		# apt names the file with the epoch's colon escaped, if any
		[ -f "$cache/$f" ] || die "apt did not write build/cache/$f"
	fi
	verify "$f"
	say "$LINUX_PACKAGE $LINUX_VERSION: sha256 verified"
}

# SeaBIOS: Debian's source package (pins/common); the harness builds the
# upstream release it carries (scripts/build-seabios.sh).
fetch_seabios() {
	re="${SEABIOS_SOURCE}_${SEABIOS_VERSION%-*}"
	if ! all_cached "$re"; then
		apt_setup
		say "downloading source package $SEABIOS_SOURCE $SEABIOS_VERSION"
		apt_fetch apt-get source -q --download-only \
			"$SEABIOS_SOURCE=$SEABIOS_VERSION" ||
			missing_pin "source package $SEABIOS_SOURCE" "$SEABIOS_VERSION" "$SEABIOS_SUITE"
	fi
	[ -n "$(files_of "$re")" ] || die "SHA256SUMS has no files of $SEABIOS_SOURCE $SEABIOS_VERSION"
	for f in $(files_of "$re"); do verify "$f"; done
	say "seabios $SEABIOS_VERSION: sha256 verified"
}

# OVMF: Debian's binary package (pins/common), used as it is.
fetch_ovmf() {
	f=${OVMF_PACKAGE}_${OVMF_VERSION}_all.deb
	if [ ! -f "$cache/$f" ]; then
		apt_setup
		say "downloading $OVMF_PACKAGE $OVMF_VERSION"
		apt_fetch apt-get download -q "$OVMF_PACKAGE=$OVMF_VERSION" ||
			missing_pin "package $OVMF_PACKAGE" "$OVMF_VERSION" "$OVMF_SUITE"
		[ -f "$cache/$f" ] || die "apt did not write build/cache/$f"
	fi
	verify "$f"
	say "$OVMF_PACKAGE $OVMF_VERSION: sha256 verified"
}

# virglrenderer's release archive: from VIRGL_SRC (a path), else
# ../shared/virglrenderer/, else the upstream URL; checked against
# SHA256SUMS either way.
fetch_virgl() {
	f=$VIRGL_TARBALL
	if [ ! -f "$cache/$f" ]; then
		src=${VIRGL_SRC:-$top/../shared/virglrenderer/$f}
		if [ -f "$src" ]; then
			cp "$src" "$cache/$f.tmp"
		else
			say "downloading $VIRGL_URL"
			command -v curl >/dev/null ||
				die "no $src and no curl: set VIRGL_SRC to $f"
			curl -fsSL -o "$cache/$f.tmp" "$VIRGL_URL" ||
				die "cannot download $VIRGL_URL; set VIRGL_SRC to a copy of $f"
		fi
		mv "$cache/$f.tmp" "$cache/$f"
	fi
	verify "$f"
	say "virglrenderer $VIRGL_VERSION: sha256 verified"
}

# The spec comes from VIRTIO_SPEC_SRC (a tarball, or a clone of the
# repository), else ../shared/virtio-spec/, else a clone of $SPEC_REPO.
# A tarball is checked against SHA256SUMS; a clone by its commit id, and
# then archived as build/cache/virtio-spec-$SPEC_COMMIT.tar.
fetch_spec() {
	short=$(echo "$SPEC_COMMIT" | cut -c1-8)
	from_git=$cache/virtio-spec-$SPEC_COMMIT.tar
	if [ -f "$from_git" ]; then
		say "virtio-spec $short: archived from a clone, commit verified"
		return
	fi
	if [ ! -f "$cache/$SPEC_TARBALL" ]; then
		src=${VIRTIO_SPEC_SRC:-}
		if [ -z "$src" ] && [ -f "$top/../shared/virtio-spec/$SPEC_TARBALL" ]; then
			src=$top/../shared/virtio-spec/$SPEC_TARBALL
		fi
		if [ -n "$src" ] && [ -f "$src" ]; then
			cp "$src" "$cache/$SPEC_TARBALL"
		else
			if [ -z "$src" ]; then
				src=$cache/virtio-spec.git
				[ -d "$src" ] || git clone -q --bare "$SPEC_REPO" "$src" ||
					die "cannot clone $SPEC_REPO; set VIRTIO_SPEC_SRC to a tarball or a clone"
			fi
			git -C "$src" cat-file -e "$SPEC_COMMIT^{commit}" 2>/dev/null ||
				die "$src has no commit $SPEC_COMMIT"
			git -C "$src" archive --prefix=virtio-spec/ -o "$from_git.tmp" "$SPEC_COMMIT"
			mv "$from_git.tmp" "$from_git"
			say "virtio-spec $short: archived from $src, commit verified"
			return
		fi
	fi
	verify "$SPEC_TARBALL"
	say "virtio-spec $short: sha256 verified"
}

case ${1:-} in
qemu) fetch_qemu ;;
linux) fetch_linux ;;
virtio-spec) fetch_spec ;;
virglrenderer) fetch_virgl ;;
seabios) fetch_seabios ;;
ovmf) fetch_ovmf ;;
*) die "usage: fetch.sh qemu|linux|virtio-spec|virglrenderer|seabios|ovmf" ;;
esac
