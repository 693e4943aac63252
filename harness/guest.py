"""Drive the test guest: one QEMU, one guest, one virtio GPU.

A Guest boots the project's guest kernel and initramfs (guest/init runs
guest/s3check on the serial console) on the patched QEMU under TCG, with
QEMU's SDL display (gl=on for the -gl devices) on the X server in
$DISPLAY, which the callers always start themselves (xvfb-run): never a
user's own display.  It gives the callers:

- numbered commands to s3check, each acknowledged and ended by the guest
  ("N paint 1" -> "s3check: ACK N paint" ... "s3check: DONE N PASS");
- QMP: events, and whether the GPU is frozen (x-query-virtio-status);
- the screen: QMP screendump for 2D devices, the X server's copy of
  QEMU's window (found by its process id) for GL ones, whose virgl
  scanout screendump cannot read;
- what went wrong: every wait names what it waited for and shows the
  console's last lines; QEMU's guest errors and freeze_mode trace events
  go to a log of the run's own (-d guest_errors -D); the guest console
  is scanned for kernel warnings, oopses and failed PM callbacks; QEMU is
  ended with QMP 'quit' and must exit with status 0.

Used by tests/e2e, scripts/demo.py, scripts/soak.py and scripts/bench.py.
"""

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from . import pictures

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
QEMU = os.path.join(BUILD, "qemu-build", "qemu-system-x86_64")
KERNEL = os.path.join(BUILD, "linux-build", "arch", "x86", "boot", "bzImage")
INITRAMFS = os.path.join(BUILD, "guest", "initramfs.cpio")
sys.path.insert(0, os.path.join(BUILD, "qemu", "python"))

from qemu.machine import QEMUMachine  # noqa: E402

# What keeps the GPU's state: the series (freeze_mode), stock QEMU's PCI
# PM No_Soft_Reset, or nothing.  The options are those of the patched
# QEMU; "off" is that QEMU with both off, which behaves as stock QEMU.
MODES = {
    "freeze": ("x-freeze-mode=on,x-pcie-pm-no-soft-reset=off",
               "freeze_mode"),
    "nsr": ("x-freeze-mode=off,x-pcie-pm-no-soft-reset=on",
            "No_Soft_Reset"),
    "off": ("x-freeze-mode=off,x-pcie-pm-no-soft-reset=off",
            "neither (patched QEMU, both off)"),
}

# Kernel messages that fail a run wherever they appear on the console
CONSOLE_PROBLEMS = re.compile(
    r"WARNING:|BUG:|Oops|Call Trace:|general protection|"
    r"PM: .*(failed|error)|dpm_run_callback|returns -\d+|"
    r"Kernel panic|segfault")


class GuestError(Exception):
    """Something the guest or QEMU did not do; says what and shows why."""


def say(msg):
    print(f"guest: {msg}", flush=True)


@dataclass
class Config:
    """What to run: machine, GPU device, where it sits, what keeps state."""
    name: str
    machine: str = "q35"
    device: str = "virtio-gpu-pci"
    mode: str = "freeze"
    # behind a PCIe root port (q35) instead of on the root bus
    root_port: bool = False
    kernel: str = KERNEL
    initramfs: str = INITRAMFS
    qemu: str = QEMU
    extra: List[str] = field(default_factory=list)

    @property
    def gl(self) -> bool:
        return "-gl" in self.device

    @property
    def mode_name(self) -> str:
        return MODES[self.mode][1]

    @property
    def placement(self) -> str:
        if self.root_port:
            return "PCIe root port"
        return "root bus (PCIe)" if self.machine == "q35" else "PCI bus"

    def args(self) -> List[str]:
        # 640x480: the size QEMU's SDL window opens with, so that it
        # need not resize (a resized window may leave the X screen)
        dev = f"{self.device},id=gpu0,xres=640,yres=480,{MODES[self.mode][0]}"
        if self.root_port:
            dev += ",bus=rp0"
        # -nodefaults: without it q35 has a CD-ROM on its AHCI
        # controller, and SeaBIOS spends some 30 s on it under TCG.
        # loglevel=6: kernel warnings, errors and drm's notices reach the
        # console.
        args = ["-nodefaults", "-accel", "tcg", "-machine", self.machine,
                "-m", "512", "-vga", "none",
                "-display", f"sdl,gl={'on' if self.gl else 'off'}",
                "-kernel", self.kernel, "-initrd", self.initramfs,
                "-append", "console=ttyS0 loglevel=6 no_console_suspend"]
        if self.root_port:
            args += ["-device", "pcie-root-port,id=rp0,chassis=1,slot=1"]
        return args + ["-device", dev] + self.extra


@dataclass
class Done:
    """The end of one command: PASS/FAIL and the guest's checks."""
    n: int
    command: str
    status: str
    checks: Dict[str, str]
    lines: List[str]

    @property
    def ok(self) -> bool:
        return self.status == "PASS"


