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
		stack=$(BASE=$base top=$top sh -c ". '$top/scripts/base.sh'; series_of $c")
		BASE=$base "$top/scripts/tree.sh" "$c" >/dev/null
		cp=$top/build/$t/scripts/checkpatch.pl
		for s in $stack; do
			series=$top/patches/$s/series
			[ -s "$series" ] || { echo "checkpatch $s: no patches"; continue; }
			for p in $(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$series"); do
				total=$((total + 1))
				if out=$(cd "$top/build/$t" && perl "$cp" --no-tree "$top/patches/$s/$p" 2>&1); then
					echo "checkpatch $s: ok   $p"
				else
					echo "checkpatch $s: FAIL $p"
					echo "$out" | sed 's/^/    /'
					fail=$((fail + 1))
				fi
			done
		done
	done
done
echo "checkpatch: $((total - fail)) passed, $fail failed"
[ "$fail" = 0 ]
