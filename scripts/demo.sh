#!/bin/sh
# 'make demo': build the guest, then run scripts/demo.py on a virtual X
# display (Xvfb), the GL display virtio-gpu-gl needs when the machine has
# no GPU (Mesa llvmpipe).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/tree.sh" linux
"$top/scripts/build-linux.sh"
"$top/scripts/build-initramfs.sh"
exec xvfb-run -a -s "-screen 0 1280x1024x24" /usr/bin/python3 "$top/scripts/demo.py" "$@"
