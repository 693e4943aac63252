#!/bin/sh
# tree.sh qemu|linux|virtio-spec|seabios
#
# Make the component's tree for the base BASE (pins/$BASE, default primary;
# scripts/base.sh): build/<tree>, the pinned, verified base committed and
# tagged 'base', then each of its series (series_of:
# patches/<series>/series, in order) applied with 'git am', the last
# commit of each tagged 'series/<series>' (scripts/export.sh writes each
# range back).  A tree that already holds exactly the series is left as
# it is (so incremental builds stay incremental).  A tree with work that is
# not in patches/ -- uncommitted changes, or commits that were not
# exported -- is never thrown away: the script stops and says what to do.
# FORCE=1 discards such work (commits stay in build/<tree>'s reflog).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
c=${1:-}
case $c in
qemu) pin=$QEMU_VERSION ;;
linux) pin=$LINUX_VERSION ;;
virtio-spec) pin=$SPEC_COMMIT ;;
seabios) pin=$SEABIOS_VERSION ;;
*) echo "usage: [BASE=...] tree.sh qemu|linux|virtio-spec|seabios" >&2; exit 2 ;;
esac
name=$(tree_of "$c")
tree=$top/build/$name
stack=$(series_of "$c")
cache=$top/build/cache
applied=refs/harness/applied
harness="qemu-freeze-mode harness"
harness_email=harness@localhost

say() { printf 'tree %s: %s\n' "$name" "$*"; }
die() { printf 'tree %s: error: %s\n' "$name" "$*" >&2; exit 1; }
g() { git -C "$tree" "$@"; }

# the patches of one series, or with no argument of all of them in order
series_files() {
	for s in ${1:-$stack}; do
		[ -f "$top/patches/$s/series" ] || continue
		sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/patches/$s/series" |
			while read -r p _; do echo "$top/patches/$s/$p"; done
	done
}

# Tag the last commit of each series (series/<name>): the tree holds
# exactly the series, so patch k is commit base+k.
tag_series() {
	n=0
	for s in $stack; do
		n=$((n + $(series_files "$s" | wc -l)))
		at=base
		[ "$n" = 0 ] || at=$(g rev-list --reverse base..HEAD | sed -n "${n}p")
		# written only when it moves: a tree that is up to date is
		# only read, so that scripts may check it side by side
		[ "$(g rev-parse -q --verify "refs/tags/series/$s^{commit}")" = \
		  "$(g rev-parse "$at^{commit}")" ] ||
			g tag -f "series/$s" "$at" >/dev/null
	done
}

series_ids() {
	for p in $(series_files); do cat "$p"; done |
		git patch-id --stable | cut -d' ' -f1
}

tree_ids() {
	g format-patch --stdout base..HEAD | git patch-id --stable | cut -d' ' -f1
}

# Stop unless the tree holds nothing that would be lost.
check_no_work() {
	dirty=$(g status --porcelain)
	if [ -n "$dirty" ]; then
		[ "${FORCE:-}" = 1 ] && { say "FORCE=1: discarding uncommitted changes"; return; }
		die "build/$name has uncommitted changes:
$(echo "$dirty" | head -20)
Commit them in build/$name and run 'make export', or discard them
('git -C build/$name stash', or 'make tree FORCE=1')."
	fi
	if [ "$(g rev-parse HEAD)" = "$(g rev-parse -q --verify $applied || true)" ]; then
		return
	fi
	if [ "$(tree_ids)" = "$(series_ids)" ]; then
		return
	fi
	[ "${FORCE:-}" = 1 ] && { say "FORCE=1: discarding commits not in patches/$name"; return; }
	die "build/$name has commits that are not in patches/$(echo "$stack" | sed 's#  *#, patches/#g'):
$(g log --oneline base..HEAD | head -20)
Run 'make export' to keep them (then commit patches/), or 'make tree
FORCE=1' to drop them (they stay in 'git -C build/$name reflog')."
}

