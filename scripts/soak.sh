#!/bin/sh
# 'make soak' (CYCLES=100): build QEMU and the test guest for BASE (default
# primary), then run scripts/soak.py on a private X display (Xvfb).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/tree.sh" qemu
"$top/scripts/build-qemu.sh" qemu-system-x86_64
"$top/scripts/build-guest.sh"
exec xvfb-run -a -s "-screen 0 1280x1024x24" /usr/bin/python3 "$top/scripts/soak.py"
