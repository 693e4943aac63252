#!/bin/sh
# Build every commit of the QEMU and the Linux series of the base BASE
# (default primary) in turn (base+1, base+2, ...), as 'git bisect' would
# meet them: each patch must build on its own.  Runs in the base's trees
# and their build folders (incremental, ccache) and returns each tree to
# where it was.  Refuses a tree with uncommitted changes.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
tree=$top/build/$QEMU_TREE
"$top/scripts/tree.sh" qemu >/dev/null
"$top/scripts/build-qemu.sh" >/dev/null
g() { git -C "$tree" "$@"; }
fail=0
n=0
# bisect TREE BUILD-COMMAND...
bisect() {
	tree=$1
	shift
	[ -z "$(g status --porcelain --untracked-files=no)" ] ||
		{ echo "check-bisect: $tree has uncommitted changes" >&2; exit 1; }
	head=$(g symbolic-ref -q --short HEAD || g rev-parse HEAD)
	trap 'g checkout -q "$head"' EXIT
	for c in $(g rev-list --reverse base..HEAD); do
		n=$((n + 1))
		g checkout -q "$c"
		subject=$(g log --format=%s -1)
		if "$@" >"$top/build/bisect.log" 2>&1; then
			echo "check-bisect: ok   $n $subject"
		else
			echo "check-bisect: FAIL $n $subject"
			grep -E 'error|FAILED' "$top/build/bisect.log" | head -20 |
				sed 's/^/    /'
			fail=$((fail + 1))
		fi
	done
	g checkout -q "$head"
	trap - EXIT
}

bisect "$tree" ninja -C "$top/build/$QEMU_TREE-build"

tree=$top/build/$LINUX_TREE
"$top/scripts/tree.sh" linux >/dev/null
"$top/scripts/build-linux.sh" >/dev/null
bisect "$tree" "$top/scripts/build-linux.sh"

echo "check-bisect: $((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]
