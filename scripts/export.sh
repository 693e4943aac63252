#!/bin/sh
# export.sh qemu|linux|virtio-spec
#
# Write build/<component>'s commits since 'base' to patches/<component>/ as
# a 'git format-patch' series and rewrite its quilt 'series' file.  The
# output depends only on the commits: exporting an unchanged tree changes
# no byte (no version signature, zeroed From lines, fixed abbreviations).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
c=${1:-}
case $c in
qemu|linux|virtio-spec) ;;
*) echo "usage: export.sh qemu|linux|virtio-spec" >&2; exit 2 ;;
esac
tree=$top/build/$c
out=$top/patches/$c

say() { printf 'export %s: %s\n' "$c" "$*"; }
die() { printf 'export %s: error: %s\n' "$c" "$*" >&2; exit 1; }
g() { git -C "$tree" "$@"; }

[ -d "$tree/.git" ] || die "no build/$c; run 'make tree' first"
g rev-parse -q --verify base >/dev/null || die "build/$c has no 'base' tag"
[ ! -d "$tree/.git/rebase-apply" ] || die "build/$c is in the middle of 'git am'"
if [ -n "$(g status --porcelain --untracked-files=no)" ]; then
	say "warning: uncommitted changes in build/$c are not exported"
fi

mkdir -p "$out"
rm -f "$out"/*.patch
# -c: the user's own format settings must not change the output.
names=$(g -c format.signOff=false -c format.coverLetter=false \
	-c format.thread=false -c diff.noprefix=false -c diff.mnemonicPrefix=false \
	-c diff.renames=true -c core.abbrev=12 \
	format-patch --no-numbered --zero-commit --no-signature --abbrev=12 \
	--no-cover-letter --no-thread -o "$out" base..HEAD)
: >"$out/series"
for p in $names; do
	basename "$p" >>"$out/series"
done
g update-ref refs/harness/applied HEAD
say "$(echo "$names" | grep -c . || true) patches written to patches/$c/"
