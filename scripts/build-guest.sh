#!/bin/sh
# The test guest for the base BASE (scripts/base.sh): the Linux tree with
# the series, its kernel, and the initramfs with guest/ built against it.
# With PRISTINE=1 also the kernel without the series, in
# build/<linux tree>-pristine-build, for the case of a guest that knows
# nothing of freeze mode.  It is built from the same tree checked out at
# 'base' for the while (so that ccache serves every file the series does
# not touch), and the tree is put back afterwards.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
"$top/scripts/tree.sh" linux
"$top/scripts/build-linux.sh"
"$top/scripts/build-initramfs.sh"
if [ "${PRISTINE:-}" = 1 ]; then
	tree=$top/build/$LINUX_TREE
	obj=$top/build/$LINUX_TREE-pristine-build
	base=$(git -C "$tree" rev-parse base)
	if [ "$(cat "$obj/.built-from" 2>/dev/null)" != "$base" ]; then
		# back to the branch afterwards, not to a detached HEAD
		head=$(git -C "$tree" symbolic-ref -q --short HEAD ||
			git -C "$tree" rev-parse HEAD)
		[ -z "$(git -C "$tree" status --porcelain --untracked-files=no)" ] ||
			{ echo "build guest: uncommitted changes in build/$LINUX_TREE: commit them first" >&2; exit 1; }
		trap 'git -C "$tree" checkout -q "$head"' EXIT
		git -C "$tree" checkout -q "$base"
		LINUX_OBJ=$obj "$top/scripts/build-linux.sh"
		git -C "$tree" checkout -q "$head"
		trap - EXIT
		echo "$base" >"$obj/.built-from"
	fi
	echo "build guest: the kernel without the series: ${obj#"$top"/}"
fi
