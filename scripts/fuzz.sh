#!/bin/sh
# 'make fuzz' (FUZZ_SECS=600): QEMU's generic-fuzz (libFuzzer) on
# virtio-gpu-pci with x-freeze-mode=on, behind a PCIe root port: the
# fuzzer writes any MMIO, PIO and PCI configuration of those devices --
# the common configuration with freeze_mode, the status register and its
# resets, FLR and the root port's bus reset -- and any DMA the control
# queue reads.  The build is the ASan/UBSan/libFuzzer one
# (scripts/build-qemu-asan.sh).
#
# The corpus grows in build/fuzz/corpus (kept between runs); a crash, a
# sanitizer report or a timeout leaves its reproducer in build/fuzz/crashes
# and fails the run:
#   build/<qemu tree>-asan/qemu-fuzz-x86_64 --fuzz-target=generic-fuzz-virtio-gpu-freeze build/fuzz/crashes/crash-...
# generic-fuzz cannot reach virtio-gpu-gl (it needs a GL display, which
# the fuzzer's -display none has not) nor suspend and wake-up (no QMP):
# virtio-gpu-freeze-test's "random" case drives those, seeded.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
secs=${FUZZ_SECS:-600}
obj=$top/build/$QEMU_TREE-asan
out=$top/build/fuzz
"$top/scripts/build-qemu-asan.sh" qemu-fuzz-x86_64
# an earlier run's reproducers stay; this run's go to crashes/ too
mkdir -p "$out/corpus" "$out/crashes"
before=$(ls "$out/crashes" | wc -l)
echo "fuzz: generic-fuzz-virtio-gpu-freeze for $secs s (corpus build/fuzz/corpus, $(ls "$out/corpus" | wc -l) inputs)"
set +e
(cd "$obj" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
	./qemu-fuzz-x86_64 --fuzz-target=generic-fuzz-virtio-gpu-freeze \
	-max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 \
	-print_final_stats=1 -artifact_prefix="$out/crashes/" \
	"$out/corpus") >"$out/fuzz.log" 2>&1
rc=$?
set -e
grep -E "^#[0-9]+.*(DONE|pulse|NEW)|stat::number_of_executed_units|stat::peak_rss" "$out/fuzz.log" | tail -5
crashes=$(($(ls "$out/crashes" | wc -l) - before))
echo "fuzz: exit status $rc, $(ls "$out/corpus" | wc -l) inputs in the corpus, $crashes new reproducers"
if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
	grep -E "ERROR: |SUMMARY: |runtime error:|==[0-9]+==" "$out/fuzz.log" | head -20
	echo "fuzz: FAILED: see build/fuzz/fuzz.log and build/fuzz/crashes/"
	exit 1
fi
echo "fuzz: no crash"
