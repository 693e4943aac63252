#!/bin/sh
# Build QEMU with AddressSanitizer (LeakSanitizer included) in
# build/qemu-asan and run the series' own qtests under it, the GL ones on
# Xvfb.  Slow (a second full build), so not part of 'make check'.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
obj=$top/build/qemu-asan
tests="virtio-freeze-mode-test virtio-gpu-freeze-test qos-test"
"$top/scripts/tree.sh" qemu
QEMU_BUILD_DIR=$obj QEMU_EXTRA_CONFIGURE="--enable-asan" \
	"$top/scripts/build-qemu.sh" qemu-system-x86_64 \
	$(for t in $tests; do printf 'tests/qtest/%s ' "$t"; done)
fail=0
for t in $tests; do
	args=
	[ "$t" = qos-test ] && args="-p /x86_64/pc/i440FX-pcihost/pci-bus-pc/pci-bus/virtio-gpu-pci"
	echo "check-asan: $t"
	# shellcheck disable=SC2086
	# Full stacks, so that leaks of the display libraries SDL's gl=on
	# display loads can be told from QEMU's (tests/lsan-suppressions.txt)
	if (cd "$obj" && ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
		LSAN_OPTIONS="suppressions=$top/tests/lsan-suppressions.txt:fast_unwind_on_malloc=0" \
		QTEST_QEMU_BINARY=./qemu-system-x86_64 \
		xvfb-run -a -s "-screen 0 1280x800x24" \
		"$top/scripts/qtest-tcg.sh" "tests/qtest/$t" --tap -k $args) \
		>"$top/build/asan-$t.log" 2>&1; then
		echo "check-asan: ok   $t ($(grep -c '^ok' "$top/build/asan-$t.log") cases)"
	else
		echo "check-asan: FAIL $t (build/asan-$t.log)"
		grep -E 'ERROR: (Address|Leak)Sanitizer|^not ok|Bail out' \
			"$top/build/asan-$t.log" | head -10
		fail=$((fail + 1))
	fi
done
echo "check-asan: $(($(echo $tests | wc -w) - fail)) passed, $fail failed"
[ "$fail" = 0 ]
