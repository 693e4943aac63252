#!/bin/sh
# export.sh qemu|linux|virtio-spec|seabios
#
# Write the commits since 'base' of the component's tree for the base BASE
# (scripts/base.sh) to patches/<tree>/ as a 'git format-patch' series and
# rewrite its quilt 'series' file.  The output depends only on the
# commits: exporting an unchanged tree changes no byte (no version
# signature, zeroed From lines, fixed abbreviations).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
c=${1:-}
case $c in
qemu|linux|virtio-spec|seabios) ;;
*) echo "usage: [BASE=...] export.sh qemu|linux|virtio-spec|seabios" >&2; exit 2 ;;
esac
c=$(tree_of "$c")
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
# patches/<component>/cover-letter, when there is one, holds the series'
# subject prefix, subject and text: "Subject-Prefix: PATCH v6",
# "Subject: ...", a blank line, then the text.  The series is then
# numbered and 0000-cover-letter.patch written from it (not in 'series').
cover=$out/cover-letter
set -- --no-numbered --no-cover-letter
if [ -f "$cover" ]; then
	prefix=$(sed -n '/^$/q; s/^Subject-Prefix: //p' "$cover")
	[ -n "$prefix" ] || die "$cover: no Subject-Prefix: line"
	set -- --numbered --cover-letter --subject-prefix="$prefix"
fi
# -c: the user's own format settings must not change the output.
names=$(g -c format.signOff=false -c format.coverLetter=false \
	-c format.thread=false -c diff.noprefix=false -c diff.mnemonicPrefix=false \
	-c diff.renames=true -c core.abbrev=12 \
	format-patch --zero-commit --no-signature --abbrev=12 \
	--no-thread "$@" -o "$out" base..HEAD)
: >"$out/series"
for p in $names; do
	case $p in
	*/0000-cover-letter.patch)
		# git dates the cover letter now: use the last commit's date,
		# so that an unchanged series exports to the same bytes
		subject=$(sed -n '/^$/q; s/^Subject: //p' "$cover")
		date=$(g log -1 --format=%aD HEAD)
		awk -v subject="$subject" -v date="$date" -v cover="$cover" '
			!done_date && /^Date: / { print "Date: " date; done_date = 1; next }
			/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
			/^\*\*\* BLURB HERE \*\*\*$/ {
				body = 0
				while ((getline line < cover) > 0) {
					if (body) print line
					else if (line == "") body = 1
				}
				next
			}
			{ print }' "$p" >"$p.tmp"
		mv "$p.tmp" "$p"
		;;
	*)
		basename "$p" >>"$out/series" ;;
	esac
done
g update-ref refs/harness/applied HEAD
say "$(grep -c . "$out/series" || true) patches written to patches/$c/"
