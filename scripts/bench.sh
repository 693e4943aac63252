#!/bin/sh
# 'make bench': build QEMU for BASE (default primary) with the series and
# without it (the pristine base, to compare), the test guest, then run
# scripts/bench.py on a private X display (Xvfb).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/tree.sh" qemu
"$top/scripts/build-qemu.sh" qemu-system-x86_64 \
	tests/qtest/virtio-gpu-freeze-test
PRISTINE=1 "$top/scripts/build-qemu.sh" qemu-system-x86_64
"$top/scripts/build-guest.sh"
exec xvfb-run -a -s "-screen 0 1280x1024x24" /usr/bin/python3 "$top/scripts/bench.py"
