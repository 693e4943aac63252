#!/bin/sh
# Run each tree's own checkpatch.pl on every patch of its series: QEMU's
# scripts/checkpatch.pl on patches/qemu, the kernel's on patches/linux.
# The virtio spec (LaTeX) has no such checker.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
fail=0
total=0
for c in qemu linux; do
	series=$top/patches/$c/series
	[ -s "$series" ] || { echo "checkpatch $c: no patches"; continue; }
	"$top/scripts/tree.sh" "$c" >/dev/null
	cp=$top/build/$c/scripts/checkpatch.pl
	case $c in
	qemu) args="--no-tree" ;;
	linux) args="--no-tree" ;;
	esac
	for p in $(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$series"); do
		total=$((total + 1))
		# shellcheck disable=SC2086
		if out=$(cd "$top/build/$c" && perl "$cp" $args "$top/patches/$c/$p" 2>&1); then
			echo "checkpatch $c: ok   $p"
		else
			echo "checkpatch $c: FAIL $p"
			echo "$out" | sed 's/^/    /'
			fail=$((fail + 1))
		fi
	done
done
echo "checkpatch: $((total - fail)) passed, $fail failed"
[ "$fail" = 0 ]
