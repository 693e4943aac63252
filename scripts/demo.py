#!/usr/bin/python3
"""The main job: start the patched QEMU with virtio-gpu-gl on a GL display.

Runs under Xvfb (started by scripts/demo.sh): QEMU's SDL display with
gl=on renders through Mesa's llvmpipe, so no GPU is needed.  The screen is
saved as PNG under build/demo/, and what the virtio-gpu device offers is
read back over QMP with QEMU's own python/qemu package.
"""

import os
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU = os.path.join(TOP, "build", "qemu-build", "qemu-system-x86_64")
OUT = os.path.join(TOP, "build", "demo")
sys.path.insert(0, os.path.join(TOP, "build", "qemu", "python"))

from qemu.machine import QEMUMachine  # noqa: E402


def say(msg):
    print(f"demo: {msg}", flush=True)


def screenshot(name):
    """Save the X screen (SDL's GL window) as build/demo/NAME.png."""
    path = os.path.join(OUT, name + ".png")
    xwd = subprocess.run(["xwd", "-root", "-silent"], check=True,
                         stdout=subprocess.PIPE).stdout
    pnm = subprocess.run(["xwdtopnm"], input=xwd, check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    with open(path, "wb") as f:
        subprocess.run(["pnmtopng"], input=pnm, stdout=f, check=True,
                       stderr=subprocess.DEVNULL)
    say(f"screen saved: {os.path.relpath(path, TOP)}")
    return path


def virtio_gpu_path(vm):
    for dev in vm.cmd("x-query-virtio"):
        if dev["name"] == "virtio-gpu":
            return dev["path"]
    raise RuntimeError("no virtio-gpu device found")


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.environ.get("DISPLAY"):
        sys.exit("demo: no X display; run it through 'make demo'")
    version = subprocess.run([QEMU, "--version"], check=True, text=True,
                             stdout=subprocess.PIPE).stdout.splitlines()[0]
    say(version)
    vm = QEMUMachine(QEMU, args=[
        "-accel", "tcg", "-machine", "q35", "-m", "512",
        "-device", "virtio-vga-gl,freeze-mode=on",
        "-display", "sdl,gl=on",
    ], log_dir=OUT)
    say("starting QEMU: q35, TCG, virtio-vga-gl,freeze-mode=on, "
        "-display sdl,gl=on")
    vm.launch()
    try:
        # SeaBIOS paints the VGA console within a few seconds under TCG.
        time.sleep(8)
        status = vm.cmd("x-query-virtio-status", path=virtio_gpu_path(vm))
        feats = status["host-features"]
        transports = [f.split(":")[0] for f in feats["transports"]]
        say("transport features offered: " + ", ".join(transports))
        if "VIRTIO_F_FREEZE_MODE" not in transports:
            sys.exit("demo: FAILED: the GPU does not offer VIRTIO_F_FREEZE_MODE")
        say("VIRTIO_F_FREEZE_MODE is offered: the guest can freeze the GPU "
            "for S3 (freeze_mode, common config offset 0x40)")
        say("device features offered: " +
            ", ".join(f.split(":")[0] for f in feats.get("dev-features", [])))
        screenshot("boot")
    finally:
        vm.shutdown()
    say("done")


if __name__ == "__main__":
    main()
