#!/bin/sh
# Run each tree's own checkpatch.pl on every patch of its series, for every
# base (pins/): QEMU's scripts/checkpatch.pl on the QEMU series, the
# kernel's on the Linux series.  The virtio spec (LaTeX) has no such
# checker.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
fail=0
total=0
for base in $(ls "$top/pins" | grep -vx common); do
	for c in qemu linux; do
		t=$(BASE=$base top=$top sh -c ". '$top/scripts/base.sh'; tree_of $c")
		series=$top/patches/$t/series
		[ -s "$series" ] || { echo "checkpatch $t: no patches"; continue; }
		BASE=$base "$top/scripts/tree.sh" "$c" >/dev/null
		cp=$top/build/$t/scripts/checkpatch.pl
		for p in $(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$series"); do
			total=$((total + 1))
			if out=$(cd "$top/build/$t" && perl "$cp" --no-tree "$top/patches/$t/$p" 2>&1); then
				echo "checkpatch $t: ok   $p"
			else
				echo "checkpatch $t: FAIL $p"
				echo "$out" | sed 's/^/    /'
				fail=$((fail + 1))
			fi
		done
	done
done
echo "checkpatch: $((total - fail)) passed, $fail failed"
[ "$fail" = 0 ]
