#!/bin/sh
# 'make check-asan': the series' qtests on QEMU built with ASan, UBSan and
# leak detection (scripts/build-qemu-asan.sh), the GL ones on Xvfb.
#
# Any sanitizer report fails the test (halt_on_error).  Leaks: the display
# libraries behind SDL's gl=on display (SDL, D-Bus) keep allocations until
# exit; tests/lsan-suppressions.txt names them by library, never by a QEMU
# function.  Mesa's DRI driver (llvmpipe) is loaded with dlopen() and
# unloaded before LeakSanitizer looks: what it still held would show as
# leaks from an "<unknown module>", which no suppression can name, and
# which would look the same as a leak of QEMU's.  So it is preloaded: it
# stays mapped, and what its globals point to is reachable, not leaked.
# The unwinder stays the fast one: the slow one deadlocks in llvmpipe's
# JIT (FACTS.md).
#
# Each run lists its test paths first and must pass every one of them: a
# run that passes fewer (a case that skipped, a binary that stopped) fails.
# The series' tests run their whole set (G_TEST_SLOW, as upstream's 'make
# check SPEED=slow'), the freeze-loop cases included: LeakSanitizer
# reports what those cycles lose; what a long run keeps growing is the
# soak's to measure (make soak), not a qtest's.
#
# GLib before 2.76 (Debian 12's 2.74) serves g_slice_new() from its own
# magazines, where LeakSanitizer cannot see a lost allocation; since 2.76
# (Debian 13) GSlice is malloc.  QEMU runs with G_SLICE=always-malloc
# (and G_DEBUG=gc-friendly, which clears what GLib frees), so that the
# older GLib shows QEMU's leaks as the newer one does (it found the lost
# property tables fixed by QEMU's "hw/core/irq: Do not copy the QOM header
# of an intercepted IRQ").  The test programs keep GLib's default: 2.74's
# test framework loses qos-test's test data that way (2.84 frees it).
#
# ASAN_GL=0 leaves the GL cases out; they are then listed as not run.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
obj=$top/build/$QEMU_TREE-asan
"$top/scripts/build-qemu-asan.sh"
out=$top/build/asan
mkdir -p "$out"
fail=0 total=0
asan=detect_leaks=1:halt_on_error=1:abort_on_error=1
G_TEST_SLOW=1
export G_TEST_SLOW
qemu="env G_SLICE=always-malloc G_DEBUG=gc-friendly ./qemu-system-x86_64"
dri=/usr/lib/$(gcc -print-multiarch)/dri/swrast_dri.so
[ -f "$dri" ] || { echo "check-asan: no $dri (libgl1-mesa-dri)" >&2; exit 1; }

paths() {	# paths TEST: the test's paths, one a line
	# older GLib lists "/path", newer (Debian 13's 2.84) "# /path"
	(cd "$obj" && QTEST_QEMU_BINARY=$qemu "tests/qtest/$1" -l) |
		sed -n 's|^\(# \)\{0,1\}\(/[^ ]*\)$|\2|p'
}

run() {	# run NAME TEST ASAN_OPTIONS PATH...: every path must pass
	name=$1 test=$2 opts=$3
	shift 3
	total=$((total + 1))
	want=$#
	args=
	for p in "$@"; do
		args="$args -p $p"
	done
	printf 'check-asan: %s ... ' "$name"
	# shellcheck disable=SC2086 # $args: one word a path, none with blanks
	if [ "$want" -gt 0 ] && (cd "$obj" && LD_PRELOAD=$dri ASAN_OPTIONS=$opts \
		UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
		LSAN_OPTIONS="suppressions=$top/tests/lsan-suppressions.txt" \
		QTEST_QEMU_BINARY="$qemu" \
		xvfb-run -a -s "-screen 0 1280x1024x24" \
		"$top/scripts/qtest-tcg.sh" "tests/qtest/$test" --tap -k $args) \
		>"$out/$name.log" 2>&1 &&
		! grep -qE "ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" "$out/$name.log" &&
		[ "$(grep -c '^ok' "$out/$name.log")" = "$want" ] &&
		! grep -q '# SKIP' "$out/$name.log"; then
		echo "ok ($want cases)"
	else
		echo "FAIL ($(grep -c '^ok' "$out/$name.log" 2>/dev/null || echo 0) of $want cases passed; build/asan/$name.log)"
		grep -E 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:|^not ok|Bail out|# SKIP' \
			"$out/$name.log" 2>/dev/null | head -10 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}

# shellcheck disable=SC2046 # the paths: one word each
run virtio-freeze-mode-test virtio-freeze-mode-test $asan \
	$(paths virtio-freeze-mode-test)
gpu=$(paths virtio-gpu-freeze-test)
if [ "${ASAN_GL:-1}" = 0 ]; then
	gpu=$(echo "$gpu" | grep -v -- '-gl')
fi
# shellcheck disable=SC2086 # $gpu: the paths, one word each
run virtio-gpu-freeze-test virtio-gpu-freeze-test $asan $gpu
if [ "${ASAN_GL:-1}" = 0 ]; then
	echo "check-asan: not run: the GL cases of virtio-gpu-freeze-test (ASAN_GL=0)"
fi
# shellcheck disable=SC2046
run qos-virtio-gpu qos-test $asan \
	$(paths qos-test | grep '/virtio-gpu-pci/virtio-gpu/')
echo "check-asan: $((total - fail)) passed, $fail failed"
[ "$fail" = 0 ]