unpack() {
	new=$1
	case $c in
	qemu)
		dsc=$cache/${QEMU_SOURCE}_$(noepoch "$QEMU_VERSION").dsc
		dpkg-source --no-check -x "$dsc" "$new" >/dev/null
		# quilt's bookkeeping of the Debian patches, not source; and the
		# copy of the orig tarball dpkg-source leaves beside the tree
		rm -rf "$new/.pc" "$top/build/"qemu_*.orig.tar.*
		;;
	linux)
		mkdir -p "$new"
		dpkg-deb --fsys-tarfile "$cache/${LINUX_PACKAGE}_${LINUX_VERSION}_all.deb" |
			tar -xO "./usr/src/$LINUX_PACKAGE.tar.xz" |
			tar -xJ -C "$new" --strip-components=1
		;;
	seabios)
		# the orig tarball: upstream's release (Debian's one patch only
		# drops the git version string, which this tree does not need)
		mkdir -p "$new"
		tar -xzf "$cache/${SEABIOS_SOURCE}_${SEABIOS_VERSION%-*}.orig.tar.gz" \
			-C "$new" --strip-components=1
		;;
	virtio-spec)
		mkdir -p "$new"
		a=$cache/virtio-spec-$SPEC_COMMIT.tar
		[ -f "$a" ] || a=$cache/$SPEC_TARBALL
		tar -xf "$a" -C "$new" --strip-components=1
		;;
	esac
}

make_base() {
	new=$top/build/.$name.new
	rm -rf "$new"
	say "unpacking $pin"
	unpack "$new"
	say "committing the pristine source as 'base'"
	git -C "$new" init -q -b main
	git -C "$new" config core.abbrev 12
	git -C "$new" config harness.pin "$pin"
	# Commits made in the tree carry the project repository's identity.
	for k in user.name user.email; do
		v=$(git -C "$top" config "$k" || true)
		[ -z "$v" ] || git -C "$new" config "$k" "$v"
	done
	git -C "$new" add -A -f .
	# A fixed identity and date make the base commit the same everywhere.
	GIT_AUTHOR_NAME=$harness GIT_AUTHOR_EMAIL=$harness_email \
	GIT_COMMITTER_NAME=$harness GIT_COMMITTER_EMAIL=$harness_email \
	GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z' \
		git -C "$new" commit -q -m "$c $pin (pristine base)" \
		-m "Made by the qemu-freeze-mode harness (scripts/tree.sh)."
	git -C "$new" tag base
	rm -rf "$tree"
	mv "$new" "$tree"
}

# 'git am' commits, and a commit needs a committer.  A developer's own
# identity (git config) is used when there is one; a fresh machine has
# none, and then the harness's is, as for the base commit.
committer_env() {
	if ! g var GIT_COMMITTER_IDENT >/dev/null 2>&1; then
		GIT_COMMITTER_NAME=$harness GIT_COMMITTER_EMAIL=$harness_email
		export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
	fi
}

apply_series() {
	n=0
	committer_env
	for p in $(series_files); do
		[ -f "$p" ] || die "${p#"$top"/} is named in its series file, but missing"
		if ! out=$(g am -q --whitespace=nowarn "$p" 2>&1); then
			die "'git am $(basename "$p")' failed; git said:
$(echo "$out" | sed 's/^/  /')
The tree is left mid-'git am' for you to inspect
(git -C build/$name am --show-current-patch; git -C build/$name am --abort)."
		fi
		n=$((n + 1))
	done
	g update-ref $applied HEAD
	tag_series
	say "base + $n patches applied ($stack)"
}

"$top/scripts/fetch.sh" "$c"

if [ -d "$tree/.git" ]; then
	g rev-parse -q --verify base >/dev/null || die "build/$name has no 'base' tag; move it away and rerun"
	if [ -d "$tree/.git/rebase-apply" ]; then
		[ "${FORCE:-}" = 1 ] || die "build/$name is in the middle of 'git am'; finish it (git am --continue / --abort) or use FORCE=1"
		g am --abort
	fi
	check_no_work
	if [ "$(g config harness.pin || true)" = "$pin" ]; then
		if [ "$(tree_ids)" = "$(series_ids)" ]; then
			[ "$(g rev-parse -q --verify $applied)" = "$(g rev-parse HEAD)" ] ||
				g update-ref $applied HEAD
			tag_series
			say "up to date (base $pin + $(series_files | wc -l) patches)"
			exit 0
		fi
		say "resetting to base and applying patches/$name"
		g reset -q --hard base
		g clean -q -fdx
	else
		say "base changed to $pin: rebuilding the tree"
		make_base
	fi
else
	make_base
fi
apply_series
