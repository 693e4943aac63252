#!/bin/sh
# 'make check-known': show that every qtest the base's known-failures list
# (tests/qtest-known-failures/$BASE) names as failing fails on the pristine
# base too -- QEMU built without the series -- under the same conditions
# as 'make check' (TCG, Debian's firmware, scripts/qtest-tcg.sh).  Not in
# 'make check': it needs a second QEMU build, and a known failure can take
# its full timeout (cdrom-test's 600 s).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
"$top/scripts/tree.sh" qemu
PRISTINE=1 "$top/scripts/build-qemu.sh"
obj=$top/build/$QEMU_TREE-pristine-build
known=$top/tests/qtest-known-failures/$BASE
pass=0 fail=0
for entry in $(awk '$1 == "fail" { print $2 }' "$known"); do
	test=${entry%%:*} sub=${entry#*:}
	log=$obj/known-$(basename "$test").log
	printf 'check-known: %s ... ' "$entry"
	# run as 'make check' would, without skipping the known subtest
	if (cd "$obj" && QTEST_KNOWN_RUN=1 QTEST_QEMU_BINARY=./qemu-system-x86_64 \
		xvfb-run -a "$top/scripts/qtest-tcg.sh" \
		"tests/qtest/$(basename "$test")" --tap -k -p "$sub") >"$log" 2>&1 &&
		grep -q "^ok .* $sub\$" "$log"; then
		echo "PASSES on the pristine base: the entry is wrong ($log)"
		fail=$((fail + 1))
	else
		echo "fails there too ($(grep -m1 -E '^not ok|Bail out|ERROR' "$log" || echo "exit status $?"))"
		pass=$((pass + 1))
	fi
done
echo "check-known: $pass fail on the pristine base as listed, $fail do not"
[ "$fail" = 0 ]
