#!/usr/bin/python3
"""Boot the test guest, suspend it to RAM with rtcwake, and look at the screen.

One run of QEMU (patched, from build/qemu-build) with the guest kernel and
initramfs (build/linux-build, build/guest), a virtio GPU and QEMU's SDL
display on the X server in $DISPLAY (Xvfb):

  1. the guest paints a test pattern on the virtio-gpu framebuffer;
  2. the screen is saved (NAME-before.png);
  3. the guest runs 'rtcwake -m mem -s 5': QEMU reports SUSPEND, the RTC
     wakes the machine (WAKEUP), and the guest resumes;
  4. the screen is saved again (NAME-after.png) and compared.

The screen is what QEMU's console shows, taken with QMP screendump.  That
works for the 2D devices; for a virgl scanout QEMU answers "no surface",
and the X server's copy of the SDL window (xwd) comes back black after any
S3 cycle, even one that keeps the display (No_Soft_Reset), so the GL
devices are not judged this way yet.

Used by 'make demo' (scripts/demo.py) and the end-to-end tests (tests/e2e).
"""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU = os.path.join(TOP, "build", "qemu-build", "qemu-system-x86_64")
KERNEL = os.path.join(TOP, "build", "linux-build", "arch", "x86", "boot",
                      "bzImage")
INITRAMFS = os.path.join(TOP, "build", "guest", "initramfs.cpio")
sys.path.insert(0, os.path.join(TOP, "build", "qemu", "python"))

from qemu.machine import QEMUMachine  # noqa: E402


@dataclass
class Scenario:
    """What to run: machine, GPU device and where it sits, and its options."""
    name: str
    machine: str = "q35"
    device: str = "virtio-gpu-pci"
    options: str = "freeze-mode=on"
    # put the GPU behind a PCIe root port (q35) instead of the root bus
    root_port: bool = False

    def args(self) -> List[str]:
        gl = "-gl" in self.device
        dev = f"{self.device},id=gpu0"
        if self.options:
            dev += "," + self.options
        args = ["-accel", "tcg", "-machine", self.machine, "-m", "512",
                "-vga", "none", "-display", f"sdl,gl={'on' if gl else 'off'}",
                "-kernel", KERNEL, "-initrd", INITRAMFS,
                "-append", "console=ttyS0 loglevel=4 no_console_suspend"]
        if self.root_port:
            args += ["-device", "pcie-root-port,id=rp0,chassis=1,slot=1"]
            dev += ",bus=rp0"
        return args + ["-device", dev]


@dataclass
class Result:
    scenario: Scenario
    before: str = ""
    after: str = ""
    # fraction of screen pixels that differ between before and after
    changed: float = 1.0
    # the before picture is not a blank screen
    painted: bool = False
    events: List[str] = field(default_factory=list)
    console: List[str] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def display_back(self) -> bool:
        return self.painted and self.changed < 0.001


def say(msg):
    print(f"guest-s3: {msg}", flush=True)


def read_ppm(data: bytes):
    """(width, height, rgb bytes) of a binary PPM (P6) image."""
    fields = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P6", fields
    w, h, maxval = int(fields[1]), int(fields[2]), int(fields[3])
    if maxval < 256:
        return w, h, data[pos + 1:pos + 1 + w * h * 3]
    # 16 bits a sample, most significant byte first: keep that byte
    return w, h, data[pos + 1:pos + 1 + w * h * 6:2]


def screenshot(vm, path_png: str):
    """Save the GPU's console as PNG; return its pixels (w, h, rgb)."""
    ppm_path = path_png[:-4] + ".ppm"
    vm.cmd("screendump", filename=ppm_path, device="gpu0")
    with open(ppm_path, "rb") as f:
        ppm = f.read()
    os.unlink(ppm_path)
    with open(path_png, "wb") as f:
        subprocess.run(["pnmtopng"], input=ppm, stdout=f, check=True,
                       stderr=subprocess.DEVNULL)
    return read_ppm(ppm)


