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

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from . import bases, pictures
from .console import Console, GuestError

# The base (pins/$BASE) whose QEMU, kernel and initramfs a Config uses
BASE = bases.load()
# QEMU's python/qemu comes with the QEMU tree: imported when a guest
# starts, so that the harness imports (and its self-tests run) before
# anything is built
sys.path.insert(0, BASE.qemu_python)

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

# What the guest boots with.  "seabios" is SeaBIOS as the harness builds
# it (pins/common with patches/seabios, scripts/build-firmware.sh), which
# is also what QEMU's build tree finds by itself; "seabios-debian" is the
# SeaBIOS of this machine's Debian package, as a user's QEMU would find
# it; "ovmf" is UEFI (Debian's OVMF, pins/common), which starts the
# kernel through its EFI stub.
FIRMWARES = ("seabios", "seabios-debian", "ovmf")
DEBIAN_SEABIOS = "/usr/share/seabios/bios-256k.bin"

# Kernel messages that fail a run wherever they appear on the console
CONSOLE_PROBLEMS = re.compile(
    r"WARNING:|BUG:|Oops|Call Trace:|general protection|"
    r"PM: .*(failed|error)|dpm_run_callback|returns -\d+|"
    r"Kernel panic|segfault|ACPI Error")


def firmware_version(firmware: str) -> str:
    """What a firmware name stands for, with its version."""
    pins = bases.common()
    if firmware == "seabios":
        tree = os.path.join(bases.BUILD, "seabios")
        n = subprocess.run(["git", "-C", tree, "rev-list", "--count",
                            "base..HEAD"], capture_output=True,
                           text=True).stdout.strip() or "?"
        return f"SeaBIOS {pins['SEABIOS_VERSION']} + {n} patches (built)"
    if firmware == "seabios-debian":
        v = subprocess.run(["dpkg-query", "-W", "-f", "${Version}",
                            "seabios"], capture_output=True,
                           text=True).stdout.strip() or "not installed"
        return f"SeaBIOS {v} (Debian's package)"
    return f"OVMF {pins['OVMF_VERSION']} (Debian's package)"


# The guests the harness boots: "test", the project's kernel with a
# busybox initramfs whose /init runs guest/s3check (fast; what most tests
# use), and "debian", a Debian root from debootstrap on a virtio disk
# (scripts/build-debian-guest.sh): systemd, Mesa, a Wayland compositor,
# with guest/debian/agent on the console.  Each answers the host's
# numbered commands in the same way, its lines starting with its name.
IMAGES = {"test": "s3check", "debian": "agent"}
DEBIAN_IMAGE = os.path.join(bases.BUILD, "debian-guest", "debian.ext4")


def s3check_messages(line: str, prefix: str = "s3check") -> List[List[str]]:
    """The words of each of the guest program's messages in a console
    line (s3check's, or the Debian guest's agent's).

    The serial console carries the kernel's messages too, and one can land
    in the middle of s3check's line ("s3check: DONE 7 PASSs3check: first
    good frame", or "s3check: DONE 7 PASS[  12.3] virtio..."): a message
    starts at each "s3check: " and ends where the next one starts.
    """
    return [[f"{prefix}:"] + piece.split()
            for piece in line.split(f"{prefix}: ")[1:]]