class Console:
    """The guest's serial console: lines, a log, and waits that explain."""

    def __init__(self, sock: socket.socket, log: str):
        self.sock = sock
        socket.socket.settimeout(sock, 1.0)
        self.buf = b""
        self.pending: List[str] = []
        self.all: List[str] = []
        self.log = open(log, "w")

    def _read(self) -> bool:
        try:
            data = socket.socket.recv(self.sock, 4096)
        except socket.timeout:
            return True
        if not data:
            return False
        self.buf += data
        *done, self.buf = self.buf.split(b"\n")
        for raw in done:
            line = raw.decode(errors="replace").rstrip("\r")
            self.log.write(line + "\n")
            self.log.flush()
            self.pending.append(line)
            self.all.append(line)
        return True

    def tail(self, n=15) -> str:
        return "\n".join("    | " + line for line in self.all[-n:])

    def wait_for(self, what: str, match: Callable[[str], bool],
                 timeout: float) -> str:
        """The next line for which match() is true."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                line = self.pending.pop(0)
                if match(line):
                    return line
                if "guest: BYE" in line:
                    raise GuestError(f"waiting for {what}: the guest's "
                                     f"s3check ended\n{self.tail()}")
            if time.monotonic() > deadline:
                raise GuestError(f"no {what} on the guest console within "
                                 f"{timeout:.0f} s; its last lines:\n"
                                 f"{self.tail()}")
            if not self._read():
                raise GuestError(f"waiting for {what}: the console closed "
                                 f"(QEMU ended?)\n{self.tail()}")

    def send(self, text: str):
        self.sock.sendall(text.encode() + b"\n")

    def close(self):
        self.log.close()


class Guest:
    """One QEMU running the test guest.  Use as a context manager."""

    def __init__(self, cfg: Config, outdir: str):
        self.cfg = cfg
        self.outdir = outdir
        os.makedirs(outdir, exist_ok=True)
        self.qemu_log = os.path.join(outdir, f"{cfg.name}-qemu.log")
        self.console_log = os.path.join(outdir, f"{cfg.name}-console.log")
        self.vm: Optional[QEMUMachine] = None
        self.console: Optional[Console] = None
        self.n = 0
        self.virgl = False
        self.feature_offered: Optional[bool] = None
        self.events: List[str] = []
        self.exitcode: Optional[int] = None

    # -- life cycle

    def start(self, ready_timeout: float = 120):
        for f in (self.cfg.qemu, self.cfg.kernel, self.cfg.initramfs):
            if not os.path.exists(f):
                raise GuestError(f"{f} is missing: 'make check' builds it")
        args = self.cfg.args() + [
            "-d", "guest_errors", "-D", self.qemu_log,
            "-trace", "virtio_pci_freeze_mode*",
            "-trace", "virtio_gpu_cmd_res_create_*"]
        self.vm = QEMUMachine(self.cfg.qemu, args=args, log_dir=self.outdir,
                              name=f"qemu-{self.cfg.name}")
        self.vm.set_console()
        say(f"[{self.cfg.name}] {self.cfg.device} ({self.cfg.mode_name}) "
            f"on {self.cfg.machine}, {self.cfg.placement}: booting")
        try:
            self.vm.launch()
        except Exception as e:
            raise GuestError(f"QEMU did not start: {e}\nits output: "
                             f"{self.vm.get_log() or ''}") from e
        self.console = Console(self.vm.console_socket, self.console_log)
        line = self.console.wait_for("the virtio-gpu features line",
                                     lambda s: "FREEZE_MODE)=" in s, 60)
        self.feature_offered = line.rstrip().endswith("=1")
        line = self.console.wait_for(
            "s3check: READY",
            lambda s: "s3check: READY" in s or "s3check: FAIL" in s,
            ready_timeout)
        if "READY" not in line:
            raise GuestError(f"the guest's set-up failed: {line}\n"
                             f"{self.console.tail()}")
        self.virgl = "virgl=1" in line
        return self

    def stop(self) -> Optional[int]:
        """Quit QEMU over QMP; its exit status (None: it had to be
        killed)."""
        if not self.vm:
            return self.exitcode
        try:
            self.vm.shutdown(timeout=30)
        except Exception as e:
            say(f"[{self.cfg.name}] QEMU did not quit cleanly: {e}")
        self.exitcode = self.vm.exitcode()
        if self.console:
            self.console.close()
        self.vm = None
        return self.exitcode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- commands

    def send(self, command: str) -> int:
        self.n += 1
        self.console.send(f"{self.n} {command}")
        word = command.split()[0]
        self.console.wait_for(f"the guest's ACK of command {self.n} "
                              f"({command})",
                              lambda s: f"s3check: ACK {self.n} {word}" in s,
                              20)
        return self.n

    def done(self, n: int, command: str, timeout: float = 60) -> Done:
        checks, lines = {}, []

        def match(line):
            if "s3check: " not in line:
                return False
            lines.append(line)
            words = line[line.index("s3check: "):].split()
            if len(words) >= 3 and words[1] in ("PASS", "FAIL", "SKIP"):
                checks[words[2]] = words[1]
            return words[1] == "DONE" and words[2] == str(n)
        line = self.console.wait_for(f"the end of command {n} ({command})",
                                     match, timeout)
        return Done(n, command, line.split()[-1], checks, lines)

    def command(self, command: str, timeout: float = 60) -> Done:
        return self.done(self.send(command), command, timeout)

    def sleep(self, mode: str = "mem", seconds: int = 3,
              while_asleep: Optional[Callable[[], None]] = None) -> Done:
        """Sleep with rtcwake and wake up; while_asleep() runs between
        QEMU's SUSPEND and WAKEUP events (suspend to RAM only: suspend
        to idle keeps the machine running)."""
        command = f"sleep {mode} {seconds}"
        n = self.send(command)
        if mode == "mem":
            for ev in ("SUSPEND", "WAKEUP"):
                if not self.vm.event_wait(ev, timeout=60 + seconds):
                    raise GuestError(f"QEMU sent no {ev} event within "
                                     f"{60 + seconds} s of '{command}'\n"
                                     f"{self.console.tail()}")
                self.events.append(ev)
                if ev == "SUSPEND" and while_asleep:
                    while_asleep()
        return self.done(n, command, 60 + seconds)

    # -- QMP

    def frozen(self) -> bool:
        """Is the GPU frozen (x-query-virtio-status)?"""
        r = self.vm.cmd("x-query-virtio-status",
                        path="/machine/peripheral/gpu0/virtio-backend")
        return bool(r["frozen"])

    # -- what went wrong

    def console_problems(self) -> List[str]:
        return [line for line in self.console.all
                if CONSOLE_PROBLEMS.search(line)]

    def qemu_log_lines(self, pattern: str) -> List[str]:
        if not os.path.exists(self.qemu_log):
            return []
        with open(self.qemu_log, errors="replace") as f:
            return [line.rstrip() for line in f if re.search(pattern, line)]

    def resources_created(self) -> int:
        """How many GPU resources the guest created so far (QEMU trace)."""
        return len(self.qemu_log_lines(r"virtio_gpu_cmd_res_create_"))

    def freeze_mode_errors(self) -> List[str]:
        """freeze_mode writes QEMU rejected or ignored (guest errors)."""
        return self.qemu_log_lines(r"freeze_mode.*(ignored|rejected|invalid)")

    # -- the screen

    def screenshot(self, png: str) -> pictures.Image:
        """Save the guest's screen as PNG; return its pixels."""
        if self.cfg.gl:
            img = self._x_window()
        else:
            ppm = png[:-4] + ".ppm"
            self.vm.cmd("screendump", filename=ppm, device="gpu0")
            with open(ppm, "rb") as f:
                img = pictures.read_ppm(f.read())
            os.unlink(ppm)
        pictures.save_png(img, png)
        return img

    def redraw(self, settle: float = 1.0):
        """Have the guest flush its framebuffer, and let it show.  SDL
        does not draw a GL scanout that arrived before its window was up
        until the next flush."""
        time.sleep(settle)
        if not self.command("redraw", 30).ok:
            raise GuestError("the guest could not flush its framebuffer")
        time.sleep(1)

    def _x_window(self) -> pictures.Image:
        """QEMU's largest window on the X display, found by QEMU's pid,
        cut out of a picture of the whole screen: the GL window itself
        cannot be read (GetImage: BadMatch)."""
        pid = self.vm.get_pid()
        tree = subprocess.run(["xwininfo", "-root", "-tree"], check=True,
                              capture_output=True, text=True).stdout
        found = []
        for line in tree.splitlines():
            m = re.match(r"\s*(0x[0-9a-f]+) .*\s(\d+)x(\d+)\+-?\d+\+-?\d+"
                         r"\s+\+(-?\d+)\+(-?\d+)\s*$", line)
            if not m:
                continue
            wid, w, h, x, y = m.groups()
            prop = subprocess.run(["xprop", "-id", wid, "_NET_WM_PID"],
                                  capture_output=True, text=True).stdout
            if prop.strip().endswith(f"= {pid}"):
                found.append((int(w) * int(h),
                              (int(x), int(y), int(w), int(h))))
        if not found:
            raise GuestError(f"no window of QEMU (pid {pid}) on the X "
                             f"display {os.environ.get('DISPLAY')}")
        xwd = subprocess.run(["xwd", "-silent", "-root"], check=True,
                             capture_output=True).stdout
        ppm = subprocess.run(["xwdtopnm"], input=xwd, check=True,
                             capture_output=True).stdout
        return pictures.crop(pictures.read_ppm(ppm), *max(found)[1])
