#!/usr/bin/python3
"""The main job: a guest suspends to RAM and its display comes back.

Runs on a private Xvfb (started by scripts/demo.sh), with QEMU's SDL
display and gl=on (Mesa llvmpipe).  The guest (the Linux series' kernel
and a busybox initramfs with guest/s3check) sets a mode on
virtio-gpu-gl-pci with a test pattern, fills a virgl 3D texture, suspends
with 'rtcwake -m mem', resumes, reads the texture back, and paints a new
picture.  Two runs on q35, the GPU on the root bus (where PCI PM
No_Soft_Reset cannot help):

  freeze-mode   x-freeze-mode=on: the series.  The device keeps the
                display's resources and the texture; the GPU works on.
  stock         x-freeze-mode=off: what QEMU without the series does.
                The device loses everything; the guest's driver sees it,
                says so and creates its 2D framebuffer again, but the
                texture's content, which only the host had, is gone: the
                texture panel (top right) goes black.

The screens before and after S3 and the new picture are saved as PNG
under build/demo/ (NAME-before.png, NAME-after.png, NAME-new.png and
NAME.png side by side), with the table in build/demo/results.md.  'make
check' runs the whole matrix (tests/e2e).
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "build", "demo")
sys.path.insert(0, TOP)

from harness import s3case  # noqa: E402
from harness.guest import Config  # noqa: E402
from harness.s3case import Expect  # noqa: E402


def main():
    if not os.environ.get("DISPLAY"):
        sys.exit("demo: no X display; run it through 'make demo'")
    runs = [
        (Config("freeze-mode", "q35", "virtio-gpu-gl-pci", "freeze"),
         Expect(kept=True)),
        (Config("stock", "q35", "virtio-gpu-gl-pci", "off"),
         Expect(kept=False)),
    ]
    results = []
    for n, (cfg, expect) in enumerate(runs, 1):
        print(f"\ndemo: run {n} of {len(runs)}: {cfg.device}, "
              f"{cfg.mode_name}, on {cfg.machine}", flush=True)
        results.append(s3case.run(cfg, expect, OUT))
    table = s3case.report(results, os.path.join(OUT, "results.md"),
                          "make demo: a guest suspends to RAM")
    print("\n" + table)
    ok = True
    for r in results:
        name = r.cfg.name
        print(f"demo: {name:12} display "
              f"{'came back' if r.display_back else 'was LOST'} "
              f"({r.recreated} resources created again by the guest), "
              f"3D texture {'kept' if r.texture_kept else 'LOST'} "
              f"({r.seconds:.0f} s)")
        both = os.path.join(OUT, f"{name}.png")
        for png in list(r.pictures.values()) + [both]:
            if os.path.exists(png):
                print(f"demo:              {os.path.relpath(png, TOP)}")
        bad = s3case.problems(r)
        if bad:
            ok = False
            print("demo: UNEXPECTED:\n  " + "\n  ".join(bad))
    if not ok:
        sys.exit(1)
    print("\ndemo: done: with freeze_mode the device keeps the guest's "
          "resources across S3, 3D texture included; without it the "
          "texture is lost")


if __name__ == "__main__":
    main()
