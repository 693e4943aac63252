#!/bin/sh
# 'make demo': build the test guest (for BASE, default primary) and the
# Debian guest, then run scripts/demo.py on a private X display (Xvfb),
# the GL display virtio-gpu-gl needs when the machine has no GPU (Mesa
# llvmpipe).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build-guest.sh"
"$top/scripts/build-debian-guest.sh"
exec xvfb-run -a -s "-screen 0 1280x1024x24" /usr/bin/python3 "$top/scripts/demo.py" "$@"
