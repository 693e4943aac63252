#!/usr/bin/python3
"""The main job: a guest suspends to RAM and its display comes back.

Runs under Xvfb (started by scripts/demo.sh), with QEMU's SDL display.
The guest (patches/linux on Debian's 6.12 kernel, a busybox initramfs)
paints a test pattern on virtio-gpu, suspends with 'rtcwake -m mem -s 5'
and resumes.  The screen before and after is saved as PNG under
build/demo/:

  freeze-mode-before.png / freeze-mode-after.png
      the series: virtio-gpu-pci,freeze-mode=on on q35's root bus, where
      PCI PM No_Soft_Reset cannot help; the picture comes back.

The same with freeze-mode=off (QEMU without the series), where the display
is lost, is a case of the end-to-end tests (make check-e2e).

(virtio-gpu-gl is covered by the qtests; scripts/guest_s3.py says why its
screen is not shown here yet.)
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "build", "demo")
sys.path.insert(0, os.path.join(TOP, "scripts"))

import guest_s3  # noqa: E402
from guest_s3 import Scenario  # noqa: E402


def main():
    if not os.environ.get("DISPLAY"):
        sys.exit("demo: no X display; run it through 'make demo'")
    runs = [
        (Scenario("freeze-mode", "q35", options="freeze-mode=on"), True),
    ]
    ok = True
    print()
    for scenario, expected in runs:
        res = guest_s3.run(scenario, OUT)
        verdict = ("came back" if res.display_back else "was LOST")
        print(f"demo: {scenario.name:12} {scenario.device},{scenario.options}:"
              f" the display {verdict} after S3")
        for png in (res.before, res.after):
            if png:
                print(f"demo:              {os.path.relpath(png, TOP)}")
        if res.error or res.display_back != expected:
            ok = False
            print(f"demo: FAILED: expected the display to "
                  f"{'come back' if expected else 'be lost'}"
                  f"{': ' + res.error if res.error else ''}")
    if not ok:
        sys.exit(1)
    print("demo: done: with freeze_mode the guest's display survives S3")


if __name__ == "__main__":
    main()
