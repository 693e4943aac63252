#!/bin/sh
# 'make check-debian': the Debian desktop guest across S3, the whole
# matrix (tests/e2e/test_debian_guest.py with DEBIAN_MATRIX=full; 'make
# check' runs a short one on the primary base), for BASE (default
# primary), on a private X display.  Table and pictures:
# build/debian-<base>/results.md.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
"$top/scripts/tree.sh" qemu
"$top/scripts/build-qemu.sh" qemu-system-x86_64
"$top/scripts/build-guest.sh"
"$top/scripts/build-debian-guest.sh"
cd "$top"
DEBIAN_MATRIX=full exec xvfb-run -a -s "-screen 0 1280x1024x24" \
	/usr/bin/python3 -m pytest -v -rs -s --timeout=900 \
	tests/e2e/test_debian_guest.py
