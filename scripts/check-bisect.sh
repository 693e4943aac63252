#!/bin/sh
# Build every commit of the QEMU series in turn (base+1, base+2, ...), as
# 'git bisect' would meet them: each patch must build on its own.  Runs in
# build/qemu and build/qemu-build (incremental, ccache) and returns the tree
# to where it was.  Refuses a tree with uncommitted changes.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/qemu
"$top/scripts/tree.sh" qemu >/dev/null
"$top/scripts/build-qemu.sh" >/dev/null
g() { git -C "$tree" "$@"; }
[ -z "$(g status --porcelain --untracked-files=no)" ] ||
	{ echo "check-bisect: build/qemu has uncommitted changes" >&2; exit 1; }
head=$(g symbolic-ref -q --short HEAD || g rev-parse HEAD)
trap 'g checkout -q "$head"' EXIT
fail=0
n=0
for c in $(g rev-list --reverse base..HEAD); do
	n=$((n + 1))
	g checkout -q "$c"
	subject=$(g log --format=%s -1)
	if ninja -C "$top/build/qemu-build" >"$top/build/bisect.log" 2>&1; then
		echo "check-bisect: ok   $n $subject"
	else
		echo "check-bisect: FAIL $n $subject"
		grep -E 'error|FAILED' "$top/build/bisect.log" | head -20 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
done
echo "check-bisect: $((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]
