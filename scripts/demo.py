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

Then the same two on a Debian desktop (harness image "debian": trixie's
systemd, Mesa and weston with weston-simple-egl and weston-simple-shm;
scripts/build-debian-guest.sh), which sleeps through 'systemctl suspend'
with an RTC alarm: with freeze mode the desktop goes on moving after
resume; stock QEMU leaves QEMU's "Display output is not active" on the
screen, and the clients' submissions fail with EIO (the 3D context is
lost), which Mesa reports while it renders on.

The screens before and after S3 and the new picture are saved as PNG
under build/demo/ (NAME-before.png, NAME-after.png, NAME-new.png and
NAME.png side by side; desktop.png: the Debian desktop before and after,
freeze mode above stock), with the tables in build/demo/results.md and
build/demo/desktop.md.  'make check' runs the whole matrix (tests/e2e).
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "build", "demo")
sys.path.insert(0, TOP)

from harness import desktop, pictures, s3case  # noqa: E402
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
    ok = debian_desktop() and ok
    if not ok:
        sys.exit(1)
    print("\ndemo: done: with freeze_mode the device keeps the guest's "
          "resources across S3, 3D texture and desktop included; without "
          "it the texture is lost and the desktop goes dark")


def debian_desktop() -> bool:
    """The Debian desktop, freeze mode and stock; desktop.png."""
    runs = [Config(f"desktop-{name}", "q35", "virtio-gpu-gl-pci", mode,
                   mem=1536, image="debian")
            for name, mode in (("freeze-mode", "freeze"), ("stock", "off"))]
    results = []
    for n, cfg in enumerate(runs, 1):
        print(f"\ndemo: Debian desktop {n} of {len(runs)}: weston, "
              f"{cfg.mode_name}, on {cfg.machine}", flush=True)
        results.append(desktop.run(cfg, desktop.Expect(cfg.mode == "freeze"),
                                   OUT, "weston", 1, "systemd"))
    packages = os.path.join(TOP, "build", "debian-guest", "packages.txt")
    with open(packages) as f:
        table = desktop.report(results, os.path.join(OUT, "desktop.md"),
                               "make demo: a Debian desktop suspends to "
                               "RAM", f.read())
    print("\n" + table)
    rows = []
    for r in results:
        shots = [r.pictures.get("before"), r.pictures.get("after 1")]
        if all(p and os.path.exists(p) for p in shots):
            rows.append(pictures.side_by_side(
                [pictures.read_png(p) for p in shots]))
    ok = True
    if len(rows) == len(results):
        png = os.path.join(OUT, "desktop.png")
        pictures.save_png(pictures.stacked(rows), png)
        print(f"demo: {os.path.relpath(png, TOP)}: before | after S3; "
              "freeze mode above, stock below")
    for r in results:
        bad = desktop.problems(r)
        c = r.cycles[0] if r.cycles else None
        going = c and c.moving_after and not c.blank_after
        print(f"demo: {r.cfg.name:20} desktop after S3 "
              f"{'moving' if going else 'DARK or still'}, frames counted "
              "by weston-simple-egl after resume: "
              f"{c.frames_after.get('simple-egl', 0) if c else '-'}")
        if bad:
            ok = False
            print("demo: UNEXPECTED:\n  " + "\n  ".join(bad))
    return ok


if __name__ == "__main__":
    main()