def s3check_status(word: str) -> str:
    """PASS or FAIL at the start of a word something may be glued to."""
    m = re.match(r"PASS|FAIL", word)
    return m.group(0) if m else word


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
    # the guest kernel without the series (a guest that knows nothing of
    # freeze mode)
    pristine: bool = False
    # guest memory (MiB), and more options for the GPU device
    mem: int = 512
    device_opts: str = ""
    extra: List[str] = field(default_factory=list)
    # FIRMWARES; more words for the kernel's command line
    firmware: str = "seabios"
    append: str = ""
    # a virtual IOMMU (q35's intel-iommu) that the GPU's DMA goes through
    # (iommu_platform=on: VIRTIO_F_ACCESS_PLATFORM, addresses are IOVAs)
    iommu: bool = False
    # IMAGES: what the guest runs
    image: str = "test"
    base: bases.Base = BASE

    @property
    def qemu(self) -> str:
        return self.base.qemu

    @property
    def kernel(self) -> str:
        return self.base.kernel(self.pristine)

    @property
    def initramfs(self) -> str:
        return self.base.initramfs

    @property
    def prefix(self) -> str:
        """How the guest program's console lines begin."""
        return IMAGES[self.image]

    @property
    def files(self) -> List[str]:
        """What the guest boots from: they must exist."""
        disk = self.initramfs if self.image == "test" else DEBIAN_IMAGE
        return [self.qemu, self.kernel, disk]

    def boot_args(self) -> List[str]:
        """The kernel's root: the initramfs, or the Debian disk image
        (never written: snapshot=on)."""
        if self.image == "test":
            return ["-initrd", self.initramfs]
        return ["-drive", f"if=none,id=root,format=raw,snapshot=on,"
                f"file={DEBIAN_IMAGE}",
                "-device", "virtio-blk-pci,drive=root"]

    @property
    def gl(self) -> bool:
        return "-gl" in self.device

    @property
    def blob(self) -> bool:
        """Blob resources in host-visible memory (virgl, hostmem)."""
        return self.gl and "blob=on" in self.device_opts

    @property
    def mode_name(self) -> str:
        return MODES[self.mode][1]

    @property
    def machine_label(self) -> str:
        """The machine, and its firmware where it is not the default."""
        return self.machine + {"seabios": "", "ovmf": " (OVMF)",
                               "seabios-debian": " (Debian's SeaBIOS)"
                               }.get(self.firmware, f" ({self.firmware})")

    @property
    def placement(self) -> str:
        if self.root_port:
            where = "PCIe root port"
        else:
            where = "root bus (PCIe)" if self.machine == "q35" else "PCI bus"
        return where + (", behind intel-iommu" if self.iommu else "")

    def firmware_args(self, outdir: str) -> List[str]:
        """The firmware's options; OVMF's variable store is a copy of
        the package's template in outdir."""
        if self.firmware not in FIRMWARES:
            raise GuestError(f"no firmware {self.firmware!r} "
                             f"({', '.join(FIRMWARES)})")
        if self.firmware == "seabios":
            return ["-bios", os.path.join(bases.FIRMWARE, "seabios",
                                          "bios-256k.bin")]
        if self.firmware == "seabios-debian":
            return ["-bios", DEBIAN_SEABIOS]
        ovmf = os.path.join(bases.FIRMWARE, "ovmf")
        vars_copy = os.path.join(outdir, f"{self.name}-OVMF_VARS.fd")
        shutil.copyfile(os.path.join(ovmf, "OVMF_VARS_4M.fd"), vars_copy)
        return ["-drive", "if=pflash,format=raw,unit=0,readonly=on,"
                f"file={os.path.join(ovmf, 'OVMF_CODE_4M.fd')}",
                "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]

    def args(self) -> List[str]:
        # 640x480: the size QEMU's SDL window opens with, so that it
        # need not resize (a resized window may leave the X screen)
        dev = f"{self.device},id=gpu0,xres=640,yres=480,{MODES[self.mode][0]}"
        if self.device_opts:
            dev += "," + self.device_opts
        if self.root_port:
            dev += ",bus=rp0"
        append = self.append
        if self.image == "debian":
            append = f"root=/dev/vda rw {append}".strip()
        if self.iommu:
            dev += ",iommu_platform=on"
            append = f"intel_iommu=on {append}".strip()
        # -nodefaults: without it q35 has a CD-ROM on its AHCI
        # controller, and SeaBIOS spends some 30 s on it under TCG.
        # loglevel=7: kernel warnings, errors, notices and drm's infos reach the
        # console.
        args = ["-nodefaults", "-accel", "tcg", "-machine", self.machine,
                "-m", str(self.mem), "-vga", "none",
                "-display", f"sdl,gl={'on' if self.gl else 'off'}",
                "-kernel", self.kernel] + self.boot_args() + [
                "-append", "console=ttyS0 loglevel=7 no_console_suspend"
                + (" " + append if append else "")]
        if self.iommu:
            # before the devices it translates for; no interrupt
            # remapping (the guest does not need it, TCG has no split
            # irqchip to offer)
            args += ["-device", "intel-iommu,intremap=off"]
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


class Guest:
    """One QEMU running the test guest.  Use as a context manager."""

    def __init__(self, cfg: Config, outdir: str):
        self.cfg = cfg
        self.outdir = outdir
        os.makedirs(outdir, exist_ok=True)
        self.qemu_log = os.path.join(outdir, f"{cfg.name}-qemu.log")
        self.console_log = os.path.join(outdir, f"{cfg.name}-console.log")
        self.vm = None      # qemu.machine.QEMUMachine once started
        self.console: Optional[Console] = None
        self.n = 0
        self.virgl = False
        self.feature_negotiated: Optional[bool] = None
        # VIRTIO_F_ACCESS_PLATFORM negotiated: the GPU's DMA addresses go
        # through the platform's IOMMU
        self.access_platform: Optional[bool] = None
        self._power_events: List[str] = []
        # (event, QEMU's timestamp in s) of every event() waited for
        self.event_times: List[Tuple[str, float]] = []
        self.exitcode: Optional[int] = None

    # -- life cycle

    def start(self, ready_timeout: float = 120):
        for f in self.cfg.files:
            if not os.path.exists(f):
                raise GuestError(f"{f} is missing: 'make check' builds it")
        args = self.cfg.args() + self.cfg.firmware_args(self.outdir) + [
            "-d", "guest_errors", "-D", self.qemu_log,
            "-trace", "virtio_pci_freeze_mode*", "-trace", "virtio_reset",
            "-trace", "virtio_gpu_cmd_res_create_*"]
        if self.cfg.iommu:
            args += ["-trace", "vtd_dmar_enable", "-trace", "vtd_dmar_fault"]
        from qemu.machine import QEMUMachine
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
        try:
            return self._boot(ready_timeout)
        except BaseException:
            # never leave a TCG guest running behind a failed start
            self.stop()
            raise

    def _boot(self, ready_timeout: float):
        self.console = Console(self.vm.console_socket, self.console_log)
        line = self.console.wait_for("the virtio-gpu features line",
                                     lambda s: "ACCESS_PLATFORM)=" in s, 60)
        self.access_platform = line.rstrip().endswith("=1")
        line = self.console.wait_for("the virtio-gpu features line",
                                     lambda s: "FREEZE_MODE)=" in s, 10)
        self.feature_negotiated = line.rstrip().endswith("=1")
        p = self.cfg.prefix
        line = self.console.wait_for(
            f"{p}: READY",
            lambda s: f"{p}: READY" in s or f"{p}: FAIL" in s,
            ready_timeout)
        if "READY" not in line:
            raise GuestError(f"the guest's set-up failed: {line}\n"
                             f"{self.console.tail()}")
        self.virgl = "virgl=1" in line
        self.ready_line = line.strip()
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

    def poweroff(self, timeout: float = 60) -> int:
        """End the guest the way it ends itself: s3check quits, /init
        runs 'poweroff -f', the kernel turns the machine off through
        ACPI, and QEMU must say so (a SHUTDOWN event the guest caused)
        and exit by itself, with status 0.  Raises GuestError if it
        does not (the ACPI PM block gone, say)."""
        self.send("quit")
        self.console.wait_for("the guest's /init ending",
                              lambda s: "guest: BYE" in s, 30)
        try:
            ev = self.vm.event_wait("SHUTDOWN", timeout=float(timeout))
        except asyncio.TimeoutError:
            ev = None
        if not ev:
            raise GuestError(f"no SHUTDOWN event {timeout:.0f} s after the "
                             f"guest's poweroff: QEMU keeps running\n"
                             f"{self.console.tail()}")
        if not ev.get("data", {}).get("guest"):
            raise GuestError(f"QEMU shut down, but not by the guest: {ev}")
        try:
            self.vm.wait(timeout=30)
        except Exception as e:
            raise GuestError(f"QEMU did not exit after the guest's "
                             f"poweroff: {e}") from e
        finally:
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
        ack = f"{self.cfg.prefix}: ACK {self.n} {word}"
        self.console.wait_for(f"the guest's ACK of command {self.n} "
                              f"({command})", lambda s: ack in s, 20)
        return self.n

    def done(self, n: int, command: str, timeout: float = 60) -> Done:
        checks, lines = {}, []

        status = []

        def match(line):
            msgs = s3check_messages(line, self.cfg.prefix)
            if not msgs:
                return False
            lines.append(line)
            for words in msgs:
                if len(words) >= 3 and words[1] in ("PASS", "FAIL", "SKIP"):
                    checks[words[2]] = words[1]
                if len(words) >= 4 and words[1] == "DONE" and \
                        words[2] == str(n):
                    status.append(s3check_status(words[3]))
            return bool(status)
        self.console.wait_for(f"the end of command {n} ({command})", match,
                              timeout)
        return Done(n, command, status[0], checks, lines)

    def command(self, command: str, timeout: float = 60) -> Done:
        return self.done(self.send(command), command, timeout)

    def sleep(self, mode: str = "mem", seconds: int = 3,
              while_asleep: Optional[Callable[[], None]] = None,
              then: str = "", timeout: float = 60) -> Done:
        """Sleep with rtcwake and wake up; while_asleep() runs between
        QEMU's SUSPEND and WAKEUP events (suspend to RAM only: suspend
        to idle keeps the machine running).  then: what s3check does
        after resume instead of its checks alone (nocheck, reupload)."""
        command = f"sleep {mode} {seconds} {then}".strip()
        n = self.send(command)
        if mode == "mem":
            wait = 60.0 + seconds
            for ev in ("SUSPEND", "WAKEUP"):
                if not self.event(ev, wait):
                    raise GuestError(f"QEMU sent no {ev} event within "
                                     f"{wait:.0f} s of '{command}'\n"
                                     f"{self.console.tail()}")
                self._power_events.append(ev)
                if ev == "SUSPEND" and while_asleep:
                    while_asleep()
        return self.done(n, command, timeout + seconds)

    # -- QMP

    @property
    def events(self) -> List[str]:
        """Every SUSPEND, SUSPEND_DISK and WAKEUP QEMU sent so far, in the
        order seen: those sleep() waited for, and any other QMP reported
        (an unexpected one fails the checks that look at this)."""
        if self.vm:
            for e in self.vm.get_qmp_events(wait=False):
                if e["event"] in ("SUSPEND", "SUSPEND_DISK", "WAKEUP"):
                    self._power_events.append(e["event"])
        return list(self._power_events)

    def event(self, name: str, timeout: float) -> bool:
        """Wait for QMP event name; False if it did not come in time.
        (The timeout must reach QEMU's legacy QMP wrapper as a float: an
        int there means "wait forever".)"""
        try:
            ev = self.vm.event_wait(name, timeout=float(timeout))
        except asyncio.TimeoutError:
            return False
        if ev is None:
            return False
        # QEMU's own time of the event (host wall clock, as the trace
        # lines of '-msg timestamp=on'): make bench times phases with it
        ts = ev.get("timestamp", {})
        self.event_times.append(
            (name, ts.get("seconds", 0) + ts.get("microseconds", 0) / 1e6))
        return True

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

    def device_resets(self) -> int:
        """How many times a virtio device was reset so far, by its driver
        or by the machine (QEMU trace)."""
        return len(self.qemu_log_lines(r"virtio_reset "))

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
