#!/bin/sh
# 'make demo': run scripts/demo.py on a virtual X display (Xvfb), the GL
# display virtio-gpu-gl needs when the machine has no GPU (Mesa llvmpipe).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
exec xvfb-run -a -s "-screen 0 1280x800x24" /usr/bin/python3 "$top/scripts/demo.py" "$@"
