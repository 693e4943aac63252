#!/usr/bin/python3
"""The main job: a guest suspends to RAM and its display comes back.

Runs under Xvfb (started by scripts/demo.sh), with QEMU's SDL display and
gl=on (Mesa llvmpipe).  The guest (patches/linux on Debian's 6.12 kernel,
a busybox initramfs with guest/s3check) sets a mode on virtio-gpu-gl with
a test pattern, fills a virgl 3D texture, suspends with
'rtcwake -m mem -s 5', resumes, and reads the texture back.  Two runs on
q35, the GPU on the root bus (where PCI PM No_Soft_Reset cannot help):

  freeze-mode   virtio-gpu-gl-pci,freeze-mode=on: the series.  The
                display and the texture come back.
  stock         virtio-gpu-gl-pci,freeze-mode=off: what QEMU without the
                series does.  Both are lost.

The screen before and after S3 is saved as PNG under build/demo/
(NAME-before.png, NAME-after.png and NAME.png side by side), with the
table in build/demo/results.md.  'make check' runs the whole matrix
(tests/e2e).
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
        (Scenario("freeze-mode", "q35", "virtio-gpu-gl-pci",
                  guest_s3.FREEZE), True),
        (Scenario("stock", "q35", "virtio-gpu-gl-pci", guest_s3.STOCK),
         False),
    ]
    rows = []
    for n, (scenario, expected) in enumerate(runs, 1):
        print(f"\ndemo: run {n} of {len(runs)}: {scenario.device},"
              f"{scenario.options} on {scenario.machine}", flush=True)
        rows.append((guest_s3.run(scenario, OUT), expected))
    table = guest_s3.report(rows, os.path.join(OUT, "results.md"))
    print("\n" + table)
    ok = True
    for res, expected in rows:
        name = res.scenario.name
        print(f"demo: {name:12} display {'came back' if res.display_back else 'was LOST'}"
              f", 3D texture {'kept' if res.resources_kept else 'LOST'}"
              f" ({res.seconds:.0f} s)")
        for png in (res.before, res.after):
            if png and os.path.exists(png):
                print(f"demo:              {os.path.relpath(png, TOP)}")
        both = os.path.join(OUT, f"{name}.png")
        if os.path.exists(both):
            print(f"demo:              {os.path.relpath(both, TOP)} "
                  "(before | after)")
        if not guest_s3.verdict(res, expected):
            ok = False
            print(f"demo: UNEXPECTED: the display should "
                  f"{'come back' if expected else 'be lost'}"
                  f"{': ' + res.error if res.error else ''}")
    if not ok:
        sys.exit(1)
    print("\ndemo: done: with freeze_mode the guest's display and its 3D "
          "resources survive S3; without it they are lost")


if __name__ == "__main__":
    main()
