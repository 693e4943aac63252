#!/bin/sh
# QEMU for BASE (default primary) built with clang, AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer (--enable-fuzzing), in
# build/<qemu tree>-asan: one build serves 'make check-asan' (the
# series' qtests under the sanitizers) and 'make fuzz' (qemu-fuzz-x86_64,
# QEMU's generic-fuzz).  Targets: ninja's, default qemu-system-x86_64,
# qemu-fuzz-x86_64 and the series' qtests.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
"$top/scripts/tree.sh" qemu
[ $# -gt 0 ] || set -- qemu-system-x86_64 qemu-fuzz-x86_64 \
	tests/qtest/virtio-freeze-mode-test tests/qtest/virtio-gpu-freeze-test \
	tests/qtest/qos-test
QEMU_BUILD_DIR=$top/build/$QEMU_TREE-asan QEMU_CC=clang \
QEMU_EXTRA_CONFIGURE="--cxx=clang++ --enable-asan --enable-ubsan --enable-fuzzing" \
	exec "$top/scripts/build-qemu.sh" "$@"
