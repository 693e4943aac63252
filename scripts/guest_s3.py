#!/usr/bin/python3
"""Boot the test guest, suspend it to RAM with rtcwake, and look at the screen.

One run of QEMU (patched, from build/qemu-build) with the guest kernel and
initramfs (build/linux-build, build/guest), a virtio GPU and QEMU's SDL
display on the X server in $DISPLAY (Xvfb; gl=on for the -gl devices):

  1. in the guest, s3check (guest/s3check.c) sets a 640x480 mode with a
     test pattern and, with virgl, fills a 3D texture and reads it back;
  2. the screen is saved (NAME-before.png);
  3. s3check runs 'rtcwake -m mem -s 5': QEMU reports SUSPEND, the RTC
     wakes the machine (WAKEUP), the guest resumes, and s3check checks
     that the CRTC still shows its framebuffer and that the texture reads
     back identical;
  4. the screen is saved again (NAME-after.png) and compared.

The screen is QEMU's console taken with QMP screendump for the 2D
devices.  For a virgl scanout QMP screendump answers "no surface": the
picture is taken from the X server instead (xwd), cut to QEMU's window,
i.e. what a user sees.  Before each picture the guest flushes its
framebuffer again: SDL does not draw a GL scanout that arrived before its
window was up until the next flush.

Used by 'make demo' (scripts/demo.py) and the end-to-end tests (tests/e2e).
"""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

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

    @property
    def mode(self) -> str:
        if "freeze-mode=on" in self.options:
            return "freeze_mode"
        if "x-pcie-pm-no-soft-reset=on" in self.options:
            return "No_Soft_Reset"
        return "neither (stock)"

    @property
    def placement(self) -> str:
        if self.root_port:
            return "PCIe root port"
        return "root bus (PCIe)" if self.machine == "q35" else "PCI bus"

    @property
    def gl(self) -> bool:
        return self.device.endswith("-gl") or "-gl-" in self.device

    def args(self) -> List[str]:
        gl = self.gl
        # 640x480: the size QEMU's SDL window opens with, so that it
        # need not resize (a resized window may leave the X screen)
        dev = f"{self.device},id=gpu0,xres=640,yres=480"
        if self.options:
            dev += "," + self.options
        # -nodefaults: without it q35 has a CD-ROM on its AHCI
        # controller, and SeaBIOS spends some 30 s on it under TCG
        args = ["-nodefaults", "-accel", "tcg", "-machine", self.machine,
                "-m", "512",
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
    # the guest's own checks (s3check): name -> PASS, FAIL or SKIP
    checks: Dict[str, str] = field(default_factory=dict)
    # whether the guest saw VIRTIO_F_FREEZE_MODE offered
    feature_offered: Optional[bool] = None
    seconds: float = 0.0
    error: Optional[str] = None

    @property
    def display_back(self) -> bool:
        return self.painted and self.changed < 0.001

    @property
    def resources_kept(self) -> Optional[bool]:
        """Did the 3D texture read back identical (None: no virgl)?"""
        v = self.checks.get("3d-after")
        return None if v in (None, "SKIP") else v == "PASS"


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


def ppm_to_png(ppm: bytes, path_png: str):
    with open(path_png, "wb") as f:
        subprocess.run(["pnmtopng"], input=ppm, stdout=f, check=True,
                       stderr=subprocess.DEVNULL)


def qemu_window():
    """Where QEMU's SDL window is on $DISPLAY: (x, y, width, height)."""
    tree = subprocess.run(["xwininfo", "-root", "-tree"], check=True,
                          capture_output=True, text=True).stdout
    found = []
    for line in tree.splitlines():
        if '"QEMU' in line:
            # ... "QEMU": (...)  640x480+320+272  +320+272
            size, absolute = line.split()[-2:]
            w, h = size.split("+")[0].split("x")
            _, x, y = absolute.split("+")
            found.append((int(w) * int(h), (int(x), int(y), int(w), int(h))))
    if not found:
        raise RuntimeError("no QEMU window on the X display")
    # SDL makes more than one window; the one that shows the guest is
    # the largest
    return max(found)[1]


def crop(img, x, y, w, h):
    iw, ih, px = img
    w, h = min(w, iw - x), min(h, ih - y)
    rows = [px[((y + r) * iw + x) * 3:((y + r) * iw + x + w) * 3]
            for r in range(h)]
    return w, h, b"".join(rows)


def to_ppm(img) -> bytes:
    w, h, px = img
    return b"P6\n%d %d\n255\n" % (w, h) + px


def screenshot(vm, path_png: str, gl: bool):
    """Save the guest's screen as PNG; return its pixels (w, h, rgb).

    2D devices: QEMU's console, with QMP screendump.  GL devices: QMP
    screendump answers "no surface" for a virgl scanout, so the picture
    is taken from the X server, as the user sees it: QEMU's SDL window.
    """
    if gl:
        # the GL window itself cannot be read (GetImage: BadMatch): read
        # the screen and cut the window out of it
        xwd = subprocess.run(["xwd", "-silent", "-root"], check=True,
                             capture_output=True).stdout
        ppm = subprocess.run(["xwdtopnm"], input=xwd, check=True,
                             capture_output=True).stdout
        ppm = to_ppm(crop(read_ppm(ppm), *qemu_window()))
    else:
        ppm_path = path_png[:-4] + ".ppm"
        vm.cmd("screendump", filename=ppm_path, device="gpu0")
        with open(ppm_path, "rb") as f:
            ppm = f.read()
        os.unlink(ppm_path)
    ppm_to_png(ppm, path_png)
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

    def wait_for(self, marker, timeout: float) -> str:
        """The next line holding marker (a string, or a tuple of them)."""
        markers = (marker,) if isinstance(marker, str) else marker
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, line in enumerate(self.lines):
                if any(m in line for m in markers):
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


def s3check_lines(con: Console, res: Result, until: str, timeout: float):
    """Read the guest's s3check lines up to the one holding 'until'."""
    deadline = time.monotonic() + timeout
    while True:
        line = con.wait_for(("s3check: ", "guest: BYE"),
                            max(1.0, deadline - time.monotonic()))
        res.console.append(line)
        if "guest: BYE" in line:
            raise RuntimeError(f"s3check ended: {res.console}")
        words = line[line.index("s3check: "):].split()
        if len(words) >= 3 and words[1] in ("PASS", "FAIL", "SKIP"):
            res.checks[words[2]] = words[1]
        if until in line:
            return line


def redraw(con: Console, settle: float):
    """Let the display settle, then have the guest flush its framebuffer."""
    time.sleep(settle)
    con.send("redraw")
    con.wait_for("s3check: REDRAWN", 30)
    time.sleep(1)


def run(scenario: Scenario, outdir: str, settle: float = 3.0) -> Result:
    """Run one S3 cycle of the guest; screenshots go to outdir."""
    os.makedirs(outdir, exist_ok=True)
    res = Result(scenario)
    t0 = time.monotonic()
    vm = QEMUMachine(QEMU, args=scenario.args(), log_dir=outdir,
                     name=f"qemu-{scenario.name}")
    vm.set_console()
    tag = f"[{scenario.name}]"
    say(f"{tag} {' '.join(scenario.args()[-2:])} on {scenario.machine}:"
        " booting")
    vm.launch()
    con = Console(vm.console_socket,
                  os.path.join(outdir, f"{scenario.name}-console.log"))
    try:
        line = con.wait_for("FREEZE_MODE)=", 120)
        res.console.append(line)
        res.feature_offered = line.endswith("=1")
        s3check_lines(con, res, "s3check: READY", 60)
        if "FAIL" in res.checks.values():
            raise RuntimeError(f"the guest's set-up failed: {res.console}")
        redraw(con, settle)
        res.before = os.path.join(outdir, f"{scenario.name}-before.png")
        before = screenshot(vm, res.before, scenario.gl)
        res.painted = distinct_colours(before) >= 8
        say(f"{tag} pattern on screen: {'yes' if res.painted else 'NO'}; "
            "suspending with rtcwake")
        # A command typed while the guest is not yet reading could be
        # lost: send it again until the guest answers (s3check drops
        # repeats that arrive while it is suspended).
        for _ in range(3):
            con.send("s3")
            try:
                res.console.append(con.wait_for("s3check: SUSPENDING", 20))
                break
            except TimeoutError:
                say(f"{tag} no answer to 's3', sending it again")
        else:
            raise TimeoutError("the guest does not take the 's3' command")
        for ev in ("SUSPEND", "WAKEUP"):
            vm.event_wait(ev, timeout=120)
            res.events.append(ev)
        line = s3check_lines(con, res, "s3check: RESULT", 120)
        say(f"{tag} guest checks after resume: " + ", ".join(
            f"{k} {v}" for k, v in res.checks.items()))
        redraw(con, settle)
        res.after = os.path.join(outdir, f"{scenario.name}-after.png")
        after = screenshot(vm, res.after, scenario.gl)
        res.changed = difference(before, after)
        say(f"{tag} display after resume: "
            f"{'SAME as before' if res.display_back else 'CHANGED'}"
            f" ({res.changed:.1%} of pixels differ)")
    except Exception as e:  # the result says what went wrong
        res.error = f"{type(e).__name__}: {e}"
        say(f"{tag} ERROR: {res.error}")
    finally:
        vm.shutdown(hard=True)
        res.seconds = time.monotonic() - t0
        say(f"{tag} took {res.seconds:.0f} s")
    return res


# The comparison matrix: {freeze_mode; PCI PM No_Soft_Reset (stock QEMU's
# x-pcie-pm-no-soft-reset); neither, which is what stock QEMU does} x
# {q35 root bus; q35 behind a PCIe root port; pc}, each with whether the
# display (and with virgl the 3D resources) must come back after S3.
FREEZE = "freeze-mode=on"
NSR = "freeze-mode=off,x-pcie-pm-no-soft-reset=on"
STOCK = "freeze-mode=off"


def matrix(device: str, prefix: str):
    """[(Scenario, expected back)] for one GPU device."""
    cases = []
    for mode, options in (("freeze-mode", FREEZE), ("no-soft-reset", NSR),
                          ("stock", STOCK)):
        for machine, root_port in (("q35", False), ("q35", True),
                                   ("pc", False)):
            if mode == "stock" and root_port:
                continue    # nothing there to tell from the root bus
            where = ("root-port" if root_port else
                     "root-bus" if machine == "q35" else "pci")
            name = f"{prefix}-{machine}-{where}-{mode}"
            expected = mode == "freeze-mode" or (mode == "no-soft-reset"
                                                 and root_port)
            cases.append((Scenario(name, machine, device, options,
                                   root_port), expected))
    return cases


def side_by_side(before_png: str, after_png: str, out_png: str):
    """One picture: before | after, for the report."""
    a = read_png(before_png)
    b = read_png(after_png)
    h = max(a[1], b[1])
    gap = 16
    w = a[0] + gap + b[0]
    rows = []
    for y in range(h):
        row = bytearray(b"\x40" * (w * 3))
        for (iw, ih, px), x0 in ((a, 0), (b, a[0] + gap)):
            if y < ih:
                row[x0 * 3:(x0 + iw) * 3] = px[y * iw * 3:(y + 1) * iw * 3]
        rows.append(bytes(row))
    ppm_to_png(to_ppm((w, h, b"".join(rows))), out_png)


def read_png(path: str):
    pnm = subprocess.run(["pngtopnm", path], check=True,
                         capture_output=True).stdout
    # pnmtopng stores a picture with few colours as grey or bitmap
    ppm = subprocess.run(["ppmtoppm"], input=pnm, check=True,
                         capture_output=True).stdout
    return read_ppm(ppm)


def verdict(res: Result, expected: bool) -> bool:
    """Did the run do what the matrix expects of it?"""
    if res.error or res.events != ["SUSPEND", "WAKEUP"]:
        return False
    kept = res.resources_kept
    return (res.display_back == expected and
            (kept is None or kept == expected))


def report(rows, path: str) -> str:
    """Write the results as a markdown table (and side-by-side pictures
    next to it); return the table."""
    outdir = os.path.dirname(path)
    lines = ["| case | machine | GPU placement | kept by | display after S3 "
             "| 3D resource | expected | result | time | before / after |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for res, expected in rows:
        sc = res.scenario
        kept = res.resources_kept
        pic = ""
        if res.before and res.after and os.path.exists(res.after):
            both = os.path.join(outdir, f"{sc.name}.png")
            side_by_side(res.before, res.after, both)
            pic = f"![{sc.name}]({os.path.basename(both)})"
        lines.append(
            f"| {sc.name} | {sc.machine} | {sc.placement} | {sc.mode} | "
            f"{'back' if res.display_back else 'LOST'} | "
            f"{'-' if kept is None else 'kept' if kept else 'LOST'} | "
            f"{'back' if expected else 'lost'} | "
            f"{'ok' if verdict(res, expected) else 'WRONG'}"
            f"{' (' + res.error + ')' if res.error else ''} | "
            f"{res.seconds:.0f} s | {pic} |")
    table = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write("# A guest suspends to RAM (rtcwake -m mem): what comes "
                "back\n\n" + table)
    return table

