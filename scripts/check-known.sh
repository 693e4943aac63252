#!/bin/sh
# 'make check-known': show that every qtest the base's known-failures list
# (tests/qtest-known-failures/$BASE) names as failing fails on the pristine
# base too -- QEMU built without the series -- under the same conditions
# as 'make check' (TCG, the same firmware, scripts/qtest-tcg.sh).  Not in
# 'make check': it needs a second QEMU build, and a known failure can take
# its full timeout (cdrom-test's 600 s).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
"$top/scripts/tree.sh" qemu
PRISTINE=1 "$top/scripts/build-qemu.sh"
obj=$top/build/$QEMU_TREE-pristine-build
pass=0 fail=0
# the 'fail' entries that hold on this machine (a 'when' may rule one
# out); assigned first, so that an error in check.py stops the script
entries=$(/usr/bin/python3 "$top/scripts/check.py" --known-fails "$BASE")
for entry in $entries; do
	test=${entry%%:*} sub=${entry#*:}
	log=$obj/known-$(basename "$test")-$(echo "$sub" | tr / _).log
	printf 'check-known: %s ... ' "$entry"
	# run as 'make check' would (scripts/check.py evaluate_known_run):
	# without skipping the known subtest, within the same 120 s
	set +e
	(cd "$obj" && QTEST_KNOWN_RUN=1 QTEST_QEMU_BINARY=./qemu-system-x86_64 \
		QTEST_KNOWN_TIMEOUT=120 xvfb-run -a -s "-screen 0 1280x1024x24" \
		"$top/scripts/qtest-tcg.sh" \
		"tests/qtest/$(basename "$test")" --tap -p "$sub") >"$log" 2>&1
	rc=$?
	set -e
	if grep -q "^ok .* $sub\$" "$log" && ! grep -q "^ok .* $sub # SKIP" "$log"; then
		echo "PASSES on the pristine base: the entry is wrong ($log)"
		fail=$((fail + 1))
	elif grep -q -E "^not ok .* $sub\$|Bail out!" "$log" ||
		[ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "fails there too ($(grep -m1 -E '^not ok|Bail out' "$log" || echo "timed out, exit status $rc"))"
		pass=$((pass + 1))
	else
		echo "shows no failure (exit status $rc; skipped or never started?): see $log"
		fail=$((fail + 1))
	fi
done
echo "check-known: $pass fail on the pristine base as listed, $fail do not"
[ "$fail" = 0 ]
