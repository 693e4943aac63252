#!/bin/sh
# export.sh qemu|linux|virtio-spec|seabios
#
# Write the commits since 'base' of the component's tree for the base BASE
# (scripts/base.sh) back to patches/ as 'git format-patch' series, each
# with its quilt 'series' file.  A tree holds one series, or a stack of
# them (series_of: the primary base keeps the fixes of stock code apart
# from the feature): the commits up to the tag series/<name> go to
# patches/<name>/, the next ones to the next series', the last series
# takes the rest up to HEAD.  scripts/tree.sh sets the tags; after moving
# commits from one series to another (git rebase -i), move the tag too
# (git tag -f series/<name> <its last commit>).  The output depends only
# on the commits: exporting an unchanged tree changes no byte (no version
# signature, zeroed From lines, fixed abbreviations).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
c=${1:-}
case $c in
qemu|linux|virtio-spec|seabios) ;;
*) echo "usage: [BASE=...] export.sh qemu|linux|virtio-spec|seabios" >&2; exit 2 ;;
esac
stack=$(series_of "$c")
c=$(tree_of "$c")
tree=$top/build/$c

say() { printf 'export %s: %s\n' "$c" "$*"; }
die() { printf 'export %s: error: %s\n' "$c" "$*" >&2; exit 1; }
g() { git -C "$tree" "$@"; }

[ -d "$tree/.git" ] || die "no build/$c; run 'make tree' first"
g rev-parse -q --verify base >/dev/null || die "build/$c has no 'base' tag"
[ ! -d "$tree/.git/rebase-apply" ] || die "build/$c is in the middle of 'git am'"
if [ -n "$(g status --porcelain --untracked-files=no)" ]; then
	say "warning: uncommitted changes in build/$c are not exported"
fi

# export_series NAME FROM TO: FROM..TO as patches/NAME/
export_series() {
	s=$1 from=$2 to=$3
	out=$top/patches/$s
	mkdir -p "$out"
	rm -f "$out"/*.patch
	# patches/<series>/cover-letter, when there is one, holds the series'
	# subject prefix, subject and text: "Subject-Prefix: PATCH v6",
	# "Subject: ...", a blank line, then the text.  The series is then
	# numbered and 0000-cover-letter.patch written from it (not in
	# 'series').
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
		--no-thread "$@" -o "$out" "$from..$to")
	: >"$out/series"
	for p in $names; do
		case $p in
		*/0000-cover-letter.patch)
			# git dates the cover letter now: use the last commit's
			# date, so that an unchanged series exports to the same
			# bytes
			subject=$(sed -n '/^$/q; s/^Subject: //p' "$cover")
			date=$(g log -1 --format=%aD "$to")
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
	say "$(grep -c . "$out/series" || true) patches written to patches/$s/"
}

from=base
last=$(echo "$stack" | awk '{ print $NF }')
for s in $stack; do
	if [ "$s" = "$last" ]; then
		to=HEAD
	else
		to=$(g rev-parse -q --verify "series/$s" 2>/dev/null) ||
			die "build/$c has no tag series/$s: tag the last commit of the
series $s (git -C build/$c tag -f series/$s <commit>)"
	fi
	g merge-base --is-ancestor "$from" "$to" && g merge-base --is-ancestor "$to" HEAD ||
		die "the tag series/$s is not on the way from $from to HEAD (a rebase
moved the commits?): git -C build/$c tag -f series/$s <the series' last commit>"
	export_series "$s" "$from" "$to"
	g tag -f "series/$s" "$to" >/dev/null
	from=$to
done
g update-ref refs/harness/applied HEAD