def difference(a, b) -> float:
    """Fraction of pixels that differ between two screenshots."""
    (wa, ha, pa), (wb, hb, pb) = a, b
    if (wa, ha) != (wb, hb):
        return 1.0
    n = wa * ha
    diff = sum(1 for i in range(0, n * 3, 3) if pa[i:i + 3] != pb[i:i + 3])
    return diff / n


def distinct_colours(img) -> int:
    _, _, px = img
    return len({px[i:i + 3] for i in range(0, len(px), 3 * 97)})


class Console:
    """The guest's serial console: lines, with a log and timeouts."""

    def __init__(self, sock: socket.socket, log: str):
        self.sock = sock
        socket.socket.settimeout(sock, 1.0)
        self.buf = b""
        self.lines: List[str] = []
        self.log = open(log, "w")

    def wait_for(self, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, line in enumerate(self.lines):
                if marker in line:
                    del self.lines[:i + 1]
                    return line
            try:
                data = socket.socket.recv(self.sock, 4096)
            except socket.timeout:
                continue
            if not data:
                break
            self.buf += data
            *done, self.buf = self.buf.split(b"\n")
            for raw in done:
                line = raw.decode(errors="replace").rstrip("\r")
                self.log.write(line + "\n")
                self.log.flush()
                self.lines.append(line)
        raise TimeoutError(f"no '{marker}' on the guest console "
                           f"within {timeout:.0f} s")

    def send(self, text: str):
        self.sock.sendall(text.encode() + b"\n")


def run(scenario: Scenario, outdir: str, settle: float = 3.0) -> Result:
    """Run one S3 cycle of the guest; screenshots go to outdir."""
    os.makedirs(outdir, exist_ok=True)
    res = Result(scenario)
    vm = QEMUMachine(QEMU, args=scenario.args(), log_dir=outdir,
                     name=f"qemu-{scenario.name}")
    vm.set_console()
    say(f"[{scenario.name}] {' '.join(scenario.args()[-2:])}"
        f" on {scenario.machine}: booting")
    vm.launch()
    con = Console(vm.console_socket,
                  os.path.join(outdir, f"{scenario.name}-console.log"))
    try:
        line = con.wait_for("FREEZE_MODE)=", 120)
        res.console.append(line)
        con.wait_for("guest: READY", 60)
        time.sleep(settle)
        res.before = os.path.join(outdir, f"{scenario.name}-before.png")
        before = screenshot(vm, res.before)
        res.painted = distinct_colours(before) >= 8
        say(f"[{scenario.name}] pattern on screen: "
            f"{'yes' if res.painted else 'NO'}; suspending with rtcwake")
        # A command typed while the guest's shell is not yet reading can
        # be lost (seen under load): send it again until the guest answers.
        for attempt in range(3):
            con.send("s3")
            try:
                con.wait_for("guest: SUSPENDING", 20)
                break
            except TimeoutError:
                say(f"[{scenario.name}] no answer to 's3', sending it again")
        else:
            raise TimeoutError("the guest does not take the 's3' command")
        for ev in ("SUSPEND", "WAKEUP"):
            vm.event_wait(ev, timeout=120)
            res.events.append(ev)
        res.console.append(con.wait_for("guest: RESUMED", 120))
        say(f"[{scenario.name}] {res.console[-1]}")
        time.sleep(settle)
        res.after = os.path.join(outdir, f"{scenario.name}-after.png")
        after = screenshot(vm, res.after)
        res.changed = difference(before, after)
        say(f"[{scenario.name}] display after resume: "
            f"{'SAME as before' if res.display_back else 'CHANGED'}"
            f" ({res.changed:.1%} of pixels differ)")
    except Exception as e:  # the result says what went wrong
        res.error = f"{type(e).__name__}: {e}"
        say(f"[{scenario.name}] ERROR: {res.error}")
    finally:
        vm.shutdown(hard=True)
    return res
